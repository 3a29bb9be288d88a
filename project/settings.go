package project

import (
	"fmt"
	"time"

	"gomodfetch/fleet"
	"gomodfetch/retry"
)

// Settings are what a command says about its run: where, which modules,
// and how the engine treats the network. Every command (download,
// verify, pack, serve) fills the same Settings, starting from Defaults.
//
// One rule for zero: a zero turns off what can be off (Timeout: no limit;
// MinRate: no minimum; HedgeDelay: no timed hedge, only after a failure;
// Retries: no retry; Fleet.Wait: no wait), and Check refuses a zero
// anywhere else. A zero never stands for "the default": the defaults are
// Defaults' values, the only set there is.
type Settings struct {
	// Dir is the directory the command works in (-C); "" for the
	// process's. The process's own working directory is never changed.
	Dir string
	// ModCache, if set, is the module cache instead of GOMODCACHE's
	// (serve -modcache); relative to Dir.
	ModCache string
	// ModFile is read instead of go.mod (-modfile).
	ModFile string
	// ModCacheRW leaves extracted module directories writable.
	ModCacheRW bool
	// Reuse is a previous -json output (-reuse), only outside a module.
	Reuse string
	// Args are the module arguments.
	Args []string
	// JSON is set for -json output, which changes when go.sum is written.
	JSON bool

	// Timeout bounds the whole run.
	Timeout time.Duration
	// Jobs bounds the modules downloaded at a time.
	Jobs int
	// Conns bounds the requests in flight to one proxy host.
	Conns int
	// StallTimeout cuts a response that sends no byte for this long.
	StallTimeout time.Duration
	// MinRate cuts a response that brings fewer bytes/s than this over a
	// whole StallTimeout window.
	MinRate int64
	// ConnectTimeout bounds a connection and its TLS handshake.
	ConnectTimeout time.Duration
	// HeaderTimeout bounds the wait for response headers.
	HeaderTimeout time.Duration
	// Retries is how many times a transient failure is retried per proxy.
	Retries int
	// RetryInitial and RetryMax are the first and the longest backoff wait.
	RetryInitial, RetryMax time.Duration
	// HedgeDelay: in a GOPROXY run joined by '|', the next proxy is asked
	// too when one has not answered in this long.
	HedgeDelay time.Duration
	// HedgeAcrossComma treats ',' in GOPROXY like '|'.
	HedgeAcrossComma bool

	// Fleet is the fleet cache.
	Fleet FleetSettings

	// Policy is the supply-chain policy file (-policy, docs/policy.md);
	// "" for none. VulnDB overrides its vulndb line (-vulndb).
	Policy, VulnDB string
}

// FleetSettings are the fleet cache's settings (package fleet).
type FleetSettings struct {
	// URL is the bucket (s3://, gs://, azblob://, file://); "" for none.
	URL string
	// Private lets private paths (GOPRIVATE, GONOPROXY, GONOSUMDB) in.
	Private bool
	// Wait bounds the wait for write-backs when the project is closed.
	Wait time.Duration
	// ReadTimeout gives up a read that sends no byte for this long.
	ReadTimeout time.Duration
	// ReadOnly reads the bucket and never writes it.
	ReadOnly bool
}

// DefaultJobs is sized for the network, not the CPU: module downloads are
// latency-bound. On the benchmark (go run ./bench: 50ms RTT, 8 MB/s per
// connection) 32 came within 1.1x of the network's floor where 16 took
// 1.2x and 8 1.4x; 64 gained little more for twice the connections.
const DefaultJobs = 32

// Defaults are the settings every command starts from: the command-line
// flags' defaults. The retry waits and count are retry.DefaultPolicy's.
func Defaults() Settings {
	p := retry.DefaultPolicy()
	return Settings{
		Jobs: DefaultJobs,
		// A module's .info, .mod and .zip go at once, besides the graph's
		// go.mod reads, so twice Jobs keeps the pool busy without letting
		// it grow with hedges and queries.
		Conns:          2 * DefaultJobs,
		StallTimeout:   30 * time.Second,
		MinRate:        100,
		ConnectTimeout: 15 * time.Second,
		HeaderTimeout:  30 * time.Second,
		Retries:        p.MaxAttempts - 1,
		RetryInitial:   p.Initial,
		RetryMax:       p.Max,
		HedgeDelay:     time.Second,
		Fleet: FleetSettings{
			Wait:        5 * time.Second,
			ReadTimeout: 5 * time.Second,
		},
	}
}

// Check reports the first setting out of its range, naming it by its
// flag: a negative value anywhere, or a zero where nothing can be off.
func (s Settings) Check() error {
	for _, n := range []struct {
		flag string
		v    int64
		off  bool // zero turns it off
	}{
		{"j", int64(s.Jobs), false},
		{"conns", int64(s.Conns), false},
		{"retries", int64(s.Retries), true},
		{"min-rate", s.MinRate, true},
	} {
		switch {
		case n.v < 0 && n.off:
			return fmt.Errorf("-%s must not be negative (got %d)", n.flag, n.v)
		case n.v < 1 && !n.off:
			return fmt.Errorf("-%s must be at least 1", n.flag)
		}
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
		off  bool // zero turns it off
	}{
		{"timeout", s.Timeout, true},
		{"stall-timeout", s.StallTimeout, false},
		{"connect-timeout", s.ConnectTimeout, false},
		{"header-timeout", s.HeaderTimeout, false},
		{"retry-initial", s.RetryInitial, false},
		{"retry-max", s.RetryMax, false},
		{"hedge-delay", s.HedgeDelay, true},
		{"cache-wait", s.Fleet.Wait, true},
		{"cache-timeout", s.Fleet.ReadTimeout, false},
	} {
		switch {
		case d.v < 0:
			return fmt.Errorf("-%s must not be negative (got %v)", d.flag, d.v)
		case d.v == 0 && !d.off:
			return fmt.Errorf("-%s must be positive: 0 would turn off a bound that cannot be off", d.flag)
		}
	}
	if s.Fleet.URL != "" {
		if err := fleet.CheckURL(s.Fleet.URL); err != nil {
			return fmt.Errorf("-cache-url: %w", err)
		}
	}
	return nil
}
