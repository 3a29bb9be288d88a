// Package download fills the module cache from an ordered GOPROXY list.
//
// A Fetcher turns module versions into cache entries, joining the parts
// that each know one job: the proxy package asks the GOPROXY list (the go
// command's fall-through rules, retries, hedging, demotion); the verify
// package decides whether bytes may be trusted (go.sum, the checksum
// database, the zip rules); the modcache package writes the cache in the go
// command's layout, order and locks; the gocmd package hands what only
// version control can supply to the go command.
//
// One module version's download is a fetch (fetch.go): a small type whose
// steps run in the order the cache protocol needs and whose version lock is
// held by the step that needs it. Everything a run asks for is asked once:
// answers (a go.mod, a .info, a version list, a whole download) are kept for
// the run, except transient failures, which a later caller asks again
// (memo.go); a long-lived server shares answers only among calls in flight
// at once (Config.ForgetAnswers).
//
// Errors follow golang.org/x/mod's convention: a cause does not name the
// module; it is wrapped once in a module.ModuleError where the module is
// known. The checksum errors (SECURITY ERROR, missing go.sum entry) and the
// go command's own reports name the module themselves, as go prints them.
//
// A Fetcher is safe for concurrent use.
package download

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"

	"gomodfetch/gocmd"
	"gomodfetch/modcache"
	"gomodfetch/proxy"
	"gomodfetch/verify"
)

// Size limits, as the go command enforces them.
const (
	maxInfo  = 1 << 20
	maxGoMod = modzip.MaxGoMod
	maxZip   = modzip.MaxZipFile
	maxList  = 64 << 20
)

// Config is what a Fetcher needs. Cache, Router and Verifier are required;
// the rest have usable zero values.
type Config struct {
	Cache    *modcache.Cache
	Router   *proxy.Router
	Verifier *verify.Verifier
	// GoCommand fetches what only version control can supply; nil means
	// such modules fail with a *proxy.NeedVCSError.
	GoCommand *gocmd.Runner
	// GoCommandFor, if not nil, limits GoCommand to the paths it reports;
	// the others fail with a *proxy.NeedVCSError, as without GoCommand.
	GoCommandFor func(path string) bool
	// DirectQueries lets Versions, Latest and Stat ask GoCommand too (go
	// list -m) for what only version control has; a run resolves queries
	// through QueryDirect instead. A server sets it, to answer every
	// request of the GOPROXY protocol.
	DirectQueries bool
	// ReuseKeys are the module versions (and path@query pairs) that the
	// -reuse file holds records with an Origin for (see Reused).
	ReuseKeys map[module.Version]bool
	// Fleet, if not nil, is asked for each version's .info, .mod and .zip
	// before the GOPROXY list, and given back what the list served (see
	// Fleet).
	Fleet Fleet
	// Extractions bounds how many zips are unpacked at a time (zero:
	// GOMAXPROCS). Unpacking is disk- and CPU-bound: more at once than
	// there are CPUs only contends in the file system.
	Extractions int
	// Downloads bounds how many zips download at a time (zero: no bound
	// here). A slot is held while the zip's bytes come in, not while it
	// is unpacked, so the network is not left waiting on the disk.
	Downloads int
	// ForgetAnswers shares an answer (a .info, a go.mod, a version list, a
	// download) only among the calls in flight for it at the same time and
	// then forgets it, instead of keeping it for the run. A long-lived
	// server sets it: kept answers would grow without bound and a version
	// list would never be asked again. The module cache is then the only
	// long-term store.
	ForgetAnswers bool
}

// vcs reports whether GoCommand fetches path when only version control
// has it.
func (f *Fetcher) vcs(path string) bool {
	return f.cfg.GoCommand != nil && (f.cfg.GoCommandFor == nil || f.cfg.GoCommandFor(path))
}

// Module is the result of downloading one module version, with the fields
// and meaning of `go mod download -json`.
type Module struct {
	Path     string           `json:",omitempty"`
	Version  string           `json:",omitempty"`
	Query    string           `json:",omitempty"`
	Error    string           `json:",omitempty"`
	Info     string           `json:",omitempty"`
	GoMod    string           `json:",omitempty"`
	Zip      string           `json:",omitempty"`
	Dir      string           `json:",omitempty"`
	Sum      string           `json:",omitempty"`
	GoModSum string           `json:",omitempty"`
	Origin   *modcache.Origin `json:",omitempty"`
	Reuse    bool             `json:",omitempty"`

	err error // what Error says
}

