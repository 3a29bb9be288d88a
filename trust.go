package main

import (
	"context"
	"path/filepath"

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
}

func (t *trust) load(env *goEnv, modCache string) error {
	// GOFLAGS=-insecure does not apply to go mod download (the go command
	// ignores flags a command does not define), so it changes nothing here.
	spec, err := download.ParseGOSUMDB(env.Get("GOSUMDB"))
	if err != nil {
		return err
	}
	t.sumdb = spec
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
