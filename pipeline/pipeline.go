// Package pipeline owns one run of `go mod download`'s job: from the main
// module and the command line to a cache that holds what go would leave,
// and the report of what happened.
//
//	go.mod / go.work ─► resolver.Plan ─► download.Fetcher ─► module cache
//	                         ▲                   │
//	                         └── module graph ◄──┘ (go.mod files)
//
// The resolver says what to fetch; some of that is known at once (the
// require lines of a go ≥ 1.17 module) and some only once the module graph
// is read (the build list, a path's selected version). The graph is read in
// the background while the zips already known download; a zip started at
// go.mod's version before the graph confirms it (speculative) commits
// nothing until the graph says the version is the selected one. When the
// graph is read, the plan is completed and corrected, and the rest starts.
//
// A Run knows nothing of flags, output formats or exit codes: it returns a
// Report, and the front end (the CLI, a server) decides what to print.
package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/rogpeppe/go-internal/lockedfile"
	"golang.org/x/mod/module"

	"gomodfetch/download"
	"gomodfetch/internal/workpool"
	"gomodfetch/modcache"
	"gomodfetch/resolver"
	"gomodfetch/toolchain"
	"gomodfetch/verify"
)

// Config is what a Run needs. Fetcher and Cache are required.
type Config struct {
	// Main is the main module (or workspace); nil outside a module.
	Main *resolver.Main
	// Args are the module arguments (after flags).
	Args []string
	// Fetcher does the downloads; Cache is the module cache it writes.
	Fetcher *download.Fetcher
	Cache   *modcache.Cache
	// Sums is the go.sum the Fetcher's verifier uses; nil outside a module.
	Sums *verify.Sums
	// Jobs bounds the module downloads, and the go.mod reads of the graph,
	// at a time (zero: 16).
	Jobs int
	// JSON is set for -json, which changes when go.sum is written (go
	// records the sums of what did download even when some modules failed).
	JSON bool
	// Interrupted reports whether the run was stopped by a signal (nil:
	// never): an interrupted graph does not end the run as a broken one
	// does.
	Interrupted func() bool
	// OnTotal, if not nil, is told how many module versions will be
	// downloaded, each time that number is known anew.
	OnTotal func(n int)
	// Running is the toolchain the run stands in for: a module whose go
	// line is newer fails, or makes the run end in Report.Switch.
	Running toolchain.Running
	// Admit, if not nil, is asked about each module version the run would
	// download whole, before anything of it is fetched: an error fails
	// that module with it (the CLI's supply-chain policy), and nothing of
	// the version is fetched or written.
	Admit func(ctx context.Context, mod module.Version) error
	// Versions answers the version queries among the arguments
	// (path@latest, @upgrade, @v1.2, ...); nil: Fetcher. The CLI's policy
	// gives one whose version lists leave out the versions it denies, as
	// serve's lists do.
	Versions resolver.VersionSource
}

// versions is the source the run's queries are answered from.
func (cfg *Config) versions() resolver.VersionSource {
	if cfg.Versions != nil {
		return cfg.Versions
	}
	return cfg.Fetcher
}

// Run is one run, prepared: its plan is made and its notes are known.
// Download and Resolve each work on a plan of their own (a plan is
// completed as the graph is read), so a Run may be used for more than one
// of them, one at a time.
type Run struct {
	cfg   Config
	plan  *resolver.Plan // New's, until the first Download or Resolve takes it
	notes []string
}

// takePlan returns a plan that no call has used yet. (New made the same
// plan without an error, so an error here is not expected.)
func (r *Run) takePlan() (*resolver.Plan, error) {
	if p := r.plan; p != nil {
		r.plan = nil
		return p, nil
	}
	return resolver.NewPlan(r.cfg.Main, r.cfg.Args)
}