// Failed returns the report of a module that failed before any download
// (a query that could not be resolved, say).
func Failed(mod module.Version, err error) *Module {
	return &Module{Path: mod.Path, Version: mod.Version, Error: err.Error(), err: err}
}

// Err returns the error that Error reports, or nil.
func (m *Module) Err() error { return m.err }

// Unusable records err as the error of a module that downloaded but cannot
// be used (its go line is too new): go keeps the other fields, not Dir.
func (m *Module) Unusable(err error) { m.Error, m.err, m.Dir = err.Error(), err, "" }

// Fetcher downloads module versions into the cache.
type Fetcher struct {
	cfg       Config
	extract   *sizeSlots    // Config.Extractions slots, largest zip first
	downloads chan struct{} // semaphore: Config.Downloads; nil for none

	// Answers kept for the run (memo.go), one memo per question.
	infos    memo[module.Version, infoAnswer]
	goMods   memo[module.Version, modFile]
	lists    memo[string, versionList]
	stats    memo[string, *modcache.Info] // path@query → its .info
	handoffs memo[module.Version, *gocmd.Result]
	// handoffMods: go.mod files alone that the go command fetched
	handoffMods memo[module.Version, struct{}]
	// directQueries: path@query → the go command's answer (direct.go)
	directQueries memo[string, *gocmd.Result]
	fetches       fetches
	zips          fetches // FetchZip's downloads: the same steps, less extraction

	cacheErr atomic.Pointer[modcache.WriteError] // first write that found the cache unusable
	mu       sync.Mutex
	served   map[string]int // proxy → zips it served
	fetched  int            // zips downloaded (not found in cache)
	records  []Record       // downloads ended (records.go)

	track tracker // modules started, finished, in flight (progress.go)
}

// New returns a Fetcher for cfg.
func New(cfg Config) *Fetcher {
	n := cfg.Extractions
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	f := &Fetcher{cfg: cfg, served: map[string]int{}, extract: newSizeSlots(n)}
	if cfg.Downloads > 0 {
		f.downloads = make(chan struct{}, cfg.Downloads)
	}
	if cfg.ForgetAnswers {
		f.infos.forget, f.goMods.forget, f.lists.forget = true, true, true
		f.stats.forget, f.handoffs.forget, f.handoffMods.forget = true, true, true
		f.fetches.forget, f.zips.forget = true, true
	}
	return f
}

// Stats summarises a run.
type Stats struct {
	Requests int64
	Bytes    int64
	Retries  int64
	Zips     int            // zips downloaded rather than found in the cache
	Served   map[string]int // proxy or Fleet (redacted) → zips it served
}

// Stats returns the counters so far.
func (f *Fetcher) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	served := make(map[string]int, len(f.served))
	for k, v := range f.served {
		served[k] = v
	}
	return Stats{
		Requests: f.cfg.Router.Client.Requests(),
		Bytes:    f.cfg.Router.Client.Bytes(),
		Retries:  f.cfg.Router.Retries(),
		Zips:     f.fetched,
		Served:   served,
	}
}

// countZip records a zip downloaded from source.
func (f *Fetcher) countZip(from served) {
	source := from.proxy
	if from.fleet {
		source = f.cfg.Fleet.String()
	}
	f.mu.Lock()
	f.served[source]++
	f.fetched++
	f.mu.Unlock()
}

// downloadSlot waits for a network slot (Config.Downloads) and returns the
// function that gives it back.
func (f *Fetcher) downloadSlot(ctx context.Context) (func(), error) {
	if f.downloads == nil {
		return func() {}, nil
	}
	select {
	case f.downloads <- struct{}{}:
		return func() { <-f.downloads }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// CacheError returns the first write that found the module cache
// unusable (read-only, owned by someone else, full), or nil. Once there is
// one, nothing more is written: a module that is not already complete in
// the cache fails with this error without being fetched.
func (f *Fetcher) CacheError() *modcache.WriteError { return f.cacheErr.Load() }

func (f *Fetcher) noteCacheError(err error) {
	var we *modcache.WriteError
	if modcache.Unusable(err) && errors.As(err, &we) {
		f.cacheErr.CompareAndSwap(nil, we)
	}
}

// fetchError adds module context to a failed request, except to the
// errors that name the module themselves, as the go command prints them.
func fetchError(mod module.Version, err error) error {
	var (
		mismatch *verify.ChecksumMismatchError
		missing  *verify.MissingSumError
		goErr    *gocmd.Error
		me       *module.ModuleError
	)
	switch {
	case errors.As(err, &mismatch), errors.As(err, &missing), errors.As(err, &goErr), errors.As(err, &me):
		return err
	}
	return module.VersionError(mod, err)
}
