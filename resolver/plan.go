package resolver

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/sync/errgroup"
)

// Target is one module version to download completely (info, go.mod, zip,
// extracted tree), after replacements.
type Target struct {
	Path    string
	Version string
	// Query is the version query the user wrote, when it differs from
	// Version (as in `go mod download -json`).
	Query string
	// Explicit marks a path@version argument resolved by one lookup of that
	// version or revision (its -json object carries the Origin, as the go
	// command's does; a query answered from the version list does not).
	Explicit bool
	// Err is a resolution failure; the target is reported, not fetched.
	// Version is then the query as written.
	Err error

	// Req is set in a no-argument run of a pruned main module: the require
	// line this target stands for. Like the go command, gomodfetch then
	// downloads Req.Path at the version the module graph selects, which
	// Confirm fills in once the graph is read.
	Req module.Version
	// Speculative marks such a target started before the graph was read,
	// at the version go.mod gives: it may be downloaded but not committed to
	// the cache until Keep says the graph selects it.
	Speculative bool

	// resolve marks a version query (Query) that ResolveQueries must turn
	// into a version.
	resolve bool
	// refuse is the error for a version the go command refuses even when
	// the proxy has it (a major version the path does not allow), once
	// the proxy was asked.
	refuse error
}

// Plan is the result of resolving the command line.
type Plan struct {
	// Targets to download, in the order their -json objects are printed.
	Targets []Target
	// Notes are messages the go command prints on stderr for these
	// arguments ("skipping download of ...").
	Notes []string
	// Warnings are what the go command prints on stderr, as they are,
	// once the graph has been matched against the arguments (a pattern
	// that matched nothing).
	Warnings []string
	// NeedsGraph is true when the module graph must be loaded for the
	// result to match the go command (no arguments, or arguments that
	// name paths, patterns or "all").
	NeedsGraph bool
	// Wait is true when the targets are only known after the graph is
	// loaded (Targets is then empty until FromGraph is called).
	Wait bool

	args []string
	main *Main
}

