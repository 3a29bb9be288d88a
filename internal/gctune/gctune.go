// Package gctune tunes the garbage collector for a command that runs once
// and exits: download, verify, pack (not serve, which runs for days).
//
// At the default GOGC=100 a warm run of a few hundred modules spent about a
// fifth of its CPU collecting short-lived parse results. Start lets the heap
// grow to five times what is live (GOGC=400) while that stays under Target,
// and lowers the percentage as the live heap grows, never below go's
// default of 100. The percentage is set after each collection from the heap
// live then, so it lags a heap that grows fast (a cold run starting
// hundreds of fetches at once): a soft memory limit of Limit, raised with
// the live heap so that it is never tighter than GOGC=100 (a fixed
// GOMEMLIMIT would make the collector run back to back once the live heap
// neared it), caps the peak meanwhile.
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
	Target = 48 << 20
	// Max and Min bound the percentage.
	Max, Min = 400, 100
	// Limit is the least memory limit (all of the runtime's memory:
	// heap, stacks, its own); Slack is what the limit leaves above
	// twice the live heap for the rest.
	Limit, Slack = 64 << 20, 16 << 20
)

var (
	once    sync.Once
	current atomic.Int32 // the percentage set last (0: not tuning)
	limit   atomic.Int64 // the memory limit set last
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
		t.set(Max, Limit)
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

// MemoryLimit is the memory limit for a live heap of live bytes: Limit,
// or room for the heap GOGC=100 would allow plus Slack if that is more.
func MemoryLimit(live uint64) int64 {
	return max(Limit, 2*int64(live)+Slack)
}

type tuner struct {
	sample []metrics.Sample
}

func (t *tuner) set(p int, lim int64) {
	if int(current.Load()) != p {
		current.Store(int32(p))
		debug.SetGCPercent(p)
	}
	if limit.Load() != lim {
		limit.Store(lim)
		debug.SetMemoryLimit(lim)
	}
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
	live := t.sample[0].Value.Uint64()
	t.set(Percent(live), MemoryLimit(live))
}
