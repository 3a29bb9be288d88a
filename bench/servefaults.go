package main

// Upstream fault profiles of the serve bench (-upstream-faults): the cold
// case once more with the emulated upstream misbehaving, for go mod
// download straight from it (expected to fail: go does not retry),
// gomodfetch straight from it and go mod download through a fresh serve.
// Each run gets the profile's rules afresh (internal/faultproxy.ParseRules:
// its seeds are fixed and every draw is a function of the file and of how
// many times it was asked for, so the Nth request for a file meets the
// same fault in every run). A run that completes must leave the cache go
// leaves over the clean upstream.

import (
	"cmp"
	"context"
	crand "crypto/rand"
	"errors"
	"flag"
	"fmt"
	"gomodfetch/internal/cachecmp"
	"gomodfetch/internal/faultproxy"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/dirhash"
	"golang.org/x/mod/sumdb/note"
)

var upstreamFaults = flag.String("upstream-faults", "clean", "with -serve: the upstream fault profiles to run, comma-separated: clean (the cold rounds and the warm case), flaky, truncate (the cold case once each; see bench/servefaults.go)")

// faultProfile is a way for the upstream to misbehave.
type faultProfile struct {
	name  string
	rules string // faultproxy rules
}

var faultProfiles = []faultProfile{
	// 30% of all upstream responses are faulted: 2% hold their headers
	// back for good (cut to faultproxy.MaxStall, or when the client gives
	// up), 28% (28/98 of the others) meet one of random's faults.
	{"flaky", `
* stall-headers 1h p=0.02 seed=101
* random 0.2857142857 seed=102
`},
	// Truncated bodies: the whole body promised (Content-Length), half
	// sent, the connection closed. Every zip's first answer is cut, and
	// for half the zips (drawn per zip) the second answer too (the retry,
	// or the range that resumes the first); half the other files (.info,
	// .mod, @v/list, drawn per file) have their first answer cut.
	{"truncate", `
*.zip truncate first=1
*.zip truncate first=2 p=0.5 seed=201
* truncate first=1 p=0.5 seed=202
`},
}

// faultRunTimeout bounds a run under faults (go waits as long as a
// stalled answer lasts, and it is only MaxStall).
const faultRunTimeout = 20 * time.Minute

// parseFaultProfiles reads -upstream-faults.
func parseFaultProfiles(s string) (clean bool, ps []faultProfile, err error) {
	for _, name := range strings.Split(s, ",") {
		if name == "clean" {
			clean = true
			continue
		}
		i := slices.IndexFunc(faultProfiles, func(p faultProfile) bool { return p.name == name })
		if i < 0 {
			return false, nil, fmt.Errorf("-upstream-faults: unknown profile %q (clean, flaky or truncate)", name)
		}
		ps = append(ps, faultProfiles[i])
	}
	return clean, ps, nil
}

// faultRow is one tool's run under a profile.
type faultRow struct {
	tool   coldTool
	s      coldSample
	failed *runFailure
	faults int    // responses the rules faulted
	eq     string // the cache against go's over the clean upstream
	diffs  []string
	srvLog string // serve's log, when its client failed
}

// faultResult is the runs of one profile.
type faultResult struct {
	profile faultProfile
	rows    []faultRow
}

// goRef is go mod download's cold run over the clean upstream.
type goRef struct {
	cache string
	wall  time.Duration
}

