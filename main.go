// Command gomodfetch is a resilient, faster, drop-in replacement for
// `go mod download`: it reads go.mod, resolves the module graph as the go
// command does, fetches from the GOPROXY list with retries over a bounded
// worker pool, verifies every byte against go.sum, and writes the standard
// module cache layout.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/mod/module"
	"golang.org/x/sync/errgroup"

	"gomodfetch/download"
	"gomodfetch/internal/termsafe"
	"gomodfetch/resolver"
	"gomodfetch/retry"
)

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr)) }

// exitUsage is the exit status for bad flags, as the go command uses.
const exitUsage = 2

// options are the command-line settings after GOFLAGS is applied.
type options struct {
	json, trace, modCacheRW, quiet bool
	chdir, modFile, reuse          string
	jobs, retries                  int
	timeout, stallTimeout          time.Duration
	minRate                        int64
	retryInitial, retryMax         time.Duration
	hedgeDelay                     time.Duration
	hedgeAcrossComma               bool
	connectTimeout, headerTimeout  time.Duration
	args                           []string
}

func run(args []string, stdout, stderr io.Writer) int {
	// Everything printed on stderr may quote a server or a child process;
	// only the progress display writes its own control sequences.
	rawStderr := stderr
	stderr = termsafe.Writer(stderr)
	var (
		opts   options
		parsed bool
	)
	app := &cli.App{
		Name:      "gomodfetch",
		Usage:     "a resilient, faster, drop-in replacement for `go mod download`",
		UsageText: "gomodfetch [-x] [-json] [-C dir] [-modcacherw] [-j N] [modules]",
		Description: "With no arguments, downloads what `go mod download` would: the modules required by\n" +
			"the main module (go 1.17 or later) or the whole build list (older go.mod files).\n" +
			"Arguments are module queries (path@version), module paths, or \"all\".\n\n" +
			"Examples:\n" +
			"   gomodfetch                              # instead of: go mod download\n" +
			"   gomodfetch -json                        # one JSON object per module on stdout\n" +
			"   gomodfetch -x                           # trace every request on stderr\n" +
			"   gomodfetch golang.org/x/mod@v0.20.0     # an explicit module version\n" +
			"   gomodfetch -C ./svc -modcacherw         # another directory, writable cache\n" +
			"   gomodfetch all                          # the whole build list\n" +
			"   gomodfetch -q -timeout 10m              # no progress or summary; give up after 10 minutes\n" +
			"   gomodfetch -j 32 -retries 8             # more parallel downloads, more patience\n" +
			"   gomodfetch version                      # version, Go version, commit\n" +
			"   source <(gomodfetch completion bash)    # shell completion (bash or zsh)\n\n" +
			"Progress goes to stderr: a status line on a terminal, a line every 10s otherwise.",
		HideHelpCommand:      true,
		Writer:               stderr,
		ErrWriter:            stderr,
		EnableBashCompletion: true,
		Commands:             commands(stdout), // commands.go
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print a JSON object per module on stdout, like go mod download -json"},
			&cli.BoolFlag{Name: "x", Usage: "print each request (# get URL) and its outcome on stderr, like go mod download -x"},
			&cli.StringFlag{Name: "C", Usage: "change to `dir` before doing anything"},
			&cli.BoolFlag{Name: "modcacherw", Usage: "leave extracted module directories writable"},
			&cli.StringFlag{Name: "modfile", Usage: "read `file` instead of go.mod (and the .sum beside it)"},
			&cli.StringFlag{Name: "reuse", Usage: "read `file`, a previous -json output: accepted for compatibility with go mod download -reuse"},
			&cli.StringFlag{Name: "mod", Usage: "accepted for compatibility (-mod=readonly|mod|vendor); go.mod is never modified"},
			&cli.IntFlag{Name: "j", Value: defaultJobs, Usage: "download up to `N` modules at a time"},
			&cli.BoolFlag{Name: "q", Usage: "no progress display and no summary line"},
			&cli.DurationFlag{Name: "timeout", Usage: "give up on the whole run after `d` (0: no limit)"},
			&cli.DurationFlag{Name: "stall-timeout", Value: 30 * time.Second, Usage: "cut a response that sends no byte for `d`"},
			&cli.Int64Flag{Name: "min-rate", Value: 100, Usage: "cut a response that brings fewer than `N` bytes/s over a whole -stall-timeout window (0: no minimum)"},
			&cli.DurationFlag{Name: "connect-timeout", Value: 15 * time.Second, Usage: "bound each connection and TLS handshake to `d`"},
			&cli.DurationFlag{Name: "header-timeout", Value: 30 * time.Second, Usage: "bound the wait for response headers to `d`"},
			&cli.IntFlag{Name: "retries", Value: 8, Usage: "retry a transient failure (5xx, 429, reset, timeout, truncated or corrupt body) up to `N` times per proxy"},
			&cli.DurationFlag{Name: "retry-initial", Value: 200 * time.Millisecond, Usage: "first backoff wait `d` (doubling, with jitter; a server's Retry-After is honoured)"},
			&cli.DurationFlag{Name: "retry-max", Value: 5 * time.Second, Usage: "longest backoff wait `d`"},
			&cli.DurationFlag{Name: "hedge-delay", Value: time.Second, Usage: "in a GOPROXY run joined by '|', also ask the next proxy when one has not answered in `d` (0: only after a failure)"},
			&cli.BoolFlag{Name: "hedge-across-comma", Usage: "treat ',' in GOPROXY like '|' (hedge and fall through on any error); later proxies then see requests for every module, which a ',' list keeps from them"},
		},
		Action: func(c *cli.Context) error {
			parsed = true
			opts = options{
				json:             c.Bool("json"),
				trace:            c.Bool("x"),
				chdir:            c.String("C"),
				modCacheRW:       c.Bool("modcacherw"),
				modFile:          c.String("modfile"),
				reuse:            c.String("reuse"),
				jobs:             c.Int("j"),
				quiet:            c.Bool("q"),
				timeout:          c.Duration("timeout"),
				stallTimeout:     c.Duration("stall-timeout"),
				minRate:          c.Int64("min-rate"),
				connectTimeout:   c.Duration("connect-timeout"),
				headerTimeout:    c.Duration("header-timeout"),
				retries:          c.Int("retries"),
				retryInitial:     c.Duration("retry-initial"),
				retryMax:         c.Duration("retry-max"),
				hedgeDelay:       c.Duration("hedge-delay"),
				hedgeAcrossComma: c.Bool("hedge-across-comma"),
				args:             c.Args().Slice(),
			}
			// GOFLAGS supplies what the command line did not set.
			flags, err := parseGoFlags(newGoEnv(os.Getenv).Get("GOFLAGS"))
			if err != nil {
				return err
			}
			if !c.IsSet("modcacherw") && flags.bool("modcacherw") {
				opts.modCacheRW = true
			}
			if !c.IsSet("x") && flags.bool("x") {
				opts.trace = true
			}
			if !c.IsSet("modfile") && flags["modfile"] != "" {
				opts.modFile = flags["modfile"]
			}
			return nil
		},
		ExitErrHandler: func(*cli.Context, error) {},
	}
	if isCompletion(args) {
		app.Writer = stdout
	}
	if err := app.Run(args); err != nil {
		fmt.Fprintf(stderr, "gomodfetch: %v\n", err)
		return exitUsage
	}
	if !parsed {
		return 0 // -h / --help
	}
	if opts.jobs < 1 {
		fmt.Fprintf(stderr, "gomodfetch: -j must be at least 1\n")
		return exitUsage
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"timeout", opts.timeout}, {"stall-timeout", opts.stallTimeout}, {"connect-timeout", opts.connectTimeout},
		{"header-timeout", opts.headerTimeout}, {"retry-initial", opts.retryInitial}, {"retry-max", opts.retryMax}, {"hedge-delay", opts.hedgeDelay}} {
		if d.v < 0 {
			fmt.Fprintf(stderr, "gomodfetch: -%s must not be negative (got %v)\n", d.name, d.v)
			return exitUsage
		}
	}
	if opts.minRate < 0 {
		fmt.Fprintf(stderr, "gomodfetch: -min-rate must not be negative (got %d)\n", opts.minRate)
		return exitUsage
	}
	return runDownload(opts, stdout, stderr, rawStderr)
}

