package serve

import (
	"context"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"gomodfetch/toolchain"
)

// Prefetch: when a client reads a .mod, the go command's rules say what it
// will ask for next, and the server starts those fetches before the client
// knows it needs them:
//
//   - a go.mod older than go 1.17 (or without a go line) is unpruned: the
//     client loads the go.mod of each of its requirements, and of theirs,
//     the whole closure below it, pruned go.mod files included (the go
//     command's readModGraph: below an unpruned module every requirement
//     is loaded unpruned). Those .mod files are prefetched, breadth first,
//     as each go.mod arrives;
//   - a .mod the client asked for without such a prediction is one its own
//     main module requires (below a pruned main module, those are what
//     the go command reads first, and nothing below them), or one it asked
//     for by name. Its .info is prefetched (a few dozen bytes: `go mod
//     download` asks for the .info of every module it downloads before the
//     first zip), the version is remembered for the client as a zip
//     candidate (in the order read, at most maxGraphPaths), and its zip is
//     prefetched at once, within a window of its own (candidateZip);
//   - a client's own request for an exact version's .info is how `go mod
//     download` names what it will download (modload.ListModules asks for
//     each one before the first zip): once the .info is there, that
//     version's zip is prefetched, and the client's zip candidates read
//     until then are forgotten (those it downloads, it names by their
//     .info);
//   - a client's own request for a .zip, when it read zip candidates since
//     its last .info or .zip request, is a go build or go get fetching
//     sources (modfetch.Download asks for a zip with no .info): the zips
//     of those candidates are prefetched, in the order it read them
//     (unless it reads an unpruned graph: see the next rule);
//   - a client that reads an unpruned main module's graph gets its build
//     list's zips prefetched when its download starts (prefetch_graph.go),
//     and not its zip candidates' (some are versions it will not
//     download);
//   - a .mod that was predicted is read for the module graph: its zip is
//     not fetched; its .info is when it is the highest version of its
//     path the client read so far (below an unpruned main module, `go mod
//     download` asks for the .info of every module of its build list, the
//     highest version of each path, one after another before the first
//     zip: each one not yet here cost it a round trip upstream; on
//     terraform that is 341 .info files for the 301 of its build list);
//   - a pruned go.mod read unpredicted brings its requirements' go.mod
//     files as guesses, bounded (speculate).
//
// A zip found in the cache counts as prefetched.
//
// What one client can make the server fetch ahead is bounded, because
// anyone can publish a go.mod with thousands of requirements:
//
//   - a prefetch is owed by the client it was made for until that client
//     asks for it (or recentTTL passes); a client owing
//     Config.PrefetchPerClient prefetches gets no more for now: the next
//     ones wait, in the order they were predicted (at most maxDeferred
//     per client), and each time the client asks for one it owed, the
//     first waiting one starts. So prefetching runs at most that many
//     requests ahead of a client: a go command names hundreds of zips
//     (by their .info, or by the go.mod files it read) before it asks
//     for the first one, then asks for them in the same order, and
//     finds each one fetched. A client that never asks for what was
//     fetched ahead of it costs upstream at most PrefetchPerClient
//     requests more than it asked for itself, however many requests it
//     makes;
//   - what was prefetched in the last recentTTL (fetched, failed or not
//     found) is not prefetched again, for anyone;
//   - at most Config.Prefetch prefetches run at once, and their upstream
//     requests hold at most that many of the Config.MaxUpstream places
//     (never more than half), behind any client's (upstreamGate); at most
//     maxPending wait for a slot;
//   - a walk of the unpruned closure reads at most maxWalk go.mod files.
//
// A prefetch runs as a flight of its own class: a client asking for the
// same thing joins it, and it is then a client's (flightCall).
type prefetcher struct {
	slots     chan struct{} // Config.Prefetch
	perClient int

	mu           sync.Mutex
	pendingMods  []prefetchTask                  // waiting for a slot: go.mod files first,
	pendingInfos []prefetchTask                  // then .info files,
	pendingZips  []prefetchTask                  // then zips, each in the order asked
	owed         map[string]map[string]time.Time // client → prefetch key → when it is forgiven
	owedAll      int
	owedSweep    time.Time                 // owedFull's next pass, not before
	recent       memory[struct{}]          // keys prefetched lately
	predicted    memory[struct{}]          // client + " " + "mod <path>@<version>": go.mod files a client will read for its graph
	askedFor     memory[struct{}]          // client + " " + key: what a client asked for itself (a waiting prefetch of it is dropped)
	walked       memory[struct{}]          // client + " " + module version: go.mod files walked for it lately
	deferred     map[string][]deferredTask // client → prefetches waiting for it to settle one it owes
	graphs       map[string]*clientGraph   // client → what it read for its module graph (prefetch_graph.go)
	deferredAll  int
	scanned      int    // build-list paths downloadStarted looked at (a test reads it)
	zips         int    // zip prefetches running (zipShare)
	walks        []walk // waiting for the walker (queueWalk)
	walking      bool   // the walker runs

	wg sync.WaitGroup
}

