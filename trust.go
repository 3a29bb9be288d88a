package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/module"

	"gomodfetch/download"
	"gomodfetch/retry"
)

// trust is the part of the configuration that decides what is verified
// against what: the checksum database (GOSUMDB).
type trust struct {
	// sumdb is the parsed GOSUMDB; nil for GOSUMDB=off.
	sumdb *download.SumDBSpec
	// sumdbConfigDir is $GOPATH/pkg/sumdb ("" if GOPATH is unknown).
	sumdbConfigDir string
	// warning, if not empty, is printed once on stderr.
	warning string
	// auth supplies GOAUTH / .netrc credentials to https requests.
	auth *download.Auth
}

func (t *trust) load(env *goEnv) error {
	// GOFLAGS=-insecure does not apply to go mod download (the go command
	// ignores flags a command does not define), so it changes nothing here.
	auth, err := download.ParseGOAUTH(env.Get("GOAUTH"), download.NetrcPath(env.getenv))
	if err != nil {
		return err
	}
	t.auth = auth
	spec, err := download.ParseGOSUMDB(env.Get("GOSUMDB"))
	if err != nil {
		return err
	}
	t.sumdb = spec
	if spec != nil {
		t.warning = privacyWarning(env, spec.Name)
	}
	if gp, err := env.gopath(); err == nil {
		t.sumdbConfigDir = filepath.Join(gp, "pkg", "sumdb")
	}
	return nil
}

// sumDB returns the checksum database client, or nil for GOSUMDB=off.
func (c *config) sumDB(ctx context.Context, client *download.Client, policy retry.Policy) download.SumDB {
	if c.sumdb == nil {
		return nil
	}
	return download.NewSumDB(download.SumDBConfig{
		Spec:      c.sumdb,
		Proxies:   c.proxies,
		Client:    client,
		Policy:    policy,
		CacheDir:  filepath.Join(c.modCache, "cache", "download", "sumdb"),
		ConfigDir: c.sumdbConfigDir,
		Context:   ctx,
	})
}

// direct returns what hands modules that only version control can supply
// to the go command, with the user's environment and this run's cache.
func (c *config) direct(env *goEnv, opts options, trace io.Writer, policy retry.Policy) *download.Direct {
	goflags := env.Get("GOFLAGS")
	if opts.modCacheRW {
		goflags += " -modcacherw"
	}
	return &download.Direct{
		Env:     append(os.Environ(), "GOMODCACHE="+c.modCache),
		GoFlags: strings.TrimSpace(goflags),
		Policy:  policy,
		Trace:   trace,
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
		if p != "" && !module.MatchPrefixPatterns(noSumDB, p) {
			uncovered = append(uncovered, p)
		}
	}
	if len(uncovered) == 0 {
		return ""
	}
	return fmt.Sprintf("GONOPROXY keeps %s away from proxies, but neither GONOSUMDB nor GOPRIVATE covers it, so its module paths are still sent to checksum database %s; set GOPRIVATE (or GONOSUMDB) instead",
		strings.Join(uncovered, ","), dbName)
}
