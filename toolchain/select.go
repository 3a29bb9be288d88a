package toolchain

import (
	"fmt"
	"strings"

	"golang.org/x/mod/module"
)

// Running is the toolchain a go command would run as, and what GOTOOLCHAIN
// lets it do about a go.mod that needs a newer one.
type Running struct {
	// Version is the installed go's version ("1.26.8").
	Version string
	// GOTOOLCHAIN is the setting as given ("" when unset).
	GOTOOLCHAIN string
	// Switches is true when go would run another toolchain than the
	// installed one: GOTOOLCHAIN=auto or path (alone or after a minimum
	// version), or a go version other than the installed one. Then a go
	// line newer than Version is not an error.
	Switches bool
}

// NewRunning reads GOTOOLCHAIN as the go command does at startup; local is
// the installed go's version.
func NewRunning(gotoolchain, local string) (Running, error) {
	r := Running{Version: local, GOTOOLCHAIN: gotoolchain}
	switch gotoolchain {
	case "", "local":
		return r, nil
	case "auto", "path":
		r.Switches = true
		return r, nil
	}
	min, suffix, plus := strings.Cut(gotoolchain, "+")
	if min != "local" && FromToolchain(min) == "" {
		if plus {
			return r, fmt.Errorf("invalid GOTOOLCHAIN %q: invalid minimum toolchain %q", gotoolchain, min)
		}
		return r, fmt.Errorf("invalid GOTOOLCHAIN %q", gotoolchain)
	}
	if plus && suffix != "auto" && suffix != "path" {
		return r, fmt.Errorf("invalid GOTOOLCHAIN %q: only version suffixes are +auto and +path", gotoolchain)
	}
	r.Switches = plus || (min != "local" && min != "go"+local)
	return r, nil
}

// TooNewError is go's error for a go line newer than the running
// toolchain when it may not switch.
type TooNewError struct {
	What      string // "go.mod", "go.work", "module example.com/a@v1.0.0"
	GoVersion string
	Running   Running
}

func (e *TooNewError) Error() string {
	explain := ""
	if g := e.Running.GOTOOLCHAIN; g != "" && g != "auto" {
		explain = "; GOTOOLCHAIN=" + g
	}
	return fmt.Sprintf("%s requires go >= %s (running go %s%s)", e.What, e.GoVersion, e.Running.Version, explain)
}

// Check returns a TooNewError if goVersion (a go line) is newer than the
// running toolchain and it may not switch.
func (r Running) Check(what, goVersion string) error {
	if r.Switches || r.Version == "" || Compare(goVersion, r.Version) <= 0 {
		return nil
	}
	return &TooNewError{What: what, GoVersion: goVersion, Running: r}
}

// IsLang reports whether v is a language version ("1.21", not "1.21.0"
// or "1.21rc1").
func IsLang(v string) bool {
	x, ok := parse(v)
	return ok && x.patch == "" && x.kind == "" && x.pre == ""
}

// PathOnly reports whether GOTOOLCHAIN says to look for toolchains only
// in PATH (path, <name>+path), never to download one.
func (r Running) PathOnly() bool {
	return r.GOTOOLCHAIN == "path" || strings.HasSuffix(r.GOTOOLCHAIN, "+path")
}

// Target returns the toolchain go would run as, given the go and toolchain
// lines (goVersion, toolchainLine: "" when absent) of the go.mod or go.work
// that governs the run (named file, for messages), or "" for the installed
// one. It is go's startup rule: the minimum is the installed go, or the
// version GOTOOLCHAIN names; with +auto or +path (or auto, path alone) a
// toolchain line above it is taken, and a go line above that ("go 1.99"
// means go1.99.0 from go 1.21 on).
func (r Running) Target(goVersion, toolchainLine, file string) (string, error) {
	if !r.Switches {
		return "", nil
	}
	target, minVers := "go"+r.Version, r.Version
	min, suffix, plus := strings.Cut(r.GOTOOLCHAIN, "+")
	if min != "local" && min != "auto" && min != "path" {
		target, minVers = min, FromToolchain(min)
	}
	auto := r.GOTOOLCHAIN == "auto" || r.GOTOOLCHAIN == "path" || (plus && (suffix == "auto" || suffix == "path"))
	if auto && toolchainLine != "" && toolchainLine != "default" {
		v := FromToolchain(toolchainLine)
		if v == "" || (!strings.HasPrefix(toolchainLine, "go") && !strings.Contains(toolchainLine, "-go")) {
			return "", fmt.Errorf("invalid toolchain %q in %s", toolchainLine, file)
		}
		if Compare(v, minVers) > 0 {
			target, minVers = toolchainLine, v
		}
	}
	if auto && goVersion != "" && Compare(goVersion, minVers) > 0 {
		target = "go" + goVersion
		if IsLang(goVersion) && Compare(goVersion, "1.21") >= 0 {
			target += ".0"
		}
	}
	if target == "go"+r.Version || target == "local" {
		return "", nil
	}
	return target, nil
}

// Module is the module that holds toolchain target for goos/goarch, as go
// downloads it: golang.org/toolchain@v0.0.1-go1.99.0.linux-amd64.
func Module(target, goos, goarch string) module.Version {
	return module.Version{Path: ModulePath, Version: "v0.0.1-" + target + "." + goos + "-" + goarch}
}

// ModulePath is the path of the toolchain modules.
const ModulePath = "golang.org/toolchain"
