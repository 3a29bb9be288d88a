package download

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/mod/module"

	"gomodfetch/internal/beneath"
	"gomodfetch/modcache"
	"gomodfetch/proxy"
	"gomodfetch/retry"
	"gomodfetch/verify"
)

// Download fetches everything `go mod download` leaves for mod: .info,
// .mod, the verified .zip and .ziphash, and the extracted source tree. The
// returned Module has its Error set on failure; nothing unverified is left
// in the cache either way.
func (f *Fetcher) Download(ctx context.Context, mod module.Version) *Module {
	return f.DownloadIf(ctx, mod, nil)
}

// DownloadIf is Download for a module that may turn out not to be wanted
// (a version started before the module graph was read): keep, if not nil,
// is asked before anything of the module is committed to the cache (it may
// block until it knows), and if it says no, nothing is committed and
// DownloadIf returns nil.
//
// Calls for one version share one download, each with its own keep: the
// module is committed if any caller wants it, and each caller whose keep
// says no gets nil. A download's result is kept for the run.
func (f *Fetcher) DownloadIf(ctx context.Context, mod module.Version, keep func() bool) *Module {
	for {
		call, run, registered := f.fetches.join(mod, keep)
		if run {
			f.runFetch(ctx, mod, call)
		}
		<-call.done
		if !registered && call.m == nil {
			continue // decided, without us, to commit nothing: start anew
		}
		if call.m == nil || (keep != nil && !keep()) {
			return nil
		}
		m := *call.m
		return &m
	}
}

// FetchZip is Download without the source tree: the .info, .mod, verified
// .zip and .ziphash land in the cache (what a GOPROXY serves), and nothing
// is extracted. The returned Module has no Dir. Calls for one version share
// one download, and nothing unverified is left in the cache either way.
func (f *Fetcher) FetchZip(ctx context.Context, mod module.Version) *Module {
	for {
		call, run, registered := f.zips.join(mod, nil)
		if run {
			f.runFetchIn(ctx, &f.zips, mod, call, false)
		}
		<-call.done
		if !registered && call.m == nil {
			continue
		}
		if call.m == nil {
			return nil
		}
		m := *call.m
		return &m
	}
}

// runFetch runs call, mod's download, and records its result.
func (f *Fetcher) runFetch(ctx context.Context, mod module.Version, call *fetchCall) {
	f.runFetchIn(ctx, &f.fetches, mod, call, true)
}

// runFetchIn runs call, one of fs's downloads of mod, and records its
// result; extract says whether the source tree is unpacked.
func (f *Fetcher) runFetchIn(ctx context.Context, fs *fetches, mod module.Version, call *fetchCall, extract bool) {
	end := f.track.begin(mod)
	x := &fetch{f: f, mod: mod, m: &Module{Path: mod.Path, Version: mod.Version}, wanted: call.wanted, noExtract: !extract}
	began := time.Now()
	err := x.run(ctx)
	switch {
	case errors.Is(err, errNotKept):
		fs.finish(mod, call, nil, false)
		end(false)
		return
	case err != nil:
		f.noteCacheError(err)
		x.m.Error, x.m.err = err.Error(), err
	}
	f.record(x, time.Since(began), err) // records.go
	fs.finish(mod, call, x.m, err == nil || final(err))
	end(err != nil)
}

// errNotKept is what a fetch ends with when no caller wants the module.
var errNotKept = errors.New("no longer wanted")

// A fetch is one module version's download, in the steps and order of the
// go command's cache protocol:
//
//	fromCache  a version already complete in the cache is checked, not fetched
//	prefetch   .info and .mod are requested at once with the zip: one
//	           round trip instead of three
//	lock       the version lock is taken: the steps after it get the
//	           *modcache.Locked that only the lock holder has
//	zip        the zip is downloaded to a temp file, checked, unpacked and
//	           hashed in one pass (the tree stays marked .partial), and the
//	           hash verified against go.sum or the checksum database
//	commit     once the .info and go.mod are good and a caller still wants
//	           the module: the .info, then the .ziphash and the zip's rename
//	extract    the tree is sealed (or, for a zip that was in the cache,
//	           extracted), under the same lock (not for FetchZip)
//
// A module only version control can supply is handed to the go command
// instead (handoff), with the lock released, since the go command takes it.
type fetch struct {
	f      *Fetcher
	mod    module.Version
	m      *Module
	wanted func() bool
	// noExtract stops after the commit: no source tree (FetchZip).
	noExtract bool

	// For the run's records (records.go).
	source   string       // where the zip came from: "cache", a proxy, "direct"
	bytes    int64        // zip bytes received
	attempts atomic.Int32 // zip download attempts, hedges included
}