type prefetchTask struct {
	run func(ctx context.Context)
	zip bool // a zip's: at most half the slots run them (zipShare)
}

// deferredTask is a prefetch made for a client that owed too many; it
// starts when the client settles one (asked), unless it expired.
type deferredTask struct {
	key     string
	isMod   bool
	fn      func(ctx context.Context)
	expires time.Time
}

// maxDeferred bounds the prefetches waiting for one client to settle
// what it owes; maxDeferredAll bounds them for all clients.
const (
	maxDeferred    = 4096
	maxDeferredAll = 100000
)

// maxPending bounds the prefetches waiting for a slot, in all.
const maxPending = 4096

// recentTTL is how long a prefetched key is not prefetched again, and
// how long a client owes a prefetch it did not ask for.
const recentTTL = 10 * time.Minute

// maxOwed bounds the owed prefetches remembered, for all clients.
const maxOwed = 100000

// maxWalk bounds the go.mod files one walk of an unpruned closure reads.
const maxWalk = 10000

func newPrefetcher(slots, perClient int) *prefetcher {
	return &prefetcher{
		slots:     make(chan struct{}, max(slots, 0)),
		perClient: perClient,
		owed:      map[string]map[string]time.Time{},
		deferred:  map[string][]deferredTask{},
		graphs:    map[string]*clientGraph{},
		recent:    memory[struct{}]{ttl: recentTTL, max: 100000},
		predicted: memory[struct{}]{ttl: recentTTL, max: 100000},
		askedFor:  memory[struct{}]{ttl: recentTTL, max: 100000},
		walked:    memory[struct{}]{ttl: recentTTL, max: 100000},
	}
}

// trySlot takes a free prefetch slot, if there is one, for an abandoned
// flight to carry on in (flight.go), and returns the function that gives
// it back (to what is queued, if anything is). The slot is not counted in
// p.wg: the flight's goroutine, which gives it back, is counted in
// flights.wg, and a waiter leaves a flight at any time, even after Wait
// found p.wg at zero (an Add then races with that Wait). What the slot
// is handed on to was counted when it was queued.
func (s *Server) trySlot() (func(), bool) {
	p := s.prefetcher
	select {
	case p.slots <- struct{}{}:
	default:
		return nil, false
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			if t, ok := p.handOn(prefetchTask{}); ok {
				go s.runPrefetch(t)
			}
		})
	}, true
}

// prefetchFor starts, within the bounds above, what a client that asked
// for mod's go.mod will ask for next (see above).
func (s *Server) prefetchFor(client string, mod module.Version, gomod []byte) {
	if cap(s.prefetcher.slots) == 0 {
		return
	}
	_, graphOnly := s.prefetcher.predicted.get(client + " mod " + mod.String())
	// A go.mod this client had read lately is not parsed or walked again:
	// a warm server answers the same .mod files over and over. Of its
	// requests for one racing, one counts (addNew).
	first := s.prefetcher.walked.addNew(client+" "+mod.String(), struct{}{})
	right, wrong, raised := s.prefetcher.noteRead(client, mod, graphOnly, first)
	if right+wrong > 0 {
		s.metrics.prefetch.WithLabelValues("speculative-read").Add(float64(right))
		s.metrics.prefetch.WithLabelValues("speculative-wrong").Add(float64(wrong))
	}
	if !graphOnly || raised {
		s.spawnInfo(client, mod)
	}
	if !graphOnly && first {
		s.candidateZip(client, mod)
	}
	if first {
		// The read widened the client's go.mod window (window).
		s.prefetcher.mu.Lock()
		s.startDeferred(client, true)
		s.prefetcher.mu.Unlock()
		// Parsed once, for the walk or the guesses: a go.mod may be
		// 16 MiB, hundreds of thousands of lines.
		switch f, pruned := parseGoMod(gomod); {
		case f == nil:
		case !pruned:
			s.queueWalk(client, canonicalRequires(f))
		case !graphOnly:
			s.speculate(client, canonicalRequires(f))
		}
	}
}

