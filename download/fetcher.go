// Package download fills the module cache from an ordered GOPROXY list.
//
// A Fetcher turns module versions into cache entries: it asks the proxies in
// the go command's order and fall-through rules (proxylist.go), retries
// transient failures under a retry.Policy, verifies every go.mod and zip
// against go.sum or the checksum database before it lands (verify.go), and
// writes through the one Cache writer that owns layout, locks and write
// order (cache.go). Work on one module version is done once per run however
// many callers ask for it; Fetcher is safe for concurrent use.
package download

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
	"golang.org/x/sync/singleflight"

	"gomodfetch/retry"
)

// Size limits, as the go command enforces them.
const (
	maxInfo   = 1 << 20
	maxGoMod  = modzip.MaxGoMod
	maxZip    = modzip.MaxZipFile
	maxErrMsg = 1 << 10
)

// Config is what a Fetcher needs. Cache, Proxies, Client and Verifier are
// required; the rest have usable zero values.
type Config struct {
	Cache    *Cache
	Proxies  []Proxy
	Client   *Client
	Verifier *Verifier
	// NoProxy reports whether path must never be sent to a proxy
	// (GONOPROXY, defaulting to GOPRIVATE). Nil means no such path.
	NoProxy func(path string) bool
	// Policy governs retries of each request (zero: retry.DefaultPolicy).
	Policy retry.Policy
	// HedgeDelay: inside a run of '|'-joined proxies, the next proxy is
	// asked too when the current one has not answered in this long
	// (zero: 1s; negative: only after a failed attempt).
	HedgeDelay time.Duration
	// HedgeAcrossComma treats ',' like '|' (opt-in: later proxies then see
	// requests for modules an earlier one would have served).
	HedgeAcrossComma bool
	// DemoteAfter is how many failed requests in a row demote a proxy to
	// the end of its run for the rest of the run (zero: 3).
	DemoteAfter int
	// Direct fetches what only version control can supply; nil means such
	// modules fail with a *DirectError.
	Direct *Direct
	// Extractions bounds how many zips are unpacked at a time (zero:
	// GOMAXPROCS). Unpacking is disk- and CPU-bound: more at once than
	// there are CPUs only contends in the file system.
	Extractions int
}

// Module is the result of downloading one module version, with the fields
// and meaning of `go mod download -json`.
type Module struct {
	Path     string  `json:",omitempty"`
	Version  string  `json:",omitempty"`
	Query    string  `json:",omitempty"`
	Error    string  `json:",omitempty"`
	Info     string  `json:",omitempty"`
	GoMod    string  `json:",omitempty"`
	Zip      string  `json:",omitempty"`
	Dir      string  `json:",omitempty"`
	Sum      string  `json:",omitempty"`
	GoModSum string  `json:",omitempty"`
	Origin   *Origin `json:",omitempty"`
	Reuse    bool    `json:",omitempty"`

	err error // what Error says
}

// Err returns the error that Error reports, or nil.
func (m *Module) Err() error { return m.err }

// Fetcher downloads module versions into the cache.
type Fetcher struct {
	cfg     Config
	sf      singleflight.Group
	health  health
	extract chan struct{} // semaphore: Config.Extractions

	retries  atomic.Int64
	cacheErr atomic.Pointer[WriteError] // first write that found the cache unusable
	mu       sync.Mutex
	served   map[string]int // proxy → zips it served
	fetched  int            // zips downloaded (not found in cache)

	track tracker // modules started, finished, in flight (progress.go)
}

// New returns a Fetcher for cfg.
func New(cfg Config) *Fetcher {
	n := cfg.Extractions
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	f := &Fetcher{cfg: cfg, served: map[string]int{}, extract: make(chan struct{}, n)}
	f.health.limit = cfg.DemoteAfter
	if f.health.limit == 0 {
		f.health.limit = 3
	}
	return f
}

// Stats summarises a run.
type Stats struct {
	Requests int64
	Bytes    int64
	Retries  int64
	Zips     int            // zips downloaded rather than found in the cache
	Served   map[string]int // proxy (redacted) → zips it served
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
		Requests: f.cfg.Client.Requests(),
		Bytes:    f.cfg.Client.Bytes(),
		Retries:  f.retries.Load(),
		Zips:     f.fetched,
		Served:   served,
	}
}

