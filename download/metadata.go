package download

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sync"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"

	"gomodfetch/modcache"
	"gomodfetch/proxy"
	"gomodfetch/retry"
	"gomodfetch/verify"
)

// infoAnswer is a module version's .info and whether it came from the
// cache (else it is yet to be written there).
type infoAnswer struct {
	info   *modcache.Info
	cached bool
}

// Info returns mod's .info content, from the cache or a proxy, and whether
// it came from the cache. It does not write the cache.
func (f *Fetcher) Info(ctx context.Context, mod module.Version) (*modcache.Info, bool, error) {
	if err := module.Check(mod.Path, mod.Version); err != nil {
		return nil, false, err
	}
	if info, _, err := f.cfg.Cache.ReadInfo(mod); err == nil {
		return info, true, nil
	}
	a, err := f.infos.Do(mod, func() (infoAnswer, error) {
		rel, err := modcache.RelPath(mod, "info")
		if err != nil {
			return infoAnswer{}, err
		}
		a, from, err := f.askVersionInfo(ctx, mod, rel)
		if err == nil {
			f.putBack(from, mod.Path, rel, a.data)
		}
		return infoAnswer{info: a.info}, err
	})
	if err != nil {
		return nil, false, fetchError(mod, err)
	}
	return a.info, a.cached, nil
}

// askVersionInfo asks for mod's own .info, checked as go checks a proxy's
// (the Version it names is the one asked) and, from the fleet cache,
// more: nothing covers a .info's Time (not go.sum, not the checksum
// database), and anyone who may write the bucket may change it, so the
// bucket's .info is taken only where its Time can be checked: a
// pseudo-version's, whose Time must be the one the version spells. A
// tagged version's .info is asked upstream, and read from the bucket only
// when upstream cannot answer (not when it says "not found"): then the
// run has that .info or none, and goes on.
func (f *Fetcher) askVersionInfo(ctx context.Context, mod module.Version, rel string) (rawInfo, served, error) {
	check := func(src source, info *modcache.Info) error {
		if info.Version != mod.Version {
			return fmt.Errorf("proxy %s returned info for version %s instead of requested version", src, info.Version)
		}
		if _, fromFleet := src.(fleetSource); fromFleet && module.IsPseudoVersion(mod.Version) {
			t, err := module.PseudoVersionTime(mod.Version)
			if err != nil || !info.Time.Equal(t) {
				return fmt.Errorf("fleet cache %s: .info Time %v is not the pseudo-version's", src, info.Time)
			}
		}
		return nil
	}
	if module.IsPseudoVersion(mod.Version) {
		return f.askInfo(ctx, mod.Path, rel, check, true)
	}
	a, from, err := f.askInfo(ctx, mod.Path, rel, check, false)
	if err == nil || errors.Is(err, fs.ErrNotExist) || ctx.Err() != nil {
		return a, from, err
	}
	if t := f.cfg.Fleet; t != nil && t.Holds(mod.Path) {
		if b, berr := (fleetSource{t}).getBytes(ctx, rel, maxInfo); berr == nil {
			info := new(modcache.Info)
			if json.Unmarshal(b, info) == nil && info.Version == mod.Version {
				return rawInfo{info, b}, served{fleet: true}, nil
			}
			t.Damaged(rel, errors.New("not the .info of this version"))
		}
	}
	return a, from, err
}

// rawInfo is a parsed .info answer and its bytes.
type rawInfo struct {
	info *modcache.Info
	data []byte
}

// askInfo asks the proxies (and, if fleet, the Fleet first: only a
// version's own .info is immutable) for the .info answer at rel (relative
// to a proxy's base URL) and checks it with check; an answer that does not
// parse or that check refuses is a bad answer (see repeats).
func (f *Fetcher) askInfo(ctx context.Context, path, rel string, check func(src source, info *modcache.Info) error, fleet bool) (rawInfo, served, error) {
	var seen repeats
	attempt := func(ctx context.Context, src source) (rawInfo, error) {
		data, err := src.getBytes(ctx, rel, maxInfo)
		if err != nil {
			return rawInfo{}, err
		}
		info := new(modcache.Info)
		if err := json.Unmarshal(data, info); err != nil {
			return rawInfo{}, seen.judge(src, &badResponse{fmt.Errorf("invalid response from proxy %q: %v", src, err), digest(data)})
		}
		if err := check(src, info); err != nil {
			return rawInfo{}, seen.judge(src, &badResponse{err, digest(data)})
		}
		return rawInfo{info, data}, nil
	}
	if fleet {
		return ask(ctx, f, path, rel, attempt, nil)
	}
	a, p, err := proxy.Ask(ctx, f.cfg.Router, path, func(ctx context.Context, base *url.URL) (rawInfo, error) {
		return attempt(ctx, proxySource{f.cfg.Router.Client, base})
	}, nil)
	return a, served{proxy: p.String()}, err
}