// speculate prefetches, for a client that read a pruned go.mod unpredicted
// (one its main module requires, most likely), the go.mod files of its
// requirements (reqs) that the client is likely to read next. Below a pruned
// main module the go command reads the go.mod of each module the main
// go.mod lists, and a tidy main go.mod lists every module that provides
// a package to its build, at the highest version any requirer asks for:
// so a requirement of one of them is often listed too, at the version
// this go.mod names. Nothing says so for sure (the server never sees the
// main go.mod), so these are guesses, and bounded as such:
//
//   - only for a client not known to read an unpruned graph (that one's
//     reads are predicted: walkUnpruned);
//   - not for a path the client has read already (the main go.mod lists
//     a path once), nor below a version guessed for that path before (the
//     listed version is the highest any requirer names);
//   - not for a private path, nor a restricted one (the client may not
//     be one whose credential covers it), nor offline, nor what is in
//     the cache;
//   - at most 4 × -prefetch-per-client guessed go.mod files the client
//     has not settled by reading a version of their path, in all, per
//     client: each one fetched counts, a higher version guessed for a
//     path too (a go.mod that names a path many times brings its highest
//     version alone); those it did not read within recentTTL are
//     forgiven, as owed prefetches are.
//
// A go.mod costs about a kilobyte: on prometheus (go 1.26) about a third
// of the guesses are read, and they take most of the client's go.mod
// round trips off its critical path.
func (s *Server) speculate(client string, reqs []module.Version) {
	if s.cfg.Offline {
		return
	}
	reqs = highestPerPath(reqs)
	if len(reqs) == 0 {
		return
	}
	p := s.prefetcher
	limit := 4 * p.perClient
	var want []module.Version
	p.mu.Lock()
	g := p.graphs[client]
	if g == nil || g.unpruned {
		p.mu.Unlock()
		return
	}
	g.forgiveGuesses(time.Now())
	for _, m := range reqs {
		if g.specOpen+len(want) >= limit || len(g.spec)+len(want) >= maxGraphPaths {
			break
		}
		if _, read := g.max[m.Path]; read {
			continue
		}
		if sg, ok := g.spec[m.Path]; ok && semver.Compare(sg.version, m.Version) >= 0 {
			continue
		}
		want = append(want, m)
	}
	p.mu.Unlock()
	var fetch []module.Version
	for _, m := range want {
		if s.cfg.Private(m.Path) || s.cfg.Restricted(m.Path) || s.modCached(m) {
			continue
		}
		fetch = append(fetch, m)
	}
	if len(fetch) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if g = p.graphs[client]; g == nil {
		return
	}
	for _, m := range fetch {
		if g.specOpen >= limit {
			return
		}
		if _, read := g.max[m.Path]; read {
			continue
		}
		if sg, ok := g.spec[m.Path]; ok && semver.Compare(sg.version, m.Version) >= 0 {
			continue
		}
		if !s.spawnGuessLocked(client, m) {
			continue
		}
		sg := g.spec[m.Path]
		sg.version = m.Version
		sg.open++
		sg.until = time.Now().Add(recentTTL)
		g.spec[m.Path] = sg
		if g.specOpen == 0 || sg.until.Before(g.specNext) {
			g.specNext = sg.until
		}
		g.specOpen++
	}
}

// highestPerPath returns reqs with one version per path, the highest, in
// the order the paths first appear.
func highestPerPath(reqs []module.Version) []module.Version {
	at := make(map[string]int, len(reqs))
	var out []module.Version
	for _, m := range reqs {
		i, ok := at[m.Path]
		switch {
		case !ok:
			at[m.Path] = len(out)
			out = append(out, m)
		case semver.Compare(m.Version, out[i].Version) > 0:
			out[i] = m
		}
	}
	return out
}

// spawnGuessLocked prefetches mod's go.mod on speculation for client
// (speculate), not owed and outside its windows (speculate bounds
// them), with p.mu held. It reports whether it started or queued one.
func (s *Server) spawnGuessLocked(client string, mod module.Version) bool {
	p := s.prefetcher
	key := "mod " + mod.String()
	switch {
	case p.askedAlready(client, key), p.recentlyDone(key):
		return false
	case p.pending() >= maxPending:
		s.metrics.prefetch.WithLabelValues("skipped-queue-full").Inc()
		return false
	}
	s.metrics.prefetch.WithLabelValues("speculative").Inc()
	p.recent.add(key, struct{}{})
	p.wg.Add(1)
	t := prefetchTask{run: func(ctx context.Context) { s.ensureMod(ctx, requester{prefetch: true}, mod) }}
	select {
	case p.slots <- struct{}{}:
		go s.runPrefetch(t)
		return true
	default:
	}
	s.metrics.prefetch.WithLabelValues("queued").Inc()
	p.pendingMods = append(p.pendingMods, t)
	return true
}