// runFaultProfiles runs the cold case once per profile through px.
func runFaultProfiles(o options, set *moduleSet, work, gmf, goPath string, px *faultproxy.Server, baseEnv []string, ref goRef, profiles []faultProfile) ([]faultResult, error) {
	tools := []coldTool{
		{name: "go mod download"},
		{name: "gomodfetch", gmf: true},
		{name: "go mod download → serve", via: "serve"},
	}
	gosumdb, stopSumDB, err := startSumDB(set.Dir, ref.cache)
	if err != nil {
		return nil, err
	}
	defer stopSumDB()
	var results []faultResult
	for _, p := range profiles {
		res := faultResult{profile: p}
		pdir := filepath.Join(work, "faults-"+p.name)
		for i, t := range tools {
			row := faultRow{tool: t}
			project := filepath.Join(pdir, fmt.Sprintf("app%d", i))
			cache := filepath.Join(pdir, fmt.Sprintf("cache%d", i))
			if err := writeProject(project, set); err != nil {
				return nil, err
			}
			cmd, env := coldCmd(o, t, gmf, goPath, project, append(slices.Clip(baseEnv),
				"GOMODCACHE="+cache, "GOPATH="+filepath.Join(pdir, fmt.Sprintf("gopath%d", i))))
			var srv *proc
			logFile := filepath.Join(pdir, "serve.log")
			if t.via == "serve" {
				srvCache := filepath.Join(pdir, "serve-cache")
				var err error
				srv, err = startServe(gmf, srvCache, append(slices.Clip(baseEnv),
					"GOPATH="+filepath.Join(pdir, "server-gopath"), "GOMODCACHE="+srvCache, "GOSUMDB="+gosumdb), false, logFile)
				if err != nil {
					return nil, err
				}
				env = append(env, "GOPROXY="+srv.url)
			}
			rules, err := faultproxy.ParseRules(p.name, strings.NewReader(p.rules))
			if err != nil {
				return nil, err
			}
			px.SetRules(rules)
			s, failed, err := measureMayFail(px, cmd, env, faultRunTimeout)
			px.SetRules(nil)
			row.s, row.failed, row.faults = coldSample{sample: s}, failed, rules.Faults()
			if srv != nil {
				m := scrape(srv.url + "/metrics")
				row.s.zipHit, row.s.zipMiss = m[`gomodfetch_serve_cache_total{endpoint="zip",outcome="hit"}`], m[`gomodfetch_serve_cache_total{endpoint="zip",outcome="miss"}`]
				row.s.srvCPU, row.s.srvRSS = srv.stop()
				if failed != nil {
					row.srvLog = serveErrors(logFile)
				}
			}
			if err != nil {
				return nil, fmt.Errorf("faults %s, %s: %v", p.name, t.name, err)
			}
			row.eq = "—"
			if failed == nil {
				row.eq = "yes"
				if row.diffs = cachecmp.Compare(ref.cache, cache); len(row.diffs) > 0 {
					row.eq = "NO"
				}
			}
			if o.verbose {
				status := "ok"
				if failed != nil {
					status = fmt.Sprintf("failed (exit status %d)", failed.code)
				}
				fmt.Printf("faults %-8s %-26s %7.2fs %s, %d faults, %5d requests %5d conns %9s upstream\n",
					p.name, t.name, s.wall.Seconds(), status, row.faults, s.requests, s.conns, mib(s.bytes))
			}
			res.rows = append(res.rows, row)
		}
		results = append(results, res)
	}
	return results, nil
}

// serveErrors returns the lines of serve's log that say something failed
// (all of it, up to its last 40 lines, if none does).
func serveErrors(logFile string) string {
	data, _ := os.ReadFile(logFile)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	var bad []string
	for _, l := range lines {
		if ll := strings.ToLower(l); strings.Contains(ll, "error") || strings.Contains(ll, "fail") || strings.Contains(ll, "level=warn") {
			bad = append(bad, l)
		}
	}
	if len(bad) == 0 {
		bad = lines
	}
	if len(bad) > 40 {
		bad = append([]string{fmt.Sprintf("(%d more lines before)", len(bad)-40)}, bad[len(bad)-40:]...)
	}
	return strings.Join(bad, "\n")
}

