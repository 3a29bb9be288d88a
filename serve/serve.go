// Package serve is a GOPROXY: the module proxy protocol and checksum
// database proxying over HTTP, in front of gomodfetch's download engine,
// so that one environment variable gives every go command its retries,
// timeouts, hedging and verification.
//
// The store is the module cache itself, written through the modcache
// package with the go command's layout, order and locks: a go command on
// the same machine may share it, and its cache/download directory stays a
// valid file:// GOPROXY. What a module version is made of (.info of a
// version, .mod, .zip) never changes, so once verified it is served from
// the cache for good; a zip is fetched and verified but not extracted. What
// changes (a version list, @latest) is asked upstream each time, under a
// deadline, and when upstream fails it is served stale from the cache, and
// marked so. "Not found" answers are remembered briefly.
//
// Trust: the engine's Verifier has no go.sum, so every .mod and .zip is
// checked in the checksum database (unless GONOSUMDB or GOSUMDB=off cover
// the path) before it is stored or served, and one lying upstream cannot
// reach a client. Nor does a cache file someone else changed: a file is
// served only if it is a regular file below the cache, reached without a
// symlink, and a zip only while its bytes match its .ziphash (checked once
// per file, disk.go). Private paths (GONOPROXY, default GOPRIVATE) are
// never asked upstream and never served, even from the cache: they are
// answered 404, so a client's own ",direct" takes over.
//
// Answers follow what the go command expects of a proxy: 404 for anything
// not here (a client falls through a ',' list only on 404 and 410), 400 for
// a request no go command sends, 502 when upstream failed or its answer did
// not verify, short text/plain error bodies. Fetches run on the server's
// context, not the request's: a client that goes away cancels nothing that
// another client waits for, and the download lands in the cache anyway.
package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/singleflight"

	"gomodfetch/download"
	"gomodfetch/modcache"
	"gomodfetch/proxy"
	"gomodfetch/verify"
)

// Config is what a Server needs. Cache is required, and Fetcher unless
// Offline; the rest have usable zero values.
type Config struct {
	// Cache is the module cache that stores everything served.
	Cache *modcache.Cache
	// Fetcher fills the cache from upstream. It should be made with
	// download.Config.ForgetAnswers and without a GoCommand (a module
	// only version control has is answered 404).
	Fetcher *download.Fetcher
	// Private reports paths never asked upstream nor served (GONOPROXY,
	// default GOPRIVATE). Nil means none.
	Private func(path string) bool
	// Offline serves only what the cache holds: no upstream request.
	Offline bool

	// SumDB is the checksum database proxied under /sumdb/<name>/; nil
	// means none (every /sumdb/ request is 404).
	SumDB *verify.SumDBClient
	// SumDBCacheDir is $GOMODCACHE/cache/download/sumdb (lookups and
	// tiles the engine verified); SumDBConfigDir is $GOPATH/pkg/sumdb
	// (the latest signed tree head). Either may be empty.
	SumDBCacheDir, SumDBConfigDir string
	// SumDBName names the proxied database when SumDB is nil but the
	// cache may hold it (offline).
	SumDBName string

	// Context bounds the fetches: they run on it, not on a request's.
	// Nil means context.Background().
	Context context.Context
	// Logger receives the access log and warnings (nil: discarded).
	Logger *slog.Logger
	// Registry is where metrics are registered and gathered for /metrics
	// (nil: a registry of the server's own).
	Registry *prometheus.Registry

	// ListTimeout bounds the upstream refresh of a version list or
	// @latest (zero: 10s); past it the cache's answer is served.
	ListTimeout time.Duration
	// NotFoundTTL is how long an upstream "not found" is remembered
	// (zero: 1m; negative: not at all).
	NotFoundTTL time.Duration
	// MaxUpstream bounds the upstream operations in flight (zero: 64).
	MaxUpstream int
	// Prefetch bounds the background fetches started when a .mod is
	// served: its requirements' .mod files, and its own .info and .zip
	// (zero: none).
	Prefetch int
}

