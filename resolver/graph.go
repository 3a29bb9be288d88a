// Package resolver works out what `go mod download` would fetch for a main
// module: which module versions get their zip and which only their go.mod.
//
// It reads the module graph as the go command's modload package does. A main
// module at go 1.17 or later has a pruned graph: the go.mod of every
// requirement is read, but a pruned dependency's own requirements are
// recorded without reading their go.mod files; below a dependency whose
// go.mod is older than 1.17 (unpruned), the whole transitive closure is
// read. A main module older than 1.17 reads the whole graph. The selected
// version of each path is the highest reachable one (minimal version
// selection). Replacements and exclusions of the main module apply to every
// go.mod read.
//
// The resolver knows nothing about proxies, HTTP or the cache: go.mod
// content comes from a ModSource.
package resolver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/rogpeppe/go-internal/par"
	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"gomodfetch/internal/workpool"
	"gomodfetch/toolchain"
)

// ModSource supplies the verified go.mod content of a module version.
// It must be safe for concurrent use.
type ModSource interface {
	GoMod(ctx context.Context, mod module.Version) ([]byte, error)
}

// Graph is a loaded module requirement graph.
type Graph struct {
	main     *Main
	mu       sync.Mutex
	reqs     map[module.Version][]module.Version
	goVers   map[module.Version]string // go lines of the go.mod files read
	selected map[string]string
	errs     []error
	failed   map[module.Version]error // go.mod files that failed to load
}

// summary is what the graph needs from one go.mod.
type summary struct {
	require   []module.Version
	pruned    bool
	goVersion string
}

// LoadGraph reads the module graph of main, fetching go.mod files from src
// with at most jobs at a time. All go.mod files that fail to load are
// reported together.
func LoadGraph(ctx context.Context, main *Main, src ModSource, jobs int) (*Graph, error) {
	g := &Graph{
		main:     main,
		reqs:     map[module.Version][]module.Version{},
		goVers:   map[module.Version]string{},
		selected: map[string]string{},
	}
	// A requirement on a main module (in a workspace, one module requiring
	// another) has its go.mod read like any other, but the main module is
	// what gets selected.
	// Excluded versions are dropped from the main module's requirements,
	// as go drops them.
	// A path required on several lines is required at the highest.
	var roots []module.Version
	rootVersions := main.rootVersions()
	for _, r := range main.Requirements() {
		if !main.Excluded(r) && highest(rootVersions, r) {
			roots = append(roots, r)
		}
	}
	g.reqs[module.Version{Path: main.Path}] = roots
	for _, mod := range main.Modules {
		g.reqs[module.Version{Path: mod.Path}] = mod.Requirements()
	}
	for _, r := range roots {
		g.note(r)
	}

	type key struct {
		m    module.Version
		mode pruning
	}
	var (
		pool    *workpool.Pool
		seenMu  sync.Mutex
		seen    = map[key]bool{}
		sums    par.Cache // module.Version → sumResult
		enqueue func(m module.Version, mode pruning)
	)
	if jobs <= 0 {
		jobs = 16
	}
	// At most jobs go.mod files are read at once, by as many goroutines
	// taking the queue in order: one goroutine per module, each waiting
	// for a slot, cost a warm run more than the reads (thousands of
	// stacks for a large graph, each grown anew).
	pool = workpool.New(jobs)

	load := func(m module.Version) (*summary, error) {
		r := sums.Do(m, func() any {
			s, err := g.summary(ctx, src, m)
			if err == nil {
				g.mu.Lock()
				g.reqs[m] = s.require
				g.goVers[m] = s.goVersion
				for _, r := range s.require {
					g.noteLocked(r)
				}
				g.mu.Unlock()
			}
			return sumResult{s, err}
		}).(sumResult)
		return r.s, r.err
	}

	enqueue = func(m module.Version, mode pruning) {
		if m.Version == "none" {
			return
		}
		k := key{m, mode}
		seenMu.Lock()
		dup := seen[k]
		seen[k] = true
		seenMu.Unlock()
		if dup {
			return
		}
		pool.Go(func() {
			s, err := load(m)
			if err != nil {
				g.mu.Lock()
				g.errs = append(g.errs, err)
				if g.failed == nil {
					g.failed = map[module.Version]error{}
				}
				g.failed[m] = err
				g.mu.Unlock()
				return
			}
			// Below an unpruned module everything is read; a pruned
			// module's requirements are read only when it is a workspace
			// root (one level), an unpruned one's always.
			next := pruned
			if mode == unpruned || !s.pruned {
				next = unpruned
			}
			if mode != pruned || !s.pruned {
				for _, r := range s.require {
					enqueue(r, next)
				}
			}
		})
	}
	if main.Workspace {
		// Each workspace module's requirements are read as its own go
		// line says; then expandWorkspace reads further.
		for _, mod := range main.Modules {
			mode := pruned
			if !mod.Pruned() {
				mode = unpruned
			}
			for _, r := range mod.Requirements() {
				enqueue(r, mode)
			}
		}
		pool.Wait()
		if len(g.errs) == 0 {
			g.expandWorkspace(func(m module.Version) { enqueue(m, workspace) }, pool.Wait)
		}
	} else {
		mode := pruned
		if !main.Pruned() {
			mode = unpruned
		}
		for _, r := range roots {
			enqueue(r, mode)
		}
		if mode == unpruned {
			// go reads the whole graph of every require line, a path's
			// lower line included, to rewrite go.mod.
			for _, r := range main.Requirements() {
				if !main.Excluded(r) {
					enqueue(r, mode)
				}
			}
		}
		pool.Wait()
	}
	if len(g.errs) > 0 {
		if err := g.firstError(); err != nil {
			sort.Slice(g.errs, func(i, j int) bool { return g.errs[i].Error() < g.errs[j].Error() })
			return g, &GraphError{First: err, All: g.errs}
		}
		sort.Slice(g.errs, func(i, j int) bool { return g.errs[i].Error() < g.errs[j].Error() })
		return g, errors.Join(g.errs...)
	}
	return g, ctx.Err()
}