func (x *fetch) run(ctx context.Context) error {
	f, mod := x.f, x.mod
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
	if done, err := x.fromCache(ctx); done || err != nil {
		if err == nil {
			x.source = "cache"
		}
		return err
	}
	if we := f.cacheErr.Load(); we != nil {
		return module.VersionError(mod, we)
	}

	// The .mod and .zip are asked alongside the .info: until the .info
	// answers, -x marks their requests speculative (go asks the .info
	// first and nothing more if it fails).
	var infoOK atomic.Bool
	sctx := proxy.Speculative(ctx, infoOK.Load)
	zctx, cancelZip := context.WithCancel(sctx)
	defer cancelZip()
	info, gomod := x.prefetch(ctx, sctx, cancelZip, &infoOK)

	held, err := f.cfg.Cache.Lock(ctx, mod)
	if err != nil {
		info.wait()
		gomod.wait()
		return module.VersionError(mod, err)
	}
	defer held.Unlock()

	z, zerr := x.zip(zctx, held)
	if zerr == nil && z.from == (served{}) {
		x.source = "cache" // the zip was; its .info or go.mod may not be
	}
	ia, ierr := info.wait()
	mf, merr := gomod.wait()
	if x.needVCS(ierr) || x.needVCS(merr) || x.needVCS(zerr) {
		held.Unlock() // the go command takes the same lock
		return x.handoff(ctx)
	}
	// An error of the .info or go.mod is reported in place of whatever the
	// zip download then said (it was cancelled).
	for _, err := range []error{ierr, merr} {
		if err != nil {
			z.discard()
			held.Abandon()
			return err
		}
	}
	if zerr != nil {
		return x.zipFailed(ia, mf, zerr)
	}
	zipfile, err := x.commit(held, z, ia, mf)
	if err != nil || x.noExtract {
		return err
	}
	x.m.Dir, err = x.tree(ctx, held, z, zipfile)
	return err
}

// commitZip gives a verified zip its final name: its .ziphash, then the
// rename (or, for a zip in place that lost its .ziphash, the .ziphash
// alone); a downloaded zip is then put back to the fleet cache. It
// returns the zip's path.
func (x *fetch) commitZip(held *modcache.Locked, z verifiedZip) (string, error) {
	f, mod := x.f, x.mod
	zipfile, err := f.cfg.Cache.File(mod, "zip")
	if err != nil {
		z.discard()
		return "", module.VersionError(mod, err)
	}
	switch {
	case z.tmp != "":
		if _, err := held.CommitZip(z.tmp, z.hash); err != nil {
			z.discard()
			return "", module.VersionError(mod, err)
		}
		f.countZip(z.from)
		if rel, err := modcache.RelPath(mod, "zip"); err == nil {
			f.putBackFile(z.from, mod.Path, rel, zipfile)
		}
	case z.needHash:
		if err := held.WriteZipHash(z.hash); err != nil {
			return "", module.VersionError(mod, err)
		}
	}
	return zipfile, nil
}

// tree makes the committed zip's source tree count: the tree unpacked
// while hashing is sealed; a zip that was in the cache is extracted.
func (x *fetch) tree(ctx context.Context, held *modcache.Locked, z verifiedZip, zipfile string) (string, error) {
	if z.unpacked != nil {
		if err := z.unpacked.Seal(); err != nil {
			return "", module.VersionError(x.mod, err)
		}
		return z.unpacked.Dir, nil
	}
	return x.extract(ctx, held, zipfile)
}