// Server is the proxy, an http.Handler. It is safe for concurrent use.
type Server struct {
	cfg      Config
	ctx      context.Context
	log      *slog.Logger
	metrics  *metrics
	flights  singleflight.Group
	upstream chan struct{} // semaphore: MaxUpstream
	prefetch chan struct{} // semaphore: Prefetch
	// prefetches waiting for a slot (module.go's spawn)
	pmu                      sync.Mutex
	pendingMods, pendingZips []func(context.Context)
	misses                   notFound
	mux                      *http.ServeMux
	wg                       sync.WaitGroup // prefetches
	disk                     *disk          // what is served from disk is checked (disk.go)
}

// New returns a Server for cfg.
func New(cfg Config) *Server {
	if cfg.Context == nil {
		cfg.Context = context.Background()
	}
	if cfg.ListTimeout <= 0 {
		cfg.ListTimeout = 10 * time.Second
	}
	if cfg.NotFoundTTL == 0 {
		cfg.NotFoundTTL = time.Minute
	}
	if cfg.MaxUpstream <= 0 {
		cfg.MaxUpstream = 64
	}
	if cfg.Private == nil {
		cfg.Private = func(string) bool { return false }
	}
	if cfg.SumDB != nil {
		cfg.SumDBName = cfg.SumDB.Name()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s := &Server{
		cfg:      cfg,
		ctx:      cfg.Context,
		log:      log,
		upstream: make(chan struct{}, cfg.MaxUpstream),
		prefetch: make(chan struct{}, max(cfg.Prefetch, 0)),
		misses:   notFound{ttl: cfg.NotFoundTTL},
		mux:      http.NewServeMux(),
		disk:     newDisk(cfg),
	}
	s.metrics = newMetrics(reg, cfg.Fetcher)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	return s
}

// Wait waits for the background prefetches to end (they end soon once the
// server's context is done).
func (s *Server) Wait() { s.wg.Wait() }

// maxURL bounds a request's path: a module path and version are far
// shorter.
const maxURL = 4096

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &recorder{ResponseWriter: w}
	ep := "other"
	defer func() {
		d := time.Since(start)
		s.metrics.observe(ep, rw.code(), rw.outcome, rw.n, d)
		level := slog.LevelInfo
		if ep == "metrics" || ep == "healthz" {
			level = slog.LevelDebug
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", rw.code()), slog.Int64("bytes", rw.n),
			slog.Duration("duration", d), slog.String("remote", r.RemoteAddr),
		}
		if rw.outcome != "" {
			attrs = append(attrs, slog.String("cache", rw.outcome))
		}
		if rw.detail != "" {
			attrs = append(attrs, slog.String("error", rw.detail))
		}
		s.log.LogAttrs(r.Context(), level, "request", attrs...)
	}()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		rw.fail(http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	if len(r.URL.Path) > maxURL || len(r.URL.RawQuery) > maxURL {
		rw.fail(http.StatusRequestURITooLong, "request too long")
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/")
	switch {
	case p == "metrics" || p == "healthz":
		ep = p
		s.mux.ServeHTTP(rw, r)
	case strings.HasPrefix(p, "sumdb/"):
		ep = "sumdb"
		s.serveSumDB(rw, r, strings.TrimPrefix(p, "sumdb/"))
	default:
		req, err := parseModuleRequest(p)
		if err != nil {
			rw.fail(err.status, err.msg)
			return
		}
		ep = req.kind
		s.serveModule(rw, r, req)
	}
}

// recorder remembers what was answered, for the log and the metrics.
type recorder struct {
	http.ResponseWriter
	status  int
	n       int64
	outcome string // "hit", "miss", "stale", "offline" or ""
	detail  string // the error behind a failure, for the log
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

// ReadFrom hands a body read from a file (http.ServeContent's copy of a
// cached zip) to the connection's own ReadFrom, which sends it with
// sendfile on Linux. Without it every byte went through a 32 KiB copy
// buffer, and `go run ./bench -serve` had serve -offline's zips at 0.56
// of a static file server's rate over the same cache (0.83 with it).
func (w *recorder) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(struct{ io.Writer }{w.ResponseWriter}, r)
	}
	w.n += n
	return n, err
}

// Unwrap gives http.ResponseController the connection's writer.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *recorder) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// fail answers code with a short text/plain body, as the go command shows
// it to its user.
func (w *recorder) fail(code int, msg string) {
	h := w.Header()
	for _, k := range []string{"Content-Length", "Content-Encoding", "ETag", "Last-Modified", "Cache-Control"} {
		h.Del(k)
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	if code == http.StatusNotFound {
		h.Set("Cache-Control", "max-age=60")
	}
	w.WriteHeader(code)
	io.WriteString(w, oneLine(msg, 200)+"\n")
}

// failErr answers err with the status a go command expects: 404 for "not
// here", 503 while shutting down, 502 for any other upstream failure.
func (w *recorder) failErr(err error) {
	w.detail = oneLine(err.Error(), 500)
	switch {
	case notExist(err):
		w.fail(http.StatusNotFound, "not found: "+err.Error())
	case errors.Is(err, context.Canceled):
		w.fail(http.StatusServiceUnavailable, "server shutting down")
	default:
		w.fail(http.StatusBadGateway, "upstream: "+err.Error())
	}
}

// notExist reports whether err means "no such module or version".
func notExist(err error) bool {
	var vcs *proxy.NeedVCSError
	return errors.Is(err, fs.ErrNotExist) || errors.As(err, &vcs)
}

// oneLine is the first line of s, at most n bytes, with anything but
// graphic ASCII replaced.
func oneLine(s string, n int) string {
	s, _, _ = strings.Cut(s, "\n")
	b := []byte(s)
	if len(b) > n {
		b = append(b[:n], "..."...)
	}
	for i, c := range b {
		if c < ' ' || c > '~' {
			b[i] = '?'
		}
	}
	return string(b)
}

// notFound remembers upstream "not found" answers for a while, bounded in
// number.
type notFound struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]time.Time // key → expiry
}

