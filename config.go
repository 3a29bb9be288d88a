package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/mod/module"

	"gomodfetch/download"
	"gomodfetch/goauth"
	"gomodfetch/gocmd"
	"gomodfetch/modcache"
	"gomodfetch/pipeline"
	"gomodfetch/proxy"
	"gomodfetch/resolver"
	"gomodfetch/retry"
	"gomodfetch/toolchain"
	"gomodfetch/verify"
)

// config is the part of the Go environment that governs downloads, read
// as the go command reads it (env.go).
type config struct {
	env       *goEnv
	modCache  string
	proxies   []proxy.Proxy
	noProxy   func(string) bool
	skipSumDB func(string) bool
	// sumdb is the parsed GOSUMDB; nil for GOSUMDB=off.
	sumdb *verify.SumDBSpec
	// sumdbConfigDir is $GOPATH/pkg/sumdb ("" if GOPATH is unknown).
	sumdbConfigDir string
	// auth supplies GOAUTH / .netrc credentials to https requests.
	auth *goauth.Auth
	// private reports whether a path is private (GOPRIVATE, GONOPROXY or
	// GONOSUMDB): kept out of the fleet cache unless -cache-private.
	private func(string) bool
	// tier is the fleet cache (fleet.go); nil without -cache-url.
	tier download.Tier
	// warning, if not empty, is printed once on stderr.
	warning string
	// warn, if not nil, prints a warning of the run on stderr.
	warn func(msg string)
}

