package toolchain

import (
	"fmt"
	"strings"
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
