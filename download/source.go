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

// Fleet is the fleet cache (package fleet's Cache): module files shared
// beyond this machine, asked before the GOPROXY list. Its keys are
// modcache.RelPath's. It is not trusted: what it answers is checked by the
// same attempt, and so the same code, that checks a proxy's answer, and only
// what came from upstream and passed those checks is put back.
type Fleet interface {
	// Holds reports whether path's files may be read from and written to
	// the fleet (private paths are kept out unless it is private too).
	Holds(path string) bool
	// Read copies the object at key into w, at most limit bytes; a missing
	// object (or a fleet set aside after a fault) matches fs.ErrNotExist. It
	// returns within a short timeout however the fleet behaves. An object
	// larger than limit, and any fault of the fleet, the fleet reports
	// itself: to the caller every error means "ask upstream".
	Read(ctx context.Context, key string, w io.Writer, limit int64) error
	// Put and PutFile write verified bytes at key in the background; they
	// never block and never fail the caller.
	Put(key string, data []byte)
	PutFile(key, file string)
	// Damaged notes an object that was read whole but failed the checks.
	Damaged(key string, err error)
	// String names the fleet (no credentials), for messages.
	String() string
}

// A source is where one attempt reads a module file: a GOPROXY entry or the
// Fleet. Attempts take a source rather than a proxy URL so that there is
// one verification path: the fleet cache's bytes go through the very checks a
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

type fleetSource struct{ t Fleet }

func (s fleetSource) getBytes(ctx context.Context, rel string, limit int64) ([]byte, error) {
	var b bytes.Buffer
	if err := s.t.Read(ctx, rel, &b, limit); err != nil {
		return nil, fleetReadError{err}
	}
	return b.Bytes(), nil
}

func (s fleetSource) getFile(ctx context.Context, rel string, dst proxy.Dest, limit int64) (int64, error) {
	if err := dst.Truncate(0); err != nil {
		return 0, err
	}
	w := &sequential{dst: dst}
	if err := s.t.Read(ctx, rel, w, limit); err != nil {
		return w.off, fleetReadError{err}
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

func (s fleetSource) String() string { return s.t.String() }

// fleetReadError is a read from the fleet that did not bring the object
// (missing, or the fleet's fault, which the fleet itself reports); any other
// failed fleet attempt is a damaged object.
type fleetReadError struct{ err error }

func (e fleetReadError) Error() string { return e.err.Error() }
func (e fleetReadError) Unwrap() error { return e.err }

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
	fleet bool        // the Fleet answered: nothing to put back
	proxy string      // else the proxy that did (redacted); "" for none
	p     proxy.Proxy // that proxy
}

// name is where the answer came from, for reports.
func (s served) name(f *Fetcher) string {
	if s.fleet {
		return f.cfg.Fleet.String()
	}
	return s.proxy
}

// ask runs attempt against the Fleet, if it holds path, and then, unless the
// Fleet's answer passed, against the GOPROXY list by proxy.Ask's rules. A
// failed Fleet attempt is never the caller's error: upstream decides.
func ask[T any](ctx context.Context, f *Fetcher, path, rel string, attempt func(ctx context.Context, src source) (T, error), discard func(T)) (T, served, error) {
	return askFrom(ctx, f, true, path, rel, attempt, discard)
}

// askFrom is ask, with the Fleet asked only if fleet is set.
func askFrom[T any](ctx context.Context, f *Fetcher, fleet bool, path, rel string, attempt func(ctx context.Context, src source) (T, error), discard func(T)) (T, served, error) {
	if t := f.cfg.Fleet; fleet && t != nil && t.Holds(path) {
		v, err := attempt(ctx, fleetSource{t})
		if err == nil {
			return v, served{fleet: true}, nil
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

// putBack writes verified bytes that came from upstream to the Fleet.
func (f *Fetcher) putBack(s served, path, rel string, data []byte) {
	if t := f.cfg.Fleet; t != nil && !s.fleet && t.Holds(path) {
		t.Put(rel, data)
	}
}

// putBackFile is putBack for a file that holds the bytes.
func (f *Fetcher) putBackFile(s served, path, rel, file string) {
	if t := f.cfg.Fleet; t != nil && !s.fleet && t.Holds(path) {
		t.PutFile(rel, file)
	}
}
