package download

import (
	"time"

	"gomodfetch/proxy"
)

// Record is one module version's download in a run, for reports.
type Record struct {
	Path    string
	Version string
	// Source is where the zip came from: "cache", the proxy that served it
	// (redacted), or "direct" (the go command, from version control); ""
	// if the module failed before that was known.
	Source string `json:",omitempty"`
	// Bytes is the zip's bytes received (0 from the cache).
	Bytes int64
	// Attempts is the zip download attempts, hedged ones included (0
	// when no zip was downloaded).
	Attempts int
	Duration time.Duration
	Error    string `json:",omitempty"`
}

// Records returns the downloads of the run so far, in the order they
// ended. A download that committed nothing because no caller wanted the
// module any more is not recorded.
func (f *Fetcher) Records() []Record {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Record(nil), f.records...)
}

func (f *Fetcher) record(x *fetch, d time.Duration, err error) {
	r := Record{Path: x.mod.Path, Version: x.mod.Version, Source: x.source, Bytes: x.bytes, Attempts: int(x.attempts.Load()), Duration: d}
	if err != nil {
		r.Error = err.Error()
	}
	f.mu.Lock()
	f.records = append(f.records, r)
	f.mu.Unlock()
}

// ProxyStats returns the router's per-proxy counters.
func (f *Fetcher) ProxyStats() []proxy.ProxyStats { return f.cfg.Router.ProxyStats() }
