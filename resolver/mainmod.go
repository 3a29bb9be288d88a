package resolver

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"gomodfetch/toolchain"
)

// ErrNoGoMod is returned by FindGoMod when no go.mod is found.
var ErrNoGoMod = errors.New("go.mod file not found in current directory or any parent directory; see 'go help modules'")

// FindGoMod returns the go.mod governing dir: dir's own or the nearest
// parent's, as the go command finds it.
func FindGoMod(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "go.mod")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrNoGoMod
		}
		dir = parent
	}
}

// Main is the main module: its go.mod, parsed strictly as the go command
// parses the main module's file.
type Main struct {
	// Dir is the module root (the directory of go.mod, even with -modfile).
	Dir string
	// GoMod is the path of the go.mod file read.
	GoMod string
	// File is the parsed file; Data its content as read.
	File *modfile.File
	Data []byte
	// Path is the module path (in a workspace, the first module's).
	Path string
	// Workspace is true for a go.work workspace: GoMod is the go.work
	// file, Modules its modules, and File a synthesis (go.work's go line,
	// every module's requirements).
	Workspace bool
	// Modules are a workspace's modules, in go.work order.
	Modules []*Main
	// Running is the toolchain go would run as: a go line newer than it is
	// an error unless GOTOOLCHAIN lets go switch (the zero value never
	// fails).
	Running toolchain.Running
	// WorkDir is the directory file names in messages are relative to
	// (the go command's working directory); "" prints them as they are.
	WorkDir string

	mains map[string]bool   // main module paths
	work  *modfile.WorkFile // a workspace's go.work

	// roots, if set, are the require lines go.mod had before AddGoLine
	// made every module of the build list a requirement: what a run
	// without arguments downloads.
	roots []module.Version

	replace map[module.Version]module.Version // exact and wildcard (Version "") keys
	written map[module.Version]string         // directory replacements as written in go.mod
	exclude map[module.Version]bool
}

// LoadMain reads and checks the go.mod at gomod. dir is the module root.
// Errors name the file and line, like the go command's.
func LoadMain(dir, gomod string) (*Main, error) {
	data, err := os.ReadFile(gomod)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			// Named as the go command names it: relative to the working
			// directory when that is shorter ("open alt.mod: ...").
			pe.Path = shortPath(workDir(), pe.Path)
		}
		return nil, err
	}
	return ParseMain(dir, gomod, data)
}

// workDir is the process's working directory, or "" if it is unknown.
func workDir() string {
	wd, _ := os.Getwd()
	return wd
}

// ParseMain parses go.mod content for the main module.
func ParseMain(dir, gomod string, data []byte) (*Main, error) {
	short := shortPath(workDir(), gomod)
	f, err := modfile.Parse(short, data, nil)
	if err != nil {
		return nil, fmt.Errorf("errors parsing %s:\n%w", short, err)
	}
	if f.Module == nil {
		return nil, fmt.Errorf("%s: no module declaration in go.mod; to specify the module path: go mod edit -module=example.com/mymodule", gomod)
	}
	m := &Main{
		Dir:     dir,
		GoMod:   gomod,
		File:    f,
		Data:    data,
		Path:    f.Module.Mod.Path,
		mains:   map[string]bool{f.Module.Mod.Path: true},
		replace: map[module.Version]module.Version{},
		written: map[module.Version]string{},
		exclude: map[module.Version]bool{},
	}
	for _, r := range f.Replace {
		if r.New.Version == "" {
			m.written[r.Old] = r.New.Path
			target := r.New.Path
			if !filepath.IsAbs(target) {
				target = filepath.Join(dir, target)
			}
			r.New.Path = target
		}
		if prev, dup := m.replace[r.Old]; dup && prev != r.New {
			return nil, fmt.Errorf("%s:%d: conflicting replacements for %v", gomod, r.Syntax.Start.Line, r.Old)
		}
		m.replace[r.Old] = r.New
	}
	for _, x := range f.Exclude {
		m.exclude[x.Mod] = true
	}
	return m, nil
}

// Pruned reports whether the main module's graph is pruned: `go 1.17` or
// later. Without a go line it is not.
func (m *Main) Pruned() bool {
	return m.File.Go != nil && isPrunedGoVersion(m.File.Go.Version)
}

func isPrunedGoVersion(v string) bool {
	return v != "" && semver.Compare("v"+goSemver(v), "v1.17") >= 0
}

// goSemver turns a Go version ("1.21", "1.21.3", "1.22rc1") into the
// comparable part of a semver ("1.21", "1.21.3", "1.22").
func goSemver(v string) string {
	for i, r := range v {
		if (r < '0' || r > '9') && r != '.' {
			return v[:i]
		}
	}
	return v
}

