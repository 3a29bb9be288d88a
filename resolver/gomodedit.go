package resolver

import (
	"context"
	"fmt"
	"sort"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"gomodfetch/toolchain"
)

// goStrictVersion is the go line from which a module's go line is a
// requirement on the toolchain (it takes part in version selection).
const goStrictVersion = "1.21"

// Expand is what the go command does after reading a graph whose roots
// (the main module's requirements and go line) are not all selected: in a
// pruned module, the roots are raised to the selected versions and the
// graph is read again from them, until every root is selected. (An
// unpruned graph is complete already; only go.mod's lines change, see
// GoModUpdate.) A workspace's graph is returned as it is.
func (g *Graph) Expand(ctx context.Context, src ModSource, jobs int) (*Graph, error) {
	if g.main.Workspace || !g.main.Pruned() {
		return g, nil
	}
	// Each round raises at least one version; the bound is a safety net.
	for range 100 {
		roots := g.selectedRoots()
		if sameVersions(roots, g.main.liveRequirements()) {
			return g, nil
		}
		next, err := LoadGraph(ctx, g.main.withRoots(roots), src, jobs)
		if err != nil {
			return next, err
		}
		g = next
	}
	return g, nil
}

// liveRequirements are the require lines that count: excluded versions
// dropped, a path required twice at its higher version once.
func (m *Main) liveRequirements() []module.Version {
	var reqs []module.Version
	seen := map[string]bool{}
	roots := m.rootVersions()
	for _, r := range m.Requirements() {
		if m.Excluded(r) || !highest(roots, r) || seen[r.Path] {
			continue
		}
		seen[r.Path] = true
		reqs = append(reqs, r)
	}
	return reqs
}

// selectedRoots are the main module's required paths at the versions the
// graph selects (a path the graph lost, being only excluded, is dropped).
func (g *Graph) selectedRoots() []module.Version {
	var roots []module.Version
	for _, r := range g.main.liveRequirements() {
		if v := g.Selected(r.Path); v != "none" && v != "" {
			roots = append(roots, module.Version{Path: r.Path, Version: v})
		}
	}
	return roots
}

func sameVersions(a, b []module.Version) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// withRoots is a copy of m whose requirements are roots (with each path's
// indirect mark kept), for reading the graph again.
func (m *Main) withRoots(roots []module.Version) *Main {
	c := *m
	f := *m.File
	indirect := m.indirect()
	f.Require = nil
	for _, r := range roots {
		f.Require = append(f.Require, &modfile.Require{Mod: r, Indirect: indirect[r.Path]})
	}
	c.File = &f
	return &c
}

// indirect reports which required paths carry only "// indirect" lines.
func (m *Main) indirect() map[string]bool {
	ind := map[string]bool{}
	direct := map[string]bool{}
	for _, r := range m.File.Require {
		if m.Excluded(r.Mod) {
			continue
		}
		if r.Indirect {
			ind[r.Mod.Path] = true
		} else {
			direct[r.Mod.Path] = true
		}
	}
	for p := range direct {
		delete(ind, p)
	}
	return ind
}

// direct reports which paths go.mod requires on a line (of a version not
// excluded) without "// indirect": the go command's direct requirements.
func (m *Main) direct() map[string]bool {
	direct := map[string]bool{}
	for _, r := range m.File.Require {
		if !r.Indirect && !m.Excluded(r.Mod) {
			direct[r.Mod.Path] = true
		}
	}
	return direct
}