// defaultJobs is sized for the network, not the CPU: module downloads are
// latency-bound. On the benchmark (go run ./bench: 50ms RTT, 8 MB/s per
// connection) 32 came within 1.1x of the network's floor where 16 took
// 1.2x and 8 1.4x; 64 gained little more for twice the connections.
const defaultJobs = 32

// runDownload is the whole run after the flags are parsed: environment,
// main module, plan, downloads, output and exit status.
//
// stderr escapes control characters (termsafe); rawStderr is the same
// stream unfiltered, for the progress display alone.
func runDownload(opts options, stdout, stderr, rawStderr io.Writer) int {
	start := time.Now()
	ctx, intr := notifyInterrupts(context.Background())
	defer intr.stop()
	if opts.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.timeout)
		defer cancel()
	}
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "gomodfetch: "+format+"\n", args...)
		return 1
	}

	if opts.chdir != "" {
		if err := os.Chdir(opts.chdir); err != nil {
			return fail("-C: %v", err)
		}
	}
	env := newGoEnv(os.Getenv)
	cfg, err := loadConfig(env)
	if err != nil {
		return fail("%v", err)
	}
	if fi, err := os.Stat(cfg.modCache); (err == nil && !fi.IsDir()) || errors.Is(err, syscall.ENOTDIR) {
		return fail("module cache %s (GOMODCACHE) is not a directory; set GOMODCACHE to a directory", cfg.modCache)
	}
	if cfg.warning != "" {
		fmt.Fprintf(stderr, "gomodfetch: warning: %s\n", cfg.warning)
	}

	mainMod, err := loadMain(opts, env)
	if err != nil {
		return fail("%v", err)
	}
	if opts.reuse != "" && mainMod != nil {
		return fail("-reuse cannot be used inside a module")
	}
	var sums *download.Sums
	if mainMod != nil {
		sums, err = download.ReadSums(mainMod.SumFile())
		if err != nil {
			return fail("%v", err)
		}
		for _, file := range mainMod.SumFiles() {
			if err := sums.Include(file); err != nil {
				return fail("%v", err)
			}
		}
	}

	plan, err := resolver.NewPlan(mainMod, opts.args)
	if err != nil {
		return fail("%v", err)
	}
	if mainMod != nil {
		for _, n := range mainMod.ExcludedNotes() {
			fmt.Fprintf(stderr, "gomodfetch: %s\n", n)
		}
	}
	for _, n := range plan.Notes {
		fmt.Fprintf(stderr, "gomodfetch: %s\n", n)
	}
	if mainMod != nil && len(opts.args) == 0 && len(mainMod.File.Require) == 0 && !mainMod.Workspace {
		fmt.Fprintf(stderr, "gomodfetch: no module dependencies to download\n")
		return 0
	}

	prog := newProgress(rawStderr, opts.quiet) // progress.go
	defer prog.stop()
	var trace io.Writer
	if opts.trace {
		trace = prog.writer(stderr)
	}
	client := &download.Client{
		HTTP:         download.NewHTTPClient(opts.connectTimeout, opts.headerTimeout, opts.jobs),
		Trace:        trace,
		StallTimeout: opts.stallTimeout,
		MinRate:      opts.minRate,
		Auth:         cfg.auth,
	}
	policy := retry.DefaultPolicy()
	policy.MaxAttempts = opts.retries + 1
	if opts.retries < 0 {
		policy.MaxAttempts = -1
	}
	policy.Initial, policy.Max = opts.retryInitial, opts.retryMax
	hedge := opts.hedgeDelay
	if hedge == 0 {
		hedge = -1 // download.Config: negative means no timed hedging
	}
	cache := &download.Cache{Root: cfg.modCache, ReadWrite: opts.modCacheRW}
	fetcher := download.New(download.Config{
		Cache:            cache,
		Proxies:          cfg.proxies,
		Client:           client,
		Verifier:         &download.Verifier{Sums: sums, SkipSumDB: cfg.skipSumDB, DB: cfg.sumDB(ctx, client, policy)},
		NoProxy:          cfg.noProxy,
		Policy:           policy,
		HedgeDelay:       hedge,
		HedgeAcrossComma: opts.hedgeAcrossComma,
		Direct:           cfg.direct(env, opts, trace, policy),
	})
	prog.run(fetcher.Progress)

	// The graph is read while the zips that are already known download.
	type graphResult struct {
		g   *resolver.Graph
		err error
	}
	graphDone := make(chan graphResult, 1)
	if plan.NeedsGraph {
		go func() {
			g, err := resolver.LoadGraph(ctx, mainMod, fetcher, opts.jobs)
			graphDone <- graphResult{g, err}
		}()
	} else {
		close(graphDone)
	}
	waitGraph := sync.OnceValue(func() graphResult { return <-graphDone })

	// A graph that fails to load ends a pruned module's no-argument run
	// at once, as go ends it: one error, nothing downloaded, no -json
	// object. Any other run goes on with what could be read (go lists the
	// partial build list) and reports the failure after the objects.
	var failed bool
	var graphErr error // reported after the -json objects
	// graphEndsRun says whether a failed graph ends a pruned module's
	// no-argument run; not when the run was interrupted or the cache is
	// unusable, which are reported with the modules that did finish.
	graphEndsRun := func() bool { return intr.signal() == nil && fetcher.CacheError() == nil }
	if plan.Wait {
		g := waitGraph()
		if g.err != nil {
			failed, graphErr = true, g.err
		}
		if g.g != nil {
			plan.Finish(ctx, g.g)
		}
	}
	var resolved *resolver.Graph
	if plan.Wait {
		resolved = waitGraph().g
	}
	plan.ResolveQueries(ctx, fetcher, resolved)

	// Downloads start now; a speculative target (a require line started
	// before the graph is read) commits nothing until the graph selects it,
	// and Settle then adds what the graph selects instead.
	var (
		eg      errgroup.Group
		first   = make([]*download.Module, len(plan.Targets))
		settled = map[int]*download.Module{}
		mu      sync.Mutex
	)
	eg.SetLimit(opts.jobs)
	launch := func(i int, out func(*download.Module)) {
		t := plan.Targets[i]
		if t.Version == "" && t.Err == nil {
			return // replaced by a directory, or waiting for the graph
		}
		var keep func() bool
		if t.Speculative {
			// If the graph cannot be read, the version go.mod gives is
			// kept: it is verified, and the failure is reported anyway.
			keep = func() bool {
				if g := waitGraph(); g.err == nil {
					return t.Keep(g.g)
				}
				return !graphEndsRun()
			}
		}
		eg.Go(func() error {
			out(fetchTarget(ctx, fetcher, t, keep))
			return nil
		})
	}
	prog.setTotal(countDownloads(plan.Targets))
	for i := range plan.Targets {
		launch(i, func(m *download.Module) { first[i] = m })
	}
	g := waitGraph()
	fatalGraph := false // the whole run ends with the graph's error
	if plan.NeedsGraph && !plan.Wait {
		if g.err != nil && graphEndsRun() {
			failed, fatalGraph = true, true
			graphError(prog.writer(stderr), intr, fetcher, g.err)
		} else if g.err != nil {
			failed = true // reported with the modules that did finish
			graphError(prog.writer(stderr), intr, fetcher, g.err)
		} else {
			changed := plan.Settle(g.g)
			for _, i := range changed {
				launch(i, func(m *download.Module) {
					mu.Lock()
					settled[i] = m
					mu.Unlock()
				})
			}
			if len(changed) > 0 {
				prog.setTotal(countDownloads(plan.Targets))
			}
		}
	}
	eg.Wait()
	prog.stop()
	var results []*download.Module
	for i := range plan.Targets {
		m := first[i]
		if s, ok := settled[i]; ok {
			m = s
		} else if plan.Targets[i].Speculative && g.err == nil && !plan.Targets[i].Keep(g.g) {
			m = nil // started at a version the graph does not select
		}
		if fatalGraph {
			m = nil
		}
		if m != nil {
			results = append(results, m)
		}
	}

	if opts.json {
		for _, m := range results {
			b, err := json.MarshalIndent(m, "", "\t")
			if err != nil {
				return fail("%v", err)
			}
			stdout.Write(append(termsafe.JSON(b), '\n'))
		}
	}
	nerr := 0
	var unfinished []string
	cacheErr := fetcher.CacheError()
	for _, m := range results {
		if m.Error != "" {
			nerr++
			failed = true
			switch {
			case intr.signal() != nil:
				unfinished = append(unfinished, m.Path+"@"+m.Version)
			case cacheErr != nil && cacheUnusable(m.Err()):
				// reported once below
			case !opts.json:
				fmt.Fprintf(stderr, "gomodfetch: %s\n", m.Error)
			}
		}
	}
	if graphErr != nil {
		graphError(stderr, intr, fetcher, graphErr)
	}
	if cacheErr != nil && intr.signal() == nil {
		fmt.Fprintf(stderr, "gomodfetch: module cache %s is not usable: %v\n", cfg.modCache, cacheErr)
	}
	// Like go, -json still records the sums of what did download when
	// some modules failed.
	// go.sum records what was verified; like go, -json still records the
	// sums of what did download when some modules failed.
	// With no arguments, go records the go.mod sums of the graph as soon
	// as it is read, whatever the downloads then do.
	noArgs := len(opts.args) == 0
	writeSums := mainMod != nil && !fatalGraph && (noArgs || !failed || opts.json)
	if writeSums {
		if err := sums.WriteAdded(cache, plan.SumsToKeep(g.g)); err != nil {
			fmt.Fprintf(stderr, "gomodfetch: updating %s: %v\n", mainMod.SumFile(), err)
			failed = true
		}
	}
	if !opts.quiet {
		st := fetcher.Stats()
		fmt.Fprintf(stderr, "gomodfetch: %d modules (%d downloaded, %d failed), %d requests, %s, %d retries, %.2fs%s\n",
			len(results), st.Zips, nerr, st.Requests, humanBytes(st.Bytes), st.Retries, time.Since(start).Seconds(), servedBy(st.Served))
	}
	if intr.signal() != nil {
		reportInterrupt(stderr, intr, len(results), unfinished)
		return intr.exitCode()
	}
	if failed {
		return 1
	}
	return 0
}

