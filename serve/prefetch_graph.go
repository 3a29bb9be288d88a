package serve

import (
	"context"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// The zips of an unpruned main module's build list.
//
// A main module older than go 1.17 is unpruned: `go mod download` reads
// the go.mod of every module version its graph reaches, then downloads the
// zip of every module in the build list (the highest version of each path
// it read), in the build list's order (sorted by path), two at a time. The
// server never sees the main go.mod, but it sees the reads: a client that
// read go.mod files of two versions of one path without either being
// predicted (prefetch.go) reads a whole unpruned graph (a pruned main
// module's graph reads its own requirements, one version of each, and
// the predicted closures of unpruned ones).
//
// For such a client, the first .info or .zip it asks for after reading go.mod
// files (the download has started: its graph is read) sets off the zips
// of the highest version of each path it read, sorted by path, as
// prefetches within its -prefetch-per-client window (spawn): the window's
// waiting zips are put in that order too, and those of versions it will
// not download (a higher version was read) are dropped. When it asks for
// the zip of path P, the zips it owes for paths before P are forgiven: it
// went past them (a replacement or exclusion in its go.mod, which the
// server cannot see, chose another version), so they no longer hold its
// window. What it makes the server fetch beyond what it asks for stays
// bounded by the window; what it read is bounded by maxGraphPaths.

// clientGraph is what one client read for its module graph.
type clientGraph struct {
	max         map[string]string // path → highest version read
	unpredicted map[string]string // path → a version read without being predicted
	unpruned    bool              // two versions of a path read unpredicted
	// changed holds the paths whose highest version rose since the last
	// scan: each scan looks only at those, so a client that keeps reading
	// go.mod files between its .info requests costs the server a look at
	// what it read since, not at its whole graph each time.
	changed map[string]struct{}
	// zipCands holds, in the order read, the versions whose go.mod the
	// client read unpredicted since its last .info or .zip request: the
	// zips a build asks for without a .info first (zipAsked).
	zipCands   []module.Version
	zipCandSet map[module.Version]struct{}
	// spec holds, per path, the highest go.mod version prefetched on
	// speculation for this client (prefetch.go, speculate), and how many
	// were fetched since the client last read that path (forgiven
	// recentTTL after the last one, as owed prefetches are); specOpen is
	// their sum over the paths, and specNext the first time one of them
	// is forgiven.
	spec     map[string]specGuess
	specOpen int
	// reads counts the go.mod files the client read since readsFrom
	// (each version once while the server remembers it: the walked
	// memory), readsBefore those it read in the recentTTL before that:
	// they widen its go.mod window (window), so the credit is for what
	// it read in the last 2 × recentTTL at most (lately), not for all
	// it read while it kept reading.
	reads, readsBefore int
	readsFrom          time.Time
	specNext           time.Time
	// expires is recentTTL after the client's last read: a client silent
	// that long starts afresh (noteRead).
	expires time.Time
}

func newClientGraph() *clientGraph {
	return &clientGraph{max: map[string]string{}, unpredicted: map[string]string{}, changed: map[string]struct{}{}, zipCandSet: map[module.Version]struct{}{}, spec: map[string]specGuess{}}
}

// lately returns how many go.mod files the client read in the last
// recentTTL, or up to twice that (reads), after moving the count on to
// now. The caller holds p.mu.
func (g *clientGraph) lately(now time.Time) int {
	switch d := now.Sub(g.readsFrom); {
	case d >= 2*recentTTL:
		g.reads, g.readsBefore, g.readsFrom = 0, 0, now
	case d >= recentTTL:
		g.reads, g.readsBefore, g.readsFrom = 0, g.reads, g.readsFrom.Add(recentTTL)
	}
	return g.reads + g.readsBefore
}

// specGuess is what was prefetched on speculation for a client, for a path.
type specGuess struct {
	version string    // the highest version guessed
	open    int       // go.mod files guessed since the client last read the path
	until   time.Time // when they are forgiven
}

// forgiveGuesses forgives the guesses of g that the client did not read
// within recentTTL. The caller holds p.mu.
func (g *clientGraph) forgiveGuesses(now time.Time) {
	if g.specOpen == 0 || now.Before(g.specNext) {
		return
	}
	g.specNext = time.Time{}
	for path, sg := range g.spec {
		switch {
		case sg.open == 0:
		case now.After(sg.until):
			g.specOpen -= sg.open
			sg.open = 0
			g.spec[path] = sg
		case g.specNext.IsZero() || sg.until.Before(g.specNext):
			g.specNext = sg.until
		}
	}
}

// maxGraphPaths bounds the paths remembered for one client's graph;
// maxGraphClients the clients whose graphs are remembered.
const (
	maxGraphPaths   = 10000
	maxGraphClients = 128
)

// noteRead records that client read mod's go.mod for its graph
// (predicted: the server foresaw it below an unpruned go.mod; first: the
// client had not read it lately).
// It reports how many guesses (speculate) the read settled, right (the
// version guessed last for the path) and wrong, and whether mod is the
// highest version of its path the client read so far (raised).
func (p *prefetcher) noteRead(client string, mod module.Version, predicted, first bool) (right, wrong int, raised bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	g := p.graphs[client]
	if g != nil && now.After(g.expires) {
		// A new session (a CI runner's next job): what the client read
		// before says nothing of this graph, and widens no window.
		g = newClientGraph()
		p.graphs[client] = g
	}
	if g == nil {
		if len(p.graphs) >= maxGraphClients {
			for c, o := range p.graphs {
				if now.After(o.expires) {
					delete(p.graphs, c)
				}
			}
			if len(p.graphs) >= maxGraphClients {
				return
			}
		}
		g = newClientGraph()
		p.graphs[client] = g
	}
	g.expires = now.Add(recentTTL)
	if first {
		g.lately(now)
		g.reads++
	}
	if sg, ok := g.spec[mod.Path]; ok && sg.open > 0 {
		// The guesses are settled: the last one right if this is its
		// version, the others wrong.
		if sg.version == mod.Version {
			right = 1
		}
		wrong = sg.open - right
		g.specOpen -= sg.open
		sg.open = 0
		g.spec[mod.Path] = sg
	}
	if old, ok := g.max[mod.Path]; !ok && len(g.max) >= maxGraphPaths {
		return
	} else if !ok || semver.Compare(mod.Version, old) > 0 {
		g.max[mod.Path] = mod.Version
		g.changed[mod.Path] = struct{}{}
		raised = true
	}
	if !predicted {
		if _, ok := g.zipCandSet[mod]; !ok && len(g.zipCands) < maxGraphPaths {
			g.zipCands = append(g.zipCands, mod)
			g.zipCandSet[mod] = struct{}{}
		}
		if v, ok := g.unpredicted[mod.Path]; !ok {
			g.unpredicted[mod.Path] = mod.Version
		} else if v != mod.Version {
			g.unpruned = true
		}
	}
	return
}

// takeZipCandidates returns the zip candidates client read since its last
// .info or .zip request, in the order read, and forgets them. A client
// that reads an unpruned graph gets none: its build list's zips come by
// downloadStarted, and its other candidates are versions it will not
// download.
func (p *prefetcher) takeZipCandidates(client string) []module.Version {
	p.mu.Lock()
	defer p.mu.Unlock()
	g := p.graphs[client]
	if g == nil || len(g.zipCands) == 0 {
		return nil
	}
	cands := g.zipCands
	g.zipCands = nil
	clear(g.zipCandSet)
	if g.unpruned {
		return nil
	}
	return cands
}

// downloadStarted is called when client asks for a .info or .zip: if it
// reads an unpruned graph and read more since the last time, the zips of
// its build list are set off (see above): those of the paths whose highest
// version rose since the last time (the others were set off then).
func (s *Server) downloadStarted(client string) {
	p := s.prefetcher
	if cap(p.slots) == 0 {
		return
	}
	p.mu.Lock()
	g := p.graphs[client]
	if g == nil || !g.unpruned || len(g.changed) == 0 {
		p.mu.Unlock()
		return
	}
	build := make([]module.Version, 0, len(g.changed))
	for path := range g.changed {
		if !s.cfg.Private(path) {
			build = append(build, module.Version{Path: path, Version: g.max[path]})
		}
	}
	clear(g.changed)
	p.scanned += len(build)
	// The waiting zips of versions that are not the highest read go.
	dk := deferKey(client, false)
	q := p.deferred[dk][:0]
	for _, t := range p.deferred[dk] {
		if m, ok := zipKeyModule(t.key); ok && g.max[m.Path] != m.Version {
			p.deferredAll--
			continue
		}
		q = append(q, t)
	}
	if len(q) == 0 {
		delete(p.deferred, dk)
	} else {
		p.deferred[dk] = q
	}
	p.mu.Unlock()

	sort.Slice(build, func(i, j int) bool { return build[i].Path < build[j].Path })
	var want, wantInfo []module.Version
	for _, m := range build {
		if _, _, ok := s.cfg.Cache.ZipHash(m); !ok {
			want = append(want, m)
		}
		if !s.infoCached(m) {
			wantInfo = append(wantInfo, m)
		}
	}
	s.metrics.prefetch.WithLabelValues("build-list").Add(float64(len(want)))

	p.mu.Lock()
	defer p.mu.Unlock()
	// The client asks for every .info first (spawnInfo).
	for _, m := range wantInfo {
		s.spawnInfoLocked(client, m)
	}
	for _, m := range want {
		s.spawnLocked(client, "zip "+m.String(), false, func(ctx context.Context) { s.ensureZip(ctx, requester{prefetch: true}, m) })
	}
	// The window's waiting zips in the order the client will ask.
	q = p.deferred[dk]
	sort.SliceStable(q, func(i, j int) bool {
		mi, _ := zipKeyModule(q[i].key)
		mj, _ := zipKeyModule(q[j].key)
		return mi.Path < mj.Path
	})
}

// passed forgives the zips client owes for paths before path, when it
// reads an unpruned graph: it asks for its build list's zips in path
// order, so it went past them. It reports how many it forgave. The caller
// holds p.mu.
func (p *prefetcher) passed(client, path string) int {
	if g := p.graphs[client]; g == nil || !g.unpruned {
		return 0
	}
	owed := p.owed[client]
	n := 0
	for k := range owed {
		if m, ok := zipKeyModule(k); ok && m.Path < path {
			delete(owed, k)
			p.owedAll--
			n++
		}
	}
	if owed != nil && len(owed) == 0 {
		delete(p.owed, client)
	}
	return n
}

// zipKeyModule returns the module of a prefetch key "zip path@version".
func zipKeyModule(key string) (module.Version, bool) {
	rest, ok := strings.CutPrefix(key, "zip ")
	if !ok {
		return module.Version{}, false
	}
	i := strings.LastIndex(rest, "@")
	if i < 0 {
		return module.Version{}, false
	}
	return module.Version{Path: rest[:i], Version: rest[i+1:]}, true
}