// printFaultTables prints the profiles, one table per profile and what
// the rows say, and returns what failed that must not (everything but go
// direct).
func printFaultTables(results []faultResult, ref goRef, profiles []faultProfile) []string {
	fmt.Printf("upstream fault profiles (cold, once each; go direct over the clean upstream: %.2fs):\n%s\n", ref.wall.Seconds(), faultProfileText(profiles))
	var problems []string
	for _, res := range results {
		fmt.Printf("| upstream faults: %s (once) | wall | / go direct clean | / gomodfetch direct | result | faults injected | upstream requests | upstream conns | upstream bytes | client CPU | server CPU | cache equal to go's clean |\n", res.profile.name)
		fmt.Printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		g := res.rows[1].s
		for _, r := range res.rows {
			result := "ok"
			if r.failed != nil {
				result = fmt.Sprintf("failed (exit status %d)", r.failed.code)
				if r.failed.code < 0 {
					result = fmt.Sprintf("killed after %v", faultRunTimeout)
				}
			}
			srvCPU := "—"
			if r.tool.via != "" {
				srvCPU = fmt.Sprintf("%.2fs", r.s.srvCPU.Seconds())
			}
			fmt.Printf("| %s | %.2fs | %.2f | %.2f | %s | %d | %d | %d | %s | %.2fs | %s | %s |\n",
				r.tool.name, r.s.wall.Seconds(), r.s.wall.Seconds()/ref.wall.Seconds(), r.s.wall.Seconds()/g.wall.Seconds(),
				result, r.faults, r.s.requests, r.s.conns, mib(r.s.bytes), r.s.cpu.Seconds(), srvCPU, r.eq)
		}
		fmt.Println()
	}
	for _, res := range results {
		name := res.profile.name
		gd, g, sv := res.rows[0], res.rows[1], res.rows[2]
		say := func(r faultRow) string {
			if r.failed != nil {
				return fmt.Sprintf("failed (exit status %d) after %.2fs", r.failed.code, r.s.wall.Seconds())
			}
			return fmt.Sprintf("completed in %.2fs", r.s.wall.Seconds())
		}
		fmt.Printf("faults %s: go through serve %s", name, say(sv))
		if sv.failed == nil && g.failed == nil {
			fmt.Printf(", %.2fx gomodfetch direct", sv.s.wall.Seconds()/g.s.wall.Seconds())
			if name == "flaky" {
				fmt.Printf(" (issue 26's target: within 2x)")
			}
		}
		fmt.Printf("; gomodfetch direct %s; go direct %s\n", say(g), say(gd))
		if sv.failed == nil {
			fmt.Printf("faults %s through serve: %d zip requests found the zip cached (prefetched), %d waited for upstream\n", name, sv.s.zipHit, sv.s.zipMiss)
		}
		for i, r := range res.rows {
			if r.failed != nil {
				detail := fmt.Sprintf("faults %s, %s: %s", name, r.tool.name, firstLines(r.failed.Error(), 12))
				if r.srvLog != "" {
					detail += "\n\tserve's log:\n\t" + strings.ReplaceAll(r.srvLog, "\n", "\n\t")
				}
				if i == 0 { // go does not retry: expected
					fmt.Printf("(expected) %s\n", detail)
				} else {
					fmt.Printf("FAILED %s\n", detail)
					problems = append(problems, fmt.Sprintf("faults %s: %s failed", name, r.tool.name))
				}
			}
			if len(r.diffs) > 0 {
				diffs := r.diffs
				if len(diffs) > 5 {
					diffs = append(diffs[:5:5], fmt.Sprintf("... and %d more", len(diffs)-5))
				}
				fmt.Printf("MISMATCH faults %s: %s: the cache differs from go's over the clean upstream:\n\t%s\n", name, r.tool.name, strings.Join(diffs, "\n\t"))
				problems = append(problems, fmt.Sprintf("faults %s: %s's cache differs", name, r.tool.name))
			}
		}
	}
	fmt.Println()
	return problems
}

// faultSummary ends a run of the fault profiles alone.
func faultSummary(o options, work string, results []faultResult, ref goRef, profiles []faultProfile) error {
	problems := printFaultTables(results, ref, profiles)
	if o.keep {
		fmt.Printf("caches and logs kept under %s\n", work)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d runs under upstream faults failed or differ", len(problems))
	}
	return nil
}

// firstLines returns the first n lines of s, one tab-indented line each
// after the first.
func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = append(lines[:n:n], fmt.Sprintf("... (%d more lines)", len(lines)-n))
	}
	return strings.Join(lines, "\n\t")
}

// goCleanRef runs go mod download once over the clean upstream, for the
// runs under faults to be compared with (when -upstream-faults has no
// clean rounds to take it from).
func goCleanRef(o options, set *moduleSet, work, gmf, goPath string, px *faultproxy.Server, baseEnv []string) (goRef, error) {
	dir := filepath.Join(work, "faults-ref")
	project, cache := filepath.Join(dir, "app"), filepath.Join(dir, "cache")
	if err := writeProject(project, set); err != nil {
		return goRef{}, err
	}
	cmd, env := coldCmd(o, coldTool{name: "go mod download"}, gmf, goPath, project, append(slices.Clip(baseEnv),
		"GOMODCACHE="+cache, "GOPATH="+filepath.Join(dir, "gopath")))
	px.SetRules(nil)
	s, err := measure(px, cmd, env)
	if err != nil {
		return goRef{}, fmt.Errorf("go mod download over the clean upstream: %v", err)
	}
	if o.verbose {
		fmt.Printf("faults reference: go mod download over the clean upstream %.2fs\n", s.wall.Seconds())
	}
	return goRef{cache: cache, wall: s.wall}, nil
}