// zipFailed ends a fetch whose .info and go.mod are good but whose zip
// could not be had, as the go command ends it: the .info stays in the
// cache and the report names the .info and go.mod. A zip that does not
// match go.sum (a SECURITY ERROR) leaves nothing, nor does a cancelled run
// or a module no longer wanted.
func (x *fetch) zipFailed(ia infoAnswer, mf modFile, zerr error) error {
	var mismatch *verify.ChecksumMismatchError
	if errors.As(zerr, &mismatch) || errors.Is(zerr, context.Canceled) || errors.Is(zerr, context.DeadlineExceeded) || !x.wanted() {
		return zerr
	}
	infoFile, err := x.f.cfg.Cache.File(x.mod, "info")
	if err != nil {
		return zerr
	}
	if !ia.cached {
		if _, err := x.f.cfg.Cache.WriteInfo(x.mod, ia.info); err != nil {
			return zerr
		}
	}
	h, err := verify.HashGoMod(mf.data)
	if err != nil {
		return zerr
	}
	x.m.Info, x.m.GoMod, x.m.GoModSum = infoFile, mf.file, h
	return zerr
}

// fromCache fills the module from the cache if everything is in place (a
// warm cache only stats and reads small files, and makes no request), and
// reports whether it did.
func (x *fetch) fromCache(ctx context.Context) (bool, error) {
	f, mod := x.f, x.mod
	zipfile, hash, ok := f.cfg.Cache.ZipHash(mod)
	if !ok {
		return false, nil
	}
	dir, ok := f.cfg.Cache.Extracted(mod)
	if !ok && !x.noExtract {
		return false, nil
	}
	info, infoFile, err := f.cfg.Cache.ReadInfo(mod)
	if err != nil {
		return false, nil
	}
	mf, err := f.goMod(ctx, mod)
	if err != nil {
		return true, err
	}
	h, err := verify.HashGoMod(mf.data)
	if err != nil {
		return true, module.VersionError(mod, err)
	}
	if err := f.cfg.Verifier.Check(ctx, mod, hash); err != nil {
		return true, err
	}
	x.fill(info, infoFile, mf.file, h, zipfile, hash)
	if !x.noExtract {
		x.m.Dir = dir
	}
	return true, nil
}

func (x *fetch) fill(info *modcache.Info, infoFile, modFile, modSum, zipfile, hash string) {
	x.m.Origin = info.Origin
	x.m.Info, x.m.GoMod, x.m.GoModSum, x.m.Zip, x.m.Sum = infoFile, modFile, modSum, zipfile, hash
}

// prefetch starts the .info and go.mod requests. Either failing cancels the
// zip download (cancelZip): the module fails anyway.
func (x *fetch) prefetch(ctx, sctx context.Context, cancelZip func(), infoOK *atomic.Bool) (*future[infoAnswer], *future[modFile]) {
	info := start(func() (infoAnswer, error) {
		info, cached, err := x.f.Info(ctx, x.mod)
		if err != nil {
			cancelZip()
		} else {
			infoOK.Store(true)
		}
		return infoAnswer{info, cached}, err
	})
	gomod := start(func() (modFile, error) {
		// After the .info, as go asks them: a version whose .info the
		// proxy refuses leaves no .mod, version list entry or checksum
		// database answer in the cache (the zip still starts at once,
		// and commits nothing before both have answered).
		if _, err := info.wait(); err != nil {
			return modFile{}, err
		}
		// Not goMod: the hand-off to the go command would wait for the
		// version lock this fetch is about to take.
		r, err := x.f.goModFromProxies(sctx, x.mod)
		if err != nil {
			cancelZip()
		}
		return r, err
	})
	return info, gomod
}

func (x *fetch) needVCS(err error) bool {
	var vcs *proxy.NeedVCSError
	return x.f.vcs(x.mod.Path) && errors.As(err, &vcs)
}

// verifiedZip is a zip that passed every check, not yet committed: in a
// temp file (tmp), or already at its final name (tmp == "").
type verifiedZip struct {
	tmp      string
	hash     string
	needHash bool   // in place, but its .ziphash is missing
	from     served // where it came from; zero if it was in the cache
	// unpacked is the source tree extracted while hashing, waiting for
	// the commit to seal it (nil if the zip was not unpacked).
	unpacked *modcache.Unpacked
	bytes    int64 // bytes downloaded
}

