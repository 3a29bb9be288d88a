package toolchain

import (
	"fmt"
	"strings"

	"golang.org/x/mod/module"
)

// Running is the toolchain a go command would run as, and what GOTOOLCHAIN
// lets it do about a go.mod that needs a newer one.
type Running struct {
	// Version is the running go's version ("1.26.8"): the installed one,
	// or the one switched to.
	Version string
	// GOTOOLCHAIN is the setting as given ("" when unset).
	GOTOOLCHAIN string
	// Name is the toolchain switched to ("go1.99.0"); "" for the
	// installed one.
	Name string
	// Go is the go command of the toolchain switched to: its program in
	// PATH, or bin/go in its module's directory; "" for the installed
	// one (the go on PATH).
	Go string
	// Root is the directory of a toolchain switched to from its module
	// (its GOROOT); "" otherwise.
	Root string
}

// ExecEnv returns what go adds to the environment of a toolchain it
// switches to, to run Go with (nil for the installed one):
// GOTOOLCHAIN_INTERNAL_SWITCH_VERSION naming it (that go checks it is the
// toolchain named, and switches no further) and GOROOT, its directory, or
// empty (as unset) for a toolchain in PATH, which finds its own.
func (r Running) ExecEnv() []string {
	if r.Go == "" {
		return nil
	}
	return []string{"GOTOOLCHAIN_INTERNAL_SWITCH_VERSION=" + r.Name, "GOROOT=" + r.Root}
}

// NewRunning checks GOTOOLCHAIN as the go command does at startup; local
// is the installed go's version.
func NewRunning(gotoolchain, local string) (Running, error) {
	r := Running{Version: local, GOTOOLCHAIN: gotoolchain}
	switch gotoolchain {
	case "", "local", "auto", "path":
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
	return r, nil
}

// HasAuto reports whether GOTOOLCHAIN lets go download toolchains (auto,
// <name>+auto).
func (r Running) HasAuto() bool {
	return r.GOTOOLCHAIN == "auto" || strings.HasSuffix(r.GOTOOLCHAIN, "+auto")
}

// HasPath reports whether GOTOOLCHAIN lets go run toolchains found only in
// PATH (path, <name>+path).
func (r Running) HasPath() bool {
	return r.GOTOOLCHAIN == "path" || strings.HasSuffix(r.GOTOOLCHAIN, "+path")
}

// CanSwitch reports whether go would switch to a newer toolchain when a
// module needs one, rather than fail.
func (r Running) CanSwitch() bool { return r.HasAuto() || r.HasPath() }

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
// running toolchain (the zero Running accepts every version).
func (r Running) Check(what, goVersion string) error {
	if r.Version == "" || Compare(goVersion, r.Version) <= 0 {
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

// Target returns the toolchain go would run as, given the go and toolchain
// lines (goVersion, toolchainLine: "" when absent) of the go.mod or go.work
// that governs the run (named file, for messages), or "" for the installed
// one. It is go's startup rule: the minimum is the installed go, or the
// version GOTOOLCHAIN names; with +auto or +path (or auto, path alone) a
// toolchain line above it is taken, and a go line above that ("go 1.99"
// means go1.99.0 from go 1.21 on).
func (r Running) Target(goVersion, toolchainLine, file string) (string, error) {
	target, minVers := "go"+r.Version, r.Version
	if min, _, _ := strings.Cut(r.GOTOOLCHAIN, "+"); FromToolchain(min) != "" {
		target, minVers = min, FromToolchain(min)
	}
	auto := r.CanSwitch()
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

// MaxTooNew returns the TooNewError among errs (and the errors they wrap)
// that needs the newest go, the one whose What sorts first among equals,
// as go picks the toolchain to switch to; nil if there is none.
func MaxTooNew(errs ...error) *TooNewError {
	var max *TooNewError
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *TooNewError:
			if max == nil || Compare(e.GoVersion, max.GoVersion) > 0 || (Compare(e.GoVersion, max.GoVersion) == 0 && e.What < max.What) {
				max = e
			}
		case interface{ Unwrap() []error }:
			for _, x := range e.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	for _, err := range errs {
		walk(err)
	}
	return max
}

// Newer returns the toolchain go switches to for a module that needs go
// >= need, from the go versions available (list, ascending): the latest
// release of the newest line at or above need, or that line's latest
// prerelease when no release is newer.
func Newer(need string, list []string) (string, error) {
	latest := ""
	for i := len(list) - 1; i >= 0; i-- {
		v := list[i]
		if Compare(v, need) < 0 {
			break
		}
		if Lang(latest) == Lang(v) {
			continue
		}
		newer := latest
		latest = v
		if newer != "" && !isPrerelease(newer) {
			break
		}
	}
	if latest == "" {
		return "", fmt.Errorf("no releases found for go >= %v", need)
	}
	return "go" + latest, nil
}

func isPrerelease(v string) bool {
	x, _ := parse(v)
	return x.kind != ""
}

// FromModuleVersion returns the go version of a toolchain module version
// ("v0.0.1-go1.21.3.linux-amd64" → "1.21.3"), as go lists them.
func FromModuleVersion(v string) (string, bool) {
	_, v, ok := strings.Cut(v, "-")
	if !ok {
		return "", false
	}
	i := strings.LastIndex(v, ".")
	if i < 0 || !strings.Contains(v[i+1:], "-") {
		return "", false
	}
	return strings.TrimPrefix(v[:i], "go"), true
}
