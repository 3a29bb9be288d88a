package serve

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"gomodfetch/download"
	"gomodfetch/proxy"
)

// A flight is one upstream operation (a .mod, a zip, a version list...)
// that every request asking for the same thing at the same time waits for.
// It runs on the server's context, not on a request's, under a deadline of
// its own (Config.UpstreamTimeout, Config.ZipTimeout), and it counts its
// waiters:
//
//   - a request that goes away stops waiting; when the last waiter has
//     gone, the flight is carried on as a prefetch if one of the prefetch
//     slots is free (what it fetches lands in the cache for the next
//     client), and is cancelled otherwise, so that abandoned requests
//     cannot hold upstream capacity that others need;
//   - a flight runs for a client or for a prefetch (its class); a client
//     that joins a prefetch's flight makes it a client's, so its upstream
//     requests stop queueing behind other clients' (upstreamGate);
//   - the upstream requests of the flights one client started are bounded
//     (Config.ClientUpstream, upstreamGate), so one client cannot take every
//     place there is; a client whose request needs nothing upstream (a
//     cache hit) is never held back by that bound.
//
// Its result is shared with every waiter; a "not found" is remembered for
// Config.NotFoundTTL and any other failure for Config.FailureTTL, so a burst
// of clients asking for one broken path costs upstream one operation.
type flightCall struct {
	key    string
	done   chan struct{}
	val    any
	err    error
	cancel context.CancelFunc

	prefetch atomic.Bool // no client waits for it (a prefetch, or adopted)

	// guarded by flights.mu
	waiters int    // requests and prefetches waiting for it
	clients int    // the requests among them
	adopted bool   // carried on in a prefetch slot after its waiters left
	ended   bool   // finished or given up: new requests start anew
	release func() // gives back the prefetch slot an adopted flight holds

	starter string // the client that started it ("" for a prefetch or a step)

	// parents are the flights waiting for this one as a step of theirs (a
	// zip's .info and go.mod): a step is a client's while any of them is.
	parents atomic.Pointer[[]*flightCall]
}

// isPrefetch reports whether no client waits for c, directly or through a
// flight c is a step of.
func (c *flightCall) isPrefetch() bool {
	if c == nil || !c.prefetch.Load() {
		return false
	}
	if ps := c.parents.Load(); ps != nil {
		for _, p := range *ps {
			if !p.isPrefetch() {
				return false
			}
		}
	}
	return true
}

// owner is the client c's upstream requests count against: its starter's,
// or for a step, that of a flight waiting for it.
func (c *flightCall) owner() string {
	if c == nil {
		return ""
	}
	if c.starter != "" {
		return c.starter
	}
	if ps := c.parents.Load(); ps != nil {
		for _, p := range *ps {
			if o := p.owner(); o != "" {
				return o
			}
		}
	}
	return ""
}

// addParent records that parent waits for c as a step of its own. The
// caller holds flights.mu.
func (c *flightCall) addParent(parent *flightCall) {
	if parent == nil || parent == c {
		return
	}
	var ps []*flightCall
	if old := c.parents.Load(); old != nil {
		ps = append(ps, *old...)
	}
	ps = append(ps, parent)
	c.parents.Store(&ps)
}

type flightKey struct{}

// flightOf returns the flight a context belongs to (the upstream gate asks
// it whom a request is for), or nil.
func flightOf(ctx context.Context) *flightCall {
	c, _ := ctx.Value(flightKey{}).(*flightCall)
	return c
}

// flights are the flights in progress, by key.
type flights struct {
	mu    sync.Mutex
	calls map[string]*flightCall
	wg    sync.WaitGroup // running
}

// requester is who asks for a flight: a client (by its address, or its
// credential's name) or a prefetch.
type requester struct {
	client   string
	prefetch bool
}

// opKind says which deadline bounds a flight.
type opKind int

const (
	opMeta opKind = iota // .info, .mod, lists, queries, checksum database
	opZip
)

// flight runs fn once for key among the requests asking at the same time
// (see flightCall) and waits for its result on ctx (a request's, or the
// server's for a prefetch).
func flight[T any](s *Server, ctx context.Context, who requester, kind opKind, key string, fn func(ctx context.Context) (T, error)) (T, error) {
	var zero T
	if err := s.remembered(key); err != nil {
		return zero, err
	}
	c, err := s.joinFlight(ctx, who, kind, key, func(ctx context.Context) (any, error) { return fn(ctx) })
	if err != nil {
		return zero, err
	}
	select {
	case <-c.done:
		if c.err != nil {
			return zero, c.err
		}
		return c.val.(T), nil
	case <-ctx.Done():
		s.leaveFlight(c, who)
		return zero, ctx.Err()
	}
}