// modCached reports whether mod's go.mod is in the cache.
func (s *Server) modCached(mod module.Version) bool {
	file, err := s.cfg.Cache.File(mod, "mod")
	if err != nil {
		return false
	}
	_, err = os.Lstat(file)
	return err == nil
}

// candidateZip prefetches, at once, the zip of mod, a go.mod that client
// read unpredicted (a zip candidate), unless it reads an unpruned graph.
// Below a pruned main module those reads are the main module's own
// requirements, read before anything else (modload.readModGraph queues
// the roots first), and a tidy go.mod lists every module that provides a
// package to the build: the modules `go mod download` downloads, and
// most of what a build does. Waiting for the client to name them (by
// .info, or by a zip) left the upstream and the server's CPUs idle while
// the client read its graph, one upstream round trip per requirement,
// and put every zip's download and hash in the client's own zip phase:
// prometheus through serve on 2 CPUs, 4.4 s of go.mod reads at 0.3 CPUs
// busy, then 13.1 s of zips (the server hashing beside the client); 4.7
// s and 10.9 s when they come now.
//
// These are owed as a class of their own ("cand " keys): at most
// candWindow × -prefetch-per-client of them per client, not deferred
// past it (a candidate left over is prefetched by the rules above, in
// the order the client names it); they take no room in the window of
// the zips it names, whose order is the order it will ask in. A client
// that reads go.mod files and never downloads (go list -m all) costs
// upstream at most that many zips more than it asked for, within
// recentTTL.
func (s *Server) candidateZip(client string, mod module.Version) {
	p := s.prefetcher
	if cap(p.slots) == 0 || s.cfg.Offline || s.cfg.Private(mod.Path) {
		return
	}
	key := "zip " + mod.String()
	if p.recentlyDone(key) {
		return
	}
	if _, _, ok := s.cfg.Cache.ZipHash(mod); ok {
		p.recent.add(key, struct{}{})
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	owed := p.owedBy(client)
	switch g := p.graphs[client]; {
	case g == nil || g.unpruned:
		return
	case p.askedAlready(client, key), p.recentlyDone(key):
		return
	case countOwedClass(owed, candPrefix) >= candWindow*p.perClient:
		s.metrics.prefetch.WithLabelValues("skipped-candidate-budget").Inc()
		return
	case p.pending() >= maxPending || p.owedFull():
		s.metrics.prefetch.WithLabelValues("skipped-queue-full").Inc()
		return
	}
	s.metrics.prefetch.WithLabelValues("candidate-zip").Inc()
	p.recent.add(key, struct{}{})
	p.owe(client, candPrefix+key)
	p.wg.Add(1)
	s.runOrQueueLocked(prefetchTask{run: func(ctx context.Context) { s.ensureZip(ctx, requester{prefetch: true}, mod) }, zip: true})
}

// candPrefix marks an owed key as a zip candidate's (candidateZip);
// candWindow × -prefetch-per-client of them may be owed per client.
const (
	candPrefix = "cand "
	candWindow = 4
)

// infoAsked is called when client asked for mod's .info itself and it is
// there (a version that is not gets no zip prefetch to wait on it): the
// zip of a version a client names by its .info is prefetched, and the
// zip candidates it read before are forgotten (see above).
func (s *Server) infoAsked(client string, mod module.Version) {
	if cap(s.prefetcher.slots) == 0 || s.cfg.Offline {
		return
	}
	s.prefetcher.takeZipCandidates(client)
	s.spawnZips(client, []module.Version{mod})
}

// zipAsked is called when client asked for a zip itself: the zips of the
// candidates it read since its last .info or .zip request are prefetched,
// in the order it read them (see above).
func (s *Server) zipAsked(client string) {
	if cap(s.prefetcher.slots) == 0 || s.cfg.Offline {
		return
	}
	if cands := s.prefetcher.takeZipCandidates(client); len(cands) > 0 {
		s.metrics.prefetch.WithLabelValues("zip-candidates").Add(float64(len(cands)))
		s.spawnZips(client, cands)
	}
}

// spawnZips prefetches the zips of mods for client, in order, within its
// window. A zip found in the cache counts as prefetched lately: a warm
// server's answers read no .ziphash.
func (s *Server) spawnZips(client string, mods []module.Version) {
	p := s.prefetcher
	var want []module.Version
	for _, m := range mods {
		key := "zip " + m.String()
		if p.recentlyDone(key) {
			continue
		}
		if _, _, ok := s.cfg.Cache.ZipHash(m); ok {
			p.recent.add(key, struct{}{})
			continue
		}
		want = append(want, m)
	}
	if len(want) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range want {
		if !s.spawnLocked(client, "zip "+m.String(), false, func(ctx context.Context) { s.ensureZip(ctx, requester{prefetch: true}, m) }) {
			return // the client's budget is spent
		}
	}
}

// walk is a walk of an unpruned graph waiting for the walker: the
// requirements of the unpruned go.mod it starts from.
type walk struct {
	client string
	reqs   []module.Version
}

// maxWalks bounds the walks waiting for the walker; more are skipped.
const maxWalks = 256

// queueWalk hands the requirements of an unpruned go.mod to the one
// goroutine that walks graphs (its cached go.mod files are read from
// disk, thousands for a large graph): off the request path, and one at a
// time, so that many clients asking for such a go.mod cost the server one
// walk's CPU at a time, not one each at once.
func (s *Server) queueWalk(client string, reqs []module.Version) {
	if len(reqs) == 0 {
		return
	}
	p := s.prefetcher
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.walks) >= maxWalks {
		s.metrics.prefetch.WithLabelValues("skipped-walk-queue-full").Inc()
		return
	}
	p.walks = append(p.walks, walk{client, reqs})
	if p.walking {
		return
	}
	p.walking = true
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			p.mu.Lock()
			if len(p.walks) == 0 || s.ctx.Err() != nil {
				p.walks, p.walking = nil, false
				p.mu.Unlock()
				return
			}
			w := p.walks[0]
			p.walks = p.walks[1:]
			p.mu.Unlock()
			s.walkUnpruned(w.client, w.reqs)
		}
	}()
}

