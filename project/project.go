// Package project is the setup every gomodfetch command shares, so that
// download, verify, pack and serve cannot disagree about it: the Go
// environment read as go reads it (GOFLAGS parsed once), one Settings type
// with one default set, and opening a project: the working directory, the
// main module and its go.sum files, the module cache, the fleet cache, the
// -reuse file, and the steps go takes before it reads a module (the go
// line, the godebug lines, toolchain selection).
//
// A Project then makes downloads (Download, which switches toolchains in
// a loop as go would), works out what a download needs from the cache
// alone (Resolve), and assembles the engine for serve (EngineConfig). Close
// finishes the fleet cache, always once. The package prints nothing and
// exits nothing: what a command shows goes through Hooks and Result.
package project

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"gomodfetch/download"
	"gomodfetch/fleet"
	"gomodfetch/modcache"
	"gomodfetch/pipeline"
	"gomodfetch/resolver"
	"gomodfetch/toolchain"
	"gomodfetch/verify"
)

// Hooks are where a project's words go; any may be nil.
type Hooks struct {
	// Trace receives go-style -x lines.
	Trace io.Writer
	// Warn receives warnings (one line each, without a prefix).
	Warn func(msg string)
	// Note receives what go says as it goes ("downloading go1.x (...)",
	// "... requires go >= ...; switching to ...").
	Note func(msg string)
}

// Project is an opened project: what every command reads first.
type Project struct {
	// Dir is the working directory (Settings.Dir made absolute).
	Dir string
	// Main is the main module (or workspace) as the running toolchain
	// sees it (a missing go line added, as go adds it); nil outside a
	// module, and for a project opened with OpenEngine.
	Main *resolver.Main
	// Sums are the main module's go.sum files; nil outside a module.
	Sums *verify.Sums
	// Running is the toolchain the project runs as.
	Running toolchain.Running

	s      Settings
	cfg    *config
	eng    *engine
	loaded *resolver.Main // Main as read from disk
	fleet  *fleet.Cache   // nil without one, and once closed
	hooks  Hooks
	gate   *Gate // the supply-chain policy; nil without one (policy.go)
}

// Open opens the project s describes, in env, and takes go's steps before
// a module is read: it selects the toolchain (switching to another one if
// GOTOOLCHAIN and go.mod say so), checks the go line against it and the
// godebug lines. Its errors are the user's, as go words them; several are
// joined (errors.Join). The caller closes the project.
func Open(ctx context.Context, s Settings, env *Env, h Hooks) (*Project, error) {
	p, err := open(ctx, s, env, h, true)
	if err != nil {
		return nil, err
	}
	if err := p.start(ctx); err != nil {
		p.Close(true, true)
		return nil, err
	}
	return p, nil
}

// OpenEngine opens the engine alone, for serve: the environment, the
// module cache and the fleet cache, but no module and no toolchain.
func OpenEngine(ctx context.Context, s Settings, env *Env, h Hooks) (*Project, error) {
	return open(ctx, s, env, h, false)
}

func open(ctx context.Context, s Settings, env *Env, h Hooks, module bool) (*Project, error) {
	if h.Warn == nil {
		h.Warn = func(string) {}
	}
	if h.Note == nil {
		h.Note = func(string) {}
	}
	p := &Project{s: s, hooks: h}
	var err error
	if p.Dir, err = workDir(s.Dir); err != nil {
		return nil, err
	}
	if p.cfg, err = loadConfig(env); err != nil {
		return nil, err
	}
	if p.gate, err = loadPolicy(s); err != nil {
		return nil, err
	}
	if s.ModCache != "" {
		p.cfg.modCache = s.ModCache
		if !filepath.IsAbs(s.ModCache) {
			p.cfg.modCache = filepath.Join(p.Dir, s.ModCache)
		}
	}
	if module {
		if p.loaded, err = loadMain(p.Dir, s.ModFile, env); err != nil {
			return nil, err
		}
		if p.Sums, err = readSums(p.loaded); err != nil {
			return nil, err
		}
	}
	if p.cfg.warning != "" {
		h.Warn(p.cfg.warning)
	}
	p.eng = &engine{cfg: p.cfg, s: s, trace: h.Trace, warn: h.Warn}
	if s.Reuse != "" && p.loaded != nil {
		return nil, errors.New("go mod download -reuse cannot be used inside a module") // go's words
	}
	if s.Reuse != "" {
		if p.eng.reuseFile, p.eng.reuseKeys, err = readReuse(p.Dir, s.Reuse); err != nil {
			return nil, err
		}
		p.eng.reuseDir = p.Dir
	}
	if p.fleet, err = openFleet(ctx, s.Fleet, p.cfg.private, h.Warn); err != nil {
		return nil, err
	}
	if p.fleet != nil {
		p.eng.fleet = p.fleet
	}
	return p, nil
}

// start selects the toolchain, as go does at startup, and prepares the
// main module for it.
func (p *Project) start(ctx context.Context) error {
	env := p.cfg.env
	running, err := toolchain.NewRunning(env.Get("GOTOOLCHAIN"), toolchain.Local(env.goroot()))
	if err != nil {
		return err
	}
	if running, err = switchToolchain(ctx, p.hooks.Note, running, p.loaded, p.downloadToolchain); err != nil {
		return err
	}
	p.runAs(running)
	return p.prepareMain(ctx)
}

// runAs makes running the project's toolchain.
func (p *Project) runAs(running toolchain.Running) {
	p.Running = running
	if running.Go != "" {
		p.eng.switched = &running
	}
}

