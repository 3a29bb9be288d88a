package project

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/sync/errgroup"

	"gomodfetch/download"
	"gomodfetch/pipeline"
	"gomodfetch/policy"
	"gomodfetch/proxy"
	"gomodfetch/resolver"
)

// The supply-chain policy (package policy, docs/policy.md) as the CLI
// applies it: the file is read once when the project opens, the
// vulnerability database once per run (before anything is fetched), and
// every module version a download would fetch whole is decided before any
// of its files is fetched. A denied version fails its module with the
// decision's message; nothing of it is written to the module cache.
//
// The cooldown trusts the .info Time the configured proxy (or the module
// cache, or the fleet cache) gives: the CLI keeps no history of when it
// first saw a version (serve does, and counts from the later of the two).
// The .info is asked for without being cached, and the download that
// follows reuses the answer.

// DefaultVulnDB is the vulnerability database read when neither the
// -vulndb setting nor the policy file names one.
const DefaultVulnDB = "https://vuln.go.dev"

// vulnDBRefreshTimeout bounds the reading of the vulnerability database's
// index at the start of a run.
const vulnDBRefreshTimeout = 2 * time.Minute

// PolicyError is a policy file that cannot be used (missing, unreadable,
// or with mistakes, each named file:line): the command's input is bad.
type PolicyError struct{ Err error }

func (e *PolicyError) Error() string { return e.Err.Error() }
func (e *PolicyError) Unwrap() error { return e.Err }

// Gate is the policy a project applies, with what it decided.
type Gate struct {
	gate   *policy.Gate
	policy *policy.Policy
	file   string
	source string // the vulnerability database; "" when none is read
	opened bool   // the database was read (once per run)

	mu        sync.Mutex
	decisions map[module.Version]policy.Decision
}

// loadPolicy reads the policy file s names; nil without one.
func loadPolicy(s Settings) (*Gate, error) {
	if s.Policy == "" {
		if s.VulnDB != "" {
			return nil, errors.New("-vulndb needs -policy")
		}
		return nil, nil
	}
	pol, err := policy.Load(s.Policy)
	if err != nil {
		return nil, &PolicyError{err}
	}
	g := &Gate{gate: &policy.Gate{Policy: pol}, policy: pol, file: s.Policy, decisions: map[module.Version]policy.Decision{}}
	if pol.ChecksVulns() {
		g.source = s.VulnDB
		if g.source == "" {
			g.source = pol.VulnDB()
		}
		if g.source == "" {
			g.source = DefaultVulnDB
		}
	}
	return g, nil
}

// File is the policy file.
func (g *Gate) File() string { return g.file }

// Checked is how many module versions were decided.
func (g *Gate) Checked() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.decisions)
}

// VulnStatus is the vulnerability database's status, if one was read.
func (g *Gate) VulnStatus() (policy.VulnStatus, bool) {
	if db, ok := g.gate.Vulns.(*policy.VulnDB); ok && db != nil {
		return db.Status(), true
	}
	return policy.VulnStatus{}, false
}

// Policy is the policy the project applies; nil without one.
func (p *Project) Policy() *Gate { return p.gate }

// Expired lists the policy's exceptions that no longer apply, as lines to
// warn about.
func (g *Gate) Expired(now time.Time) []string {
	var out []string
	for _, e := range g.policy.Expired(now) {
		out = append(out, fmt.Sprintf("policy exception %s expired %s (%s): what it let through is denied again",
			e.Rule, e.Until.UTC().Format(time.RFC3339), e.Reason))
	}
	return out
}

// openVulns reads the vulnerability database, once: from its source (an
// https:// URL (read once per run, kept in memory only), a directory
// or a zip). A database that cannot be read fails the run before anything
// is fetched: a gate that cannot check must not pass.
func (p *Project) openVulns(ctx context.Context) error {
	g := p.gate
	if g == nil || g.source == "" || g.opened {
		return nil
	}
	db, err := policy.OpenVulnDB(g.source, policy.VulnOptions{
		Client: proxy.NewHTTPClient(p.s.ConnectTimeout, p.s.HeaderTimeout, 4),
	})
	if err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	rctx, cancel := context.WithTimeout(ctx, vulnDBRefreshTimeout)
	defer cancel()
	if err := db.Refresh(rctx); err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	g.gate.Vulns, g.opened = db, true
	return nil
}

// Check decides one module version, taking its release time from f's
// .info (which it does not write to the cache), and records the decision.
func (g *Gate) Check(ctx context.Context, f *download.Fetcher, mod module.Version) policy.Decision {
	d := g.gate.Check(ctx, mod.Path, mod.Version, timeOf(f, mod.Path))
	g.mu.Lock()
	g.decisions[mod] = d
	g.mu.Unlock()
	return d
}