// New resolves the command line into a plan. Errors are the user's (bad
// arguments, no module); the Run's Notes are what go prints before it
// starts ("skipping download of ...", dropped requirements).
func New(cfg Config) (*Run, error) {
	if cfg.Jobs <= 0 {
		cfg.Jobs = 16
	}
	if cfg.Interrupted == nil {
		cfg.Interrupted = func() bool { return false }
	}
	plan, err := resolver.NewPlan(cfg.Main, cfg.Args)
	if err != nil {
		return nil, err
	}
	r := &Run{cfg: cfg, plan: plan}
	if cfg.Main != nil {
		r.notes = append(r.notes, cfg.Main.ExcludedNotes()...)
	}
	r.notes = append(r.notes, plan.Notes...)
	return r, nil
}

// Notes are the messages to print before the downloads.
func (r *Run) Notes() []string { return r.notes }

// NothingToDo reports whether go would say "no module dependencies to
// download" and stop: a module without requirements and no arguments.
func (r *Run) NothingToDo() bool {
	m := r.cfg.Main
	return m != nil && len(r.cfg.Args) == 0 && len(m.File.Require) == 0 && !m.Workspace
}

// Report is what a run did.
type Report struct {
	// Modules are the modules reported, in go's order (its -json order).
	Modules []*download.Module
	// Fatal is set when the run ended before downloading anything, as go
	// ends it: the module graph of a go ≥ 1.17 module could not be read.
	// Modules is then empty.
	Fatal error
	// GraphErr is a failure to read the module graph that did not end the
	// run: go reports it after the modules.
	GraphErr error
	// SumsErr is a failure to update go.sum.
	SumsErr error
	// GoModErr is a failure to update go.mod.
	GoModErr error
	// Warnings are lines go prints on stderr as they are (not errors).
	Warnings []string
	// Switch is set when go would switch to a newer toolchain and run
	// again (GOTOOLCHAIN allows it, and a module needs a newer go than
	// Config.Running): the newest go needed. go.mod and go.sum are then
	// left alone and the report is not to be printed.
	Switch *toolchain.TooNewError
}

// Failed reports whether anything failed.
func (rep *Report) Failed() bool {
	if rep.Fatal != nil || rep.GraphErr != nil || rep.SumsErr != nil || rep.GoModErr != nil {
		return true
	}
	for _, m := range rep.Modules {
		if m.Error != "" {
			return true
		}
	}
	return false
}

