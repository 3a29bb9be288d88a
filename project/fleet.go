package project

import (
	"context"
	"fmt"
	"sync"
	"time"

	"gomodfetch/fleet"
)

// openFleet opens the fleet cache s.URL names, or returns nil without
// one; warnings go to warn. A bucket that cannot be opened (a bad URL) is
// an error: that is a mistake in the command, not a fault of the bucket.
func openFleet(ctx context.Context, s FleetSettings, private func(string) bool, warn func(string)) (*fleet.Cache, error) {
	if s.URL == "" {
		return nil, nil
	}
	var mu sync.Mutex
	c, err := fleet.Open(ctx, fleet.Config{
		URL:            s.URL,
		Private:        private,
		IncludePrivate: s.Private,
		ReadTimeout:    s.ReadTimeout,
		Warn: func(msg string) {
			mu.Lock()
			defer mu.Unlock()
			warn(msg)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("-cache-url: %w", err)
	}
	return c, nil
}

// finishFleet waits up to wait for c's write-backs, drops the rest, and
// returns what to say: a warning for dropped writes and, unless quiet, the
// fleet cache's counts.
func finishFleet(c *fleet.Cache, wait time.Duration, quiet bool) []string {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	dropped := c.Close(ctx)
	var lines []string
	if dropped > 0 {
		lines = append(lines, fmt.Sprintf("warning: fleet cache %s: %d write-backs still pending after -cache-wait %v were dropped", c, dropped, wait))
	}
	if !quiet {
		st := c.Stats()
		lines = append(lines, fmt.Sprintf("fleet cache %s: %d hits, %d misses, %d damaged, %d read errors, %d skipped, %d written, %d write errors, %d dropped",
			c, st.Hits, st.Misses, st.Damaged, st.ReadErrors, st.Skipped, st.Writes, st.WriteErrors, st.Dropped))
	}
	return lines
}