// walkUnpruned predicts the go.mod files that client will read below an
// unpruned go.mod that requires reqs, and prefetches those not in the
// cache; a cached one is walked at once, a fetched one when it arrives.
//
// The walk holds the cached versions it has yet to read, not their go.mod
// files: each is read when its turn comes, so a walk holds one go.mod in
// memory at a time. Before, it held the go.mod of every cached requirement
// it had met and not yet walked: an unpruned go.mod requiring a thousand
// cached go.mod files of 16 MiB each (anyone can publish them, and make
// the server cache them by asking) held 16 GiB.
func (s *Server) walkUnpruned(client string, reqs []module.Version) {
	p := s.prefetcher
	var queue []module.Version
	for n := 0; n < maxWalk; n++ {
		if n > 0 {
			if len(queue) == 0 {
				return
			}
			m := queue[0]
			queue = queue[1:]
			data, _, err := s.cfg.Cache.ReadGoMod(m)
			if err != nil {
				// Gone or unreadable since: fetched, as one not cached.
				if !s.spawnWalk(client, m) {
					return
				}
				continue
			}
			reqs = graphRequires(data)
		}
		for _, m := range reqs {
			key := client + " mod " + m.String()
			if _, seen := p.predicted.get(key); seen || s.cfg.Private(m.Path) {
				continue
			}
			p.predicted.add(key, struct{}{})
			if s.modCached(m) {
				queue = append(queue, m)
				continue
			}
			if !s.spawnWalk(client, m) {
				return
			}
		}
	}
}

// spawnWalk prefetches m's go.mod for client's walk, and walks it when it
// arrives. It reports false when client's budget is spent.
func (s *Server) spawnWalk(client string, m module.Version) bool {
	return s.spawn(client, "mod "+m.String(), true, func(ctx context.Context) {
		if data, err := s.ensureMod(ctx, requester{prefetch: true}, m); err == nil {
			s.walkUnpruned(client, graphRequires(data))
		}
	})
}

// graphRequires returns the requirements of gomod, a go.mod below an
// unpruned one: those whose go.mod a client reads because of it, whether
// gomod is pruned or not (the go command loads every module below an
// unpruned one unpruned). An unreadable go.mod has none.
func graphRequires(gomod []byte) []module.Version {
	if f, _ := parseGoMod(gomod); f != nil {
		return canonicalRequires(f)
	}
	return nil
}

// maxPrefetchGoMod is the largest go.mod parsed to predict what a client
// reads next: one is served up to 16 MiB, but parsing that much costs
// about a second of CPU and 400 MiB of allocation, on the request path,
// per client request; real go.mod files are under 100 KiB. A larger one
// is served and brings no prefetch.
const maxPrefetchGoMod = 1 << 20