// CacheError returns the first write that found the module cache
// unusable (read-only, owned by someone else, full), or nil. Once there is
// one, nothing more is written: a module that is not already complete in
// the cache fails with this error without being fetched.
func (f *Fetcher) CacheError() *WriteError { return f.cacheErr.Load() }

func (f *Fetcher) noteCacheError(err error) {
	var we *WriteError
	if errors.As(err, &we) && CacheUnusable(we.Err) {
		f.cacheErr.CompareAndSwap(nil, we)
	}
}

// DirectError is returned for a module that only a direct version-control
// fetch could supply.
type DirectError struct{ Path string }

func (e *DirectError) Error() string {
	return fmt.Sprintf("%s must be fetched directly from version control and direct fetches are not configured; run 'go mod download %s' for it", e.Path, e.Path)
}

// direct has the go command fetch mod (once per run) and returns its
// report. The go command checks the bytes against the go.sum lines the
// project has for mod (and the checksum database) before they land.
func (f *Fetcher) direct(ctx context.Context, mod module.Version) (*Module, error) {
	v, err, _ := f.sf.Do("direct "+mod.String(), func() (any, error) {
		var sums []string
		if s := f.cfg.Verifier.Sums; s != nil {
			for _, m := range []module.Version{mod, {Path: mod.Path, Version: mod.Version + "/go.mod"}} {
				for _, h := range s.lookup(m) {
					sums = append(sums, m.Path+" "+m.Version+" "+h)
				}
			}
		}
		m, err := f.cfg.Direct.Download(ctx, mod, sums)
		if err != nil {
			return nil, err
		}
		f.mu.Lock()
		f.served["direct"]++
		f.fetched++
		f.mu.Unlock()
		return m, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*Module), nil
}

// isDirect reports whether err says that only a direct fetch can supply
// the module and one is configured.
func (f *Fetcher) isDirect(err error) bool {
	var de *DirectError
	return f.cfg.Direct != nil && errors.As(err, &de)
}

// downloadDirect fills m from the go command's report on mod, after
// checking (and recording for go.sum) the hashes it reports.
func (f *Fetcher) downloadDirect(ctx context.Context, mod module.Version, m *Module) error {
	r, err := f.direct(ctx, mod)
	if err != nil {
		return err
	}
	if err := f.cfg.Verifier.Check(ctx, module.Version{Path: mod.Path, Version: mod.Version + "/go.mod"}, r.GoModSum); err != nil {
		return err
	}
	if err := f.cfg.Verifier.Check(ctx, mod, r.Sum); err != nil {
		return err
	}
	m.Info, m.GoMod, m.Zip, m.Dir, m.Sum, m.GoModSum, m.Origin = r.Info, r.GoMod, r.Zip, r.Dir, r.Sum, r.GoModSum, r.Origin
	return nil
}

// proxiesFor returns the GOPROXY entries that may be asked about path.
func (f *Fetcher) proxiesFor(path string) []Proxy {
	if f.cfg.NoProxy != nil && f.cfg.NoProxy(path) {
		return []Proxy{{Kind: KindDirect}}
	}
	return f.cfg.Proxies
}

func oneLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// relPath is "<escaped path>/@v/<escaped version>.<suffix>".
func relPath(mod module.Version, suffix string) (string, error) {
	p, err := module.EscapePath(mod.Path)
	if err != nil {
		return "", err
	}
	v, err := module.EscapeVersion(mod.Version)
	if err != nil {
		return "", err
	}
	return p + "/@v/" + v + "." + suffix, nil
}

// Info returns mod's .info content, from the cache or a proxy, and whether
// it came from the cache. It does not write the cache.
func (f *Fetcher) Info(ctx context.Context, mod module.Version) (*Info, bool, error) {
	if err := module.Check(mod.Path, mod.Version); err != nil {
		return nil, false, err
	}
	if info, _, err := f.cfg.Cache.ReadInfo(mod); err == nil {
		return info, true, nil
	}
	rel, err := relPath(mod, "info")
	if err != nil {
		return nil, false, module.VersionError(mod, err)
	}
	v, err, _ := f.sf.Do("info "+mod.String(), func() (any, error) {
		return f.askInfo(ctx, mod.Path, rel, func(base *url.URL, info *Info) error {
			if info.Version != mod.Version {
				return fmt.Errorf("proxy %s returned info for version %s instead of requested version", base.Redacted(), info.Version)
			}
			return nil
		})
	})
	if err != nil {
		return nil, false, module.VersionError(mod, err)
	}
	return v.(*Info), false, nil
}

// askInfo asks the proxies for the .info answer at rel (relative to a
// proxy's base URL) and checks it with check; an answer that does not parse
// or that check refuses is a bad response, retried like a damaged one.
func (f *Fetcher) askInfo(ctx context.Context, path, rel string, check func(base *url.URL, info *Info) error) (*Info, error) {
	var seen repeats
	v, _, err := f.ask(ctx, path, func(ctx context.Context, base *url.URL) (any, error) {
		data, err := f.cfg.Client.getBytes(ctx, join(base, rel), maxInfo)
		if err != nil {
			return nil, err
		}
		info := new(Info)
		if err := json.Unmarshal(data, info); err != nil {
			return nil, seen.judge(base, &badResponse{fmt.Errorf("invalid response from proxy %q: %v", base.Redacted(), err), digest(data)})
		}
		if err := check(base, info); err != nil {
			return nil, seen.judge(base, &badResponse{err, digest(data)})
		}
		return info, nil
	}, nil)
	if err != nil {
		return nil, err
	}
	return v.(*Info), nil
}

// badResponse is a well-formed HTTP answer with nonsense in it. Another
// attempt may reach a healthier replica or get bytes undamaged, so it is
// transient, until the same proxy gives the same bytes again (see repeats).
type badResponse struct {
	err    error
	digest string // sha256 of the answer's bytes; "" if unknown
}

func (e *badResponse) Error() string           { return e.err.Error() }
func (e *badResponse) Unwrap() error           { return e.err }
func (e *badResponse) RetryClass() retry.Class { return retry.Transient }

// BadAnswerError is an answer a proxy gave twice with the same bytes: not
// damage on the way but what the proxy serves. It is final for that proxy
// (a '|' list moves on to the next).
type BadAnswerError struct{ Err error }

func (e *BadAnswerError) Error() string           { return e.Err.Error() }
func (e *BadAnswerError) Unwrap() error           { return e.Err }
func (e *BadAnswerError) RetryClass() retry.Class { return retry.Permanent }

func digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// GoMod returns mod's verified go.mod content, from the cache or a proxy,
// writing it (and the version list) to the cache if it was fetched.
func (f *Fetcher) GoMod(ctx context.Context, mod module.Version) ([]byte, error) {
	data, _, err := f.goMod(ctx, mod)
	return data, err
}

// modResult is a verified go.mod and the cache file holding it.
type modResult struct {
	data []byte
	file string
}

func (f *Fetcher) goMod(ctx context.Context, mod module.Version) ([]byte, string, error) {
	if err := module.Check(mod.Path, mod.Version); err != nil {
		return nil, "", err
	}
	v, err, _ := f.sf.Do("mod "+mod.String(), func() (any, error) {
		r, err := f.goModProxy(ctx, mod)
		if !f.isDirect(err) {
			return r, err
		}
		// The go command fetches the whole module; its go.mod is then
		// read from the cache and checked like any other.
		if _, err := f.direct(ctx, mod); err != nil {
			return nil, err
		}
		data, file, err := f.cfg.Cache.ReadGoMod(mod)
		if err != nil {
			return nil, module.VersionError(mod, err)
		}
		return f.checkCachedGoMod(ctx, mod, data, file)
	})
	if err != nil {
		return nil, "", err
	}
	r := v.(modResult)
	return r.data, r.file, nil
}

// checkCachedGoMod checks a go.mod read from the cache like a download: the
// cache may be shared, restored or tampered with.
func (f *Fetcher) checkCachedGoMod(ctx context.Context, mod module.Version, data []byte, file string) (modResult, error) {
	h, err := HashGoMod(data)
	if err != nil {
		return modResult{}, err
	}
	if err := f.cfg.Verifier.Check(ctx, module.Version{Path: mod.Path, Version: mod.Version + "/go.mod"}, h); err != nil {
		return modResult{}, err
	}
	return modResult{data, file}, nil
}

// goModProxy is goMod without the hand-off to the go command: a module
// only a direct fetch can supply is a *DirectError. It never waits for a
// version lock, so it may run while the caller holds one.
func (f *Fetcher) goModProxy(ctx context.Context, mod module.Version) (modResult, error) {
	v, err, _ := f.sf.Do("modproxy "+mod.String(), func() (any, error) {
		sumKey := module.Version{Path: mod.Path, Version: mod.Version + "/go.mod"}
		if data, file, err := f.cfg.Cache.ReadGoMod(mod); err == nil {
			r, err := f.checkCachedGoMod(ctx, mod, data, file)
			if err == nil {
				f.cfg.Cache.RepairList(mod)
			}
			return r, err
		}
		if we := f.cacheErr.Load(); we != nil {
			return nil, module.VersionError(mod, we) // it could not be written
		}
		rel, err := relPath(mod, "mod")
		if err != nil {
			return nil, module.VersionError(mod, err)
		}
		var seen repeats
		v, _, err := f.ask(ctx, mod.Path, func(ctx context.Context, base *url.URL) (any, error) {
			data, err := f.cfg.Client.getBytes(ctx, join(base, rel), maxGoMod)
			if err != nil {
				return nil, err
			}
			h, err := HashGoMod(data)
			if err != nil {
				return nil, err
			}
			if err := f.cfg.Verifier.Check(ctx, sumKey, h); err != nil {
				return nil, seen.judge(base, err)
			}
			return data, nil
		}, nil)
		if f.isDirect(err) {
			return nil, err
		}
		if err != nil {
			return nil, fetchError(mod, err)
		}
		data := v.([]byte)
		file, err := f.cfg.Cache.WriteGoMod(mod, data)
		if err != nil {
			f.noteCacheError(err)
			return nil, module.VersionError(mod, err)
		}
		return modResult{data, file}, nil
	})
	if err != nil {
		return modResult{}, err
	}
	return v.(modResult), nil
}

// Download fetches everything `go mod download` leaves for mod: .info,
// .mod, the verified .zip and .ziphash, and the extracted source tree. The
// returned Module has its Error set on failure; nothing unverified is left
// in the cache either way.
func (f *Fetcher) Download(ctx context.Context, mod module.Version) *Module {
	return f.DownloadIf(ctx, mod, nil)
}

// errNotKept is what a download ends with when its keep function says the
// module is no longer wanted.
var errNotKept = errors.New("no longer wanted")

// DownloadIf is Download for a module that may turn out not to be wanted
// (a version started before the module graph was read): keep, if not nil,
// is asked before anything of the module is committed to the cache (it may
// block until it knows), and if it says no, nothing is committed and
// DownloadIf returns nil.
func (f *Fetcher) DownloadIf(ctx context.Context, mod module.Version, keep func() bool) *Module {
	v, _, _ := f.sf.Do("download "+mod.String(), func() (any, error) {
		m := &Module{Path: mod.Path, Version: mod.Version}
		end := f.track.begin(mod)
		err := f.download(ctx, mod, m, keep)
		if errors.Is(err, errNotKept) {
			end(false)
			return (*Module)(nil), nil
		}
		if err != nil {
			f.noteCacheError(err)
			m.Error, m.err = err.Error(), err
		}
		end(err != nil)
		return m, nil
	})
	if v.(*Module) == nil {
		return nil
	}
	m := *v.(*Module)
	return &m
}

func (f *Fetcher) download(ctx context.Context, mod module.Version, m *Module, keep func() bool) error {
	kept := func() error {
		if keep != nil && !keep() {
			return errNotKept
		}
		return nil
	}
	if err := module.Check(mod.Path, mod.Version); err != nil {
		return err
	}
	// No new work once the run is cancelled, and no requests for a module
	// that could not be written once the cache is found unusable.
	if err := ctx.Err(); err != nil {
		return module.VersionError(mod, err)
	}
	if we := f.cacheErr.Load(); we != nil && !f.cfg.Cache.Complete(mod) {
		return module.VersionError(mod, we)
	}
	infoFile, err := f.cfg.Cache.File(mod, "info")
	if err != nil {
		return module.VersionError(mod, err)
	}

	// Fast path: everything is in place (a warm cache only stats and reads
	// small files, and makes no request).
	if zipfile, hash, ok := f.cfg.Cache.ZipHash(mod); ok {
		if dir, ok := f.cfg.Cache.Extracted(mod); ok {
			if info, _, err := f.cfg.Cache.ReadInfo(mod); err == nil {
				data, modFile, err := f.goMod(ctx, mod)
				if err != nil {
					return err
				}
				h, err := HashGoMod(data)
				if err != nil {
					return module.VersionError(mod, err)
				}
				if err := f.cfg.Verifier.Check(ctx, mod, hash); err != nil {
					return err
				}
				m.Origin = info.Origin
				m.Info, m.GoMod, m.GoModSum, m.Zip, m.Sum, m.Dir = infoFile, modFile, h, zipfile, hash, dir
				return nil
			}
		}
	}

	// Nothing that needs writing once the cache is found unusable.
	if we := f.cacheErr.Load(); we != nil {
		return module.VersionError(mod, we)
	}

	// .info, .mod and .zip are fetched at once: one round trip instead of
	// three. The zip is still verified before .info is written, and it
	// takes its final name only once the .info and go.mod are good, so a
	// module that fails any check leaves nothing behind.
	zctx, cancelZip := context.WithCancel(ctx)
	defer cancelZip()
	type infoResult struct {
		info   *Info
		cached bool
		err    error
	}
	type goModResult struct {
		r   modResult
		err error
	}
	infoC := make(chan infoResult, 1)
	modC := make(chan goModResult, 1)
	go func() {
		info, cached, err := f.Info(ctx, mod)
		if err != nil {
			cancelZip()
		}
		infoC <- infoResult{info, cached, err}
	}()
	go func() {
		// Not goMod: the hand-off to the go command would wait for the
		// version lock this goroutine's caller holds.
		r, err := f.goModProxy(ctx, mod)
		if err != nil {
			cancelZip()
		}
		modC <- goModResult{r, err}
	}()
	var (
		ir              infoResult
		mr              goModResult
		gotInfo, gotMod bool
	)
	waitInfo := func() infoResult {
		if !gotInfo {
			ir, gotInfo = <-infoC, true
		}
		return ir
	}
	waitMod := func() goModResult {
		if !gotMod {
			mr, gotMod = <-modC, true
		}
		return mr
	}
	// errPrior stands for an error of the .info or go.mod, which is
	// reported in place of whatever the zip download then says.
	errPrior := errors.New("info or go.mod failed")

	unlock, err := f.cfg.Cache.LockContext(ctx, mod)
	if err != nil {
		waitInfo()
		waitMod()
		return module.VersionError(mod, err)
	}
	locked := true
	defer func() {
		if locked {
			unlock()
		}
	}()

	infoWritten := false
	zipfile, hash, zerr := f.zip(zctx, mod, func() error {
		// The .info is written once the zip is known good, so a module
		// whose zip fails verification leaves nothing behind.
		if waitInfo().err != nil || waitMod().err != nil {
			return errPrior
		}
		if err := kept(); err != nil {
			return err
		}
		if ir.cached {
			return nil
		}
		_, err := f.cfg.Cache.WriteInfo(mod, ir.info)
		infoWritten = err == nil
		return err
	})
	if f.isDirect(zerr) {
		// The go command takes the same lock.
		unlock()
		locked = false
	}
	waitInfo()
	waitMod()
	if f.isDirect(ir.err) || f.isDirect(mr.err) || f.isDirect(zerr) {
		if locked {
			unlock()
			locked = false
		}
		return f.downloadDirect(ctx, mod, m)
	}
	if ir.err != nil {
		return ir.err
	}
	if mr.err != nil {
		return mr.err
	}
	if zerr != nil {
		return zerr
	}
	if err := kept(); err != nil {
		return err
	}
	if !ir.cached && !infoWritten {
		// The zip was already in the cache.
		if _, err := f.cfg.Cache.WriteInfo(mod, ir.info); err != nil {
			return module.VersionError(mod, err)
		}
	}
	h, err := HashGoMod(mr.r.data)
	if err != nil {
		return module.VersionError(mod, err)
	}
	m.Origin = ir.info.Origin
	m.Info, m.GoMod, m.GoModSum = infoFile, mr.r.file, h
	m.Zip, m.Sum = zipfile, hash
	select {
	case f.extract <- struct{}{}:
	case <-ctx.Done():
		return module.VersionError(mod, ctx.Err())
	}
	dir, err := f.cfg.Cache.Extract(mod, zipfile)
	<-f.extract
	if err != nil {
		return module.VersionError(mod, err)
	}
	m.Dir = dir
	return nil
}

// zip makes sure mod's verified zip and .ziphash are in the cache and
// returns the zip's path and hash. beforeCommit runs after verification and
// before the zip takes its final name. The caller holds mod's lock.
func (f *Fetcher) zip(ctx context.Context, mod module.Version, beforeCommit func() error) (string, string, error) {
	if zipfile, hash, ok := f.cfg.Cache.ZipHash(mod); ok {
		if err := f.cfg.Verifier.Check(ctx, mod, hash); err != nil {
			return "", "", err
		}
		return zipfile, hash, nil
	}
	zipfile, err := f.cfg.Cache.File(mod, "zip")
	if err != nil {
		return "", "", module.VersionError(mod, err)
	}
	if _, err := os.Stat(zipfile); err == nil {
		// A zip without its .ziphash (lost in a crash): rehash it rather
		// than trust it. If it is damaged, download it again.
		// Only a zip shown to be damaged is removed: a verification that
		// could not be done (checksum database unreachable, run cancelled)
		// leaves it for next time.
		if hash, err := dirhash.HashZip(zipfile, dirhash.DefaultHash); err == nil {
			err := f.cfg.Verifier.Check(ctx, mod, hash)
			var mismatch *ChecksumMismatchError
			if err != nil && !errors.As(err, &mismatch) {
				return "", "", fetchError(mod, err)
			}
			if err == nil {
				if err := beforeCommit(); err != nil {
					return "", "", module.VersionError(mod, err)
				}
				if err := f.cfg.Cache.WriteZipHash(zipfile, hash); err != nil {
					return "", "", module.VersionError(mod, err)
				}
				return zipfile, hash, nil
			}
		}
		if err := os.Remove(zipfile); err != nil {
			return "", "", module.VersionError(mod, &WriteError{Path: zipfile, Err: unwrapPathError(err)})
		}
	}

	if err := f.cfg.Cache.CleanZipTemps(mod); err != nil {
		return "", "", module.VersionError(mod, err)
	}
	rel, err := relPath(mod, "zip")
	if err != nil {
		return "", "", module.VersionError(mod, err)
	}
	// Each attempt (hedged attempts run at once) streams into a temp file
	// of its own, which it removes unless it returns it verified.
	var seen repeats
	v, proxy, err := f.ask(ctx, mod.Path, func(ctx context.Context, base *url.URL) (any, error) {
		tmp, err := f.cfg.Cache.CreateZipTemp(mod)
		if err != nil {
			return nil, err
		}
		keep := false
		defer func() {
			if !keep {
				tmp.Close()
				os.Remove(tmp.Name())
			}
		}()
		if _, err := f.cfg.Client.getFile(ctx, join(base, rel), tmp, maxZip); err != nil {
			return nil, err
		}
		hash, err := checkZip(mod, tmp)
		if err != nil {
			return nil, seen.judge(base, err)
		}
		if err := tmp.Close(); err != nil {
			return nil, &WriteError{Path: tmp.Name(), Err: unwrapPathError(err)}
		}
		if err := f.cfg.Verifier.Check(ctx, mod, hash); err != nil {
			return nil, seen.judge(base, err)
		}
		keep = true
		return zipTemp{name: tmp.Name(), hash: hash}, nil
	}, func(v any) { os.Remove(v.(zipTemp).name) })
	if err != nil {
		return "", "", fetchError(mod, err)
	}
	zt := v.(zipTemp)
	if err := beforeCommit(); err != nil {
		os.Remove(zt.name)
		return "", "", module.VersionError(mod, err)
	}
	if err := f.cfg.Cache.CommitZip(zt.name, zipfile, zt.hash); err != nil {
		os.Remove(zt.name)
		return "", "", module.VersionError(mod, err)
	}
	f.mu.Lock()
	f.served[proxy.String()]++
	f.fetched++
	f.mu.Unlock()
	return zipfile, zt.hash, nil
}

// zipTemp is a downloaded, verified zip waiting for its final name.
type zipTemp struct{ name, hash string }

// corruptError is a download whose hash does not match go.sum. The bytes
// may have been damaged on the way, so another attempt (or another proxy)
// is worth it; only a mismatch that every attempt confirms is reported.
type corruptError struct{ err *ChecksumMismatchError }

func (e *corruptError) Error() string           { return e.err.Error() }
func (e *corruptError) Unwrap() error           { return e.err }
func (e *corruptError) RetryClass() retry.Class { return retry.Transient }

// repeats tells bytes damaged on the way from a proxy's real answer.
// Damage usually differs from one attempt to the next; a proxy that lies,
// or serves something broken, gives the same bytes again. So a bad answer
// (a checksum mismatch, a .info or zip that makes no sense) is retried
// within the retry policy until one proxy has given the same bytes
// sameAnswer times: then it stands as that proxy's answer. A zero repeats
// is ready; it serves one request.
type repeats struct {
	mu   sync.Mutex
	seen map[string]int // proxy + " " + what was served → times
}

// sameAnswer is how often one proxy must serve the same bad bytes before
// they count as its answer rather than damage.
const sameAnswer = 2

// judge returns err as the attempt's error: a bad answer the proxy at base
// has now given sameAnswer times becomes final (a *ChecksumMismatchError or
// a *BadAnswerError); before that it is transient.
func (c *repeats) judge(base *url.URL, err error) error {
	var (
		m   *ChecksumMismatchError
		bad *badResponse
		key string
	)
	switch {
	case errors.As(err, &m):
		key = "sum " + m.Downloaded
	case errors.As(err, &bad) && bad.digest != "":
		key = "bytes " + bad.digest
	default:
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]int{}
	}
	key = base.String() + " " + key
	c.seen[key]++
	final := c.seen[key] >= sameAnswer
	switch {
	case m != nil && final:
		return m
	case m != nil:
		return &corruptError{m}
	case final:
		return &BadAnswerError{Err: bad.err}
	}
	return bad
}

