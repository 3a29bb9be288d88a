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
		ReadOnly:       s.ReadOnly,
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

// finishFleet waits for c's write-backs while they progress (until none
// has taken a byte for wait, and at most closeBound), drops the rest, and
// returns what to say: a warning for any write dropped during the run or
// at its end, a warning when every read was refused, and, unless quiet,
// the fleet cache's counts.
func finishFleet(c *fleet.Cache, wait time.Duration, quiet bool) []string {
	ctx, cancel := context.WithTimeout(context.Background(), closeBound)
	defer cancel()
	if wait == 0 {
		ctx, cancel = context.WithCancel(ctx)
		cancel() // no wait at all
	}
	atClose := c.Close(ctx, wait)
	st := c.Stats()
	var lines []string
	if st.Dropped > 0 {
		lines = append(lines, fmt.Sprintf("warning: fleet cache %s: %d write-backs dropped (%d still pending after -cache-wait %v without progress); the next runner fetches them upstream again", c, st.Dropped, atClose, wait))
	}
	if st.Denied > 0 && st.Hits == 0 {
		lines = append(lines, fmt.Sprintf("warning: fleet cache %s: every read was refused (403 AccessDenied), counted as missing objects: the credential needs s3:GetObject, and s3:ListBucket for a missing object to answer 404", c))
	}
	if !quiet {
		ro := ""
		if st.ReadOnly {
			ro = " (read-only)"
		}
		lines = append(lines, fmt.Sprintf("fleet cache %s%s: %d hits, %d misses, %d damaged, %d read errors, %d skipped, %d written, %d write errors, %d dropped",
			c, ro, st.Hits, st.Misses, st.Damaged, st.ReadErrors, st.Skipped, st.Writes, st.WriteErrors, st.Dropped))
	}
	return lines
}

// closeBound bounds the wait for write-backs at the end, however they
// progress.
const closeBound = 2 * time.Minute