// parseGoMod parses gomod (nil if it does not parse, or is over
// maxPrefetchGoMod) and reports whether it is pruned (go 1.17 or later).
func parseGoMod(gomod []byte) (f *modfile.File, pruned bool) {
	if len(gomod) > maxPrefetchGoMod {
		return nil, false
	}
	f, err := modfile.ParseLax("go.mod", gomod, nil)
	if err != nil {
		return nil, false
	}
	return f, f.Go != nil && toolchain.Compare(f.Go.Version, "1.17") >= 0
}

// canonicalRequires returns f's requirements that are well-formed and
// name a canonical version.
func canonicalRequires(f *modfile.File) []module.Version {
	var reqs []module.Version
	for _, r := range f.Require {
		if module.Check(r.Mod.Path, r.Mod.Version) == nil && module.CanonicalVersion(r.Mod.Version) == r.Mod.Version {
			reqs = append(reqs, r.Mod)
		}
	}
	return reqs
}

// spawn runs a prefetch in a free slot, or queues it for the next one,
// unless a bound says to skip it; it reports false when client's budget
// is spent.
func (s *Server) spawn(client, key string, isMod bool, fn func(ctx context.Context)) bool {
	p := s.prefetcher
	p.mu.Lock()
	defer p.mu.Unlock()
	return s.spawnLocked(client, key, isMod, fn)
}

// spawnLocked is spawn with p.mu held.
func (s *Server) spawnLocked(client, key string, isMod bool, fn func(ctx context.Context)) bool {
	p := s.prefetcher
	owed := p.owedBy(client)
	switch {
	case p.askedAlready(client, key):
		s.metrics.prefetch.WithLabelValues("skipped-asked").Inc()
		return true
	case p.recentlyDone(key):
		s.metrics.prefetch.WithLabelValues("skipped-recent").Inc()
		return true
	case countOwed(owed, isMod) >= p.window(client, isMod):
		if p.deferredAll >= maxDeferredAll {
			p.sweepDeferred()
		}
		dk := deferKey(client, isMod)
		if len(p.deferred[dk]) < maxDeferred && p.deferredAll < maxDeferredAll {
			p.deferred[dk] = append(p.deferred[dk], deferredTask{key, isMod, fn, time.Now().Add(recentTTL)})
			p.deferredAll++
			s.metrics.prefetch.WithLabelValues("deferred").Inc()
			return true
		}
		s.metrics.prefetch.WithLabelValues("skipped-client-budget").Inc()
		s.limits.note("prefetch-per-client", "a client owes -prefetch-per-client prefetches it has not asked for, and more wait; no more are made for it", client)
		return false
	case p.pending() >= maxPending || p.owedFull():
		s.metrics.prefetch.WithLabelValues("skipped-queue-full").Inc()
		s.limits.note("prefetch-queue", "the prefetch queue is full; prefetches are skipped", client)
		return true
	}
	p.recent.add(key, struct{}{})
	p.owe(client, key)
	p.wg.Add(1)
	s.runOrQueueLocked(prefetchTask{run: fn, zip: !isMod})
	return true
}

// runOrQueueLocked runs t (a go.mod's or a zip's, counted in p.wg) in a
// free slot, or queues it (zips: within zipShare). The caller holds p.mu.
func (s *Server) runOrQueueLocked(t prefetchTask) {
	p := s.prefetcher
	if !t.zip || p.zips < p.zipShare() {
		select {
		case p.slots <- struct{}{}:
			if t.zip {
				p.zips++
			}
			go s.runPrefetch(t)
			return
		default:
		}
	}
	s.metrics.prefetch.WithLabelValues("queued").Inc()
	if t.zip {
		p.pendingZips = append(p.pendingZips, t)
	} else {
		p.pendingMods = append(p.pendingMods, t)
	}
}

// infoCached reports whether mod's .info is in the cache.
func (s *Server) infoCached(mod module.Version) bool {
	file, err := s.cfg.Cache.File(mod, "info")
	if err != nil {
		return false
	}
	_, err = os.Lstat(file)
	return err == nil
}

// spawnInfo prefetches mod's .info for client unless it is cached. A go
// command asks for the .info of every module it downloads before the
// first zip (modload.ListModules), one after another: each one not yet
// here costs it a round trip to upstream. A .info is a few dozen bytes
// and one is made for each go.mod the client read itself, so these are
// not owed and take no place in its window; they go before any zip.
func (s *Server) spawnInfo(client string, mod module.Version) {
	key := "info " + mod.String()
	if s.prefetcher.recentlyDone(key) {
		return
	}
	if s.infoCached(mod) {
		s.prefetcher.recent.add(key, struct{}{})
		return
	}
	p := s.prefetcher
	p.mu.Lock()
	defer p.mu.Unlock()
	s.spawnInfoLocked(client, mod)
}