const maxNotFound = 10000

func (n *notFound) has(key string) bool {
	if n.ttl < 0 {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	exp, ok := n.m[key]
	if ok && time.Now().After(exp) {
		delete(n.m, key)
		return false
	}
	return ok
}

func (n *notFound) add(key string) {
	if n.ttl < 0 {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.m == nil {
		n.m = map[string]time.Time{}
	}
	now := time.Now()
	if len(n.m) >= maxNotFound {
		for k, exp := range n.m {
			if now.After(exp) || len(n.m) >= maxNotFound {
				delete(n.m, k)
			}
		}
	}
	n.m[key] = now.Add(n.ttl)
}

// flight runs fn once for key among the requests asking at the same time,
// on the server's context and within the upstream bound, and waits for it
// on ctx (a request's): a request that goes away leaves fn running for the
// others, and its result lands in the cache.
func flight[T any](s *Server, ctx context.Context, key string, fn func(ctx context.Context) (T, error)) (T, error) {
	var zero T
	if s.misses.has(key) {
		return zero, fmt.Errorf("%s: %w (remembered)", key, fs.ErrNotExist)
	}
	ch := s.flights.DoChan(key, func() (any, error) {
		select {
		case s.upstream <- struct{}{}:
		case <-s.ctx.Done():
			return zero, s.ctx.Err()
		}
		defer func() { <-s.upstream }()
		v, err := fn(s.ctx)
		if err != nil && notExist(err) {
			s.misses.add(key)
		}
		return v, err
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return zero, res.Err
		}
		return res.Val.(T), nil
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}