// modFile is a verified go.mod and the cache file holding it.
type modFile struct {
	data []byte
	file string
}

// GoMod returns mod's verified go.mod content, from the cache or a proxy,
// writing it (and the version list) to the cache if it was fetched. A
// module only version control can supply is fetched whole by the go
// command.
func (f *Fetcher) GoMod(ctx context.Context, mod module.Version) ([]byte, error) {
	r, err := f.goMod(ctx, mod)
	return r.data, err
}

func (f *Fetcher) goMod(ctx context.Context, mod module.Version) (modFile, error) {
	r, err := f.goModFromProxies(ctx, mod)
	var vcs *proxy.NeedVCSError
	if !f.vcs(mod.Path) || !errors.As(err, &vcs) {
		return r, err
	}
	// The go command fetches the go.mod alone, as it does for a module
	// graph; it is then read from the cache and checked like any other.
	if err := f.handoffGoMod(ctx, mod); err != nil {
		return modFile{}, err
	}
	data, file, err := f.cfg.Cache.ReadGoMod(mod)
	if err != nil {
		return modFile{}, module.VersionError(mod, err)
	}
	return f.checkCachedGoMod(ctx, mod, data, file)
}

// checkCachedGoMod checks a go.mod read from the cache like a download: the
// cache may be shared, restored or tampered with.
func (f *Fetcher) checkCachedGoMod(ctx context.Context, mod module.Version, data []byte, file string) (modFile, error) {
	h, err := verify.HashGoMod(data)
	if err != nil {
		return modFile{}, module.VersionError(mod, err)
	}
	if err := f.cfg.Verifier.Check(ctx, verify.GoModKey(mod), h); err != nil {
		return modFile{}, err
	}
	return modFile{data, file}, nil
}

