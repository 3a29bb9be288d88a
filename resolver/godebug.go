package resolver

//go:generate go run ./internal/gengodebugs

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/mod/modfile"

	"gomodfetch/toolchain"
)

// CheckGodebugs checks the main module's godebug lines as the go command
// checks them before it reads anything else: in a workspace go.work's, else
// go.mod's. local is the installed go's version: the key table is the one
// of the go release gomodfetch was generated from (godebugs.go), and when
// the installed go is newer, a key the table lacks may be one it knows, so
// only the line's form is checked.
func (m *Main) CheckGodebugs(local string) error {
	var (
		lines []*modfile.Godebug
		what  string
		file  = m.GoMod
	)
	if m.Workspace {
		if m.work == nil {
			return nil
		}
		lines, what = m.work.Godebug, "go.work"
	} else {
		lines, what = m.File.Godebug, "go.mod"
	}
	knowsAll := toolchain.Compare(local, godebugsVersion) <= 0
	var errs []error
	for _, g := range lines {
		if err := checkGodebug(g.Key, g.Value, local, knowsAll); err != nil {
			errs = append(errs, fmt.Errorf("error loading %s:\n%s:%d: %w", what, shortPath(m.WorkDir, file), g.Syntax.Start.Line, err))
			if m.Workspace {
				break // go stops at go.work's first bad line
			}
		}
	}
	return errors.Join(errs...)
}

func checkGodebug(k, v, local string, knowsAll bool) error {
	switch {
	case strings.ContainsAny(k, " \t"):
		return errors.New("key contains space")
	case strings.ContainsAny(v, " \t"):
		return errors.New("value contains space")
	case strings.Contains(k, ","):
		return errors.New("key contains comma")
	case strings.Contains(v, ","):
		return errors.New("value contains comma")
	}
	if k == "default" {
		ver, ok := strings.CutPrefix(v, "go")
		if !ok || !toolchain.IsValid(ver) {
			return errors.New("value for default= must be goVERSION")
		}
		if toolchain.Compare(ver, local) > 0 {
			return fmt.Errorf("default=%s too new (toolchain is go%s)", v, local)
		}
		return nil
	}
	if knownGodebugs[k] || !knowsAll {
		return nil
	}
	if minor, ok := removedGodebugs[k]; ok {
		return fmt.Errorf("use of removed godebug %q, see https://go.dev/doc/godebug#go-1%d", k, minor)
	}
	return fmt.Errorf("unknown godebug %q", k)
}
