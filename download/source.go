package download

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/url"

	"gomodfetch/proxy"
	"gomodfetch/verify"
)

// Tier is the fleet cache (package bucket's Store): module files shared
// beyond this machine, asked before the GOPROXY list. Its keys are
// modcache.RelPath's. It is not trusted: what it answers is checked by the
// same attempt, and so the same code, that checks a proxy's answer, and only
// what came from upstream and passed those checks is put back.
type Tier interface {
	// Holds reports whether path's files may be read from and written to
	// the tier (private paths are kept out unless it is private too).
	Holds(path string) bool
	// Read copies the object at key into w, at most limit bytes; a missing
	// object (or a tier set aside after a fault) matches fs.ErrNotExist. It
	// returns within a short timeout however the tier behaves. An object
	// larger than limit, and any fault of the tier, the tier reports
	// itself: to the caller every error means "ask upstream".
	Read(ctx context.Context, key string, w io.Writer, limit int64) error
	// Put and PutFile write verified bytes at key in the background; they
	// never block and never fail the caller.
	Put(key string, data []byte)
	PutFile(key, file string)
	// Damaged notes an object that was read whole but failed the checks.
	Damaged(key string, err error)
	// String names the tier (no credentials), for messages.
	String() string
}

// A source is where one attempt reads a module file: a GOPROXY entry or the
// Tier. Attempts take a source rather than a proxy URL so that there is
// one verification path: the bucket's bytes go through the very checks a
// proxy's do.
type source interface {
	getBytes(ctx context.Context, rel string, limit int64) ([]byte, error)
	getFile(ctx context.Context, rel string, dst proxy.Dest, limit int64) (int64, error)
	// String names the source for messages and tells sources apart for
	// repeats (a proxy's redacted URL).
	String() string
}

type proxySource struct {
	c    *proxy.Client
	base *url.URL
}

func (s proxySource) getBytes(ctx context.Context, rel string, limit int64) ([]byte, error) {
	return s.c.GetBytes(ctx, proxy.Join(s.base, rel), limit)
}

func (s proxySource) getFile(ctx context.Context, rel string, dst proxy.Dest, limit int64) (int64, error) {
	return s.c.GetFile(ctx, proxy.Join(s.base, rel), dst, limit)
}

func (s proxySource) String() string { return s.base.Redacted() }

type tierSource struct{ t Tier }

func (s tierSource) getBytes(ctx context.Context, rel string, limit int64) ([]byte, error) {
	var b bytes.Buffer
	if err := s.t.Read(ctx, rel, &b, limit); err != nil {
		return nil, tierReadError{err}
	}
	return b.Bytes(), nil
}

func (s tierSource) getFile(ctx context.Context, rel string, dst proxy.Dest, limit int64) (int64, error) {
	if err := dst.Truncate(0); err != nil {
		return 0, err
	}
	w := &sequential{dst: dst}
	if err := s.t.Read(ctx, rel, w, limit); err != nil {
		return w.off, tierReadError{err}
	}
	return w.off, nil
}

// sequential writes to a Dest in order.
type sequential struct {
	dst proxy.Dest
	off int64
}

func (w *sequential) Write(p []byte) (int, error) {
	n, err := w.dst.WriteAt(p, w.off)
	w.off += int64(n)
	return n, err
}

func (s tierSource) String() string { return s.t.String() }

// tierReadError is a read from the tier that did not bring the object
// (missing, or the tier's fault, which the tier itself reports); any other
// failed tier attempt is a damaged object.
type tierReadError struct{ err error }

func (e tierReadError) Error() string { return e.err.Error() }
func (e tierReadError) Unwrap() error { return e.err }

// damaged reports whether err says an answer's bytes are wrong (not that
// they could not be read, nor that they could not be checked).
func damaged(err error) bool {
	var (
		mismatch *verify.ChecksumMismatchError
		bad      *badResponse
		dz       *verify.DamagedZipError
		uz       *verify.UnsafeZipError
	)
	return errors.As(err, &mismatch) || errors.As(err, &bad) || errors.As(err, &dz) || errors.As(err, &uz)
}

// served says where an answer came from.
type served struct {
	tier  bool        // the Tier answered: nothing to put back
	proxy string      // else the proxy that did (redacted); "" for none
	p     proxy.Proxy // that proxy
}

// name is where the answer came from, for reports.
func (s served) name(f *Fetcher) string {
	if s.tier {
		return f.cfg.Tier.String()
	}
	return s.proxy
}

// ask runs attempt against the Tier, if it holds path, and then, unless the
// Tier's answer passed, against the GOPROXY list by proxy.Ask's rules. A
// failed Tier attempt is never the caller's error: upstream decides.
func ask[T any](ctx context.Context, f *Fetcher, path, rel string, attempt func(ctx context.Context, src source) (T, error), discard func(T)) (T, served, error) {
	return askFrom(ctx, f, true, path, rel, attempt, discard)
}

// askFrom is ask, with the Tier asked only if tier is set.
func askFrom[T any](ctx context.Context, f *Fetcher, tier bool, path, rel string, attempt func(ctx context.Context, src source) (T, error), discard func(T)) (T, served, error) {
	if t := f.cfg.Tier; tier && t != nil && t.Holds(path) {
		v, err := attempt(ctx, tierSource{t})
		if err == nil {
			return v, served{tier: true}, nil
		}
		if damaged(err) {
			t.Damaged(rel, err)
		}
	}
	v, p, err := proxy.Ask(ctx, f.cfg.Router, path, func(ctx context.Context, base *url.URL) (T, error) {
		return attempt(ctx, proxySource{f.cfg.Router.Client, base})
	}, discard)
	if err != nil {
		return v, served{}, err
	}
	return v, served{proxy: p.String(), p: p}, nil
}

// putBack writes verified bytes that came from upstream to the Tier.
func (f *Fetcher) putBack(s served, path, rel string, data []byte) {
	if t := f.cfg.Tier; t != nil && !s.tier && t.Holds(path) {
		t.Put(rel, data)
	}
}

// putBackFile is putBack for a file that holds the bytes.
func (f *Fetcher) putBackFile(s served, path, rel, file string) {
	if t := f.cfg.Tier; t != nil && !s.tier && t.Holds(path) {
		t.PutFile(rel, file)
	}
}