// Download runs the plan.
func (r *Run) Download(ctx context.Context) *Report {
	cfg, rep := r.cfg, &Report{}
	plan, err := r.takePlan()
	if err != nil {
		rep.Fatal = err
		return rep
	}
	graph := r.startGraph(ctx, plan)

	// endsRun says whether a graph that failed ends the run as go ends it:
	// not when the run was interrupted or the cache is unusable, which
	// are reported with the modules that did finish.
	endsRun := func() bool { return !cfg.Interrupted() && cfg.Fetcher.CacheError() == nil }

	if plan.Wait {
		// Nothing is known before the graph. A graph that failed still
		// gives what it could read: go lists that partial build list and
		// reports the failure after it.
		g, err := graph.wait()
		if err != nil {
			rep.GraphErr = err
		}
		if g != nil {
			plan.FromGraph(g)
			rep.Warnings = plan.Warnings
		}
	}
	var resolved *resolver.Graph
	if plan.Wait {
		resolved, _ = graph.wait()
	}
	plan.ResolveQueries(ctx, cfg.versions(), resolved, cfg.Jobs)

	var (
		first     = make([]*download.Module, len(plan.Targets))
		confirmed = map[int]*download.Module{}
		mu        sync.Mutex
		stopped   error // a go.sum mismatch: go stops the whole run at the first
	)
	ctx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	// Eight times Jobs: the Fetcher holds its network slots (Jobs of
	// them) only while bytes come in, and the client bounds the requests
	// to each host, so the rest can be verifying, unpacking or waiting to
	// unpack. At twice Jobs, modules waiting for the disk held every
	// place, and a large zip late in go.mod started seconds late while
	// the network sat idle. The bound keeps a build list of thousands
	// from holding a lock file open per module. The pool's goroutines take
	// the targets in order and are reused: a warm run no longer starts
	// (and grows the stack of) a goroutine per module.
	pool := workpool.New(8 * cfg.Jobs)
	launch := func(i int, out func(*download.Module)) {
		t := plan.Targets[i]
		if t.Version == "" && t.Err == nil {
			return // replaced by a directory, or waiting for the graph
		}
		var keep func() bool
		if t.Speculative {
			keep = func() bool {
				if g, err := graph.wait(); err == nil {
					return t.Keep(g)
				}
				return !endsRun()
			}
		}
		pool.Go(func() {
			m := fetchTarget(ctx, cfg.Fetcher, t, keep, cfg.Admit)
			checkGoLine(cfg.Running, m)
			if m != nil && stopsRun(m.Err()) {
				mu.Lock()
				if stopped == nil {
					stopped = m.Err()
					stopRun() // what is still downloading is cut, as go exits
				}
				mu.Unlock()
			}
			out(m)
		})
	}
	r.total(plan)
	for i := range plan.Targets {
		launch(i, func(m *download.Module) { first[i] = m })
	}

	g, gerr := graph.wait()
	if graph.state() == graphFailed && !plan.Wait {
		// A go ≥ 1.17 module's own run: the graph was needed to confirm
		// the require lines.
		if endsRun() {
			rep.Fatal = gerr
		} else {
			rep.GraphErr = gerr
		}
	} else if graph.state() == graphLoaded && !plan.Wait {
		for _, i := range plan.Confirm(g) {
			launch(i, func(m *download.Module) {
				mu.Lock()
				confirmed[i] = m
				mu.Unlock()
			})
		}
		r.total(plan)
	}
	pool.Wait()
	if stopped != nil {
		// go prints the SECURITY ERROR and exits: no -json object, no
		// go.mod or go.sum update.
		rep.Fatal = stopped
	}

	if rep.Fatal == nil {
		for i := range plan.Targets {
			m := first[i]
			if c, ok := confirmed[i]; ok {
				m = c
			} else if plan.Targets[i].Speculative && gerr == nil && !plan.Targets[i].Keep(g) {
				m = nil // started at a version the graph does not select
			}
			if m != nil {
				rep.Modules = append(rep.Modules, m)
			}
		}
	}
	cfg.Cache.RemoveEmptyDirs()
	if cfg.Running.CanSwitch() {
		errs := []error{rep.Fatal, rep.GraphErr}
		if len(cfg.Args) > 0 || (cfg.Main != nil && cfg.Main.Workspace) {
			for _, m := range rep.Modules {
				errs = append(errs, m.Err())
			}
		}
		if rep.Switch = toolchain.MaxTooNew(errs...); rep.Switch != nil {
			return rep
		}
	}
	rep.GoModErr = r.writeGoMod(plan, rep, g, gerr)
	if rep.GoModErr == nil {
		rep.SumsErr = r.writeSums(plan, rep, g)
	}
	return rep
}

// stopsRun reports whether err ends the whole run at once, as go's
// base.Fatalf does: a hash that go.sum records differently (a SECURITY
// ERROR); a checksum database's mismatch fails only its module.
func stopsRun(err error) bool {
	var alone interface{ Unchained() bool }
	return err != nil && errors.As(err, &alone) && alone.Unchained()
}

// checkGoLine marks m unusable if it was downloaded and its go.mod's go
// line is newer than the running toolchain, as go checks each module it
// downloads. It runs as each fetch ends, so the reads overlap the rest of
// the run instead of following it.
func checkGoLine(running toolchain.Running, m *download.Module) {
	if m == nil || m.Error != "" || m.Dir == "" {
		return
	}
	data, err := modcache.ReadFile(filepath.Join(m.Dir, "go.mod"))
	if err != nil {
		return
	}
	if err := running.Check(m.Path+"@"+m.Version, toolchain.GoModLookup(data, "go")); err != nil {
		m.Unusable(err)
	}
}