// prepareMain checks the main module as read from disk against the
// running toolchain: its go line and godebug lines; a module without a go
// line gets the one go adds.
func (p *Project) prepareMain(ctx context.Context) error {
	if p.loaded == nil {
		return nil
	}
	m := *p.loaded
	m.Running = p.Running
	if err := m.CheckGo(); err != nil {
		return err
	}
	main := &m
	if m.File.Go == nil && !m.Workspace {
		// go mod download adds the missing go line, which makes the
		// module pruned, with the unpruned build list as requirements.
		// If that graph fails, the run reports it as it would anyway.
		fetcher, _ := p.fetcher(ctx, p.Sums, false, false)
		if g, err := resolver.LoadGraph(ctx, main, fetcher, p.s.Jobs); err == nil {
			main = main.AddGoLine(p.Running.Version, g)
		}
	}
	if err := main.CheckGodebugs(p.Running.Version); err != nil {
		return err
	}
	p.Main = main
	return nil
}

// downloadToolchain fetches the toolchain module of target into the
// module cache and returns its directory.
func (p *Project) downloadToolchain(ctx context.Context, target string, atStartup bool, announce func()) (string, error) {
	// go checks a toolchain against the checksum database, never go.sum.
	f, _ := p.fetcher(ctx, nil, false, false)
	return f.Toolchain(ctx, toolchain.Module(target, runtime.GOOS, runtime.GOARCH), p.s.ModCacheRW && !atStartup, announce)
}

// fetcher is a new download engine for one run, checking against sums;
// offline, it reads the cache alone (GOPROXY=off, no checksum database),
// and readOnly writes nothing there.
func (p *Project) fetcher(ctx context.Context, sums *verify.Sums, offline, readOnly bool) (*download.Fetcher, *modcache.Cache) {
	cfg := p.cfg
	if offline {
		cfg = cfg.offline()
	}
	dc := p.eng.engineConfig(ctx, cfg, sums)
	dc.Cache.ReadOnly = readOnly
	return download.New(dc), dc.Cache
}

// EngineConfig is the download engine's configuration, with no go.sum,
// for a command that adjusts it before making its Fetcher (serve).
func (p *Project) EngineConfig(ctx context.Context) download.Config {
	return p.eng.engineConfig(ctx, p.cfg, nil)
}

// Verifier checks module files as a download checks them.
func (p *Project) Verifier(ctx context.Context) *verify.Verifier {
	return p.eng.engineConfig(ctx, p.cfg, p.Sums).Verifier
}

// ModCache is the module cache's root.
func (p *Project) ModCache() string { return p.cfg.modCache }

// SumDB names the checksum database in use ("" for GOSUMDB=off).
func (p *Project) SumDB() string {
	if p.cfg.sumdb == nil {
		return ""
	}
	return p.cfg.sumdb.Name
}

// SumDBErr is GOSUMDB's error when it does not parse (a download reports
// it for each module that needs the database, as go does; a server should
// not start with it).
func (p *Project) SumDBErr() error { return p.cfg.sumdbErr }

// SumDBConfigDir is where go keeps the checksum database's signed tree
// head ($GOPATH/pkg/sumdb; "" if GOPATH is unknown).
func (p *Project) SumDBConfigDir() string { return p.cfg.sumdbConfigDir }

// Fleet returns the open fleet cache (-cache-url), or nil.
func (p *Project) Fleet() *fleet.Cache { return p.fleet }

// NoProxy reports whether path is kept away from every proxy (GONOPROXY,
// default GOPRIVATE).
func (p *Project) NoProxy(path string) bool { return p.cfg.noProxy(path) }

// Proxies is the GOPROXY list, as text without credentials.
func (p *Project) Proxies() string {
	s := ""
	for i, px := range p.cfg.proxies {
		if i > 0 {
			s += ","
		}
		s += px.String()
	}
	return s
}

// Cache is the module cache, opened anew; readOnly writes nothing.
func (p *Project) Cache(readOnly bool) *modcache.Cache {
	return &modcache.Cache{Root: p.cfg.modCache, ReadWrite: p.s.ModCacheRW, ReadOnly: readOnly}
}

// Resolve works out, from the module cache alone (nothing is downloaded
// and nothing looked up in the checksum database), what a download with
// the project's arguments needs; readOnly writes nothing, not even a
// version list it would otherwise mend. Each call starts afresh.
func (p *Project) Resolve(ctx context.Context, readOnly bool) (*pipeline.Resolution, error) {
	fetcher, cache := p.fetcher(ctx, p.Sums, true, readOnly)
	run, err := pipeline.New(pipeline.Config{Main: p.Main, Args: p.s.Args, Fetcher: fetcher, Cache: cache, Sums: p.Sums, Jobs: p.s.Jobs, Running: p.Running})
	if err != nil {
		return nil, err
	}
	return run.Resolve(ctx), nil
}

// Close finishes the fleet cache: it waits up to Fleet.Wait for its
// write-backs (not at all if hurry), drops the rest, and returns what to
// say about it (a warning for dropped writes, and unless quiet its
// counts). Only the first call does anything; a Project that is not closed
// drops its fleet cache's pending writes silently.
func (p *Project) Close(hurry, quiet bool) []string {
	if p == nil || p.fleet == nil {
		return nil
	}
	c, wait := p.fleet, p.s.Fleet.Wait
	p.fleet = nil
	if hurry {
		wait = 0
	}
	return finishFleet(c, wait, quiet)
}

// workDir is the directory the run works in: dir, made absolute, or the
// process's.
func workDir(dir string) (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	if dir == "" {
		return wd, nil
	}
	abs := dir
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(wd, dir)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("-C: %v", err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("-C: chdir %s: not a directory", dir)
	}
	return abs, nil
}
