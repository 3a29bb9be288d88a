package download

import (
	"sort"
	"sync"
	"time"

	"golang.org/x/mod/module"
)

// Progress is a snapshot of a Fetcher's work, for a progress display. Every
// field is read at one moment under one lock (the byte, request and retry
// counters are atomic and read just after), so a display never sees more
// modules finished than started.
type Progress struct {
	Started  int // Download calls begun (one per module version)
	Finished int // Download calls ended, successful or not
	Failed   int // of Finished, how many ended with an error
	Requests int64
	Bytes    int64 // response body bytes received
	Retries  int64
	// InFlight lists the modules being downloaded now, longest-running
	// first.
	InFlight []Flight
}

// Flight is one module download in progress.
type Flight struct {
	Mod   module.Version
	Start time.Time
}

// tracker counts module downloads for Progress. Its zero value is ready.
type tracker struct {
	mu       sync.Mutex
	started  int
	finished int
	failed   int
	inFlight map[module.Version]time.Time
}

// begin records that mod's download started and returns the function that
// records its end (failed reports whether it ended in an error).
func (t *tracker) begin(mod module.Version) (end func(failed bool)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.inFlight == nil {
		t.inFlight = map[module.Version]time.Time{}
	}
	t.started++
	t.inFlight[mod] = time.Now()
	return func(failed bool) {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.finished++
		if failed {
			t.failed++
		}
		delete(t.inFlight, mod)
	}
}

// Progress returns a snapshot of the downloads so far. It is safe to call
// at any time from any goroutine.
func (f *Fetcher) Progress() Progress {
	t := &f.track
	t.mu.Lock()
	p := Progress{Started: t.started, Finished: t.finished, Failed: t.failed}
	for m, s := range t.inFlight {
		p.InFlight = append(p.InFlight, Flight{Mod: m, Start: s})
	}
	t.mu.Unlock()
	sort.Slice(p.InFlight, func(i, j int) bool {
		a, b := p.InFlight[i], p.InFlight[j]
		if !a.Start.Equal(b.Start) {
			return a.Start.Before(b.Start)
		}
		if a.Mod.Path != b.Mod.Path {
			return a.Mod.Path < b.Mod.Path
		}
		return a.Mod.Version < b.Mod.Version
	})
	p.Requests = f.cfg.Router.Client.Requests()
	p.Bytes = f.cfg.Router.Client.Bytes()
	p.Retries = f.cfg.Router.Retries()
	return p
}
