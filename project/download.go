package project

import (
	"context"
	"errors"
	"fmt"

	"gomodfetch/download"
	"gomodfetch/modcache"
	"gomodfetch/pipeline"
)

// RunHooks follow one download as it goes; any may be nil.
type RunHooks struct {
	// Interrupted reports whether a signal stopped the run.
	Interrupted func() bool
	// Notes receives what go prints before it downloads ("go: skipping
	// download of ...", dropped requirements), once per run started.
	Notes func(notes []string)
	// Start is called as the downloads start, with their progress; Stop
	// as they end.
	Start func(progress func() download.Progress)
	Stop  func()
	// OnTotal is told how many module versions will be downloaded, each
	// time that number is known anew.
	OnTotal func(n int)
}

// maxSwitches bounds the toolchain switches of one download, as go bounds
// them.
const maxSwitches = 100

// Result is what a download did.
type Result struct {
	// Report is the pipeline's report; nil when there was nothing to do.
	Report *pipeline.Report
	// Fetcher is the engine of the run that made Report, for its counts.
	Fetcher *download.Fetcher
	// NothingToDo is set when go would say "no module dependencies to
	// download" and stop.
	NothingToDo bool

	modCache string
	sumFile  string
}

// Download downloads what `go mod download` would with the project's
// arguments. When modules need a newer go than the running toolchain and
// GOTOOLCHAIN lets go switch, it switches (as go re-executes itself) and
// runs again as the new toolchain, in a loop bounded as go bounds it; the
// Result is the last run's. Its error is one that ended the download
// before any report (a bad argument, a failed switch).
func (p *Project) Download(ctx context.Context, h RunHooks) (*Result, error) {
	if err := p.openVulns(ctx); err != nil {
		return nil, err
	}
	for switches := 0; ; switches++ {
		fetcher, cache := p.fetcher(ctx, p.Sums, false, false)
		run, err := pipeline.New(pipeline.Config{
			Main:        p.Main,
			Args:        p.s.Args,
			Fetcher:     fetcher,
			Cache:       cache,
			Sums:        p.Sums,
			Jobs:        p.s.Jobs,
			JSON:        p.s.JSON,
			Interrupted: h.Interrupted,
			Running:     p.Running,
			OnTotal:     h.OnTotal,
			Admit:       p.gate.admit(fetcher),
			Versions:    p.gate.versions(fetcher),
		})
		if err != nil {
			return nil, err
		}
		if h.Notes != nil {
			h.Notes(run.Notes())
		}
		res := &Result{Fetcher: fetcher, modCache: p.cfg.modCache}
		if p.Main != nil {
			res.sumFile = p.Main.SumFile()
		}
		if run.NothingToDo() {
			res.NothingToDo = true
			return res, nil
		}
		if h.Start != nil {
			h.Start(fetcher.Progress)
		}
		res.Report = run.Download(ctx)
		if h.Stop != nil {
			h.Stop()
		}
		if res.Report.Switch == nil {
			return res, nil
		}
		// go runs again as the toolchain the modules need.
		if switches >= maxSwitches {
			return nil, errors.New("too many toolchain switches")
		}
		next, err := switchForModules(ctx, p.hooks.Note, p.Running, res.Report.Switch, fetcher, p.downloadToolchain)
		if err != nil {
			return nil, err
		}
		p.runAs(next)
		if err := p.prepareMain(ctx); err != nil {
			return nil, err
		}
	}
}

// Failed reports whether anything failed: the exit status is then 1.
func (r *Result) Failed() bool { return r.Report != nil && r.Report.Failed() }

// ExitStatus is the download's exit status, as go's: 1 if anything failed.
func (r *Result) ExitStatus() int {
	if r.Failed() {
		return 1
	}
	return 0
}

// Errors are the lines a download prints on stderr after its -json
// objects (if json), in go's order, without a prefix: the graph's failure
// that ended the run, each module's error (with json, those are in the
// objects), the graph's failure that did not end it (without json, only
// if no module failed: go stops after the modules' errors), an unusable
// module cache (once, not per module), and failures to update go.mod and
// go.sum. After an interrupt the failures of the run are its
// interruption, reported by the caller: only go.mod's and go.sum's are
// listed.
func (r *Result) Errors(json, interrupted bool) []string {
	rep := r.Report
	if rep == nil {
		return nil
	}
	var lines []string
	cacheErr := r.Fetcher.CacheError()
	quiet := interrupted || cacheErr != nil // the graph's failure is theirs
	if rep.Fatal != nil && !quiet {
		lines = append(lines, rep.Fatal.Error())
	}
	nerr := 0
	for _, m := range rep.Modules {
		if m.Error == "" {
			continue
		}
		nerr++
		switch {
		case interrupted:
		case cacheErr != nil && modcache.Unusable(m.Err()):
			// reported once below
		case !json:
			lines = append(lines, m.Error)
		}
	}
	if rep.GraphErr != nil && (json || nerr == 0) && !quiet {
		lines = append(lines, rep.GraphErr.Error())
	}
	if cacheErr != nil && !interrupted {
		lines = append(lines, fmt.Sprintf("module cache %s is not usable: %v", r.modCache, cacheErr))
	}
	if rep.GoModErr != nil {
		lines = append(lines, rep.GoModErr.Error())
	}
	if rep.SumsErr != nil {
		lines = append(lines, fmt.Sprintf("updating %s: %v", r.sumFile, rep.SumsErr))
	}
	return lines
}

// Unfinished are the modules that did not download, as path@version:
// after an interrupt, those it stopped.
func (r *Result) Unfinished() []string {
	var list []string
	if r.Report != nil {
		for _, m := range r.Report.Modules {
			if m.Error != "" {
				list = append(list, m.Path+"@"+m.Version)
			}
		}
	}
	return list
}
