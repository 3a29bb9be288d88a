package serve

import (
	"context"
	"sync"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
)

// Prefetch: when a client reads a .mod, it will likely ask next for what
// that go.mod implies, and the server can start those fetches before the
// client knows it needs them. What one client can make the server fetch
// ahead is bounded, because anyone can publish a go.mod with thousands of
// requirements:
//
//   - a prefetch is owed by the client it was made for until that client
//     asks for it (or recentTTL passes); a client owing
//     Config.PrefetchPerClient prefetches gets no more. A client that asks
//     for what was fetched ahead of it keeps its prefetches coming; one
//     that never does costs upstream at most that many requests more than
//     it asked for itself, however many requests it makes;
//   - what was prefetched in the last recentTTL (fetched, failed or not
//     found) is not prefetched again, for anyone;
//   - at most Config.Prefetch prefetches run at once, and their upstream
//     requests hold at most that many of the Config.MaxUpstream places
//     (never more than half), behind any client's (upstreamGate); at most
//     maxPending wait for a slot.
//
// A prefetch runs as a flight of its own class: a client asking for the
// same thing joins it, and it is then a client's (flightCall).
type prefetcher struct {
	slots     chan struct{} // Config.Prefetch
	perClient int

	mu          sync.Mutex
	pendingMods []prefetchTask                  // waiting for a slot: go.mod files first,
	pendingZips []prefetchTask                  // then zips, each in the order asked
	owed        map[string]map[string]time.Time // client → prefetch key → when it is forgiven
	owedAll     int
	recent      answers // keys prefetched lately (their error unused)

	wg sync.WaitGroup
}

type prefetchTask struct {
	run func(ctx context.Context)
}

// maxPending bounds the prefetches waiting for a slot, in all.
const maxPending = 4096

// recentTTL is how long a prefetched key is not prefetched again, and
// how long a client owes a prefetch it did not ask for.
const recentTTL = 10 * time.Minute

// maxOwed bounds the owed prefetches remembered, for all clients.
const maxOwed = 100000

func newPrefetcher(slots, perClient int) *prefetcher {
	return &prefetcher{
		slots:     make(chan struct{}, max(slots, 0)),
		perClient: perClient,
		owed:      map[string]map[string]time.Time{},
		recent:    answers{ttl: recentTTL, max: 100000},
	}
}

// trySlot takes a free prefetch slot, if there is one, for an abandoned
// flight to carry on in (flight.go), and returns the function that gives
// it back (to what is queued, if anything is).
func (s *Server) trySlot() (func(), bool) {
	p := s.prefetcher
	select {
	case p.slots <- struct{}{}:
	default:
		return nil, false
	}
	p.wg.Add(1)
	var once sync.Once
	return func() {
		once.Do(func() {
			if t, ok := p.handOn(); ok {
				go s.runPrefetch(t)
			}
			p.wg.Done()
		})
	}, true
}

// prefetchFor starts, within the bounds above, what a client that asked
// for mod's go.mod will likely ask next: the go.mod of each requirement,
// and mod's own .info and .zip.
func (s *Server) prefetchFor(client string, mod module.Version, gomod []byte) {
	if cap(s.prefetcher.slots) == 0 {
		return
	}
	f, err := modfile.ParseLax("go.mod", gomod, nil)
	if err != nil {
		return
	}
	for _, req := range f.Require {
		m := req.Mod
		if s.cfg.Private(m.Path) || module.Check(m.Path, m.Version) != nil || module.CanonicalVersion(m.Version) != m.Version {
			continue
		}
		if _, _, err := s.cfg.Cache.ReadGoMod(m); err == nil {
			continue
		}
		if !s.spawn(client, "mod "+m.String(), true, func(ctx context.Context) { s.ensureMod(ctx, requester{prefetch: true}, m) }) {
			break // the client's budget is spent: the rest would be skipped too
		}
	}
	if _, _, ok := s.cfg.Cache.ZipHash(mod); ok {
		return // the zip is there (checked when it is asked for)
	}
	s.spawn(client, "zip "+mod.String(), false, func(ctx context.Context) { s.ensureZip(ctx, requester{prefetch: true}, mod) })
}

// spawn runs a prefetch in a free slot, or queues it for the next one,
// unless a bound says to skip it; it reports false when client's budget
// is spent.
func (s *Server) spawn(client, key string, isMod bool, fn func(ctx context.Context)) bool {
	p := s.prefetcher
	p.mu.Lock()
	defer p.mu.Unlock()
	owed := p.owedBy(client)
	switch {
	case p.recent.get(key) != nil:
		s.metrics.prefetch.WithLabelValues("skipped-recent").Inc()
		return true
	case len(owed) >= p.perClient:
		s.metrics.prefetch.WithLabelValues("skipped-client-budget").Inc()
		s.limits.note("prefetch-per-client", "a client owes -prefetch-per-client prefetches it has not asked for; no more are made for it", client)
		return false
	case len(p.pendingMods)+len(p.pendingZips) >= maxPending || p.owedAll >= maxOwed:
		s.metrics.prefetch.WithLabelValues("skipped-queue-full").Inc()
		s.limits.note("prefetch-queue", "the prefetch queue is full; prefetches are skipped", client)
		return true
	}
	p.recent.add(key, errPrefetched)
	if owed == nil {
		owed = map[string]time.Time{}
		p.owed[client] = owed
	}
	owed[key] = time.Now().Add(recentTTL)
	p.owedAll++
	p.wg.Add(1)
	t := prefetchTask{run: fn}
	select {
	case p.slots <- struct{}{}:
		go s.runPrefetch(t)
		return true
	default:
	}
	s.metrics.prefetch.WithLabelValues("queued").Inc()
	if isMod {
		p.pendingMods = append(p.pendingMods, t)
	} else {
		p.pendingZips = append(p.pendingZips, t)
	}
	return true
}

// owedBy returns what client owes, without what is forgiven by now. The
// caller holds p.mu.
func (p *prefetcher) owedBy(client string) map[string]time.Time {
	owed := p.owed[client]
	now := time.Now()
	for k, t := range owed {
		if now.After(t) {
			delete(owed, k)
			p.owedAll--
		}
	}
	if owed != nil && len(owed) == 0 {
		delete(p.owed, client)
		return nil
	}
	return owed
}

// asked settles what client owed for key: it asked for it.
func (p *prefetcher) asked(client, key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	owed := p.owed[client]
	if _, ok := owed[key]; !ok {
		return
	}
	delete(owed, key)
	p.owedAll--
	if len(owed) == 0 {
		delete(p.owed, client)
	}
}

// errPrefetched marks a key in prefetcher.recent.
var errPrefetched = errorString("prefetched")

type errorString string

func (e errorString) Error() string { return string(e) }

// runPrefetch runs t, then what is queued, in its slot.
func (s *Server) runPrefetch(t prefetchTask) {
	p := s.prefetcher
	for {
		s.metrics.prefetch.WithLabelValues("started").Inc()
		t.run(s.ctx)
		next, ok := p.handOn()
		p.wg.Done()
		if !ok {
			return
		}
		t = next
	}
}

// handOn hands a slot whose work is done to the next queued task (go.mod
// files first), or frees it when nothing is queued (ok is false).
func (p *prefetcher) handOn() (t prefetchTask, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case len(p.pendingMods) > 0:
		t, p.pendingMods = p.pendingMods[0], p.pendingMods[1:]
	case len(p.pendingZips) > 0:
		t, p.pendingZips = p.pendingZips[0], p.pendingZips[1:]
	default:
		<-p.slots
		return prefetchTask{}, false
	}
	return t, true
}
