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
// for itself; the requests of the flights one client started hold at most
// perClient places (Config.ClientUpstream), so one client cannot take
// them all. A request outside any flight counts as a client's, of no
// client in particular.
type upstreamGate struct {
	mu        sync.Mutex
	size      int // places
	share     int // places prefetches may hold
	perClient int // places one client's flights may hold
	inUse     int
	prefetch  int            // places held by prefetches
	byClient  map[string]int // places held by each client's flights
	waiting   []*gateWaiter
	onWait    func(prefetch bool, d time.Duration) // metrics: how long a request waited
	onLimited func(client string)                  // a request waits because its client is at perClient
}

type gateWaiter struct {
	ready    chan struct{}
	call     *flightCall // nil outside any flight
	granted  bool
	prefetch bool   // the place granted is counted as a prefetch's
	client   string // the place granted is counted as this client's ("": none)
	limited  bool   // reported to onLimited already
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
	if w.client != "" {
		if g.byClient[w.client]--; g.byClient[w.client] <= 0 {
			delete(g.byClient, w.client)
		}
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
// first, then prefetches' within their share, each in arrival order,
// skipping those whose client is at its bound. The caller holds g.mu.
func (g *upstreamGate) dispatch() {
	for _, prefetches := range []bool{false, true} {
		for i := 0; i < len(g.waiting) && g.inUse < g.size; {
			w := g.waiting[i]
			pf := w.call.isPrefetch()
			if pf != prefetches || (pf && g.prefetch >= g.share) {
				i++
				continue
			}
			client := ""
			if !pf {
				client = w.call.owner()
			}
			if client != "" && g.byClient[client] >= g.perClient {
				if !w.limited && g.onLimited != nil {
					w.limited = true
					g.onLimited(client)
				}
				i++
				continue
			}
			g.waiting = append(g.waiting[:i], g.waiting[i+1:]...)
			w.granted, w.prefetch, w.client = true, pf, client
			g.inUse++
			if pf {
				g.prefetch++
			}
			if client != "" {
				if g.byClient == nil {
					g.byClient = map[string]int{}
				}
				g.byClient[client]++
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