// firstError is the one error the go command reports for a graph whose
// go.mod files failed to load: the first failing module a breadth-first
// walk from the main module meets (the main module's requirements in
// module order, each go.mod's in file order), with the path to it, as
// its mvs.BuildListError prints it.
func (g *Graph) firstError() error {
	var mains []module.Version
	if g.main.Workspace {
		for _, m := range g.main.Modules {
			mains = append(mains, module.Version{Path: m.Path})
		}
	} else {
		mains = []module.Version{{Path: g.main.Path}}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	first := map[module.Version]module.Version{} // m → the module that first required it
	queue := append([]module.Version(nil), mains...)
	for _, m := range mains {
		first[m] = module.Version{}
	}
	for len(queue) > 0 {
		m := queue[0]
		queue = queue[1:]
		if err, ok := g.failed[m]; ok {
			var alone interface{ Unchained() bool }
			if errors.As(err, &alone) && alone.Unchained() {
				return err // go stops on it at once (a go.sum mismatch)
			}
			path := []module.Version{m}
			for p := first[m]; p.Path != ""; p = first[p] {
				path = append(path, p)
			}
			slices.Reverse(path)
			return &BuildListError{Err: err, Path: path}
		}
		reqs := g.reqs[m]
		if m.Version == "" {
			reqs = slices.Clone(reqs)
			module.Sort(reqs) // go's roots are kept sorted
		}
		for _, r := range reqs {
			if _, seen := first[r]; !seen {
				first[r] = m
				queue = append(queue, r)
			}
		}
	}
	return nil
}

// GraphError is a module graph that failed to load: it reads as the one
// error the go command reports (First), and keeps every go.mod failure
// (All) for a caller that reports each, like gomodfetch verify.
type GraphError struct {
	First error
	All   []error
}

func (e *GraphError) Error() string   { return e.First.Error() }
func (e *GraphError) Unwrap() error   { return e.First }
func (e *GraphError) Errors() []error { return e.All }

// BuildListError is a module graph's failure at one module, with the
// requirement path to it from the main module, printed as the go command
// prints it: "a@v1 requires\n\tb@v2: <error>".
type BuildListError struct {
	Err  error
	Path []module.Version // from the main module to the failing module
}

func (e *BuildListError) Unwrap() error { return e.Err }

func (e *BuildListError) Error() string {
	stack := e.Path
	for len(stack) > 0 && stack[0].Version == "" {
		stack = stack[1:] // the main module
	}
	if len(stack) == 0 {
		return e.Err.Error()
	}
	var b strings.Builder
	for _, m := range stack[:len(stack)-1] {
		fmt.Fprintf(&b, "%s requires\n\t", m)
	}
	m := stack[len(stack)-1]
	var me *module.ModuleError
	var named interface{ NamesModule() bool }
	if errors.As(e.Err, &named) && named.NamesModule() {
		b.WriteString(e.Err.Error())
	} else if errors.As(e.Err, &me) && me == e.Err {
		actual := module.Version{Path: me.Path, Version: me.Version}
		var iv *module.InvalidVersionError
		if errors.As(me.Err, &iv) {
			actual.Version = iv.Version
		}
		if actual == m {
			b.WriteString(e.Err.Error())
		} else {
			fmt.Fprintf(&b, "%s (replaced by %s): %v", m, actual, me.Err)
		}
	} else {
		b.WriteString(module.VersionError(m, e.Err).Error())
	}
	return b.String()
}

// pruning is how much of the graph below a module version is read.
type pruning int

const (
	pruned    pruning = iota // the module's go.mod only
	unpruned                 // everything below it
	workspace                // its go.mod and its requirements' go.mod files
)

// expandWorkspace reads more of a workspace's graph, as the go command
// does: when a workspace module, or a module version read this way,
// requires a path at a version lower than the one selected, the selected
// version is read with its requirements' go.mod files, until nothing
// changes. The loop ends because each path's selected version only grows.
func (g *Graph) expandWorkspace(enqueue func(module.Version), wait func()) {
	seen := map[module.Version]bool{}
	paths := map[string]bool{}
	for _, mod := range g.main.Modules {
		paths[mod.Path] = true
		seen[module.Version{Path: mod.Path}] = true
	}
	for {
		var next []module.Version
		g.mu.Lock()
		for p := range paths {
			m := module.Version{Path: p, Version: g.selected[p]}
			if g.main.IsMain(p) {
				m.Version = ""
			}
			if !seen[m] {
				next = append(next, m)
				continue
			}
			for _, r := range g.reqs[m] {
				if g.main.IsMain(r.Path) {
					continue
				}
				s := module.Version{Path: r.Path, Version: g.selected[r.Path]}
				if semver.Compare(s.Version, r.Version) > 0 && !seen[s] {
					next = append(next, s)
				}
			}
		}
		g.mu.Unlock()
		if len(next) == 0 {
			return
		}
		for _, m := range next {
			seen[m] = true
			paths[m.Path] = true
			enqueue(m)
		}
		wait()
	}
}

type sumResult struct {
	s   *summary
	err error
}

func (g *Graph) note(m module.Version) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.noteLocked(m)
}