// discard removes an uncommitted temp file and tree.
func (z verifiedZip) discard() {
	if z.tmp != "" {
		os.Remove(z.tmp)
	}
	if z.unpacked != nil {
		z.unpacked.Discard()
	}
}

// zip makes sure a verified zip is at hand: the cached one (with its
// .ziphash, or rehashed if a crash lost that), or a fresh download.
func (x *fetch) zip(ctx context.Context, held *modcache.Locked) (verifiedZip, error) {
	f, mod := x.f, x.mod
	if _, hash, ok := f.cfg.Cache.ZipHash(mod); ok {
		if err := f.cfg.Verifier.Check(ctx, mod, hash); err != nil {
			return verifiedZip{}, err
		}
		return verifiedZip{hash: hash}, nil
	}
	zf, err := f.cfg.Cache.Open(mod, "zip")
	if err == nil || errors.Is(err, beneath.ErrNotRegular) {
		// A zip without its .ziphash: rehash it rather than trust it. Only
		// a zip shown to be damaged (or not a regular file: a symlink is
		// never followed) is removed: a verification that could not be
		// done (checksum database unreachable, run cancelled) leaves it
		// for next time.
		hash, err := "", err
		if zf != nil {
			hash, err = verify.HashZipFile(zf)
			zf.Close()
		}
		if err == nil {
			err := f.cfg.Verifier.Check(ctx, mod, hash)
			var mismatch *verify.ChecksumMismatchError
			if err == nil {
				return verifiedZip{hash: hash, needHash: true}, nil
			}
			if !errors.As(err, &mismatch) {
				return verifiedZip{}, fetchError(mod, err)
			}
		}
		if err := held.RemoveZip(); err != nil {
			return verifiedZip{}, module.VersionError(mod, err)
		}
	}
	if err := held.CleanZipTemps(); err != nil {
		return verifiedZip{}, module.VersionError(mod, err)
	}
	return x.downloadZip(ctx, held)
}

// downloadZip downloads the zip. Each attempt (hedged attempts run at
// once) streams into a temp file of its own, checked from its directory
// alone, which it removes unless it is the answer. The answer is then
// hashed: for a fetch that extracts, by unpacking it (one inflate for both,
// where the go command inflates twice), else by reading it. A hash go.sum
// or the checksum database refuses may be damage on the way: the zip is
// asked for again, until one proxy has served the same wrong bytes twice
// (repeats). The network slot (Config.Downloads) is held for the download
// only, so the next download is not kept waiting while this one unpacks.
func (x *fetch) downloadZip(ctx context.Context, held *modcache.Locked) (verifiedZip, error) {
	f, mod := x.f, x.mod
	rel, err := modcache.RelPath(mod, "zip")
	if err != nil {
		return verifiedZip{}, module.VersionError(mod, err)
	}
	var (
		seen  repeats
		z     verifiedZip
		from  served
		actx  = ctx  // refused proxies are asked last on the next try
		fleet = true // the fleet cache is asked first, until it fails
	)
	err = retry.Do(ctx, f.cfg.Router.Policy, func(ctx context.Context) error {
		got, src, err := x.fetchZipBytes(actx, held, rel, &seen, fleet)
		if err != nil {
			return askedOut{err}
		}
		from = src
		var hash string
		if x.noExtract {
			if _, err := os.Stat(got.tmp); err != nil {
				got.discard()
				return askedOut{err}
			}
			if hash, err = x.hashZip(ctx, got.tmp); err != nil {
				if ctx.Err() != nil {
					got.discard()
					return askedOut{err}
				}
				// Not a zip, or data that does not inflate or fails its
				// CRC: damage on the way, as when unpacking (below).
				bad := &badResponse{fmt.Errorf("downloaded zip is damaged: %v", err), verify.FileDigest(got.tmp)}
				got.discard()
				return x.refused(&from, &fleet, rel, &seen, bad)
			}
		} else {
			u, err := x.unpack(ctx, held, got.tmp)
			if err != nil {
				var we *modcache.WriteError
				if errors.As(err, &we) || ctx.Err() != nil {
					got.discard()
					return askedOut{err}
				}
				// Data that does not inflate, or fails its CRC: damage on
				// the way, unless the proxy serves the same bytes again.
				bad := &badResponse{fmt.Errorf("downloaded zip is damaged: %v", err), verify.FileDigest(got.tmp)}
				got.discard()
				return x.refused(&from, &fleet, rel, &seen, bad)
			}
			got.unpacked, hash = u, u.Hash
		}
		if err := f.cfg.Verifier.Check(ctx, mod, hash); err != nil {
			got.discard()
			return x.refused(&from, &fleet, rel, &seen, err)
		}
		got.hash = hash
		z = got
		return nil
	}, func(a retry.Attempt) {
		if !from.fleet {
			f.cfg.Router.Retried(from.p, a)
			actx = proxy.Avoiding(actx, from.p)
		}
	})
	var ao askedOut
	if errors.As(err, &ao) {
		err = ao.err
	}
	if err != nil {
		return verifiedZip{}, fetchError(mod, err)
	}
	z.from = from
	x.source, x.bytes = from.name(f), z.bytes
	return z, nil
}