// goModFromProxies is goMod without the hand-off to the go command: a
// module only version control can supply is a *proxy.NeedVCSError. It
// never waits for a version lock, so it may run while the caller holds one.
func (f *Fetcher) goModFromProxies(ctx context.Context, mod module.Version) (modFile, error) {
	if err := module.Check(mod.Path, mod.Version); err != nil {
		return modFile{}, err
	}
	return f.goMods.Do(mod, func() (modFile, error) {
		if data, file, err := f.cfg.Cache.ReadGoMod(mod); err == nil {
			r, err := f.checkCachedGoMod(ctx, mod, data, file)
			if err == nil {
				f.cfg.Cache.RepairList(mod)
			}
			return r, err
		}
		if we := f.cacheErr.Load(); we != nil {
			return modFile{}, module.VersionError(mod, we) // it could not be written
		}
		rel, err := modcache.RelPath(mod, "mod")
		if err != nil {
			return modFile{}, module.VersionError(mod, err)
		}
		// Its checksum database lookup, if it needs one, runs meanwhile.
		f.cfg.Verifier.Prefetch(ctx, verify.GoModKey(mod))
		var seen repeats
		data, from, err := ask(ctx, f, mod.Path, rel, func(ctx context.Context, src source) ([]byte, error) {
			data, err := src.getBytes(ctx, rel, maxGoMod)
			if err != nil {
				return nil, err
			}
			h, err := verify.HashGoMod(data)
			if err != nil {
				return nil, err
			}
			if !f.cfg.Verifier.Vouches(ctx, verify.GoModKey(mod)) {
				if err := goModForm(rel, data); err != nil && !seen.again(src, digest(data)) {
					// Nothing to check its hash against (GOSUMDB=off,
					// GONOSUMDB, no go.sum line), and the first hash
					// accepted is recorded: damage on the way would
					// stand for good. The strict parse (a replace line
					// that lost its "=>" fails it, not ParseLax) tells
					// most damage; a proxy that serves the same bytes
					// again has them for its go.mod (some old ones fail
					// it), and go takes them too.
					return nil, &badResponse{err, digest(data)}
				}
			}
			if err := f.cfg.Verifier.Check(ctx, verify.GoModKey(mod), h); err != nil {
				return nil, seen.judge(src, err)
			}
			return data, nil
		}, nil)
		var vcs *proxy.NeedVCSError
		if errors.As(err, &vcs) {
			return modFile{}, err
		}
		if err != nil {
			return modFile{}, fetchError(mod, err)
		}
		file, err := f.cfg.Cache.WriteGoMod(mod, data)
		if err != nil {
			f.noteCacheError(err)
			return modFile{}, module.VersionError(mod, err)
		}
		f.putBack(from, mod.Path, rel, data)
		return modFile{data, file}, nil
	})
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
func (e *badResponse) Digest() string          { return e.digest }

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

// corruptError is a download whose hash does not match go.sum. The bytes
// may have been damaged on the way, so another attempt (or another proxy)
// is worth it; only a mismatch that repeats is reported.
type corruptError struct{ err *verify.ChecksumMismatchError }

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

// digested is a bad answer that can tell its bytes apart from another's.
type digested interface {
	error
	Digest() string
}

// goModForm reports why data is not a well-formed go.mod, or nil if it is:
// one that parses strictly (modfile.Parse: a replace line that lost its
// "=>" or a version that is not canonical fails it, not ParseLax) and
// where every module path is well-formed (module.CheckPath: a quoted path
// that took damage parses), its module's and its requirements' (not
// replace or exclude paths: the go command ignores those lines in a
// dependency's go.mod, and envoyproxy/go-control-plane/envoy v1.40.0
// replaces a "path@version"). Of the 1,519 go.mod files of the
// benchmark's three real projects, all are; of go.mod files damaged by
// the fault proxy's corrupt (16 bytes flipped), most are not, but damage
// to a comment is not seen.
//
// A go.mod over maxFormGoMod is not parsed, and not shown well-formed: a
// strict parse of 16 MiB (the most served) costs about a second of CPU
// and 400 MiB of allocation, once per attempt, and anyone can publish
// one; taken when the same bytes come twice, it costs one more download.
func goModForm(file string, data []byte) error {
	if len(data) > maxFormGoMod {
		return fmt.Errorf("the go.mod served is too large (%d bytes) to tell damage on the way by its form", len(data))
	}
	bad := errors.New("the go.mod served does not parse (damaged on the way?)")
	f, err := modfile.Parse(file, data, nil)
	if err != nil || f.Module == nil || module.CheckPath(f.Module.Mod.Path) != nil {
		return bad
	}
	for _, r := range f.Require {
		if module.CheckPath(r.Mod.Path) != nil {
			return bad
		}
	}
	return nil
}

// maxFormGoMod is the largest go.mod goModForm parses: real ones are
// under 100 KiB.
const maxFormGoMod = 1 << 20

// again records that src served bytes with the given digest, and reports
// whether it has now served them sameAnswer times: they are what it
// serves, not damage on the way.
func (c *repeats) again(src source, digest string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]int{}
	}
	key := src.String() + " parsed " + digest
	c.seen[key]++
	return c.seen[key] >= sameAnswer
}

// judge returns err as the attempt's error: a bad answer the source
// has now given sameAnswer times becomes final (a
// *verify.ChecksumMismatchError or a *BadAnswerError); before that it is
// transient.
func (c *repeats) judge(src source, err error) error {
	var (
		m   *verify.ChecksumMismatchError
		bad digested
		key string
	)
	switch {
	case errors.As(err, &m):
		key = "sum " + m.Downloaded
	case errors.As(err, &bad) && bad.Digest() != "":
		key = "bytes " + bad.Digest()
	default:
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]int{}
	}
	key = src.String() + " " + key
	c.seen[key]++
	final := c.seen[key] >= sameAnswer
	switch {
	case m != nil && final:
		return m
	case m != nil:
		return &corruptError{m}
	case final:
		return &BadAnswerError{Err: bad}
	}
	return err
}