// faultProfileText says what the profiles are: their rules, one line each.
func faultProfileText(ps []faultProfile) string {
	var b strings.Builder
	for _, p := range ps {
		var rules []string
		for _, l := range strings.Split(strings.TrimSpace(p.rules), "\n") {
			rules = append(rules, "`"+strings.TrimSpace(l)+"`")
		}
		fmt.Fprintf(&b, "- %s: %s\n", p.name, strings.Join(rules, "; "))
	}
	return b.String()
}

// benchSumDBName names the checksum database startSumDB serves.
const benchSumDBName = "sum.bench.test"

// startSumDB starts a checksum database on 127.0.0.1 that vouches for
// every module version of tree (a GOPROXY tree), its hashes computed from
// the tree's files, and returns the GOSUMDB value that names it. The
// versions in the cache ref (go's, over the clean upstream) are looked up
// before it starts, in a fixed order, so no run pays for hashing them or
// for building the tree; others are hashed when first asked for. Serve
// verifies what it stores against it under the fault profiles, as it does
// against sum.golang.org when deployed: with GOSUMDB=off it has nothing to
// check a go.mod against, and stores and serves whatever upstream sent.
// It is not faulted.
func startSumDB(tree, ref string) (gosumdb string, stop func(), err error) {
	skey, vkey, err := note.GenerateKey(crand.Reader, benchSumDBName)
	if err != nil {
		return "", nil, err
	}
	ts := sumdb.NewTestServer(skey, func(path, vers string) ([]byte, error) {
		return goSumLines(tree, module.Version{Path: path, Version: vers})
	})
	mods, err := cachedVersions(ref)
	if err != nil {
		return "", nil, err
	}
	for _, m := range mods {
		if _, err := ts.Lookup(context.Background(), m); err != nil {
			return "", nil, fmt.Errorf("the checksum database: %s: %v", m, err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: sumdb.NewServer(ts)}
	go srv.Serve(l)
	return vkey + " http://" + l.Addr().String(), func() { srv.Close() }, nil
}

// goSumLines returns the go.sum lines of m, from its files in tree.
func goSumLines(tree string, m module.Version) ([]byte, error) {
	epath, err1 := module.EscapePath(m.Path)
	ever, err2 := module.EscapeVersion(m.Version)
	if err := cmp.Or(err1, err2); err != nil {
		return nil, err
	}
	base := filepath.Join(tree, filepath.FromSlash(epath), "@v", ever)
	var b strings.Builder
	if zh, err := dirhash.HashZip(base+".zip", dirhash.DefaultHash); err == nil {
		fmt.Fprintf(&b, "%s %s %s\n", m.Path, m.Version, zh)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	mh, err := dirhash.DefaultHash([]string{"go.mod"}, func(string) (io.ReadCloser, error) { return os.Open(base + ".mod") })
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(&b, "%s %s/go.mod %s\n", m.Path, m.Version, mh)
	return []byte(b.String()), nil
}

// cachedVersions lists the module versions that have a .mod in the
// module cache at cache, sorted.
func cachedVersions(cache string) ([]module.Version, error) {
	dl := filepath.Join(cache, "cache", "download")
	var mods []module.Version
	err := filepath.WalkDir(dl, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p == filepath.Join(dl, "sumdb") {
			return filepath.SkipDir
		}
		if d.IsDir() || filepath.Ext(p) != ".mod" {
			return nil
		}
		rel, _ := filepath.Rel(dl, strings.TrimSuffix(p, ".mod"))
		epath, ever, ok := strings.Cut(filepath.ToSlash(rel), "/@v/")
		if !ok {
			return nil
		}
		path, err1 := module.UnescapePath(epath)
		vers, err2 := module.UnescapeVersion(ever)
		if err1 == nil && err2 == nil {
			mods = append(mods, module.Version{Path: path, Version: vers})
		}
		return nil
	})
	slices.SortFunc(mods, func(a, b module.Version) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Version, b.Version))
	})
	return mods, err
}