// timeOf is the release time the cooldown trusts for path's versions:
// the .info Time, from the cache or the proxies (not written to the
// cache; the download that follows reuses the answer).
func timeOf(f *download.Fetcher, path string) policy.TimeFunc {
	return func(ctx context.Context, v string) (time.Time, error) {
		info, _, err := f.Info(ctx, module.Version{Path: path, Version: v})
		if err != nil {
			return time.Time{}, err
		}
		return info.Time, nil
	}
}

// allowedVersions is a Fetcher whose version lists leave out what the
// policy denies (as serve's lists do), so that path@latest, @upgrade,
// @patch and prefix queries choose among allowed versions. A query that
// then falls back to the proxy's @latest, or names a version, is decided
// like any other version (admit).
type allowedVersions struct {
	*download.Fetcher
	gate *Gate
}

func (s allowedVersions) Versions(ctx context.Context, path string) ([]string, error) {
	list, err := s.Fetcher.Versions(ctx, path)
	if err != nil {
		return nil, err
	}
	kept, _ := s.gate.gate.FilterList(ctx, path, list, timeOf(s.Fetcher, path))
	return kept, nil
}

// versions is pipeline.Config.Versions for f's run.
func (g *Gate) versions(f *download.Fetcher) resolver.VersionSource {
	if g == nil {
		return nil
	}
	return allowedVersions{Fetcher: f, gate: g}
}

// admit is pipeline.Config.Admit for f's run.
func (g *Gate) admit(f *download.Fetcher) func(context.Context, module.Version) error {
	if g == nil {
		return nil
	}
	return func(ctx context.Context, mod module.Version) error {
		return g.Check(ctx, f, mod).Err()
	}
}

// Findings are the recorded decisions that deny or warn about one of
// mods (the modules a run reported), in path and version order.
func (g *Gate) Findings(mods []module.Version) []policy.Decision {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []policy.Decision
	seen := map[module.Version]bool{}
	for _, m := range mods {
		d, ok := g.decisions[m]
		if !ok || seen[m] || (d.Action == policy.Allow && len(d.Warnings) == 0) {
			continue
		}
		seen[m] = true
		out = append(out, d)
	}
	sortDecisions(out)
	return out
}

func sortDecisions(ds []policy.Decision) {
	sort.SliceStable(ds, func(i, j int) bool {
		if ds[i].Path != ds[j].Path {
			return ds[i].Path < ds[j].Path
		}
		return ds[i].Version < ds[j].Version
	})
}

// PolicyFindings are the policy's decisions on the modules of a
// download's report that it denied or warned about; nil without a policy.
func (p *Project) PolicyFindings(r *Result) []policy.Decision {
	if p.gate == nil || r == nil || r.Report == nil {
		return nil
	}
	var mods []module.Version
	for _, m := range r.Report.Modules {
		mods = append(mods, module.Version{Path: m.Path, Version: m.Version})
	}
	return p.gate.Findings(mods)
}

// PolicyAudit is what CheckPolicy found.
type PolicyAudit struct {
	// Findings are the decisions that deny or warn, in path and version
	// order.
	Findings []policy.Decision
	// Checked is how many module versions were decided.
	Checked int
	// Failed are the modules a download would fail on before the policy
	// is asked (an argument that does not resolve).
	Failed []*download.Module
	// GraphErr is a failure to read the module graph: the build list,
	// and so the audit, may then be incomplete.
	GraphErr error
}

// Denied reports whether the policy denies any module version.
func (a *PolicyAudit) Denied() bool {
	for _, d := range a.Findings {
		if d.Action == policy.Deny {
			return true
		}
	}
	return false
}

// CheckPolicy decides, without downloading any zip, every module version
// a download with the project's arguments would fetch whole: it resolves
// the build list as the download does (reading go.mod files from the
// cache or the GOPROXY list, and caching them as a download would), reads
// the vulnerability database, and asks the policy about each version.
func (p *Project) CheckPolicy(ctx context.Context) (*PolicyAudit, error) {
	if p.gate == nil {
		return nil, errors.New("no policy to check against (-policy)")
	}
	if err := p.openVulns(ctx); err != nil {
		return nil, err
	}
	fetcher, cache := p.fetcher(ctx, p.Sums, false, false)
	run, err := pipeline.New(pipeline.Config{Main: p.Main, Args: p.s.Args, Fetcher: fetcher, Cache: cache, Sums: p.Sums, Jobs: p.s.Jobs, Running: p.Running,
		Versions: p.gate.versions(fetcher)})
	if err != nil {
		return nil, err
	}
	res := run.Resolve(ctx)
	a := &PolicyAudit{Failed: res.Failed, GraphErr: res.GraphErr, Checked: len(res.Zips)}
	var g errgroup.Group
	g.SetLimit(p.s.Jobs)
	for _, mod := range res.Zips {
		g.Go(func() error {
			p.gate.Check(ctx, fetcher, mod)
			return nil
		})
	}
	g.Wait()
	a.Findings = p.gate.Findings(res.Zips)
	return a, nil
}