// writeGoMod rewrites go.mod as go would after this run (see
// resolver.Plan.GoModUpdate): with no arguments whenever the run got past
// the graph, with arguments when go.sum is written too.
func (r *Run) writeGoMod(plan *resolver.Plan, rep *Report, g *resolver.Graph, gerr error) error {
	cfg := r.cfg
	if cfg.Main == nil || rep.Fatal != nil || r.skipsSums(rep) {
		return nil
	}
	if gerr != nil {
		g = nil
	}
	data, changed, err := plan.GoModUpdate(g)
	if err != nil || !changed {
		return err
	}
	// Under the cache's side lock and go.mod's own, as go writes it.
	unlock, err := cfg.Cache.SideLock()
	if err != nil {
		return err
	}
	defer unlock()
	err = lockedfile.Transform(cfg.Main.GoMod, func(old []byte) ([]byte, error) {
		if !bytes.Equal(old, cfg.Main.Data) {
			return nil, errors.New("existing contents have changed since last read")
		}
		return data, nil
	})
	if err != nil {
		return fmt.Errorf("updating go.mod: %w", err)
	}
	return nil
}

// skipsSums reports whether go leaves go.mod and go.sum alone after this
// run: a run with arguments where something failed, without -json.
//
// A failure to read the module graph does not count: go reports it after
// it has written the sums of what it downloaded.
func (r *Run) skipsSums(rep *Report) bool {
	failed := false
	for _, m := range rep.Modules {
		failed = failed || m.Error != ""
	}
	return len(r.cfg.Args) > 0 && failed && !r.cfg.JSON
}

// Resolution is what a run needs in the module cache, worked out without
// downloading anything beyond what the ModSource of its Fetcher supplies
// (with an offline Fetcher, the cache alone).
type Resolution struct {
	// Zips are the module versions the run downloads whole, in go's order,
	// each once (after replacement).
	Zips []module.Version
	// GoMods are the versions whose go.mod the module graph reads.
	GoMods []module.Version
	// Failed are arguments that could not be resolved, as the run would
	// report them.
	Failed []*download.Module
	// GraphErr is a failure to read the module graph: what it lists may
	// then be incomplete.
	GraphErr error
}

// Resolve works out the run's downloads without making them.
func (r *Run) Resolve(ctx context.Context) *Resolution {
	cfg, res := r.cfg, &Resolution{}
	plan, err := r.takePlan()
	if err != nil {
		res.GraphErr = err
		return res
	}
	g, err := r.startGraph(ctx, plan).wait()
	res.GraphErr = err
	if g != nil {
		if plan.Wait {
			plan.FromGraph(g)
		} else if err == nil {
			plan.Confirm(g)
		}
		res.GoMods = g.GoModsRead()
	}
	var resolved *resolver.Graph
	if plan.Wait {
		resolved = g
	}
	plan.ResolveQueries(ctx, cfg.versions(), resolved, cfg.Jobs)
	seen := map[module.Version]bool{}
	for _, t := range plan.Targets {
		mod := module.Version{Path: t.Path, Version: t.Version}
		switch {
		case t.Err != nil:
			res.Failed = append(res.Failed, download.Failed(mod, t.Err))
		case t.Version != "" && !seen[mod]:
			seen[mod] = true
			res.Zips = append(res.Zips, mod)
		}
	}
	return res
}

// writeSums adds to go.sum what go would add after this run.
func (r *Run) writeSums(plan *resolver.Plan, rep *Report, g *resolver.Graph) error {
	cfg := r.cfg
	if cfg.Main == nil || rep.Fatal != nil {
		return nil
	}
	// With no arguments go records the go.mod sums of the graph as soon
	// as it is read, whatever the downloads then do; with arguments, only
	// if all went well, or with -json (which records what did download).
	if r.skipsSums(rep) {
		return nil
	}
	return cfg.Sums.WriteAdded(cfg.Cache, plan.SumsToKeep(g))
}