func (g *Graph) noteLocked(m module.Version) {
	if g.main.IsMain(m.Path) {
		return // main modules have no version: they are selected as they are
	}
	if cur, ok := g.selected[m.Path]; !ok || semver.Compare(m.Version, cur) > 0 {
		g.selected[m.Path] = m.Version
	}
}

// summary reads the go.mod of m (or of its replacement).
func (g *Graph) summary(ctx context.Context, src ModSource, m module.Version) (*summary, error) {
	actual := m
	if r, ok := g.main.Replacement(m); ok {
		actual = r
	}
	var (
		data []byte
		err  error
		name string
	)
	if actual.Version == "" {
		// A directory replacement: its go.mod is read from disk.
		name = filepath.Join(actual.Path, "go.mod")
		data, err = os.ReadFile(name)
		if err != nil {
			return nil, &namedError{msg: fmt.Sprintf("%s (replaced by %s): reading %s: %v", m, g.main.replacedBy(m), shortPath(g.main.WorkDir, name), err), err: err}
		}
	} else {
		data, err = src.GoMod(ctx, actual)
		if err != nil {
			return nil, err
		}
		name = "go.mod"
	}
	f, err := modfile.ParseLax(name, data, nil)
	if err != nil {
		return nil, module.VersionError(actual, fmt.Errorf("parsing go.mod: %v", err))
	}
	if actual.Version != "" {
		if f.Module == nil {
			return nil, module.VersionError(actual, fmt.Errorf("parsing go.mod: missing module line"))
		}
		if p := f.Module.Mod.Path; p != m.Path && p != actual.Path {
			return nil, module.VersionError(actual, fmt.Errorf("parsing go.mod:\n\tmodule declares its path as: %s\n\t        but was required as: %s", p, m.Path))
		}
	}
	s := &summary{}
	if f.Go != nil {
		s.pruned = isPrunedGoVersion(f.Go.Version)
		s.goVersion = f.Go.Version
		if toolchain.Compare(f.Go.Version, goStrictVersion) >= 0 {
			// From go 1.21 a module's go line is a requirement on the toolchain.
			if err := g.main.Running.Check("module "+actual.String(), f.Go.Version); err != nil {
				return nil, module.VersionError(actual, err)
			}
		}
	}
	for _, r := range f.Require {
		if g.main.Excluded(r.Mod) {
			continue
		}
		s.require = append(s.require, r.Mod)
	}
	return s, nil
}

