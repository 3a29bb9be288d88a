package project

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
	"gomodfetch/proxy"
	"gomodfetch/resolver"
	"gomodfetch/retry"
	"gomodfetch/toolchain"
	"gomodfetch/verify"
)

// config is the part of the Go environment that governs downloads, read
// as the go command reads it (env.go).
type config struct {
	env       *Env
	modCache  string
	proxies   []proxy.Proxy
	noProxy   func(string) bool
	skipSumDB func(string) bool
	// sumdb is the parsed GOSUMDB; nil for GOSUMDB=off.
	sumdb *verify.SumDBSpec
	// sumdbErr is a GOSUMDB that does not parse: reported by each module
	// that needs the database.
	sumdbErr error
	// sumdbConfigDir is $GOPATH/pkg/sumdb ("" if GOPATH is unknown).
	sumdbConfigDir string
	// auth supplies GOAUTH / .netrc credentials to https requests.
	auth *goauth.Auth
	// private reports whether a path is private (GOPRIVATE, GONOPROXY or
	// GONOSUMDB): kept out of the fleet cache unless -cache-private.
	private func(string) bool
	// warning, if not empty, is to be shown once.
	warning string
}

func loadConfig(env *Env) (*config, error) {
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
		// As go: a GOSUMDB that does not parse fails each module that
		// needs the database, when it needs it; one go.sum covers runs.
		c.sumdbErr = err
	}
	if c.sumdb != nil {
		c.warning = privacyWarning(env, c.sumdb.Name)
	}
	if gp, err := env.gopath(); err == nil {
		c.sumdbConfigDir = filepath.Join(gp, "pkg", "sumdb")
	}
	sumdbOff := c.sumdb == nil && c.sumdbErr == nil
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

// engine is how a project's downloads are made: the settings, the run's
// toolchain, its -reuse records, the fleet cache and where the run's words
// go. The engine for one download is made anew from it (engineConfig).
type engine struct {
	cfg *config
	s   Settings
	// switched is the toolchain the run switched to, whose go command the
	// hand-offs use; nil if none.
	switched  *toolchain.Running
	reuseFile string
	reuseDir  string
	reuseKeys map[module.Version]bool
	fleet     download.Fleet // nil without a fleet cache
	trace     io.Writer
	warn      func(msg string)
}

// engineConfig assembles the download engine for one run: an HTTP client
// with the run's timeouts and credentials, the GOPROXY router with its
// retry policy and hedging, the verifier with sums and the checksum
// database, the module cache, and the go command for what only version
// control has.
func (e *engine) engineConfig(ctx context.Context, c *config, sums *verify.Sums) download.Config {
	s := e.s
	client := &proxy.Client{
		HTTP:         proxy.NewHTTPClient(s.ConnectTimeout, s.HeaderTimeout, s.Conns),
		Trace:        e.trace,
		StallTimeout: s.StallTimeout,
		MinRate:      s.MinRate,
		Auth:         c.auth,
		PerHost:      s.Conns,
		Parallel:     4, // ranges for a zip of 16 MiB or more
	}
	policy := retry.DefaultPolicy()
	policy.MaxAttempts = s.Retries + 1
	policy.Initial, policy.Max = s.RetryInitial, s.RetryMax
	hedge := s.HedgeDelay
	if hedge == 0 {
		hedge = -1 // proxy.Router: negative means no timed hedging
	}
	cache := &modcache.Cache{Root: c.modCache, ReadWrite: s.ModCacheRW}
	var db verify.SumDB
	if c.sumdbErr != nil {
		db = verify.FailingSumDB{Err: c.sumdbErr}
	}
	if c.sumdb != nil {
		db = verify.NewSumDB(verify.SumDBConfig{
			Spec:       c.sumdb,
			Proxies:    c.proxies,
			Client:     client,
			Policy:     policy,
			HedgeDelay: hedge,
			HedgeSame:  true,
			Fleet:      e.fleet,
			Skip:       c.skipSumDB,
			CacheDir:   filepath.Join(c.modCache, "cache", "download", "sumdb"),
			ConfigDir:  c.sumdbConfigDir,
			Context:    ctx,
		})
	}
	goflags := c.env.Get("GOFLAGS")
	if s.ModCacheRW {
		goflags += " -modcacherw"
	}
	runner := &gocmd.Runner{
		Env:      append(os.Environ(), "GOMODCACHE="+c.modCache),
		GoFlags:  strings.TrimSpace(goflags),
		Policy:   policy,
		Trace:    e.trace,
		Reuse:    e.reuseFile,
		ReuseDir: e.reuseDir,
	}
	if sw := e.switched; sw != nil && sw.Go != "" {
		// go, switched to that toolchain, would fetch these itself.
		runner.GoBin = sw.Go
		runner.Env = append(runner.Env, sw.ExecEnv()...)
	}
	return download.Config{
		Cache:     cache,
		Downloads: s.Jobs,
		Router: &proxy.Router{
			Proxies:          c.proxies,
			Client:           client,
			NoProxy:          c.noProxy,
			Policy:           policy,
			HedgeDelay:       hedge,
			HedgeSame:        true,
			HedgeAcrossComma: s.HedgeAcrossComma,
		},
		Verifier:  &verify.Verifier{Sums: sums, SkipSumDB: c.skipSumDB, DB: db, Warn: e.warn},
		Fleet:     e.fleet,
		GoCommand: runner,
		ReuseKeys: e.reuseKeys,
	}
}

// privacyWarning says which GONOPROXY patterns GONOSUMDB (default
// GOPRIVATE) does not cover: their paths never reach a proxy but are still
// looked up, by name, in the checksum database.
func privacyWarning(env *Env, dbName string) string {
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
func loadMain(wd, modFile string, env *Env) (*resolver.Main, error) {
	if env.Get("GO111MODULE") == "off" {
		return nil, errors.New("modules disabled by GO111MODULE=off; see 'go help modules'")
	}
	work, err := findWork(wd, env.Get("GOWORK"))
	if err != nil {
		return nil, err
	}
	if work != "" {
		if modFile != "" {
			return nil, errors.New("-modfile cannot be used in workspace mode")
		}
		return resolver.LoadWorkspace(work, wd)
	}
	var m *resolver.Main
	if modFile != "" {
		if !strings.HasSuffix(modFile, ".mod") {
			return nil, fmt.Errorf("-modfile=%s: file does not have .mod extension", modFile)
		}
		root := wd
		if gm, err := resolver.FindGoMod(wd); err == nil {
			root = filepath.Dir(gm)
		}
		file := modFile
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
