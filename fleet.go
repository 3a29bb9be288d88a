package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"gomodfetch/bucket"
)

// fleetOptions are the fleet cache's flags.
type fleetOptions struct {
	url         string
	private     bool
	wait        time.Duration
	readTimeout time.Duration
}

func fleetFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "cache-url", EnvVars: []string{"GOMODFETCH_CACHE_URL"}, Usage: "fleet cache: ask the bucket at `url` (s3://, gs://, azblob://, file://) before GOPROXY and write back what GOPROXY served"},
		&cli.BoolFlag{Name: "cache-private", Usage: "the -cache-url bucket is private too: let GOPRIVATE, GONOPROXY and GONOSUMDB paths into it"},
		&cli.DurationFlag{Name: "cache-wait", Value: 5 * time.Second, Usage: "at the end, wait up to `d` for write-backs to the fleet cache, then drop the rest with a warning"},
		&cli.DurationFlag{Name: "cache-timeout", Value: 5 * time.Second, Usage: "give up a fleet cache read that sends no byte for `d` (the bucket is then set aside for 30s)"},
	}
}

func fleetOptionsFrom(c *cli.Context) fleetOptions {
	return fleetOptions{
		url:         c.String("cache-url"),
		private:     c.Bool("cache-private"),
		wait:        c.Duration("cache-wait"),
		readTimeout: c.Duration("cache-timeout"),
	}
}

func (o fleetOptions) check() error {
	if o.wait < 0 {
		return fmt.Errorf("-cache-wait must not be negative (got %v)", o.wait)
	}
	if o.readTimeout < 0 {
		return fmt.Errorf("-cache-timeout must not be negative (got %v)", o.readTimeout)
	}
	return nil
}

// fleet is the run's fleet cache, or nil without -cache-url.
type fleet struct {
	store *bucket.Store
	opts  fleetOptions
}

// openFleet opens the -cache-url bucket; warnings go to warn, once each
// kind. A bucket that cannot be opened (a bad URL) stops the run: that is
// a mistake in the command, not a fault of the bucket.
func openFleet(ctx context.Context, opts fleetOptions, cfg *config, warn io.Writer) (*fleet, error) {
	if opts.url == "" {
		return nil, nil
	}
	var mu sync.Mutex
	s, err := bucket.Open(ctx, bucket.Config{
		URL:            opts.url,
		Private:        cfg.private,
		IncludePrivate: opts.private,
		ReadTimeout:    opts.readTimeout,
		Warn: func(msg string) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(warn, "gomodfetch: warning: %s\n", msg)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("-cache-url: %w", err)
	}
	cfg.tier = s
	return &fleet{store: s, opts: opts}, nil
}

// finish waits up to -cache-wait for the write-backs (not at all after an
// interrupt), drops the rest, and returns what to print: a warning for
// dropped writes and, unless quiet, a summary line.
func (fl *fleet) finish(interrupted, quiet bool) []string {
	if fl == nil {
		return nil
	}
	wait := fl.opts.wait
	if interrupted {
		wait = 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	dropped := fl.store.Close(ctx)
	var lines []string
	if dropped > 0 {
		lines = append(lines, fmt.Sprintf("warning: fleet cache %s: %d write-backs still pending after -cache-wait %v were dropped", fl.store, dropped, wait))
	}
	if !quiet {
		st := fl.store.Stats()
		lines = append(lines, fmt.Sprintf("fleet cache %s: %d hits, %d misses, %d damaged, %d read errors, %d skipped, %d written, %d write errors, %d dropped",
			fl.store, st.Hits, st.Misses, st.Damaged, st.ReadErrors, st.Skipped, st.Writes, st.WriteErrors, st.Dropped))
	}
	return lines
}

// close drops whatever finish did not wait for (a run that ended early).
func (fl *fleet) close() {
	if fl != nil {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		fl.store.Close(ctx)
	}
}