// joinFlight returns key's flight in progress with one more waiter, or
// starts it.
func (s *Server) joinFlight(ctx context.Context, who requester, kind opKind, key string, fn func(ctx context.Context) (any, error)) (*flightCall, error) {
	parent := flightOf(ctx) // a step of that flight
	if c := s.joinRunning(who, key, parent); c != nil {
		return c, nil
	}
	s.flights.mu.Lock()
	if c := s.flights.calls[key]; c != nil && !c.ended {
		s.addWaiter(c, who, parent)
		s.flights.mu.Unlock()
		return c, nil
	}
	deadline := s.cfg.UpstreamTimeout
	if kind == opZip {
		deadline = s.cfg.ZipTimeout
	}
	c := &flightCall{key: key, done: make(chan struct{}), starter: who.client}
	c.prefetch.Store(true)
	s.addWaiter(c, who, parent)
	fctx, cancel := context.WithTimeout(s.ctx, deadline)
	c.cancel = cancel
	fctx = context.WithValue(fctx, flightKey{}, c)
	if kind == opMeta {
		// A client waits on each .mod and .info before it knows what
		// to ask next: under faults, its upstream requests go out twice
		// at once (proxy.Urgent). Not a zip's: both would read it whole.
		fctx = proxy.Urgent(fctx, func() bool { return !c.isPrefetch() })
	} else {
		// A zip a client waits on is hashed before the prefetched ones
		// waiting for a CPU (download.Waited).
		fctx = download.Waited(fctx, func() bool { return !c.isPrefetch() })
	}
	if s.flights.calls == nil {
		s.flights.calls = map[string]*flightCall{}
	}
	s.flights.calls[key] = c
	s.flights.wg.Add(1)
	s.flights.mu.Unlock()
	s.metrics.flights.Inc()
	go s.runFlight(fctx, c, kind, deadline, fn)
	return c, nil
}

// joinRunning adds a waiter to key's flight in progress, if there is one.
func (s *Server) joinRunning(who requester, key string, parent *flightCall) *flightCall {
	s.flights.mu.Lock()
	c := s.flights.calls[key]
	if c == nil || c.ended {
		s.flights.mu.Unlock()
		return nil
	}
	s.addWaiter(c, who, parent)
	s.flights.mu.Unlock()
	return c
}

// addWaiter counts who as waiting for c; a client's waiting makes c a
// client's flight. The caller holds flights.mu.
func (s *Server) addWaiter(c *flightCall, who requester, parent *flightCall) {
	c.waiters++
	if who.prefetch {
		if parent != nil {
			c.addParent(parent)
			if !parent.isPrefetch() {
				s.gate.kick() // a client waits for it, through parent
			}
		}
		return
	}
	c.clients++
	if c.clients == 1 && c.prefetch.CompareAndSwap(true, false) {
		s.gate.kick() // its requests waiting at the gate now go first
	}
}

func (s *Server) runFlight(ctx context.Context, c *flightCall, kind opKind, deadline time.Duration, fn func(ctx context.Context) (any, error)) {
	v, err := fn(ctx)
	switch {
	case err == nil:
	case ctx.Err() == context.DeadlineExceeded && s.ctx.Err() == nil:
		err = &upstreamTimeout{d: deadline, err: err}
		s.failures.add(c.key, err)
	case notExist(err):
		s.misses.add(c.key, err)
		if upstreamNotFound(err) {
			s.absent.add(c.key, err)
		}
	case ctx.Err() == nil:
		s.failures.add(c.key, err)
	}
	if err != nil && changedBytes(err) {
		// Loud: upstream changed a version; what was served stays.
		s.metrics.changed.Inc()
		s.log.Error("refused: upstream has different bytes for a version whose hash is recorded; the recorded bytes stay", "op", c.key, "error", oneLine(err.Error(), 500))
	}
	c.cancel()
	s.flights.mu.Lock()
	c.val, c.err = v, err
	release := c.release
	c.release = nil
	if !c.ended {
		c.ended = true
		if s.flights.calls[c.key] == c {
			delete(s.flights.calls, c.key)
		}
	}
	s.flights.mu.Unlock()
	if release != nil {
		release()
	}
	s.metrics.flights.Dec()
	close(c.done)
	s.flights.wg.Done()
}