// spawnInfoLocked is spawnInfo, without the cache check, with p.mu held.
func (s *Server) spawnInfoLocked(client string, mod module.Version) {
	p := s.prefetcher
	key := "info " + mod.String()
	switch {
	case p.askedAlready(client, key), p.recentlyDone(key):
		return
	case p.pending() >= maxPending:
		s.metrics.prefetch.WithLabelValues("skipped-queue-full").Inc()
		return
	}
	p.recent.add(key, struct{}{})
	p.wg.Add(1)
	t := prefetchTask{run: func(ctx context.Context) { s.ensureInfo(ctx, requester{prefetch: true}, mod) }}
	select {
	case p.slots <- struct{}{}:
		go s.runPrefetch(t)
		return
	default:
	}
	s.metrics.prefetch.WithLabelValues("queued").Inc()
	p.pendingInfos = append(p.pendingInfos, t)
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

// owe records that client owes key for recentTTL from now. A key it owes
// already (made again: recent forgot it) is counted once. The caller
// holds p.mu.
func (p *prefetcher) owe(client, key string) {
	owed := p.owed[client]
	if owed == nil {
		owed = map[string]time.Time{}
		p.owed[client] = owed
	}
	if _, ok := owed[key]; !ok {
		p.owedAll++
	}
	owed[key] = time.Now().Add(recentTTL)
}

// owedFull reports whether maxOwed prefetches are owed, after forgiving
// what any client owed for recentTTL: a client that never comes back
// (owedBy forgives a client's debts when it asks for more) leaves them
// counted until then, and with enough such clients no prefetch would be
// made for anyone again. Such a pass looks at every owed key, so one
// comes only once something may have expired since the last (owedSweep:
// the first expiry it left, and at most once a second); it also counts
// owedAll afresh. The caller holds p.mu.
func (p *prefetcher) owedFull() bool {
	if p.owedAll < maxOwed {
		return false
	}
	now := time.Now()
	if now.Before(p.owedSweep) {
		return true
	}
	var next time.Time
	n := 0
	for client, owed := range p.owed {
		for k, t := range owed {
			switch {
			case now.After(t):
				delete(owed, k)
			case next.IsZero() || t.Before(next):
				next = t
			}
		}
		if len(owed) == 0 {
			delete(p.owed, client)
		}
		n += len(owed)
	}
	p.owedAll, p.owedSweep = n, now.Add(time.Second)
	if next.After(p.owedSweep) {
		p.owedSweep = next
	}
	return n >= maxOwed
}

// sweepDeferred drops the deferred prefetches that expired (each
// client's oldest come first). The caller holds p.mu.
func (p *prefetcher) sweepDeferred() {
	now := time.Now()
	for client, q := range p.deferred {
		n := 0
		for n < len(q) && now.After(q[n].expires) {
			n++
		}
		if n == len(q) {
			delete(p.deferred, client)
		} else if n > 0 {
			p.deferred[client] = append([]deferredTask(nil), q[n:]...)
		}
		p.deferredAll -= n
	}
}

// window is how many prefetches of a kind client may owe: go.mod files
// (small, and a client reading an unpruned graph asks for hundreds of them
// in a row) have a window four times the rest's, and four more for each
// go.mod the client read for its graph lately (readCredit; lately: in
// the last recentTTL, or up to twice that): the walk of an unpruned
// graph predicts hundreds of go.mod files while the client reads
// its main module's requirements, which nothing predicts and which settle
// nothing it owes; with a fixed window the walk stopped 256 ahead and
// the client met the rest one round trip at a time (terraform through
// serve under the bench's flaky profile: 285 of its 835 go.mod reads
// waited on upstream, 19 s; 119 and 9 s with the credit). A client
// still makes the server fetch at most 4 × -prefetch-per-client go.mod
// files more than four for each it read lately. The caller holds p.mu.
func (p *prefetcher) window(client string, isMod bool) int {
	if !isMod {
		return p.perClient
	}
	n := 4 * p.perClient
	if g := p.graphs[client]; g != nil {
		n += readCredit * g.lately(time.Now())
	}
	return n
}

// readCredit is how many more go.mod prefetches a client may owe for each
// go.mod it read (window).
const readCredit = 4

// countOwed counts the go.mod prefetches in owed, or the zips the client
// named (not its candidates': candidateZip).
func countOwed(owed map[string]time.Time, isMod bool) int {
	if isMod {
		return countOwedClass(owed, "mod ")
	}
	return countOwedClass(owed, "zip ")
}

// countOwedClass counts the keys in owed that start with prefix.
func countOwedClass(owed map[string]time.Time, prefix string) int {
	n := 0
	for k := range owed {
		if strings.HasPrefix(k, prefix) {
			n++
		}
	}
	return n
}

// deferKey is the key of p.deferred for client's prefetches of a kind.
func deferKey(client string, isMod bool) string {
	if isMod {
		return client + "\x00mod"
	}
	return client + "\x00other"
}

// asked settles what client owed for key: it asked for it. Its deferred
// prefetches still due then start, as far as its windows allow.
func (s *Server) asked(client, key string) {
	p := s.prefetcher
	p.askedFor.add(client+" "+key, struct{}{})
	p.mu.Lock()
	defer p.mu.Unlock()
	settled := 0
	if m, ok := zipKeyModule(key); ok {
		settled += p.passed(client, m.Path)
	}
	owed := p.owed[client]
	for _, k := range []string{key, candPrefix + key} {
		if _, ok := owed[k]; ok {
			delete(owed, k)
			p.owedAll--
			settled++
		}
	}
	if owed != nil && len(owed) == 0 {
		delete(p.owed, client)
	}
	if settled > 0 {
		s.startDeferred(client, true)
		s.startDeferred(client, false)
	}
}

// startDeferred starts client's deferred prefetches of a kind, first
// first, while its window has room. The caller holds p.mu.
func (s *Server) startDeferred(client string, isMod bool) {
	p := s.prefetcher
	dk := deferKey(client, isMod)
	now := time.Now()
	room := p.window(client, isMod) - countOwed(p.owedBy(client), isMod)
	for q := p.deferred[dk]; room > 0 && len(q) > 0; q = p.deferred[dk] {
		t := q[0]
		q[0] = deferredTask{}
		if len(q) == 1 {
			delete(p.deferred, dk)
		} else {
			p.deferred[dk] = q[1:]
		}
		p.deferredAll--
		if now.After(t.expires) || p.recentlyDone(t.key) || p.askedAlready(client, t.key) {
			continue
		}
		s.spawnLocked(client, t.key, t.isMod, t.fn)
		room--
	}
}

// askedAlready reports whether client asked for key itself lately: a
// prefetch of it would be owed for ever.
func (p *prefetcher) askedAlready(client, key string) bool {
	_, ok := p.askedFor.get(client + " " + key)
	return ok
}

// zipShare is how many prefetch slots may run zips at once: half.
func (p *prefetcher) zipShare() int {
	return max(1, cap(p.slots)/2)
}

// pending counts the prefetches waiting for a slot. The caller holds p.mu.
func (p *prefetcher) pending() int {
	return len(p.pendingMods) + len(p.pendingInfos) + len(p.pendingZips)
}

func (p *prefetcher) recentlyDone(key string) bool {
	_, ok := p.recent.get(key)
	return ok
}

// runPrefetch runs t, then what is queued, in its slot.
func (s *Server) runPrefetch(t prefetchTask) {
	p := s.prefetcher
	for {
		s.metrics.prefetch.WithLabelValues("started").Inc()
		t.run(s.ctx)
		next, ok := p.handOn(t)
		p.wg.Done()
		if !ok {
			return
		}
		t = next
	}
}

// handOn hands a slot whose work is done to the next queued task, or
// frees it when nothing is queued (ok is false): go.mod files first (a
// client reads its whole graph before it asks for anything else, and
// waits on each one), then .info files (asked next, one after another),
// then zips. Before, the .info of each go.mod a client read went in the
// go.mod files' queue, ahead of the go.mod files the walk predicted next:
// hugo through serve under the flaky profile met 119 of those not yet
// fetched.
//
// done is the task the slot ran (a zero task for a slot that ran none).
// Zips hold at most zipShare slots: the go.mod files a walk predicts need
// many requests at once, a zip needs bandwidth; with 32 zips at once
// (-prefetch 32), some answers' headers came late enough on a busy
// 2-CPU machine to be hedged, and both requests read the whole zip
// (hugo through serve, clean upstream: 215.5 MiB against 192.9).
func (p *prefetcher) handOn(done prefetchTask) (t prefetchTask, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if done.zip {
		p.zips--
	}
	switch {
	case len(p.pendingMods) > 0:
		t, p.pendingMods = p.pendingMods[0], p.pendingMods[1:]
	case len(p.pendingInfos) > 0:
		t, p.pendingInfos = p.pendingInfos[0], p.pendingInfos[1:]
	case len(p.pendingZips) > 0 && p.zips < p.zipShare():
		t, p.pendingZips = p.pendingZips[0], p.pendingZips[1:]
		p.zips++
	default:
		<-p.slots
		return prefetchTask{}, false
	}
	return t, true
}
