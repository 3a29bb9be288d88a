package resolver

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// FindWork returns the go.work file governing dir (dir's own or the nearest
// parent's), or "" if there is none.
func FindWork(dir string) string {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	for {
		p := filepath.Join(dir, "go.work")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// LoadWorkspace reads the go.work file at work and the go.mod of every
// module it uses, and returns them as one Main: its requirements are the
// union of the modules' requirements, its replacements and exclusions
// those of all modules (go.work's replacements win), and every used
// module is a main module. Errors name the file and line, as the go
// command's do, relative to the working directory wd.
func LoadWorkspace(work, wd string) (*Main, error) {
	data, err := os.ReadFile(work)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("reading %s: %w", work, fs.ErrNotExist)
		}
		return nil, err
	}
	wf, err := modfile.ParseWork(shortPath(wd, work), data, nil)
	if err != nil {
		return nil, fmt.Errorf("errors parsing %s:\n%w", shortPath(wd, work), err)
	}
	workDir := filepath.Dir(work)
	goVersion := "1.18" // a go.work file without a go line implies 1.18
	if wf.Go != nil {
		goVersion = wf.Go.Version
	}
	ws := &Main{
		Dir:       workDir,
		GoMod:     work,
		File:      &modfile.File{Go: &modfile.Go{Version: goVersion}},
		Workspace: true,
		WorkDir:   wd,
		work:      wf,
		mains:     map[string]bool{},
		replace:   map[module.Version]module.Version{},
		written:   map[module.Version]string{},
		exclude:   map[module.Version]bool{},
	}
	seen := map[string]bool{}
	conflicts := map[module.Version]error{} // modules replaced differently by two modules
	var missing []error
	for _, u := range wf.Use {
		dir := u.Path
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(workDir, dir)
		}
		if seen[dir] {
			return nil, fmt.Errorf("error loading go.work:\n%s:%d: path %s appears multiple times in workspace", shortPath(wd, work), u.Syntax.Start.Line, dir)
		}
		seen[dir] = true
		gomod := filepath.Join(dir, "go.mod")
		data, err := os.ReadFile(gomod)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				pe.Path = shortPath(wd, pe.Path)
			}
			// go reports every module it cannot load, not only the first.
			missing = append(missing, fmt.Errorf("cannot load module %s listed in go.work file: %w", shortPath(wd, dir), err))
			continue
		}
		m, err := ParseMain(dir, gomod, data)
		if err != nil {
			return nil, err
		}
		if m.File.Go != nil && semver.Compare("v"+goSemver(m.File.Go.Version), "v"+goSemver(goVersion)) > 0 {
			verb := "lists"
			if wf.Go == nil {
				verb = "implicitly requires"
			}
			return nil, fmt.Errorf("module %s listed in go.work file requires go >= %s, but go.work %s go %s; to update it:\n\tgo work use", shortPath(wd, dir), m.File.Go.Version, verb, goVersion)
		}
		if ws.Path == "" {
			ws.Path = m.Path
		}
		ws.mains[m.Path] = true
		ws.Modules = append(ws.Modules, m)
		ws.File.Require = append(ws.File.Require, m.File.Require...)
		for old, new := range m.replace {
			if prev, ok := ws.replace[old]; ok && prev != new {
				if conflicts[old] == nil {
					conflicts[old] = fmt.Errorf("conflicting replacements for %v:\n\t%v\n\t%v\nuse \"go work edit -replace %v=[override]\" to resolve", old, fmtReplacement(prev), fmtReplacement(new), old)
				}
				continue
			}
			ws.replace[old] = new
			if w, ok := m.written[old]; ok {
				ws.written[old] = w
			}
		}
		for x := range m.exclude {
			ws.exclude[x] = true
		}
	}
	if len(missing) > 0 {
		return nil, errors.Join(missing...)
	}
	// go.work's own replacements override the modules' (and settle their
	// conflicts); its relative directories are relative to go.work.
	for _, r := range wf.Replace {
		if r.Old.Version == "" && ws.mains[r.Old.Path] {
			return nil, fmt.Errorf("workspace module %v is replaced at all versions in the go.work file. To fix, remove the replacement from the go.work file or specify the version at which to replace the module.", r.Old.Path)
		}
		new := r.New
		if new.Version == "" {
			ws.written[r.Old] = new.Path
			if !filepath.IsAbs(new.Path) {
				new.Path = filepath.Join(workDir, new.Path)
			}
		} else {
			delete(ws.written, r.Old)
		}
		ws.replace[r.Old] = new
		delete(conflicts, r.Old)
	}
	var errs []error
	for _, err := range conflicts {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
		return nil, errs[0]
	}
	return ws, nil
}

func fmtReplacement(v module.Version) string {
	if v.Version == "" {
		return v.Path
	}
	return v.String()
}
