package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"gomodfetch/download"
)

// Progress display. While a run lasts, stderr gets either a status line
// redrawn in place (when stderr is a terminal) or, when it is not (CI logs,
// docker build output), a plain line every plainEvery — never both. -q
// turns it off. stdout is never touched: it carries -json only.

const (
	ttyEvery   = 200 * time.Millisecond
	plainEvery = 10 * time.Second
	rateWindow = 2 * time.Second // bytes/s is measured over this much recent time
)

// progress draws the status of a run on w. A nil *progress does nothing,
// so callers need not check -q.
type progress struct {
	w     io.Writer
	tty   bool
	width func() int // terminal columns (tty only)

	mu      sync.Mutex
	src     func() download.Progress
	total   int // module versions to download; 0 while unknown
	start   time.Time
	samples []sample // recent byte counts, for the rate
	drawn   bool     // a status line is on the screen (tty)

	stopc chan struct{}
	done  chan struct{}
}

type sample struct {
	t     time.Time
	bytes int64
}

// newProgress returns the display for stderr, or nil when quiet. Terminal
// detection: stderr is an *os.File on a terminal and TERM is not "dumb".
func newProgress(stderr io.Writer, quiet bool) *progress {
	if quiet {
		return nil
	}
	p := &progress{w: stderr, start: time.Now()}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) && os.Getenv("TERM") != "dumb" {
		fd := int(f.Fd())
		p.tty = true
		p.width = func() int {
			if w, _, err := term.GetSize(fd); err == nil && w > 0 {
				return w
			}
			return 80
		}
	}
	return p
}

// run starts drawing the progress of src: on every tick of a ticker
// (ttyEvery or plainEvery) until stop.
func (p *progress) run(src func() download.Progress) {
	if p == nil {
		return
	}
	every := plainEvery
	if p.tty {
		every = ttyEvery
	}
	t := time.NewTicker(every)
	p.runTicks(src, t.C, t.Stop)
}

// runTicks draws on every value from ticks (the time it carries is taken
// as now) until stop; release is called when it ends.
func (p *progress) runTicks(src func() download.Progress, ticks <-chan time.Time, release func()) {
	p.mu.Lock()
	p.src = src
	p.mu.Unlock()
	p.stopc = make(chan struct{})
	p.done = make(chan struct{})
	go func() {
		defer close(p.done)
		defer release()
		for {
			select {
			case <-p.stopc:
				return
			case now := <-ticks:
				p.draw(now)
			}
		}
	}()
}

// setTotal records how many module versions the run will download.
func (p *progress) setTotal(n int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.total = n
	p.mu.Unlock()
}

// stop ends the display and clears the status line, so that what follows
// (errors, the summary) starts on a clean line. It may be called twice.
func (p *progress) stop() {
	if p == nil || p.stopc == nil {
		return
	}
	select {
	case <-p.stopc:
	default:
		close(p.stopc)
	}
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
}

// writer returns a writer for other output during the run (the -x
// trace): on a terminal it clears the status line first, and the next tick
// draws it again below.
func (p *progress) writer(w io.Writer) io.Writer {
	if p == nil || !p.tty {
		return w
	}
	return writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.clear()
		return w.Write(b)
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// clear erases the status line. The caller holds p.mu.
func (p *progress) clear() {
	if p.drawn {
		io.WriteString(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

func (p *progress) draw(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.src()
	p.samples = append(p.samples, sample{now, st.Bytes})
	for len(p.samples) > 2 && now.Sub(p.samples[1].t) >= rateWindow {
		p.samples = p.samples[1:]
	}
	var rate float64
	if first := p.samples[0]; now.After(first.t) {
		rate = float64(st.Bytes-first.bytes) / now.Sub(first.t).Seconds()
	} else if now.After(p.start) {
		rate = float64(st.Bytes) / now.Sub(p.start).Seconds()
	}
	line := statusLine(st, p.total, rate, now.Sub(p.start), now)
	if !p.tty {
		fmt.Fprintf(p.w, "gomodfetch: %s\n", line)
		return
	}
	line = truncate(line, p.width()-1)
	io.WriteString(p.w, "\r\x1b[K"+line)
	p.drawn = true
}

// statusLine is the text of one progress report, e.g.
//
//	12/29 modules, 3.4 MiB at 1.2 MiB/s, 1 retry, 4.1s; slowest: golang.org/x/tools@v0.1.0 (2.3s)
func statusLine(st download.Progress, total int, rate float64, elapsed time.Duration, now time.Time) string {
	var b strings.Builder
	switch {
	case total > 0:
		fmt.Fprintf(&b, "%d/%d modules", st.Finished, total)
	case st.Started > 0:
		fmt.Fprintf(&b, "%d modules", st.Finished)
	default:
		b.WriteString("loading module graph")
	}
	if st.Failed > 0 {
		fmt.Fprintf(&b, " (%d failed)", st.Failed)
	}
	fmt.Fprintf(&b, ", %s at %s/s", humanBytes(st.Bytes), humanBytes(int64(rate)))
	switch st.Retries {
	case 0:
	case 1:
		b.WriteString(", 1 retry")
	default:
		fmt.Fprintf(&b, ", %d retries", st.Retries)
	}
	fmt.Fprintf(&b, ", %s", elapsed.Round(100*time.Millisecond))
	if n := len(st.InFlight); n > 0 {
		slow := st.InFlight[0]
		fmt.Fprintf(&b, "; %d in flight, slowest: %s (%s)", n, slow.Mod, now.Sub(slow.Start).Round(100*time.Millisecond))
	}
	return b.String()
}

// truncate cuts s to n columns (runes), marking the cut with "…".
func truncate(s string, n int) string {
	r := []rune(s)
	if n < 1 || len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