// fetchError adds module context to a failed request, except to
// verification errors, which name the module themselves.
func fetchError(mod module.Version, err error) error {
	var (
		mismatch *ChecksumMismatchError
		missing  *MissingSumError
	)
	switch {
	case errors.As(err, &mismatch):
		return mismatch
	case errors.As(err, &missing):
		return missing
	}
	return module.VersionError(mod, err)
}

// checkZip runs the go command's checks on the downloaded zip before it
// may take its final name: every entry under path@version/, no ".." or
// absolute names, no names that differ only in case, no invalid file names,
// and the size limits (zip and content 500 MiB, go.mod 16 MiB). It then
// returns the zip's hash. A zip that does not parse is treated as a damaged
// transfer (transient); one that parses but breaks the rules is refused.
func checkZip(mod module.Version, f *os.File) (string, error) {
	// Damage on the way first: a zip whose structure does not hold
	// together is retried, not judged.
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	bad := func(format string, err error) error {
		return &badResponse{fmt.Errorf(format, err), fileDigest(f)}
	}
	z, err := zip.NewReader(f, fi.Size())
	if err != nil {
		return "", bad("downloaded zip is not valid: %v", err)
	}
	if err := checkZipLayout(f, fi.Size(), z); err != nil {
		return "", bad("downloaded zip is damaged: %v", err)
	}
	cf, err := modzip.CheckZip(mod, f.Name())
	if cerr := cf.Err(); cerr != nil {
		return "", &UnsafeZipError{Mod: mod, Err: cerr}
	}
	if err != nil {
		return "", bad("downloaded zip is not valid: %v", err)
	}
	h, err := dirhash.HashZip(f.Name(), dirhash.DefaultHash)
	if err != nil {
		return "", bad("hashing downloaded zip: %v", err)
	}
	return h, nil
}

// fileDigest is the sha256 of f's content, or "" if it cannot be read.
func fileDigest(f *os.File) string {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, 1<<62)); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

// UnsafeZipError is a zip whose entries could escape or corrupt the module
// directory; it is refused before extraction and never retried.
type UnsafeZipError struct {
	Mod module.Version
	Err error
}

func (e *UnsafeZipError) Error() string {
	return fmt.Sprintf("refusing zip for %s@%s: %v", e.Mod.Path, e.Mod.Version, e.Err)
}

func (e *UnsafeZipError) Unwrap() error           { return e.Err }
func (e *UnsafeZipError) RetryClass() retry.Class { return retry.Permanent }