// NewPlan resolves args (the command line after flags) for main, which is
// nil outside a module. Targets that need the module graph are left for
// FromGraph.
func NewPlan(main *Main, args []string) (*Plan, error) {
	p := &Plan{args: args, main: main}
	if len(args) == 0 {
		if main == nil {
			return nil, errors.New("no modules specified (see 'gomodfetch -h')")
		}
		p.NeedsGraph = true
		if main.Workspace {
			// In a workspace the default is "all" over every module.
			p.Wait = true
			return p, nil
		}
		if !main.Pruned() {
			// Before go 1.17 the default is "all": the whole build list.
			p.Wait = len(main.File.Require) > 0
			return p, nil
		}
		// From go 1.17 every require line's path, at the version the graph
		// selects. The graph is read in parallel; meanwhile each zip starts
		// at the version go.mod gives, which a tidy go.mod's graph selects
		// (Confirm replaces the others). An excluded version is dropped, as
		// go drops it, and waits for the graph.
		roots := main.rootVersions()
		for _, r := range main.downloadRoots() {
			t := main.target(r)
			t.Req = r
			t.Speculative = !main.Excluded(r) && highest(roots, r)
			if !t.Speculative {
				t.Path, t.Version = r.Path, ""
			}
			p.Targets = append(p.Targets, t)
		}
		return p, nil
	}
	for _, arg := range args {
		if strings.Contains(arg, `\`) {
			return nil, fmt.Errorf("%s: module paths use forward slashes", arg)
		}
		if arg == "." || arg == ".." || strings.HasPrefix(arg, "./") || strings.HasPrefix(arg, "../") {
			return nil, fmt.Errorf("cannot use relative path %s to specify module", arg)
		}
		path, query, hasQuery := strings.Cut(arg, "@")
		if hasQuery && (strings.HasPrefix(query, "-") || strings.HasPrefix(query, "/")) {
			// Never passed on: it could pass for a flag or a path in a
			// command line built from it (the go command refuses it too).
			return nil, fmt.Errorf("invalid module version %q", query)
		}
		if main != nil && main.IsMain(path) && (!hasQuery || query == "upgrade" || query == "patch") {
			p.Notes = append(p.Notes, "skipping download of "+arg+" that resolves to the main module")
			continue
		}
		switch {
		case arg == "all" || strings.Contains(arg, "..."):
			if main == nil {
				return nil, fmt.Errorf("cannot match %q: %w", arg, ErrNoGoMod)
			}
			p.NeedsGraph, p.Wait = true, true
		case hasQuery:
			if query == "upgrade" || query == "patch" {
				if main == nil {
					return nil, fmt.Errorf("cannot match %q: %w", arg, ErrNoGoMod)
				}
				if _, ok := main.rootVersion(path); !ok || !main.Pruned() || main.Workspace {
					// The version to upgrade from is in the full graph.
					p.NeedsGraph, p.Wait = true, true
				}
			}
			p.Targets = append(p.Targets, explicitTarget(path, query))
		default:
			if main == nil {
				return nil, fmt.Errorf("%s: not a known dependency (no go.mod found); give a version: %s@latest", arg, arg)
			}
			// A root of a single pruned module is selected at the version
			// go.mod gives; otherwise (unpruned, or a workspace, whose roots
			// come from several modules) the graph decides.
			if v, ok := main.rootVersion(path); ok && main.Pruned() && !main.Workspace {
				p.Targets = append(p.Targets, main.target(module.Version{Path: path, Version: v}))
				continue
			}
			p.NeedsGraph, p.Wait = true, true
		}
	}
	return p, nil
}

func explicitTarget(path, query string) Target {
	t := Target{Path: path, Version: query, Explicit: true}
	if err := module.CheckPath(path); err != nil {
		t.Err = fmt.Errorf("%s@%s: %w", path, query, err)
		return t
	}
	if module.CanonicalVersion(query) == query && query != "" {
		if err := module.Check(path, query); err != nil {
			// go asks the proxy even then, and reports its answer (most
			// often "not found"); if the proxy has such a version, this
			// refusal stands (ResolveQueries).
			t.Version, t.Query, t.resolve, t.refuse = "", query, true, err
		}
		return t
	}
	// Queries (latest, upgrade, branches, v1.2 prefixes, non-canonical
	// forms) are answered by ResolveQueries.
	t.Version, t.Query, t.resolve = "", query, true
	return t
}

// ResolveQueries turns the version queries among the targets (path@latest,
// @upgrade, @patch, @v1.2, @<branch or commit>, ...) into versions, asking
// src, as the go command does. g is the loaded module graph, or nil if it
// was not needed; @upgrade and @patch start from the version it selects
// (or, with a pruned graph, the one go.mod requires). At most jobs queries
// run at once. A query that fails leaves its target with Err set.
func (p *Plan) ResolveQueries(ctx context.Context, src VersionSource, g *Graph, jobs int) {
	q := newQuerier(src, p.main)
	var eg errgroup.Group
	eg.SetLimit(max(jobs, 1))
	for i := range p.Targets {
		t := &p.Targets[i]
		if !t.resolve {
			continue
		}
		eg.Go(func() error {
			t.resolve = false
			current := p.current(t.Path, g)
			v, viaStat, err := q.query(ctx, t.Path, t.Query, current, !isRevisionQuery(t.Query))
			if d, ok := src.(DirectQuerier); ok && err != nil {
				var handled bool
				if v, handled, err = queryDirect(ctx, d, t.Path, t.Query, current, err); handled && err == nil {
					viaStat = true // the go command reports its Origin
				}
			}
			if err != nil {
				t.Version, t.Query, t.Explicit = t.Query, "", false
				t.Err = queryError(t.Path, t.Version, err)
				return nil
			}
			t.Version, t.Explicit = v, viaStat
			if v == t.Query {
				t.Query = ""
			}
			if t.refuse != nil {
				t.Err = t.refuse
			}
			return nil
		})
	}
	eg.Wait()
}

// DirectQuerier is a VersionSource that can also have a query resolved
// at the module's repository, by the go command, when the proxies' answer
// says only version control can supply the path.
type DirectQuerier interface {
	// QueryDirect resolves path@query when err (the proxies' answer) says
	// the path needs version control; otherwise handled is false and err
	// is returned. An error it returns names the module and query.
	QueryDirect(ctx context.Context, path, query string, err error) (version string, handled bool, _ error)
}

// queryDirect resolves path@query through d. The go command is run
// outside the main module, so @upgrade and @patch are put to it as the
// queries they stand for from current (latest; current's minor series),
// and never go below current.
func queryDirect(ctx context.Context, d DirectQuerier, path, query, current string, err error) (string, bool, error) {
	ask := query
	hasCurrent := current != "" && current != "none"
	switch {
	case query == "upgrade" || (query == "patch" && !hasCurrent):
		ask = "latest"
	case query == "patch":
		ask = semver.MajorMinor(current)
	}
	v, handled, err := d.QueryDirect(ctx, path, ask, err)
	if !handled {
		return "", false, err
	}
	if (query == "upgrade" || query == "patch") && hasCurrent && (err != nil || semver.Compare(current, v) > 0) {
		return current, true, nil
	}
	return v, true, err
}

// current is the version of path that @upgrade and @patch start from.
func (p *Plan) current(path string, g *Graph) string {
	switch {
	case p.main == nil:
		return ""
	case g != nil:
		return g.Selected(path)
	}
	if v, ok := p.main.rootVersion(path); ok {
		return v
	}
	return "none"
}

// queryError names the module and query in err, as the go command does.
func queryError(path, query string, err error) error {
	var nm *NoMatchingVersionError
	var me *module.ModuleError
	switch {
	case errors.As(err, &nm):
		return &module.ModuleError{Path: path, Err: err}
	case errors.As(err, &me):
		return err
	}
	var named interface{ NamesModule() bool }
	if errors.As(err, &named) && named.NamesModule() {
		return err
	}
	return &module.ModuleError{Path: path, Version: query, Err: err}
}

// rootVersion returns the version main's go.mod requires for path (in a
// workspace, the highest any module requires).
func (m *Main) rootVersion(path string) (string, bool) {
	v, ok := m.rootVersions()[path]
	return v, ok
}

// rootVersions maps each path main's go.mod requires to the highest
// version it requires; a loop over the requirements asks it once (one
// rootVersion per requirement would be quadratic in go.mod's length).
func (m *Main) rootVersions() map[string]string {
	vs := make(map[string]string, len(m.File.Require))
	for _, r := range m.File.Require {
		if v, ok := vs[r.Mod.Path]; !ok || semver.Compare(r.Mod.Version, v) > 0 {
			vs[r.Mod.Path] = r.Mod.Version
		}
	}
	return vs
}

// highest reports whether r is the highest of the require lines for its
// path (a path required twice is required at the higher version), given
// main's rootVersions.
func highest(roots map[string]string, r module.Version) bool {
	return roots[r.Path] == r.Version
}

// target applies main's replacements to a selected module version.
// A directory replacement yields a Target with an empty Version (nothing to
// download).
func (m *Main) target(mod module.Version) Target {
	if r, ok := m.Replacement(mod); ok {
		if r.Version == "" {
			return Target{Path: mod.Path}
		}
		return Target{Path: r.Path, Version: r.Version}
	}
	return Target{Path: mod.Path, Version: mod.Version}
}

// Keep reports whether the graph selects the version a speculative target
// was started at.
func (t Target) Keep(g *Graph) bool {
	return g.Selected(t.Req.Path) == t.Req.Version
}

// Confirm checks the speculative targets (require lines started before the
// graph was read) against the graph: each that the graph selects at
// another version than go.mod gives (an untidy go.mod, or an excluded
// version) is replaced by the selected version, or by go's "not a known
// dependency" error when the graph has no version of the path. It returns
// the indexes of the targets it changed, which are still to be downloaded.
func (p *Plan) Confirm(g *Graph) []int {
	var changed []int
	for i, t := range p.Targets {
		if t.Req.Path == "" {
			continue
		}
		if t.Speculative && t.Keep(g) {
			continue
		}
		sel := g.Selected(t.Req.Path)
		if sel == "none" {
			p.Targets[i] = Target{Path: t.Req.Path, Req: t.Req, Err: fmt.Errorf("module %s: not a known dependency", t.Req.Path)}
		} else {
			nt := p.main.target(module.Version{Path: t.Req.Path, Version: sel})
			nt.Req = t.Req
			p.Targets[i] = nt
		}
		changed = append(changed, i)
	}
	return changed
}

// ExcludedNotes are the go command's notes for require lines naming an
// excluded version.
func (m *Main) ExcludedNotes() []string {
	var notes []string
	for _, r := range m.Requirements() {
		if m.Excluded(r) {
			notes = append(notes, "dropping requirement on excluded version "+r.Path+" "+r.Version)
		}
	}
	return notes
}

// FromGraph fills in the targets that needed the module graph, in
// argument order, the way `go mod download` orders its -json output.
func (p *Plan) FromGraph(g *Graph) {
	if !p.Wait {
		return
	}
	if len(p.args) == 0 {
		for _, m := range g.BuildList() {
			p.Targets = append(p.Targets, p.main.target(m))
		}
		return
	}
	var out []Target
	matched := map[string]bool{}
	for _, arg := range p.args {
		path, query, hasQuery := strings.Cut(arg, "@")
		if p.main.IsMain(path) && (!hasQuery || query == "upgrade" || query == "patch") {
			continue
		}
		switch {
		case hasQuery:
			// A pattern with a version is a path like any other (and an
			// invalid one), as go has it.
			out = append(out, explicitTarget(path, query))
		case arg == "all" || strings.Contains(arg, "..."):
			match := func(string) bool { return true }
			if arg != "all" {
				match = matchPattern(arg)
			}
			any := false
			for _, m := range g.BuildList() {
				if !match(m.Path) {
					continue
				}
				any = true
				if !matched[m.Path] {
					matched[m.Path] = true
					out = append(out, p.main.target(m))
				}
			}
			if !any && (p.main == nil || !matchesMain(p.main, match)) {
				p.Warnings = append(p.Warnings, fmt.Sprintf("warning: pattern %q matched no module dependencies", arg))
			}
		default:
			v := g.Selected(path)
			if v == "none" {
				out = append(out, Target{Path: path, Err: fmt.Errorf("module %s: not a known dependency", path)})
				continue
			}
			out = append(out, p.main.target(module.Version{Path: path, Version: v}))
		}
	}
	p.Targets = out
}

// matchesMain reports whether match matches a main module (the go
// command counts it among a pattern's matches).
func matchesMain(main *Main, match func(string) bool) bool {
	for path := range main.mains {
		if match(path) {
			return true
		}
	}
	return false
}

// matchPattern implements the go command's "..." wildcard for module paths.
func matchPattern(pattern string) func(string) bool {
	parts := strings.Split(pattern, "...")
	return func(name string) bool {
		if !strings.HasPrefix(name, parts[0]) {
			return false
		}
		rest := name[len(parts[0]):]
		for i, part := range parts[1:] {
			last := i == len(parts)-2
			if last {
				return strings.HasSuffix(rest, part)
			}
			j := strings.Index(rest, part)
			if j < 0 {
				return false
			}
			rest = rest[j+len(part):]
		}
		return true
	}
}

// SumsToKeep returns which newly verified hashes the go command would
// record in go.sum after this run (keys are module versions, with
// "/go.mod" appended for go.mod hashes). g is nil if the graph was not
// loaded.
//
// With no arguments, only go.mod hashes checked while loading the graph
// are recorded: those of the graph read from the requirements go.mod is
// left with, and of the build list. With arguments, the main module's
// requirements (after replacement) get both hashes if the graph was not
// loaded; otherwise every go.mod read for the graph and every zip of the
// build list with its go.mod. (go keeps a zip's go.mod sum for a main module older than go 1.21
// only under -mod=mod, which `go mod download` always runs with.)
func (p *Plan) SumsToKeep(g *Graph) func(module.Version) bool {
	keep := map[module.Version]bool{}
	modkey := func(m module.Version) module.Version {
		return module.Version{Path: m.Path, Version: m.Version + "/go.mod"}
	}
	resolve := func(m module.Version) module.Version {
		if r, ok := p.main.Replacement(m); ok {
			return r
		}
		return m
	}
	if len(p.args) == 0 && !p.main.Workspace {
		// The go.mod sums of the graph as go records it after tidying
		// go.mod's requirements: every module whose go.mod was read and
		// that is reachable from the required paths at their selected
		// versions.
		if g == nil {
			return func(module.Version) bool { return false }
		}
		var roots []module.Version
		switch {
		case g.partial():
			// A graph that failed leaves go.mod's requirements as they
			// are: go keeps what it read from them.
			for _, r := range p.main.Requirements() {
				if !p.main.Excluded(r) {
					roots = append(roots, r)
				}
			}
		case p.main.File.Go != nil:
			// The requirements go.mod is left with (GoModUpdate): in an
			// unpruned module they may name paths go.mod did not.
			_, roots = p.updatedRoots(g)
		default:
			for _, r := range p.main.Requirements() {
				if v := g.Selected(r.Path); v != "none" {
					roots = append(roots, module.Version{Path: r.Path, Version: v})
				}
			}
		}
		// go reads the graph again from those requirements, so their own
		// go.mod files count as read.
		for _, m := range append(roots, g.reachableLoaded(roots)...) {
			keep[modkey(resolve(m))] = true
		}
		// go keeps the go.mod sums of the build list too (its keepSums
		// adds them for `go mod download`, which runs with -mod=mod): a
		// selected version whose go.mod only an earlier reading of the
		// graph loaded, before Expand raised the roots, is recorded.
		for _, m := range g.BuildList() {
			keep[modkey(resolve(m))] = true
		}
		return func(m module.Version) bool { return keep[m] }
	}
	if g == nil {
		for _, r := range p.main.Requirements() {
			r = resolve(r)
			keep[r], keep[modkey(r)] = true, true
		}
	} else {
		g.mu.Lock()
		for m := range g.reqs {
			if m.Version != "" {
				keep[modkey(resolve(m))] = true
			}
		}
		g.mu.Unlock()
		for _, m := range g.BuildList() {
			r := resolve(m)
			keep[r], keep[modkey(r)] = true, true
		}
	}
	return func(m module.Version) bool { return keep[m] }
}