// leaveFlight takes a waiter that went away off c. When no client waits
// any more, c is a prefetch's; when nothing waits at all, c is carried on
// in a free prefetch slot, or else cancelled.
func (s *Server) leaveFlight(c *flightCall, who requester) {
	s.flights.mu.Lock()
	defer s.flights.mu.Unlock()
	c.waiters--
	if !who.prefetch {
		c.clients--
		if c.clients == 0 {
			c.prefetch.Store(true)
		}
	}
	if c.waiters > 0 || c.ended || c.adopted {
		return
	}
	if slot, ok := s.trySlot(); ok {
		s.metrics.abandoned.WithLabelValues("prefetched").Inc()
		c.adopted = true
		c.release = slot
		return
	}
	s.metrics.abandoned.WithLabelValues("cancelled").Inc()
	c.ended = true
	if s.flights.calls[c.key] == c {
		delete(s.flights.calls, c.key)
	}
	c.cancel()
}

// upstreamTimeout is a flight that ran out of its deadline.
type upstreamTimeout struct {
	d   time.Duration
	err error
}

func (e *upstreamTimeout) Error() string {
	return fmt.Sprintf("no answer from upstream within %v (%v)", e.d, e.err)
}
func (e *upstreamTimeout) Unwrap() error { return e.err }

// remembered returns the remembered answer for key: a recent "not found"
// or failure, or nil.
func (s *Server) remembered(key string) error {
	if err, ok := s.misses.get(key); ok {
		return fmt.Errorf("%w (remembered)", err)
	}
	if err := s.absent.get(key); err != nil {
		s.metrics.rememberedAbsent.Inc()
		return err
	}
	if err, ok := s.failures.get(key); ok {
		s.metrics.rememberedFailures.Inc()
		return &rememberedFailure{err: err}
	}
	return nil
}

// rememberedFailure is an upstream failure answered again from memory.
type rememberedFailure struct{ err error }

func (e *rememberedFailure) Error() string { return e.err.Error() + " (remembered)" }
func (e *rememberedFailure) Unwrap() error { return e.err }

// memory remembers values by key for a while (ttl), bounded in number
// (max): past the bound, expired entries go first, then any.
type memory[V any] struct {
	ttl time.Duration // negative: nothing is remembered
	max int
	mu  sync.Mutex
	m   map[string]memoryEntry[V]
}

type memoryEntry[V any] struct {
	v      V
	expiry time.Time
}

func (a *memory[V]) get(key string) (V, bool) {
	var zero V
	if a.ttl < 0 {
		return zero, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.m[key]
	if !ok {
		return zero, false
	}
	if time.Now().After(e.expiry) {
		delete(a.m, key)
		return zero, false
	}
	return e.v, true
}

func (a *memory[V]) add(key string, v V) { a.addUntil(key, v, time.Now().Add(a.ttl)) }

// addNew remembers v for key unless key is remembered already, and
// reports whether it was not: of callers racing with one key, one is told
// true. A memory that remembers nothing tells every caller true.
func (a *memory[V]) addNew(key string, v V) bool {
	if a.ttl < 0 {
		return true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	if e, ok := a.m[key]; ok && !now.After(e.expiry) {
		return false
	}
	a.addLocked(key, v, now.Add(a.ttl))
	return true
}

// addUntil remembers v for key until expiry.
func (a *memory[V]) addUntil(key string, v V, expiry time.Time) {
	if a.ttl < 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.addLocked(key, v, expiry)
}

// addLocked is addUntil with a.mu held.
func (a *memory[V]) addLocked(key string, v V, expiry time.Time) {
	if a.m == nil {
		a.m = map[string]memoryEntry[V]{}
	}
	if len(a.m) >= a.max {
		// Expired entries go first; then any, down to three quarters of
		// the bound, so that the next max/4 adds cost no pass at all.
		now := time.Now()
		for k, e := range a.m {
			if now.After(e.expiry) {
				delete(a.m, k)
			}
		}
		for k := range a.m {
			if len(a.m) <= a.max*3/4 {
				break
			}
			delete(a.m, k)
		}
	}
	a.m[key] = memoryEntry[V]{v: v, expiry: expiry}
}

// clear forgets everything.
func (a *memory[V]) clear() {
	a.mu.Lock()
	defer a.mu.Unlock()
	clear(a.m)
}

// each calls fn for every entry not yet expired.
func (a *memory[V]) each(fn func(key string, v V, expiry time.Time)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	for k, e := range a.m {
		if now.Before(e.expiry) {
			fn(k, e.v, e.expiry)
		}
	}
}

// answers remembers upstream errors (a "not found", a failure) by flight
// key.
type answers = memory[error]
