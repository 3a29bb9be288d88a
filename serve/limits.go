package serve

import (
	"log/slog"
	"sync"
	"time"
)

// limitLog logs that a bound bit, at most one line per bound every
// `every`, with how many times it bit since the last line: a flood of
// hostile clients must not become a flood of log lines.
type limitLog struct {
	log   *slog.Logger
	every time.Duration

	mu    sync.Mutex
	state map[string]*limitState
}

type limitState struct {
	last       time.Time
	suppressed int
}

// note logs msg for the bound named bound, unless it was logged less than
// `every` ago; client is the address the bound bit for.
func (l *limitLog) note(bound, msg, client string) {
	l.mu.Lock()
	if l.state == nil {
		l.state = map[string]*limitState{}
	}
	st := l.state[bound]
	if st == nil {
		st = &limitState{}
		l.state[bound] = st
	}
	now := time.Now()
	if now.Sub(st.last) < l.every {
		st.suppressed++
		l.mu.Unlock()
		return
	}
	n := st.suppressed
	st.last, st.suppressed = now, 0
	l.mu.Unlock()
	attrs := []any{"bound", bound}
	if client != "" {
		attrs = append(attrs, "client", client)
	}
	if n > 0 {
		attrs = append(attrs, "more since the last line", n)
	}
	l.log.Warn(msg, attrs...)
}