// shortPath returns path relative to the working directory wd when that
// is shorter, as the go command prints file names ("" leaves it as is).
func shortPath(wd, path string) string {
	if wd != "" {
		if rel, err := filepath.Rel(wd, path); err == nil && len(rel) < len(path) {
			return rel
		}
	}
	return path
}

// reachableLoaded returns the modules reachable from roots whose go.mod
// was read while loading the graph, following the requirements read.
func (g *Graph) reachableLoaded(roots []module.Version) []module.Version {
	g.mu.Lock()
	defer g.mu.Unlock()
	seen := map[module.Version]bool{}
	var out []module.Version
	queue := append([]module.Version(nil), roots...)
	for len(queue) > 0 {
		m := queue[0]
		queue = queue[1:]
		if seen[m] {
			continue
		}
		seen[m] = true
		reqs, ok := g.reqs[m]
		if !ok {
			continue
		}
		out = append(out, m)
		queue = append(queue, reqs...)
	}
	return out
}

// partial reports whether some go.mod of the graph failed to load.
func (g *Graph) partial() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.failed) > 0
}

// GoModsRead returns the module versions whose go.mod files the graph read
// from its ModSource, after replacement, in path and version order: what a
// later run needs in the cache to load the same graph offline. Main
// modules and directory replacements, read from disk, are left out.
func (g *Graph) GoModsRead() []module.Version {
	g.mu.Lock()
	defer g.mu.Unlock()
	seen := map[module.Version]bool{}
	var out []module.Version
	for m := range g.reqs {
		if m.Version == "" || g.main.IsMain(m.Path) {
			continue
		}
		if r, ok := g.main.Replacement(m); ok {
			if r.Version == "" {
				continue
			}
			m = r
		}
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return semver.Compare(out[i].Version, out[j].Version) < 0
	})
	return out
}

// Loaded reports whether m's go.mod was read while loading the graph.
func (g *Graph) Loaded(m module.Version) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.reqs[m]
	return ok
}

// Selected returns the version of path that minimal version selection
// picks, or "none" if path is not in the graph.
func (g *Graph) Selected(path string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.main.IsMain(path) {
		return ""
	}
	if v, ok := g.selected[path]; ok {
		return v
	}
	return "none"
}

// BuildList returns the selected version of every module path in the graph,
// sorted by path (the main module, which has no version, is left out).
func (g *Graph) BuildList() []module.Version {
	g.mu.Lock()
	defer g.mu.Unlock()
	list := make([]module.Version, 0, len(g.selected))
	for p, v := range g.selected {
		if g.main.IsMain(p) {
			continue
		}
		list = append(list, module.Version{Path: p, Version: v})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Path < list[j].Path })
	return list
}

// namedError is an error whose text names its module version already (as
// go words it), so that no caller names it again.
type namedError struct {
	msg string
	err error
}

func (e *namedError) Error() string     { return e.msg }
func (e *namedError) Unwrap() error     { return e.err }
func (e *namedError) NamesModule() bool { return true }
