package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os/exec"
	"runtime"
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
// first if it is not in the cache.
func switchToolchain(ctx context.Context, stderr io.Writer, running toolchain.Running, m *resolver.Main, download func(ctx context.Context, target string, announce func()) (string, error)) (toolchain.Running, error) {
	var goVersion, line, file string
	if m != nil {
		goVersion, line = m.ToolchainLines()
		file = m.GoMod
		if m.WorkDir != "" {
			file = shortName(m.WorkDir, file)
		}
	}
	target, err := running.Target(goVersion, line, file)
	if err != nil || target == "" {
		return running, err
	}
	version := toolchain.FromToolchain(target)
	switched, err := toolchain.NewRunning(running.GOTOOLCHAIN, version)
	if err != nil {
		return running, err
	}
	if _, err := exec.LookPath(target); err == nil {
		return switched, nil // go runs the one on PATH
	}
	if running.PathOnly() {
		return running, fmt.Errorf("cannot find %q in PATH", target)
	}
	dir, err := download(ctx, target, func() {
		fmt.Fprintf(stderr, "gomodfetch: downloading %s (%s/%s)\n", target, runtime.GOOS, runtime.GOARCH)
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
	return switched, nil
}

// shortName is path relative to dir when that is shorter.
func shortName(dir, path string) string {
	if rel, ok := strings.CutPrefix(path, dir+"/"); ok && len(rel) < len(path) {
		return rel
	}
	return path
}