func loadConfig(env *goEnv) (*config, error) {
	c := &config{env: env}
	var err error
	if c.modCache, err = env.modCache(); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(c.modCache); (err == nil && !fi.IsDir()) || errors.Is(err, syscall.ENOTDIR) {
		return nil, fmt.Errorf("module cache %s (GOMODCACHE) is not a directory; set GOMODCACHE to a directory", c.modCache)
	}
	goproxy := env.Get("GOPROXY")
	if goproxy == "" {
		goproxy = "https://proxy.golang.org,direct"
	}
	if c.proxies, err = proxy.ParseList(goproxy); err != nil {
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
	c.private = func(path string) bool {
		return module.MatchPrefixPatterns(private, path) || module.MatchPrefixPatterns(noProxy, path) || module.MatchPrefixPatterns(noSumDB, path)
	}
	// GOFLAGS=-insecure does not apply to go mod download (the go command
	// ignores flags a command does not define), so it changes nothing here.
	if c.auth, err = goauth.ParseGOAUTH(env.Get("GOAUTH"), goauth.NetrcPath(env.getenv)); err != nil {
		return nil, err
	}
	if c.sumdb, err = verify.ParseGOSUMDB(env.Get("GOSUMDB")); err != nil {
		return nil, err
	}
	if c.sumdb != nil {
		c.warning = privacyWarning(env, c.sumdb.Name)
	}
	if gp, err := env.gopath(); err == nil {
		c.sumdbConfigDir = filepath.Join(gp, "pkg", "sumdb")
	}
	sumdbOff := c.sumdb == nil
	// A toolchain cannot be listed in go.sum: go always checks it in the
	// checksum database, unless GOPROXY is one file:// tree.
	fileProxy := strings.HasPrefix(goproxy, "file://") && !strings.ContainsAny(goproxy, ",|")
	c.skipSumDB = func(path string) bool {
		if path == toolchain.ModulePath && !fileProxy {
			return false
		}
		return sumdbOff || module.MatchPrefixPatterns(noSumDB, path)
	}
	return c, nil
}

// fetcherFor assembles the download engine for one run: an HTTP client with
// the run's timeouts and credentials, the GOPROXY router with its retry
// policy and hedging, the verifier with go.sum and the checksum database,
// the module cache, and the go command for what only version control has.
func (c *config) fetcherFor(ctx context.Context, opts options, sums *verify.Sums, trace io.Writer) (*download.Fetcher, *modcache.Cache) {
	dc := c.engineFor(ctx, opts, sums, trace)
	return download.New(dc), dc.Cache
}

// engineFor is the download.Config that fetcherFor assembles; serve adjusts
// it before making its Fetcher.
func (c *config) engineFor(ctx context.Context, opts options, sums *verify.Sums, trace io.Writer) download.Config {
	client := &proxy.Client{
		HTTP:         proxy.NewHTTPClient(opts.connectTimeout, opts.headerTimeout, opts.conns),
		Trace:        trace,
		StallTimeout: opts.stallTimeout,
		MinRate:      opts.minRate,
		Auth:         c.auth,
		PerHost:      opts.conns,
		Parallel:     4, // ranges for a zip of 16 MiB or more
	}
	policy := retry.DefaultPolicy()
	policy.MaxAttempts = opts.retries + 1
	if opts.retries < 0 {
		policy.MaxAttempts = -1
	}
	policy.Initial, policy.Max = opts.retryInitial, opts.retryMax
	hedge := opts.hedgeDelay
	if hedge == 0 {
		hedge = -1 // proxy.Router: negative means no timed hedging
	}
	cache := &modcache.Cache{Root: c.modCache, ReadWrite: opts.modCacheRW}
	var db verify.SumDB
	if c.sumdb != nil {
		db = verify.NewSumDB(verify.SumDBConfig{
			Spec:       c.sumdb,
			Proxies:    c.proxies,
			Client:     client,
			Policy:     policy,
			HedgeDelay: hedge,
			Tier:       c.tier,
			Skip:       c.skipSumDB,
			CacheDir:   filepath.Join(c.modCache, "cache", "download", "sumdb"),
			ConfigDir:  c.sumdbConfigDir,
			Context:    ctx,
		})
	}
	goflags := c.env.Get("GOFLAGS")
	if opts.modCacheRW {
		goflags += " -modcacherw"
	}
	runner := &gocmd.Runner{
		Env:      append(os.Environ(), "GOMODCACHE="+c.modCache),
		GoFlags:  strings.TrimSpace(goflags),
		Policy:   policy,
		Trace:    trace,
		Reuse:    opts.reuse,
		ReuseDir: opts.reuseDir,
	}
	if s := opts.switched; s != nil && s.Go != "" {
		// go, switched to that toolchain, would fetch these itself.
		runner.GoBin = s.Go
		runner.Env = append(runner.Env, s.ExecEnv()...)
	}
	return download.Config{
		Cache:     cache,
		Downloads: opts.jobs,
		Router: &proxy.Router{
			Proxies:          c.proxies,
			Client:           client,
			NoProxy:          c.noProxy,
			Policy:           policy,
			HedgeDelay:       hedge,
			HedgeAcrossComma: opts.hedgeAcrossComma,
		},
		Verifier:  &verify.Verifier{Sums: sums, SkipSumDB: c.skipSumDB, DB: db, Warn: c.warn},
		Tier:      c.tier,
		GoCommand: runner,
		ReuseKeys: opts.reuseKeys,
	}
}

// privacyWarning says which GONOPROXY patterns GONOSUMDB (default
// GOPRIVATE) does not cover: their paths never reach a proxy but are still
// looked up, by name, in the checksum database.
func privacyWarning(env *goEnv, dbName string) string {
	noSumDB := env.Get("GONOSUMDB")
	if noSumDB == "" {
		noSumDB = env.Get("GOPRIVATE")
	}
	var uncovered []string
	for _, p := range strings.Split(env.Get("GONOPROXY"), ",") {
		p = strings.TrimSpace(p)
		// A pattern is covered if it matches itself as a path: the same
		// glob, or a prefix of it.
		// "none" is the documented way to say "no paths" (GONOPROXY=none
		// with GOPRIVATE set); it names no module.
		if p != "" && p != "none" && !module.MatchPrefixPatterns(noSumDB, p) {
			uncovered = append(uncovered, p)
		}
	}
	if len(uncovered) == 0 {
		return ""
	}
	return fmt.Sprintf("GONOPROXY keeps %s away from proxies, but neither GONOSUMDB nor GOPRIVATE covers it, so its module paths are still sent to checksum database %s; set GOPRIVATE (or GONOSUMDB) instead",
		strings.Join(uncovered, ","), dbName)
}

// loadMain finds and parses the main module's go.mod (or go.work) as seen
// from the working directory wd, or returns nil outside a module.
func loadMain(wd string, opts options, env *goEnv) (*resolver.Main, error) {
	if env.Get("GO111MODULE") == "off" {
		return nil, errors.New("modules disabled by GO111MODULE=off; see 'go help modules'")
	}
	work, err := findWork(wd, env.Get("GOWORK"))
	if err != nil {
		return nil, err
	}
	if work != "" {
		if opts.modFile != "" {
			return nil, errors.New("-modfile cannot be used in workspace mode")
		}
		return resolver.LoadWorkspace(work, wd)
	}
	var m *resolver.Main
	if opts.modFile != "" {
		if !strings.HasSuffix(opts.modFile, ".mod") {
			return nil, fmt.Errorf("-modfile=%s: file does not have .mod extension", opts.modFile)
		}
		root := wd
		if gm, err := resolver.FindGoMod(wd); err == nil {
			root = filepath.Dir(gm)
		}
		file := opts.modFile
		if !filepath.IsAbs(file) {
			file = filepath.Join(wd, file)
		}
		m, err = resolver.LoadMain(root, file)
	} else {
		gm, ferr := resolver.FindGoMod(wd)
		if errors.Is(ferr, resolver.ErrNoGoMod) {
			return nil, nil
		}
		if ferr != nil {
			return nil, ferr
		}
		m, err = resolver.LoadMain(filepath.Dir(gm), gm)
	}
	if err != nil {
		return nil, err
	}
	m.WorkDir = wd
	return m, nil
}

// findWork returns the go.work file in use, as GOWORK and the working
// directory wd say, or "" outside a workspace.
func findWork(wd, gowork string) (string, error) {
	switch gowork {
	case "off":
		return "", nil
	case "", "auto":
		return resolver.FindWork(wd), nil
	}
	if !filepath.IsAbs(gowork) {
		return "", errors.New("invalid GOWORK: not an absolute path")
	}
	return gowork, nil
}

// project is what every command reads first: the working directory, the
// Go environment, the main module and its go.sum files.
type project struct {
	wd   string
	env  *goEnv
	cfg  *config
	main *resolver.Main // nil outside a module
	sums *verify.Sums   // nil outside a module
}

func loadProject(opts options) (*project, error) {
	p := &project{env: newGoEnv(os.Getenv)}
	var err error
	if p.wd, err = workDir(opts.chdir); err != nil {
		return nil, err
	}
	if p.cfg, err = loadConfig(p.env); err != nil {
		return nil, err
	}
	if p.main, err = loadMain(p.wd, opts, p.env); err != nil {
		return nil, err
	}
	if p.sums, err = readSums(p.main); err != nil {
		return nil, err
	}
	return p, nil
}

// newRun prepares a run of the download pipeline for opts' arguments, on
// the engine the environment describes, or (offline) on the cache alone.
func (p *project) newRun(ctx context.Context, opts options, offline bool, interrupted func() bool) (*pipeline.Run, *modcache.Cache, error) {
	cfg := p.cfg
	if offline {
		cfg = cfg.offline()
	}
	fetcher, cache := cfg.fetcherFor(ctx, opts, p.sums, nil)
	run, err := pipeline.New(pipeline.Config{Main: p.main, Args: opts.args, Fetcher: fetcher, Cache: cache, Sums: p.sums, Jobs: opts.jobs, Interrupted: interrupted})
	return run, cache, err
}

// offline is c with every download disabled (GOPROXY=off) and nothing
// looked up in the checksum database: a cache read as it is, for working
// out what a run needs without fetching it.
func (c *config) offline() *config {
	o := *c
	o.proxies = []proxy.Proxy{{Kind: proxy.KindOff}}
	o.skipSumDB = func(string) bool { return true }
	o.sumdb = nil
	return &o
}

// readSums reads the main module's go.sum (in a workspace, go.work.sum and
// each module's go.sum), or returns nil outside a module.
func readSums(m *resolver.Main) (*verify.Sums, error) {
	if m == nil {
		return nil, nil
	}
	sums, err := verify.ReadSums(m.SumFile())
	if err != nil {
		return nil, err
	}
	for _, file := range m.SumFiles() {
		if err := sums.Include(file); err != nil {
			return nil, err
		}
	}
	return sums, nil
}
