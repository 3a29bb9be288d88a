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
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"gomodfetch/download"
	"gomodfetch/internal/beneath"
	"gomodfetch/modcache"
	"gomodfetch/policy"
	"gomodfetch/proxy"
	"gomodfetch/verify"
)

// Config is what a Server needs. Cache is required, and Fetcher unless
// Offline; the rest have usable zero values.
type Config struct {
	// Cache is the module cache that stores everything served.
	Cache *modcache.Cache
	// Fetcher fills the cache from upstream. It should be made with
	// download.Config.ForgetAnswers, and with a GoCommand only for the
	// Restricted paths (what else only version control has is answered
	// 404).
	Fetcher *download.Fetcher
	// Private reports paths never asked upstream nor served (GONOPROXY,
	// default GOPRIVATE), unless Restricted. Nil means none.
	Private func(path string) bool
	// NoSumDB reports paths whose names must not reach the checksum
	// database (GONOSUMDB, default GOPRIVATE): the /sumdb/ proxy answers
	// 404 for their lookups, as for Private ones. Nil means none.
	NoSumDB func(path string) bool
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
	// StaleAfter is how long a request for a version list or @latest
	// waits for upstream when the cache holds an answer (zero: 2s;
	// negative: up to ListTimeout): past it the cache's answer is served,
	// marked stale, and the refresh goes on without the request.
	StaleAfter time.Duration
	// NotFoundTTL is how long an upstream "not found" is remembered
	// (zero: 1m; negative: not at all).
	NotFoundTTL time.Duration
	// AbsentTTL is how long upstream's "not found" for an exact module
	// version (its .info, .mod or .zip) is remembered, in memory and in a
	// log below the cache (cache/gomodfetch/serve-absent.log), so that it
	// survives a restart (zero: 30m; negative: not at all beyond
	// NotFoundTTL).
	AbsentTTL time.Duration
	// FailureTTL is how long any other upstream failure is remembered and
	// answered again without asking upstream (zero: 10s; negative: not at
	// all).
	FailureTTL time.Duration

	// Credentials, if not nil, are the clients the server knows
	// (auth.go): a request with a wrong credential is answered 401, and
	// a path Restricted reports is served only to a credential whose
	// scope covers it (401 without one, 404 outside its scope). Other
	// paths need a credential only if PublicNeedsAuth.
	// Policy, if not nil, is the supply-chain policy applied to what is
	// offered (policy.go); Seen records when versions were first seen,
	// for its cooldown (nil: the .info Time alone). With PolicyDryRun the
	// decisions are only logged and counted.
	Policy       *policy.Gate
	Seen         *policy.Seen
	PolicyDryRun bool

	// TLS, if not nil, makes Serve answer HTTPS with this certificate
	// and key (tls.go).
	TLS *TLSFiles

	Credentials     *Credentials
	Restricted      func(path string) bool
	PublicNeedsAuth bool

	// The bounds below keep what a client can make the server spend
	// (connections, time, upstream work, memory) finite. Zero means the
	// default given; each one that bites is logged (at most a line per
	// bound every 10s) and counted in /metrics.

	// MaxUpstream bounds the upstream requests in flight at once, for
	// clients and prefetches (zero: 64). A request holds its place while
	// its response is read, not while it waits to be retried.
	MaxUpstream int
	// ClientUpstream bounds the upstream requests in flight for the
	// fetches one client (address) started; more wait for one of its own
	// (zero: a quarter of MaxUpstream, at least 1).
	ClientUpstream int
	// UpstreamTimeout bounds one upstream operation for a .info, .mod,
	// version list, query or checksum-database read, its retries included,
	// and how long a client waits for it (zero: 1m). ZipTimeout is the
	// same for a zip (zero: 10m).
	UpstreamTimeout, ZipTimeout time.Duration
	// Prefetch bounds the background fetches started when a .mod is
	// served (its requirements' .mod files, its own .info and .zip) that
	// run at once; their upstream requests hold at most as many places,
	// never more than half of MaxUpstream (zero: 32; negative: no
	// prefetch).
	Prefetch int
	// PrefetchPerClient bounds the prefetches one client owes (made for it
	// and not yet asked for): that many zips, four times as many go.mod
	// files plus four for each go.mod it read lately (zero: 64); the next
	// ones wait for it to ask for one (docs/serve-bounds.md).
	PrefetchPerClient int

	// MaxConns bounds the open client connections (zero: 1024), and
	// MaxConnsPerClient those from one address (zero: 128): past a bound,
	// the longest idle connection is closed to make room, or the new one
	// is answered 503 (see Serve).
	MaxConns, MaxConnsPerClient int
	// WriteTimeout cuts a client that does not take each 128 KiB of a
	// response within it (zero: 30s): a reader that stalls or trickles
	// cannot hold a connection, its buffers and a file open for ever.
	WriteTimeout time.Duration
}