// fetchTarget downloads one target; keep, if not nil, gates the commit (see
// download.Fetcher.DownloadIf), and a target it turns down yields nil.
func fetchTarget(ctx context.Context, f *download.Fetcher, t resolver.Target, keep func() bool) *download.Module {
	if t.Err != nil {
		return &download.Module{Path: t.Path, Version: t.Version, Error: t.Err.Error()}
	}
	m := f.DownloadIf(ctx, module.Version{Path: t.Path, Version: t.Version}, keep)
	if m == nil {
		return nil
	}
	m.Query = t.Query
	if !t.Explicit {
		m.Origin = nil // the go command reports Origin only for path@version arguments
	}
	return m
}

// loadMain finds and parses the main module's go.mod, or returns nil
// outside a module.
func loadMain(opts options, env *goEnv) (*resolver.Main, error) {
	if env.Get("GO111MODULE") == "off" {
		return nil, errors.New("modules disabled by GO111MODULE=off; see 'go help modules'")
	}
	if work, err := findWork(env.Get("GOWORK")); err != nil || work != "" {
		if err != nil {
			return nil, err
		}
		return resolver.LoadWorkspace(work)
	}
	if opts.modFile != "" {
		if !strings.HasSuffix(opts.modFile, ".mod") {
			return nil, fmt.Errorf("-modfile=%s: file does not have .mod extension", opts.modFile)
		}
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		root := wd
		if gm, err := resolver.FindGoMod(wd); err == nil {
			root = filepath.Dir(gm)
		}
		file, _ := filepath.Abs(opts.modFile)
		return resolver.LoadMain(root, file)
	}
	gm, err := resolver.FindGoMod(".")
	if errors.Is(err, resolver.ErrNoGoMod) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return resolver.LoadMain(filepath.Dir(gm), gm)
}