// refused judges a zip whose hash (or inflation) failed: from the fleet
// cache, it is reported damaged there and the proxies are asked next, at
// once; from a proxy, it may be damage on the way (asked again) until the
// proxy has served the same bytes twice (final).
func (x *fetch) refused(from *served, fleet *bool, rel string, seen *repeats, err error) error {
	if from.fleet {
		if damaged(err) {
			x.f.cfg.Fleet.Damaged(rel, err)
		}
		*fleet = false
		return errAskUpstream
	}
	if err = seen.judge(proxySource{x.f.cfg.Router.Client, from.p.URL}, err); retry.Classify(err) != retry.Transient {
		return askedOut{err}
	}
	return err
}

// errAskUpstream sends the next try to the proxies, after the fleet
// cache's answer failed its checks.
var errAskUpstream = &badResponse{err: errors.New("the fleet cache's zip failed its checks; asking the proxies")}

// askedOut is an error the retries inside proxy.Ask could not get past,
// or a final one: the loop around Ask does not retry it again.
type askedOut struct{ err error }

func (e askedOut) Error() string           { return e.err.Error() }
func (e askedOut) RetryClass() retry.Class { return retry.Permanent }

// fetchZipBytes asks the fleet cache (if fleet) and then the proxies for
// the zip, holding a network slot.
func (x *fetch) fetchZipBytes(ctx context.Context, held *modcache.Locked, rel string, seen *repeats, fleet bool) (verifiedZip, served, error) {
	f, mod := x.f, x.mod
	release, err := f.downloadSlot(ctx)
	if err != nil {
		return verifiedZip{}, served{}, err
	}
	defer release()
	return askFrom(ctx, f, fleet, mod.Path, rel, func(ctx context.Context, src source) (verifiedZip, error) {
		x.attempts.Add(1)
		tmp, err := held.CreateZipTemp()
		if err != nil {
			return verifiedZip{}, err
		}
		ok := false
		defer func() {
			if !ok {
				tmp.Close()
				os.Remove(tmp.Name())
			}
		}()
		n, err := src.getFile(ctx, rel, cacheWriter{tmp}, maxZip)
		if err != nil {
			return verifiedZip{}, err
		}
		if err := verify.CheckZipStructure(mod, tmp); err != nil {
			return verifiedZip{}, seen.judge(src, err)
		}
		if err := tmp.Close(); err != nil {
			return verifiedZip{}, &modcache.WriteError{Path: tmp.Name(), Err: err}
		}
		ok = true
		return verifiedZip{tmp: tmp.Name(), bytes: n}, nil
	}, verifiedZip.discard)
}

// unpack extracts the downloaded zip (at most Config.Extractions at a
// time) and hashes it in the same pass.
func (x *fetch) unpack(ctx context.Context, held *modcache.Locked, tmp string) (*modcache.Unpacked, error) {
	if err := x.f.extract.acquire(ctx, fileSize(tmp)); err != nil {
		return nil, err
	}
	defer x.f.extract.release()
	return held.Unpack(tmp)
}