// Server is the proxy, an http.Handler. It is safe for concurrent use.
type Server struct {
	cfg        Config
	ctx        context.Context
	log        *slog.Logger
	limits     *limitLog
	metrics    *metrics
	flights    flights
	gate       *upstreamGate
	prefetcher *prefetcher
	misses     answers // upstream "not found", by flight key
	absent     *absent // the same for exact versions, kept longer and across restarts
	failures   answers // other upstream failures, by flight key
	mux        *http.ServeMux
	listening  listening
	disk       *disk        // what is served from disk is checked (disk.go)
	confirmed  confirmedSet // hashes the engine verified, per module file (disk.go)
	small      smallFiles   // .info and .mod answers served from the cache (small.go)
	certs      *certs       // Config.TLS, loaded by the first Serve (guarded by listening.mu)
	draining   atomic.Bool  // Shutdown has begun (listen.go)
	active     atomic.Int64 // requests being answered, not refused for draining
}

// New returns a Server for cfg.
func New(cfg Config) *Server {
	if cfg.Context == nil {
		cfg.Context = context.Background()
	}
	setDefault(&cfg.ListTimeout, 10*time.Second)
	setDefault(&cfg.StaleAfter, 2*time.Second)
	setDefault(&cfg.NotFoundTTL, time.Minute)
	setDefault(&cfg.AbsentTTL, 30*time.Minute)
	setDefault(&cfg.FailureTTL, 10*time.Second)
	setDefault(&cfg.MaxUpstream, 64)
	setDefault(&cfg.ClientUpstream, max(1, cfg.MaxUpstream/4))
	setDefault(&cfg.UpstreamTimeout, time.Minute)
	setDefault(&cfg.ZipTimeout, 10*time.Minute)
	setDefault(&cfg.Prefetch, 32)
	if cfg.MaxUpstream < 2 {
		cfg.Prefetch = -1 // prefetches may hold at most half the places: none of one
	}
	setDefault(&cfg.PrefetchPerClient, 64)
	setDefault(&cfg.MaxConns, 1024)
	setDefault(&cfg.MaxConnsPerClient, 128)
	setDefault(&cfg.WriteTimeout, 30*time.Second)
	if cfg.Private == nil {
		cfg.Private = func(string) bool { return false }
	}
	if cfg.Restricted == nil {
		cfg.Restricted = func(string) bool { return false }
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
		cfg:        cfg,
		ctx:        cfg.Context,
		log:        log,
		limits:     &limitLog{log: log, every: 10 * time.Second},
		gate:       &upstreamGate{size: cfg.MaxUpstream, share: min(cfg.Prefetch, cfg.MaxUpstream/2), perClient: cfg.ClientUpstream},
		prefetcher: newPrefetcher(cfg.Prefetch, cfg.PrefetchPerClient),
		misses:     answers{ttl: cfg.NotFoundTTL, max: 10000},
		failures:   answers{ttl: cfg.FailureTTL, max: 10000},
		mux:        http.NewServeMux(),
		disk:       newDisk(cfg),
	}
	var absentRoot *beneath.Root
	if !cfg.Offline && cfg.Cache != nil {
		absentRoot = cfg.Cache.Files()
	}
	s.absent = newAbsent(cfg.AbsentTTL, absentRoot, func(msg string, err error) { log.Warn(msg, "error", oneLine(err.Error(), 300)) })
	s.metrics = newMetrics(reg, cfg.Fetcher)
	s.gate.onWait = s.metrics.gateWait
	s.gate.onLimited = func(client string) {
		s.metrics.limited.WithLabelValues("client-upstream").Inc()
		s.limits.note("client-upstream", "a client's upstream requests wait for its own to end (-client-upstream)", client)
	}
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	return s
}

