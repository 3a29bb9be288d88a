package serve

import (
	"context"
	"sync"
	"time"
)

// upstreamGate bounds the upstream requests in flight at once
// (Config.MaxUpstream): every request the engine sends for the server,
// .info, .mod, zip ranges, version lists and checksum-database reads,
// passes it (proxy.Client.Gate) and holds its place until its response is
// read, never while waiting to retry. Those waiting are let in by class,
// then in order: a client's before a prefetch's, and prefetches hold at
// most share places, so a client's miss always finds most of the places
// for itself. A request outside any flight counts as a client's.
type upstreamGate struct {
	mu       sync.Mutex
	size     int // places
	share    int // places prefetches may hold
	inUse    int
	prefetch int // places held by prefetches
	waiting  []*gateWaiter
	onWait   func(prefetch bool, d time.Duration) // metrics: how long a request waited
}

type gateWaiter struct {
	ready    chan struct{}
	call     *flightCall // nil outside any flight
	granted  bool
	prefetch bool // the place granted is counted as a prefetch's
}

// Enter implements proxy.Gate.
func (g *upstreamGate) Enter(ctx context.Context) (func(), error) {
	start := time.Now()
	w := &gateWaiter{ready: make(chan struct{}), call: flightOf(ctx)}
	g.mu.Lock()
	g.waiting = append(g.waiting, w)
	g.dispatch()
	g.mu.Unlock()
	select {
	case <-w.ready:
	case <-ctx.Done():
		g.mu.Lock()
		if !w.granted {
			g.remove(w)
			g.mu.Unlock()
			return nil, ctx.Err()
		}
		g.mu.Unlock()
		// Granted as it gave up: the place goes back below.
	}
	if g.onWait != nil {
		g.onWait(w.prefetch, time.Since(start))
	}
	var once sync.Once
	return func() { once.Do(func() { g.leave(w) }) }, nil
}

func (g *upstreamGate) leave(w *gateWaiter) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.inUse--
	if w.prefetch {
		g.prefetch--
	}
	g.dispatch()
}

// kick re-orders the waiting requests after a flight changed class.
func (g *upstreamGate) kick() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.dispatch()
}

// dispatch lets in the waiting requests there are places for: clients'
// first, then prefetches' within their share, each in arrival order. The
// caller holds g.mu.
func (g *upstreamGate) dispatch() {
	for _, prefetches := range []bool{false, true} {
		for i := 0; i < len(g.waiting) && g.inUse < g.size; {
			w := g.waiting[i]
			pf := w.call.isPrefetch()
			if pf != prefetches || (pf && g.prefetch >= g.share) {
				i++
				continue
			}
			g.waiting = append(g.waiting[:i], g.waiting[i+1:]...)
			w.granted, w.prefetch = true, pf
			g.inUse++
			if pf {
				g.prefetch++
			}
			close(w.ready)
		}
	}
}

func (g *upstreamGate) remove(w *gateWaiter) {
	for i, x := range g.waiting {
		if x == w {
			g.waiting = append(g.waiting[:i], g.waiting[i+1:]...)
			return
		}
	}
}

// clientPlaces bounds the upstream fetches each client may have started
// and not yet seen end (Config.ClientUpstream). A client at its bound
// waits for one of its own.
type clientPlaces struct {
	per int
	mu  sync.Mutex
	m   map[string]*placeSet
}

type placeSet struct {
	ch   chan struct{}
	refs int // holders and waiters; the set is dropped at zero
}

// acquire takes one of client's places, waiting on ctx if it has none
// free (and then calling onWait first), and returns the function that
// gives it back.
func (p *clientPlaces) acquire(ctx context.Context, client string, onWait func()) (release func(), err error) {
	p.mu.Lock()
	if p.m == nil {
		p.m = map[string]*placeSet{}
	}
	ps := p.m[client]
	if ps == nil {
		ps = &placeSet{ch: make(chan struct{}, p.per)}
		p.m[client] = ps
	}
	ps.refs++
	p.mu.Unlock()
	select {
	case ps.ch <- struct{}{}:
	default:
		onWait()
		select {
		case ps.ch <- struct{}{}:
		case <-ctx.Done():
			p.unref(client, ps)
			return nil, ctx.Err()
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			<-ps.ch
			p.unref(client, ps)
		})
	}, nil
}

func (p *clientPlaces) unref(client string, ps *placeSet) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ps.refs--
	if ps.refs == 0 && p.m[client] == ps {
		delete(p.m, client)
	}
}