// selectedGo is the go version the graph selects: the highest of the main
// module's go line and the go lines (from 1.21 on) of the go.mod files read.
func (g *Graph) selectedGo() string {
	v := ""
	if g.main.File.Go != nil {
		v = g.main.File.Go.Version
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, gv := range g.goVers {
		if toolchain.Compare(gv, goStrictVersion) >= 0 && toolchain.Compare(gv, v) > 0 {
			v = gv
		}
	}
	return v
}

// minimalRoots is the smallest requirement list of an unpruned main module
// that keeps its build list, always listing the paths in base (the go
// command's mvs.Req): a module implied by another listed one is left out.
func (g *Graph) minimalRoots(base []string) []module.Version {
	list := g.BuildList()
	g.mu.Lock()
	defer g.mu.Unlock()
	max := map[string]string{}
	for _, m := range list {
		max[m.Path] = m.Version
	}
	var postorder []module.Version
	visited := map[module.Version]bool{}
	var walk func(module.Version)
	walk = func(m module.Version) {
		if visited[m] {
			return
		}
		visited[m] = true
		for _, r := range g.reqs[m] {
			walk(r)
		}
		postorder = append(postorder, m)
	}
	for _, m := range list {
		walk(m)
	}
	have := map[module.Version]bool{}
	var mark func(module.Version)
	mark = func(m module.Version) {
		if have[m] {
			return
		}
		have[m] = true
		for _, r := range g.reqs[m] {
			mark(r)
		}
	}
	var min []module.Version
	inBase := map[string]bool{}
	for _, p := range base {
		if inBase[p] {
			continue
		}
		inBase[p] = true
		m := module.Version{Path: p, Version: max[p]}
		min = append(min, m)
		mark(m)
	}
	for i := len(postorder) - 1; i >= 0; i-- {
		m := postorder[i]
		if max[m.Path] == m.Version && !have[m] {
			min = append(min, m)
			mark(m)
		}
	}
	sort.Slice(min, func(i, j int) bool { return min[i].Path < min[j].Path })
	return min
}

// GoModUpdate returns the go.mod the go command would write after this
// run, and whether it writes one: when its lines differ in meaning from
// what the run worked with. g is the graph read (nil if none was read or
// it failed). go drops requirements on excluded versions; when it read
// the whole graph (no arguments, or arguments that needed it), it also
// raises requirements below the selected versions and the go line below
// a dependency's (from go 1.21 on), and in an unpruned module lists only
// the requirements that are not implied by others, as its mvs.Req does.
// A workspace's go.mod files are never written.
func (p *Plan) GoModUpdate(g *Graph) ([]byte, bool, error) {
	m := p.main
	if m == nil || m.Workspace || m.File.Go == nil {
		// (A missing go line is added by AddGoLine before the run.)
		return nil, false, nil
	}
	goVersion, roots := p.updatedRoots(g)
	// As go writes them: a root is "// indirect" unless go.mod requires
	// its path on a line without the mark, so a path new to go.mod (one
	// that an unpruned module's new requirement list adds) is indirect.
	direct := m.direct()
	var list []*modfile.Require
	for _, r := range roots {
		list = append(list, &modfile.Require{Mod: r, Indirect: !direct[r.Path]})
	}

	f, err := modfile.Parse(m.GoMod, m.Data, nil)
	if err != nil {
		return nil, false, fmt.Errorf("errors parsing %s:\n%w", m.GoMod, err)
	}
	dirty := false
	if f.Go == nil || f.Go.Version != goVersion {
		if err := f.AddGoStmt(goVersion); err != nil {
			return nil, false, err
		}
		dirty = true
	}
	if f.Toolchain != nil {
		tc := f.Toolchain.Name
		if toolchain.Compare(toolchain.FromToolchain(tc), goVersion) < 0 {
			tc = "go" + goVersion // the go line's toolchain is higher
		}
		if tc == "go"+goVersion || toolchain.Compare(toolchain.FromToolchain(tc), goStrictVersion) < 0 {
			f.DropToolchainStmt()
			dirty = true
		} else if tc != f.Toolchain.Name {
			f.AddToolchainStmt(tc)
			dirty = true
		}
	}
	if !sameRequires(f.Require, list) {
		dirty = true
	}
	if !dirty {
		return nil, false, nil
	}
	if toolchain.Compare(goVersion, "1.17") >= 0 {
		f.SetRequireSeparateIndirect(list)
	} else {
		f.SetRequire(list)
	}
	f.Cleanup()
	out, err := f.Format()
	if err != nil {
		return nil, false, err
	}
	return out, true, nil
}

// updatedRoots are the go line and the requirements go.mod has after this
// run (see GoModUpdate); m.File.Go must be set.
func (p *Plan) updatedRoots(g *Graph) (goVersion string, roots []module.Version) {
	m := p.main
	goVersion = m.File.Go.Version
	roots = m.liveRequirements()
	if g != nil && p.NeedsGraph {
		goVersion = g.selectedGo()
		if m.Pruned() {
			roots = g.selectedRoots()
		} else if !g.allRootsSelected(roots) || goVersion != m.File.Go.Version || m.hasDuplicates() {
			roots = g.minimalRoots(g.unprunedBase(roots))
		}
	}
	return goVersion, roots
}

// allRootsSelected reports whether the graph selects every root.
func (g *Graph) allRootsSelected(roots []module.Version) bool {
	for _, r := range roots {
		if g.Selected(r.Path) != r.Version {
			return false
		}
	}
	return true
}

// unprunedBase are the paths an unpruned module's new requirement list
// keeps whatever is implied: the roots that are selected, then the paths
// it requires directly, as go orders them.
func (g *Graph) unprunedBase(roots []module.Version) []string {
	var base []string
	in := map[string]bool{}
	for _, r := range roots {
		if !in[r.Path] && g.Selected(r.Path) == r.Version {
			base = append(base, r.Path)
			in[r.Path] = true
		}
	}
	indirect := g.main.indirect()
	for _, m := range g.BuildList() {
		if !in[m.Path] && g.main.requires(m.Path) && !indirect[m.Path] {
			base = append(base, m.Path)
			in[m.Path] = true
		}
	}
	return base
}

// hasDuplicates reports whether a path is required on several lines.
func (m *Main) hasDuplicates() bool {
	seen := map[string]bool{}
	for _, r := range m.File.Require {
		if seen[r.Mod.Path] {
			return true
		}
		seen[r.Mod.Path] = true
	}
	return false
}

// requires reports whether a non-excluded require line names path.
func (m *Main) requires(path string) bool {
	for _, r := range m.File.Require {
		if r.Mod.Path == path && !m.Excluded(r.Mod) {
			return true
		}
	}
	return false
}

// sameRequires reports whether the require lines mean list: the same
// versions and indirect marks, each path once.
func sameRequires(lines []*modfile.Require, list []*modfile.Require) bool {
	if len(lines) != len(list) {
		return false
	}
	want := map[string]*modfile.Require{}
	for _, r := range list {
		want[r.Mod.Path] = r
	}
	for _, r := range lines {
		w, ok := want[r.Mod.Path]
		if !ok || semver.Compare(w.Mod.Version, r.Mod.Version) != 0 || w.Mod.Version != r.Mod.Version || w.Indirect != r.Indirect {
			return false
		}
		delete(want, r.Mod.Path)
	}
	return len(want) == 0
}
