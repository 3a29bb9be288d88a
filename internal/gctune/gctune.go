// Package gctune tunes the garbage collector for a command that runs once
// and exits: download, verify, pack (not serve, which runs for days).
//
// At the default GOGC=100 a warm run of a few hundred modules spent about a
// fifth of its CPU collecting short-lived parse results, and a cold run
// collected every few megabytes of buffers it was about to reuse. Start lets
// the heap grow to five times what is live (GOGC=400) while that stays under
// a heap of Target bytes, and lowers the percentage as the live heap grows,
// never below go's default of 100: a large build list costs no more memory
// than it would at the default, and no less-than-default setting can make
// the collector run back to back (as a fixed GOMEMLIMIT would once the live
// heap neared it).
package gctune

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

const (
	// Target is the heap size the percentage aims for.
	Target = 128 << 20
	// Max and Min bound the percentage.
	Max, Min = 400, 100
)

var (
	once    sync.Once
	current atomic.Int32 // the percentage set last (0: not tuning)
)

// Start tunes the collector for the rest of the process, unless GOGC or
// GOMEMLIMIT is set: then the user's setting stands alone. It is safe to
// call more than once.
func Start() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	once.Do(func() {
		t := &tuner{sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
		t.set(Max)
		t.arm()
	})
}

// Percent is the percentage for a live heap of live bytes: the one whose
// goal, live×(1+p/100), is Target, within [Min, Max].
func Percent(live uint64) int {
	if live == 0 {
		return Max
	}
	p := int((Target - int64(live)) * 100 / int64(live))
	return min(max(p, Min), Max)
}

type tuner struct {
	sample []metrics.Sample
}

func (t *tuner) set(p int) {
	current.Store(int32(p))
	debug.SetGCPercent(p)
}

// sentinel is garbage from the moment it is armed, so its finalizer runs
// after the next collection. It holds a pointer so that it is not a tiny
// allocation (whose finalizers may never run).
type sentinel struct{ _ *tuner }

func (t *tuner) arm() {
	runtime.SetFinalizer(&sentinel{}, func(*sentinel) {
		t.adjust()
		t.arm()
	})
}

// adjust runs after each collection, on the finalizer goroutine.
func (t *tuner) adjust() {
	metrics.Read(t.sample)
	if t.sample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	if p := Percent(t.sample[0].Value.Uint64()); p != int(current.Load()) {
		t.set(p)
	}
}