// hashZip hashes the downloaded zip without unpacking it (FetchZip), in
// one of the same Config.Extractions slots as unpacking: hashing inflates
// every file, as much CPU as unpacking, and a server that hashes all its
// zips at once leaves no CPU for answering its clients. The zips wait in
// the order their downloads ended, not largest first (size 0): a server
// prefetches zips in the order its client will ask for them. A zip
// someone waits on (Waited) goes before those no one does yet.
func (x *fetch) hashZip(ctx context.Context, tmp string) (string, error) {
	// Read again at each hand-off: a client may join a prefetch's zip
	// while its hash waits (or leave it).
	order := func() int64 {
		if waited(ctx) {
			return 1
		}
		return 0
	}
	if err := x.f.extract.acquireOrder(ctx, order); err != nil {
		return "", err
	}
	defer x.f.extract.release()
	return verify.HashZip(tmp)
}

type waitedKey struct{}

// Waited returns a context whose FetchZip is waited on by someone while
// waiting reports true (a server's client, not its prefetch): its hash
// goes before those of zips no one waits on yet.
func Waited(ctx context.Context, waiting func() bool) context.Context {
	return context.WithValue(ctx, waitedKey{}, waiting)
}

func waited(ctx context.Context) bool {
	waiting, ok := ctx.Value(waitedKey{}).(func() bool)
	return ok && waiting()
}

// fileSize is the size of file, or 0 if it cannot be read.
func fileSize(file string) int64 {
	fi, err := os.Stat(file)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// cacheWriter reports a failed write to a cache file as the cache's
// failure, not the network's.
type cacheWriter struct{ f *os.File }

func (w cacheWriter) WriteAt(p []byte, off int64) (int, error) {
	n, err := w.f.WriteAt(p, off)
	return n, w.failed(err)
}

func (w cacheWriter) Truncate(size int64) error { return w.failed(w.f.Truncate(size)) }

func (w cacheWriter) failed(err error) error {
	if err == nil {
		return nil
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return &modcache.WriteError{Path: w.f.Name(), Err: err}
}

// commit writes what makes the module's download count: the .info (unless
// it was cached), then the zip's .ziphash and final name. It first asks
// whether anyone still wants the module; if not, nothing is written.
func (x *fetch) commit(held *modcache.Locked, z verifiedZip, ia infoAnswer, mf modFile) (string, error) {
	f, mod := x.f, x.mod
	if !x.wanted() {
		z.discard()
		return "", errNotKept
	}
	infoFile, err := f.cfg.Cache.File(mod, "info")
	if err != nil {
		z.discard()
		return "", module.VersionError(mod, err)
	}
	if !ia.cached {
		if _, err := f.cfg.Cache.WriteInfo(mod, ia.info); err != nil {
			z.discard()
			return "", module.VersionError(mod, err)
		}
	}
	zipfile, err := x.commitZip(held, z)
	if err != nil {
		return "", err
	}
	h, err := verify.HashGoMod(mf.data)
	if err != nil {
		return "", module.VersionError(mod, err)
	}
	x.fill(ia.info, infoFile, mf.file, h, zipfile, z.hash)
	return zipfile, nil
}

// extract unpacks the committed zip, at most Config.Extractions at a time.
func (x *fetch) extract(ctx context.Context, held *modcache.Locked, zipfile string) (string, error) {
	if err := x.f.extract.acquire(ctx, fileSize(zipfile)); err != nil {
		return "", module.VersionError(x.mod, err)
	}
	dir, err := held.Extract(zipfile)
	x.f.extract.release()
	if err != nil {
		return "", module.VersionError(x.mod, err)
	}
	return dir, nil
}

// future is a value being computed in the background.
type future[T any] struct {
	done chan struct{}
	v    T
	err  error
}

func start[T any](fn func() (T, error)) *future[T] {
	fu := &future[T]{done: make(chan struct{})}
	go func() {
		defer close(fu.done)
		fu.v, fu.err = fn()
	}()
	return fu
}

// wait returns the value once it is computed.
func (fu *future[T]) wait() (T, error) {
	<-fu.done
	return fu.v, fu.err
}
