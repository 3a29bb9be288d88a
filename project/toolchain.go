package project

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"gomodfetch/resolver"
	"gomodfetch/toolchain"
)

// switchToolchain does what go does at startup when GOTOOLCHAIN lets it
// run another toolchain than the installed one (toolchain.Running.Target):
// a toolchain on PATH is taken as it is; otherwise, unless GOTOOLCHAIN
// says path, the toolchain module is downloaded into the module cache
// (through the fetcher, verified against the checksum database) and made
// runnable, exactly as go leaves it, so that a later go command switches
// to it offline. The run then goes on as that toolchain's would: the
// returned Running is the new toolchain's. m is nil outside a module.
//
// download fetches the toolchain module of a target, calling announce
// first if it is not in the cache; atStartup is set when go would fetch it
// before reading its flags.
func switchToolchain(ctx context.Context, note func(string), running toolchain.Running, m *resolver.Main, download func(ctx context.Context, target string, atStartup bool, announce func()) (string, error)) (toolchain.Running, error) {
	var goVersion, line, file string
	if m != nil {
		goVersion, line = m.ToolchainLines()
		file = m.GoMod
		if gomod := filepath.Join(m.Dir, "go.mod"); !m.Workspace && file != gomod {
			// -modfile: go picks the toolchain before it reads any module,
			// from the go.mod in the working directory's module root.
			goVersion, line, file = "", "", gomod
			if data, err := os.ReadFile(gomod); err == nil {
				goVersion, line = toolchain.GoModLookup(data, "go"), toolchain.GoModLookup(data, "toolchain")
			}
		}
		if m.WorkDir != "" {
			file = shortName(m.WorkDir, file)
		}
	}
	target, err := running.Target(goVersion, line, file)
	if err != nil || target == "" {
		return running, err
	}
	return runAs(ctx, note, running, target, true, download)
}

// runAs is go's exec of toolchain target: the one in PATH if there is
// one, else (unless GOTOOLCHAIN says path) its module, downloaded and made
// runnable, with a "downloading" line if announce (go prints it at startup,
// not for a switch during `go mod download`). It returns the Running of
// target, with the program that runs it: what the run hands to the go
// command goes to that one, as go, running as target, would fetch it.
func runAs(ctx context.Context, note func(string), running toolchain.Running, target string, announce bool, download func(ctx context.Context, target string, atStartup bool, announce func()) (string, error)) (toolchain.Running, error) {
	version := toolchain.FromToolchain(target)
	switched, err := toolchain.NewRunning(running.GOTOOLCHAIN, version)
	if err != nil {
		return running, err
	}
	switched.Name = target
	if exe, err := exec.LookPath(target); err == nil {
		switched.Go = exe
		return switched, nil // go runs the one on PATH
	}
	if running.HasPath() {
		return running, fmt.Errorf("cannot find %q in PATH", target)
	}
	dir, err := download(ctx, target, announce, func() {
		if announce {
			note(fmt.Sprintf("downloading %s (%s/%s)", target, runtime.GOOS, runtime.GOARCH))
		}
	})
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if toolchain.IsLang(version) && toolchain.Compare(version, "1.21") >= 0 {
				return running, fmt.Errorf("invalid toolchain: %s is a language version but not a toolchain version (%s.x)", target, target)
			}
			return running, fmt.Errorf("download %s for %s/%s: toolchain not available", target, runtime.GOOS, runtime.GOARCH)
		}
		return running, fmt.Errorf("download %s: %v", target, err)
	}
	if err := toolchain.Prepare(dir, toolchain.WriteBits()); err != nil {
		return running, fmt.Errorf("download %s: %v", target, err)
	}
	switched.Go, switched.Root = filepath.Join(dir, "bin", "go"), dir
	return switched, nil
}

// shortName is path relative to dir when that is shorter.
func shortName(dir, path string) string {
	if rel, ok := strings.CutPrefix(path, dir+"/"); ok && len(rel) < len(path) {
		return rel
	}
	return path
}

// switchForModules is go's switch when modules turn out to need a newer go
// than the running one (tooNew, the newest needed): it picks the newest
// release of the first line at or above it among the toolchains the
// proxies list (GOTOOLCHAIN=auto) or PATH holds (path), says so, and gets
// it as switchToolchain does. The returned Running is the new toolchain's.
func switchForModules(ctx context.Context, note func(string), running toolchain.Running, tooNew *toolchain.TooNewError, versions interface {
	Versions(ctx context.Context, path string) ([]string, error)
}, download func(ctx context.Context, target string, atStartup bool, announce func()) (string, error)) (toolchain.Running, error) {
	var list []string
	if running.HasAuto() {
		vs, err := versions.Versions(ctx, toolchain.ModulePath)
		if err != nil {
			return running, fmt.Errorf("%v\nswitching to go >= %v: %w", tooNew, tooNew.GoVersion, err)
		}
		have := map[string]bool{}
		for _, v := range vs {
			if gv, ok := toolchain.FromModuleVersion(v); ok && !have[gv] {
				have[gv] = true
				list = append(list, gv)
			}
		}
		if !have[running.Version] {
			list = append(list, running.Version)
		}
	} else {
		list = pathToolchains()
	}
	sort.Slice(list, func(i, j int) bool { return toolchain.Compare(list[i], list[j]) < 0 })
	target, err := toolchain.Newer(tooNew.GoVersion, list)
	if err != nil {
		return running, fmt.Errorf("%v\nswitching to go >= %v: %w", tooNew, tooNew.GoVersion, err)
	}
	note(fmt.Sprintf("%v requires go >= %v; switching to %v", tooNew.What, tooNew.GoVersion, target))
	return runAs(ctx, note, running, target, false, download)
}

// pathToolchains are the go versions of the go1.* programs in PATH.
func pathToolchains() []string {
	var list []string
	have := map[string]bool{}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.IsDir() || !strings.HasPrefix(e.Name(), "go1.") {
				continue
			}
			info, err := os.Stat(filepath.Join(dir, e.Name()))
			if err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
				continue
			}
			if v := toolchain.FromToolchain(e.Name()); v != "" && !have[v] {
				have[v] = true
				list = append(list, v)
			}
		}
	}
	return list
}