// setDefault sets *v to def if it is zero. (A negative value is left as
// it is: "off" or "none" where a bound allows that.)
func setDefault[T int | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

// Gate is what the Fetcher's proxy.Client must pass every upstream
// request through (proxy.Client.Gate), so that MaxUpstream, the order of
// clients before prefetches, and the flights' classes hold.
func (s *Server) Gate() proxy.Gate { return s.gate }

// Wait waits for the upstream operations and prefetches in progress to
// end (they end soon once the server's context is done).
func (s *Server) Wait() {
	s.prefetcher.wg.Wait()
	s.flights.wg.Wait()
	s.absent.close()
}

// maxURL bounds a request's path: a module path and version are far
// shorter.
const maxURL = 4096

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &recorder{ResponseWriter: w, rc: http.NewResponseController(w), timeout: s.cfg.WriteTimeout, ctx: r.Context(), remote: r.RemoteAddr}
	rw.arm()
	ep := "other"
	defer func() {
		// The server flushes what is buffered after this returns: that
		// too must go within the write timeout.
		rw.arm()
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
		if rw.user != "" {
			attrs = append(attrs, slog.String("user", rw.user))
		}
		if rw.outcome != "" {
			attrs = append(attrs, slog.String("cache", rw.outcome))
		}
		if rw.detail != "" {
			attrs = append(attrs, slog.String("error", rw.detail))
		}
		if rw.cut {
			s.metrics.limited.WithLabelValues("write-timeout").Inc()
			s.limits.note("write-timeout", "a client did not take a response's bytes in time; its connection was cut (-write-timeout)", hostOf(r.RemoteAddr))
			attrs = append(attrs, slog.String("cut", "write timeout"))
		}
		s.log.LogAttrs(r.Context(), level, "request", attrs...)
	}()
	if r.ContentLength != 0 || len(r.TransferEncoding) > 0 {
		// No go command sends a body. One that does not arrive would hold
		// the connection: net/http reads an unread body before it
		// answers on a connection it keeps, and nothing bounds that read.
		// Answer at once and close, reading nothing.
		w.Header().Set("Connection", "close")
		rw.rc.SetReadDeadline(time.Now()) // nor after the answer (net/http would discard up to 256 KiB)
		rw.fail(http.StatusBadRequest, "a request with a body")
		return
	}
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
	if s.draining.Load() && p != "metrics" {
		// Shutdown has begun: the requests in flight finish, new ones are
		// sent elsewhere (a load balancer watching /healthz stops sending).
		if p == "healthz" {
			ep = p
		}
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Connection", "close")
		rw.outcome = "draining"
		rw.fail(http.StatusServiceUnavailable, "shutting down")
		return
	}
	s.active.Add(1)
	defer s.active.Add(-1)
	switch {
	case p == "metrics" || p == "healthz":
		ep = p
		s.mux.ServeHTTP(rw, r)
	case strings.HasPrefix(p, "sumdb/"):
		ep = "sumdb"
		if s.authorize(rw, r, "") {
			s.serveSumDB(rw, r, strings.TrimPrefix(p, "sumdb/"))
		}
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

// client is who a request counts against: its address.
func client(r *http.Request) requester { return requester{client: hostOf(r.RemoteAddr)} }

// recorder remembers what was answered, for the log and the metrics, and
// holds the client to the write timeout: every chunk of at most writeChunk
// bytes must be taken within it, so a response makes progress at no less
// than writeChunk per timeout or its connection is cut.
type recorder struct {
	http.ResponseWriter
	ctx     context.Context // the request's
	rc      *http.ResponseController
	timeout time.Duration
	status  int
	n       int64
	user    string // the credential's name, if one was presented and verified
	remote  string // the client's address
	outcome string // "hit", "miss", "stale", "offline" or ""
	detail  string // the error behind a failure, for the log
	cut     bool   // a write ran past the timeout
}

// writeChunk is how much of a response must go within one write timeout.
const writeChunk = 128 << 10

// arm gives the next write the write timeout from now.
func (w *recorder) arm() {
	if w.rc != nil {
		w.rc.SetWriteDeadline(time.Now().Add(w.timeout))
	}
}

// wrote counts n bytes sent and notes a write that timed out.
func (w *recorder) wrote(n int64, err error) {
	w.n += n
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		w.cut = true
	}
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
	written := 0
	for len(p) > 0 {
		chunk := p[:min(len(p), writeChunk)]
		w.arm()
		n, err := w.ResponseWriter.Write(chunk)
		written += n
		w.wrote(int64(n), err)
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// ReadFrom hands a body read from a file (http.ServeContent's copy of a
// cached zip) to the connection's own ReadFrom, which sends it with
// sendfile on Linux, a chunk at a time under the write timeout. Without
// it every byte went through a 32 KiB copy buffer, and `go run ./bench
// -serve` had serve -offline's zips at 0.56 of a static file server's
// rate over the same cache (0.83 with it).
func (w *recorder) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	rf, ok := w.ResponseWriter.(io.ReaderFrom)
	if !ok {
		return io.Copy(struct{ io.Writer }{w}, r)
	}
	// ServeContent passes an *io.LimitedReader over the file: chunks of
	// it are read as LimitedReaders over the file itself, which the
	// connection still sends with sendfile.
	src, left := r, int64(-1)
	if lr, ok := r.(*io.LimitedReader); ok {
		src, left = lr.R, lr.N
		defer func() { lr.N = left }()
	}
	var total int64
	for left != 0 {
		n := int64(writeChunk)
		if left > 0 {
			n = min(n, left)
		}
		w.arm()
		m, err := rf.ReadFrom(&io.LimitedReader{R: src, N: n})
		total += m
		if left > 0 {
			left -= m
		}
		w.wrote(m, err)
		if err != nil {
			return total, err
		}
		if m < n {
			break // the source ended
		}
	}
	return total, nil
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
// here"; for an upstream that refused the request (400, 403, 451) the same
// status and its words, so the client sees what it would have seen asking
// upstream itself (go falls through a ',' list on neither); 503 when
// upstream asks to slow down (429) or while shutting down; 504 when
// upstream did not answer in time; 502 for any other upstream failure. A
// client that went away gets nothing, and is logged as 499.
func (w *recorder) failErr(err error) {
	// The log gets every line (the go command's report of a git failure
	// is on its later lines), the client the first.
	w.detail = flattenN(err.Error(), 1000)
	var (
		timeout *upstreamTimeout
		he      *proxy.HTTPError
	)
	switch {
	case w.ctx != nil && w.ctx.Err() != nil && errors.Is(err, w.ctx.Err()):
		w.status = statusClientGone
	case notExist(err):
		w.fail(http.StatusNotFound, "not found: "+err.Error())
	case errors.As(err, &timeout):
		w.fail(http.StatusGatewayTimeout, "upstream: "+err.Error())
	case errors.As(err, &he) && he.StatusCode >= 400 && he.StatusCode < 500:
		msg := "upstream answered " + he.Status
		if he.Detail != "" {
			msg += ": " + flatten(he.Detail)
		}
		switch he.StatusCode {
		case http.StatusBadRequest, http.StatusForbidden, http.StatusUnavailableForLegalReasons:
			w.fail(he.StatusCode, msg)
		case http.StatusTooManyRequests:
			w.Header().Set("Retry-After", "5")
			w.fail(http.StatusServiceUnavailable, msg)
		default:
			w.fail(http.StatusBadGateway, msg)
		}
	case errors.Is(err, context.Canceled):
		w.fail(http.StatusServiceUnavailable, "server shutting down")
	default:
		w.fail(http.StatusBadGateway, "upstream: "+err.Error())
	}
}

// statusClientGone is what the log and metrics record for a request whose
// client went away before it was answered (nginx's 499).
const statusClientGone = 499

// flatten is s on one line (its lines joined by "; "), with anything but
// graphic ASCII replaced, at most 300 bytes.
func flatten(s string) string { return flattenN(s, 300) }

// flattenN is flatten with at most n bytes.
func flattenN(s string, n int) string {
	var parts []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return oneLine(strings.Join(parts, "; "), n)
}

// notExist reports whether err means "no such module or version".
func notExist(err error) bool {
	var (
		vcs *proxy.NeedVCSError
		nf  interface{ NotFound() bool } // the go command's report (gocmd.Error)
	)
	return errors.Is(err, fs.ErrNotExist) || errors.As(err, &vcs) || (errors.As(err, &nf) && nf.NotFound())
}

// changedBytes reports whether err refuses bytes that differ from a hash
// recorded for them: the checksum database's, or the first one served of
// a private version (a moved tag, a rebuilt zip).
func changedBytes(err error) bool {
	var (
		mismatch *verify.ChecksumMismatchError
		gocmd    interface{ ChecksumMismatch() bool } // the go command's report (gocmd.Error)
	)
	return errors.As(err, &mismatch) || (errors.As(err, &gocmd) && gocmd.ChecksumMismatch())
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
