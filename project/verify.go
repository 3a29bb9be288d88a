package project

import (
	"context"
	"fmt"

	"gomodfetch/audit"
)

// Audit is what Verify found.
type Audit struct {
	// Findings are the modules the cache does not hold as a download
	// leaves them (after a repair: those repaired, marked so, and those
	// still wrong).
	Findings []*audit.Finding
	// GraphErrs are the module graph's failures that name no module.
	GraphErrs []error
	// Repair is the repair's download; nil without one.
	Repair *Result
}

// Bad reports whether anything is still wrong: the exit status is then 1.
func (a *Audit) Bad() bool {
	bad := len(a.GraphErrs) > 0
	for _, f := range a.Findings {
		bad = bad || !f.Repaired
	}
	return bad
}

// Verify checks that the module cache holds, intact, what a download
// with the project's arguments leaves (package audit), reading the cache
// alone and writing nothing. With repair it removes the damaged parts,
// downloads what is then missing (a normal download, which fetches only
// that), and checks again: what is still wrong is reported as such.
func (p *Project) Verify(ctx context.Context, repair bool, h RunHooks) (*Audit, error) {
	res, err := p.Resolve(ctx, !repair)
	if err != nil {
		return nil, err
	}
	cache := p.Cache(!repair)
	acfg := audit.Config{Cache: cache, Sums: p.Sums}
	a := &Audit{}
	a.Findings, a.GraphErrs = audit.Check(ctx, acfg, res)
	if !repair || (len(a.Findings) == 0 && len(a.GraphErrs) == 0) {
		return a, nil
	}
	for _, f := range a.Findings {
		held, err := cache.Lock(ctx, f.Mod())
		if err != nil {
			return nil, fmt.Errorf("%s: %v", f.Mod(), err)
		}
		err = held.Forget(f.Parts()...)
		held.Unlock()
		if err != nil {
			return nil, fmt.Errorf("%s: %v", f.Mod(), err)
		}
	}
	if a.Repair, err = p.Download(ctx, h); err != nil {
		return nil, err
	}
	failed := map[string]bool{}
	for _, m := range a.Repair.Unfinished() {
		failed[m] = true
	}
	fatal := a.Repair.Report != nil && a.Repair.Report.Fatal != nil
	for _, f := range a.Findings {
		f.Repaired = !failed[f.Mod().String()] && !fatal
	}
	again, err := p.Resolve(ctx, false)
	if err != nil {
		return nil, err
	}
	after, afterErrs := audit.Check(ctx, acfg, again)
	known := map[string]*audit.Finding{}
	for _, f := range a.Findings {
		known[f.Mod().String()] = f
	}
	for _, f := range after {
		if k := known[f.Mod().String()]; k != nil {
			k.Repaired = false
		} else {
			a.Findings = append(a.Findings, f)
		}
	}
	a.GraphErrs = afterErrs
	return a, nil
}