// IsMain reports whether path is a main module (the module, or one of a
// workspace's modules).
func (m *Main) IsMain(path string) bool { return m.mains[path] }

// SumFiles returns the go.sum files whose lines are trusted besides
// SumFile: in a workspace, every module's go.sum.
func (m *Main) SumFiles() []string {
	var files []string
	for _, mod := range m.Modules {
		files = append(files, mod.SumFile())
	}
	return files
}

// Requirements returns the main module's require lines, in file order.
// (A path required twice is required at the higher version, as go reads
// it; each line still gets its -json object, as go prints it.)
func (m *Main) Requirements() []module.Version {
	var reqs []module.Version
	for _, r := range m.File.Require {
		reqs = append(reqs, r.Mod)
	}
	return reqs
}

// Replacement returns what mod is replaced by: another module version, or
// a directory (Version ""), and whether it is replaced at all.
func (m *Main) Replacement(mod module.Version) (module.Version, bool) {
	if r, ok := m.replace[mod]; ok {
		return r, true
	}
	if r, ok := m.replace[module.Version{Path: mod.Path}]; ok {
		return r, true
	}
	return module.Version{}, false
}

// replacedBy returns how go.mod wrote the replacement of mod, for messages.
func (m *Main) replacedBy(mod module.Version) string {
	if w, ok := m.written[mod]; ok {
		return w
	}
	if w, ok := m.written[module.Version{Path: mod.Path}]; ok {
		return w
	}
	r, _ := m.Replacement(mod)
	return r.Path
}

// Excluded reports whether the main module excludes mod.
func (m *Main) Excluded(mod module.Version) bool { return m.exclude[mod] }

// SumFile is the go.sum beside the go.mod that was read (for -modfile=x.mod,
// x.sum); in a workspace, go.work.sum.
func (m *Main) SumFile() string {
	if m.Workspace {
		return m.GoMod + ".sum"
	}
	return strings.TrimSuffix(m.GoMod, ".mod") + ".sum"
}

// CheckGo fails, with go's error, when go.mod's go line (in a workspace,
// go.work's) is newer than the running toolchain and it may not switch.
func (m *Main) CheckGo() error {
	var v string
	switch {
	case m.Workspace && m.work != nil && m.work.Go != nil:
		v = m.work.Go.Version
	case !m.Workspace && m.File.Go != nil:
		v = m.File.Go.Version
	default:
		return nil
	}
	return m.Running.Check(shortPath(m.WorkDir, m.GoMod), v)
}

// ToolchainLines are the go and toolchain lines ("" when absent) of the
// file that decides which toolchain runs: go.work in a workspace, else
// go.mod.
func (m *Main) ToolchainLines() (goVersion, toolchainName string) {
	if m.Workspace {
		if m.work == nil {
			return "", ""
		}
		if m.work.Go != nil {
			goVersion = m.work.Go.Version
		}
		if m.work.Toolchain != nil {
			toolchainName = m.work.Toolchain.Name
		}
		return goVersion, toolchainName
	}
	if m.File.Go != nil {
		goVersion = m.File.Go.Version
	}
	if m.File.Toolchain != nil {
		toolchainName = m.File.Toolchain.Name
	}
	return goVersion, toolchainName
}

// AddGoLine returns main as the go command reads a go.mod without a go
// line when it may write go.mod, as go mod download always may: with a go
// line for goVersion (the running go's), so pruned, and (go's
// convertPruning) every module of the unpruned build list g selects
// promoted to a requirement, "// indirect" unless go.mod requires it
// directly. A run without arguments still downloads only the paths go.mod
// required. main is returned as it is if it has a go line or is a
// workspace.
func (m *Main) AddGoLine(goVersion string, g *Graph) *Main {
	if m.Workspace || m.File.Go != nil {
		return m
	}
	c := *m
	f := *m.File
	f.Go = &modfile.Go{Version: goVersion}
	indirect := m.indirect()
	roots := m.rootVersions()
	f.Require = nil
	for _, r := range g.BuildList() {
		if r.Version == "" || m.IsMain(r.Path) {
			continue
		}
		_, required := roots[r.Path]
		f.Require = append(f.Require, &modfile.Require{Mod: r, Indirect: !required || indirect[r.Path]})
	}
	c.File = &f
	c.roots = m.liveRequirements()
	if c.roots == nil {
		c.roots = []module.Version{}
	}
	return &c
}

// downloadRoots are the require lines a run without arguments downloads
// (at the versions the graph selects).
func (m *Main) downloadRoots() []module.Version {
	if m.roots != nil {
		return m.roots
	}
	return m.Requirements()
}
