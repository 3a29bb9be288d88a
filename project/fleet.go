package project

import (
	"context"
	"fmt"
	"sync"

	"gomodfetch/bucket"
)

// fleet is a project's fleet cache: a bucket.Store opened for its
// lifetime and finished by Project.Close.
type fleet struct {
	store *bucket.Store
	s     FleetSettings
}

// openFleet opens s.URL's bucket, or returns nil without one; warnings go
// to warn. A bucket that cannot be opened (a bad URL) is an error: that is
// a mistake in the command, not a fault of the bucket.
func openFleet(ctx context.Context, s FleetSettings, private func(string) bool, warn func(string)) (*fleet, error) {
	if s.URL == "" {
		return nil, nil
	}
	var mu sync.Mutex
	st, err := bucket.Open(ctx, bucket.Config{
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
	return &fleet{store: st, s: s}, nil
}

// finish waits up to s.Wait for the write-backs (not at all if hurry),
// drops the rest, and returns what to say: a warning for dropped writes
// and, unless quiet, the fleet cache's counts.
func (fl *fleet) finish(hurry, quiet bool) []string {
	wait := fl.s.Wait
	if hurry {
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