// findWork returns the go.work file in use, as GOWORK and the working
// directory say, or "" outside a workspace.
func findWork(gowork string) (string, error) {
	switch gowork {
	case "off":
		return "", nil
	case "", "auto":
		return resolver.FindWork("."), nil
	}
	if !filepath.IsAbs(gowork) {
		return "", errors.New("invalid GOWORK: not an absolute path")
	}
	return gowork, nil
}

// config is the part of the Go environment that governs downloads.
type config struct {
	modCache  string
	proxies   []download.Proxy
	noProxy   func(string) bool
	skipSumDB func(string) bool
	trust     // checksum database, direct fetches (trust.go)
}

func loadConfig(env *goEnv) (*config, error) {
	c := &config{}
	var err error
	if c.modCache, err = env.modCache(); err != nil {
		return nil, err
	}
	goproxy := env.Get("GOPROXY")
	if goproxy == "" {
		goproxy = "https://proxy.golang.org,direct"
	}
	if c.proxies, err = download.ParseProxyList(goproxy); err != nil {
		return nil, err
	}
	private := env.Get("GOPRIVATE")
	noProxy := env.Get("GONOPROXY")
	if noProxy == "" {
		noProxy = private
	}
	noSumDB := env.Get("GONOSUMDB")
	if noSumDB == "" {
		noSumDB = private
	}
	c.noProxy = func(path string) bool { return module.MatchPrefixPatterns(noProxy, path) }
	if err := c.trust.load(env); err != nil {
		return nil, err
	}
	sumdbOff := c.trust.sumdb == nil
	c.skipSumDB = func(path string) bool {
		return sumdbOff || module.MatchPrefixPatterns(noSumDB, path)
	}
	return c, nil
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// servedBy says which proxies served the downloaded zips, when more than
// one did.
func servedBy(served map[string]int) string {
	if len(served) < 2 {
		return ""
	}
	names := make([]string, 0, len(served))
	for p := range served {
		names = append(names, p)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("; served by")
	for i, p := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, " %s: %d", p, served[p])
	}
	return b.String()
}