func (r *Run) total(plan *resolver.Plan) {
	if r.cfg.OnTotal != nil {
		r.cfg.OnTotal(countDownloads(plan.Targets))
	}
}

// countDownloads is the number of distinct module versions in targets that
// will be downloaded.
func countDownloads(targets []resolver.Target) int {
	seen := map[module.Version]bool{}
	for _, t := range targets {
		if t.Err == nil && t.Version != "" {
			seen[module.Version{Path: t.Path, Version: t.Version}] = true
		}
	}
	return len(seen)
}

// fetchTarget downloads one target; keep, if not nil, gates the commit (see
// download.Fetcher.DownloadIf), and a target it turns down yields nil;
// admit, if not nil, is asked first (Config.Admit).
func fetchTarget(ctx context.Context, f *download.Fetcher, t resolver.Target, keep func() bool, admit func(context.Context, module.Version) error) *download.Module {
	if t.Err != nil {
		return download.Failed(module.Version{Path: t.Path, Version: t.Version}, t.Err)
	}
	mod := module.Version{Path: t.Path, Version: t.Version}
	if admit != nil {
		if err := admit(ctx, mod); err != nil {
			m := download.Failed(mod, err)
			m.Query = t.Query
			return m
		}
	}
	var origin *modcache.Origin
	if t.Query != "" {
		// A query the go command resolved at the repository: its report
		// of reuse, or the Origin it gives for the query.
		reused, o, ok := f.DirectAnswer(t.Path, t.Query)
		if reused != nil {
			return reused
		}
		if ok {
			origin = o
		} else {
			origin = f.QueryOrigin(t.Path, t.Query)
		}
	}
	if reused := f.Reused(ctx, mod); reused != nil {
		// A -reuse record of the version a query resolved to still
		// holds: go reports it with the query and the query's Origin.
		r := *reused
		if t.Query != "" {
			r.Query, r.Origin = t.Query, nil
			if t.Explicit {
				r.Origin = origin
			}
		}
		return &r
	}
	m := f.DownloadIf(ctx, mod, keep)
	if m == nil {
		return nil
	}
	m.Query = t.Query
	if origin != nil && m.Error == "" {
		m.Origin = origin
	}
	if !t.Explicit {
		m.Origin = nil // the go command reports Origin only for path@version arguments
	}
	return m
}

// graphState is where the module graph's loading stands.
type graphState int

const (
	graphNotNeeded graphState = iota // the plan needs no graph
	graphLoading                     // being read
	graphLoaded                      // read
	graphFailed                      // read with errors: what could be read is there
)

// graphFuture is the module graph, read in the background.
type graphFuture struct {
	done chan struct{}
	mu   sync.Mutex
	st   graphState
	g    *resolver.Graph
	err  error
}

// startGraph starts reading the graph, if the plan needs it.
func (r *Run) startGraph(ctx context.Context, plan *resolver.Plan) *graphFuture {
	gf := &graphFuture{done: make(chan struct{})}
	if !plan.NeedsGraph {
		close(gf.done)
		return gf
	}
	gf.st = graphLoading
	go func() {
		g, err := resolver.LoadGraph(ctx, r.cfg.Main, r.cfg.Fetcher, r.cfg.Jobs)
		if err == nil {
			// Roots the graph does not select are raised and the graph
			// read again, as go does.
			g, err = g.Expand(ctx, r.cfg.Fetcher, r.cfg.Jobs)
		}
		gf.mu.Lock()
		gf.g, gf.err, gf.st = g, err, graphLoaded
		if err != nil {
			gf.st = graphFailed
		}
		gf.mu.Unlock()
		close(gf.done)
	}()
	return gf
}

// wait returns the graph once it is read (nil, nil when none is needed).
func (gf *graphFuture) wait() (*resolver.Graph, error) {
	<-gf.done
	gf.mu.Lock()
	defer gf.mu.Unlock()
	return gf.g, gf.err
}

func (gf *graphFuture) state() graphState {
	gf.mu.Lock()
	defer gf.mu.Unlock()
	return gf.st
}
