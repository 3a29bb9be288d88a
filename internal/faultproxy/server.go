package faultproxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// MaxStall bounds every wait a Server injects (stall-headers, stall-body,
// slow, trickle, a StallAt hold), so no test can hang on it.
const MaxStall = 60 * time.Second

// Network describes the link a Server emulates. The zero value is
// loopback as it is.
type Network struct {
	// RTT is waited before every response starts, and once more at the
	// start of every new connection (the TCP handshake).
	RTT time.Duration
	// ConnBW and LinkBW pace response bodies, in bytes a second: ConnBW
	// each response on its own (responses on one connection do not
	// overlap), LinkBW all of them together. Zero: no limit.
	ConnBW, LinkBW float64
	// Chunk is the size of the pieces bodies are written in when they are
	// paced (default 32 KiB); each piece is flushed to the client.
	Chunk int
}

func (n Network) paced() bool { return n.ConnBW > 0 || n.LinkBW > 0 }

// Options configures a Server. Exactly one of Dir and Backend must be set.
type Options struct {
	// Dir is a GOPROXY file tree (the layout of a file:// proxy) to serve.
	Dir string
	// Backend is a proxy URL whose answers the Server fetches and passes
	// on (a request for <URL>/p is fetched from <Backend>/p).
	Backend string
	// Prefix is the path of the proxy root on the Server: the Backend's
	// path by default, "" with Dir.
	Prefix  string
	Network Network
	// Rules are the fault rules to start with (see SetRules).
	Rules *Rules
}

// Stats counts what a Server has done since it started or was Reset.
type Stats struct {
	Requests int64 // requests received
	Bytes    int64 // response body bytes written
	Conns    int64 // connections accepted
}

// A Server is a module proxy on 127.0.0.1 that serves a file tree or
// passes on a backend's answers, over an emulated network, with the faults
// its rules and stall hooks ask for.
type Server struct {
	URL string // the proxy URL to put in GOPROXY

	opts   Options
	prefix string
	srv    *http.Server
	client *http.Client
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	requests, bytes, conns atomic.Int64

	linkMu   sync.Mutex
	linkNext time.Time

	mu        sync.Mutex
	closed    bool
	log       []string
	rules     *Rules
	holds     []*hold // pending StallAt hooks
	release   chan struct{}
	inFlight  int
	maxIn     int
	served    map[string]int
	corrupted int // bodies corrupted so far
	cuts      []Cut
	finished  map[string]time.Time
}

// Cut is a response that a reset-file-at rule reset: the bytes From to To
// (exclusive) of a file of Size bytes at Path (below the proxy root), of
// which the bytes before At were sent.
type Cut struct {
	Path               string
	From, To, Size, At int64
}

func (c Cut) String() string {
	if c.From == 0 && c.To == c.Size {
		return fmt.Sprintf("%s (all %d bytes) reset after byte %d (%.0f%% of the file)", c.Path, c.Size, c.At, 100*float64(c.At)/float64(c.Size))
	}
	return fmt.Sprintf("%s [bytes %d-%d of %d] reset after byte %d (%.0f%% of the file, %.0f%% of the range)",
		c.Path, c.From, c.To-1, c.Size, c.At, 100*float64(c.At)/float64(c.Size), 100*float64(c.At-c.From)/float64(c.To-c.From))
}

// Cuts returns the responses reset-file-at rules have reset since the
// Server started or was last Reset.
func (s *Server) Cuts() []Cut {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Cut(nil), s.cuts...)
}

// Start starts a Server on 127.0.0.1:0.
func Start(o Options) (*Server, error) {
	if (o.Dir == "") == (o.Backend == "") {
		return nil, errors.New("faultproxy: set exactly one of Dir and Backend")
	}
	prefix := o.Prefix
	if o.Backend != "" {
		u, err := url.Parse(o.Backend)
		if err != nil {
			return nil, err
		}
		if prefix == "" {
			prefix = u.Path
		}
		o.Backend = strings.TrimSuffix(o.Backend, "/")
	}
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix != "" && !strings.HasPrefix(prefix, "/") {
		prefix = "/" + prefix
	}
	if o.Network.Chunk <= 0 {
		o.Network.Chunk = 32 << 10
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		URL:      "http://" + l.Addr().String() + prefix,
		opts:     o,
		prefix:   prefix,
		client:   &http.Client{Transport: &http.Transport{Proxy: nil, DisableCompression: true}},
		ctx:      ctx,
		cancel:   cancel,
		rules:    o.Rules,
		release:  make(chan struct{}),
		served:   map[string]int{},
		finished: map[string]time.Time{},
	}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.handle)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.srv.Serve(&listener{Listener: l, s: s})
	}()
	return s, nil
}

// Close stops the Server: it ends every wait, closes every connection
// (hijacked ones too) and returns when every goroutine it started has
// ended.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.srv.Close()
	s.wg.Wait()
	s.client.CloseIdleConnections()
}

// DeadURL returns a proxy URL on 127.0.0.1 where nothing listens: every
// connection is refused. The port stays bound, by a socket that never
// listens, until release is called, so no server started meanwhile (by
// this process or another) can be given it and answer there.
func DeadURL(path string) (u string, release func(), err error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return "", nil, err
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		syscall.Close(fd)
		return "", nil, err
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		syscall.Close(fd)
		return "", nil, err
	}
	port := sa.(*syscall.SockaddrInet4).Port
	return fmt.Sprintf("http://127.0.0.1:%d%s", port, path), func() { syscall.Close(fd) }, nil
}

// SetRules replaces the Server's fault rules (nil: none).
func (s *Server) SetRules(rs *Rules) {
	s.mu.Lock()
	s.rules = rs
	s.mu.Unlock()
}

// LoadRules replaces the Server's fault rules with those in file.
func (s *Server) LoadRules(file string) error {
	rs, err := LoadRules(file)
	if err != nil {
		return err
	}
	s.SetRules(rs)
	return nil
}

// Log returns the requests received since the last Reset, each as
// "METHOD /path".
func (s *Server) Log() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.log...)
}

// Count returns the number of requests received since the last Reset.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.log)
}

// Stats returns the counters since the Server started or was last Reset.
func (s *Server) Stats() Stats {
	return Stats{Requests: s.requests.Load(), Bytes: s.bytes.Load(), Conns: s.conns.Load()}
}

// MaxInFlight returns the most requests the Server has had in hand at once
// since it started or was last Reset.
func (s *Server) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxIn
}

// Reset clears the log, the counters and MaxInFlight.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
	s.cuts = nil
	clear(s.finished)
	s.maxIn = s.inFlight
	s.requests.Store(0)
	s.bytes.Store(0)
	s.conns.Store(0)
}

// Finished returns when a response for path (below the proxy root) last
// finished writing its body, whole (a range counts when the range is
// written), since the Server started or was last Reset; the zero time if
// none has.
func (s *Server) Finished(path string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.finished[path]
}

// Served returns, for every path (below the proxy root) answered 200 with
// its whole, unaltered body, the size of that body.
func (s *Server) Served() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]int, len(s.served))
	for k, v := range s.served {
		m[k] = v
	}
	return m
}

// hold is a pending or reached StallAt hook.
type hold struct {
	path    string
	offset  int
	hit     chan struct{}
	release chan struct{}
}

// StallAt makes the next response for path (below the proxy root, e.g.
// "example.com/a/@v/v1.0.0.zip") stop after offset body bytes (-1: before
// its headers) until Release, the client going away, Close or MaxStall,
// whichever comes first; then it goes on as if nothing happened. The
// channel returned is closed when the stall point is reached. Hooks for
// different paths (or several for one path, one response each) may be
// pending at once.
func (s *Server) StallAt(path string, offset int) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := &hold{path: path, offset: offset, hit: make(chan struct{}), release: s.release}
	s.holds = append(s.holds, h)
	return h.hit
}

// Release lets every stalled response go on and drops the StallAt hooks
// not reached yet.
func (s *Server) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.release)
	s.release = make(chan struct{})
	s.holds = nil
}

func (s *Server) takeHold(path string) *hold {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, h := range s.holds {
		if h.path == path {
			s.holds = append(s.holds[:i:i], s.holds[i+1:]...)
			return h
		}
	}
	return nil
}

// wait marks h reached and waits until it is released (false: the request
// or the Server ended first).
func (h *hold) wait(ctx context.Context) bool {
	close(h.hit)
	t := time.NewTimer(MaxStall)
	defer t.Stop()
	select {
	case <-h.release:
		return true
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// enter counts a handler in; false once the Server is closing.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// goTracked runs fn in a goroutine that Close waits for. Call it only from
// a goroutine Close already waits for.
func (s *Server) goTracked(fn func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if !s.enter() {
		http.Error(w, "closing", http.StatusServiceUnavailable)
		return
	}
	defer s.wg.Done()
	s.requests.Add(1)
	s.mu.Lock()
	s.log = append(s.log, r.Method+" "+r.URL.Path)
	s.inFlight++
	s.maxIn = max(s.maxIn, s.inFlight)
	rules := s.rules
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(s.ctx, cancel)()

	if !sleep(ctx, s.opts.Network.RTT) {
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, s.prefix+"/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	s.serve(ctx, w, r, path, rules.pick(path))
}

// response is an answer before it is delivered.
type response struct {
	code   int
	header http.Header // without Content-Length
	body   *io.SectionReader
	closer io.Closer // nil, or what body reads from
}

func (resp *response) close() {
	if resp.closer != nil {
		resp.closer.Close()
	}
}

func bytesResponse(code int, contentType string, body []byte) *response {
	h := http.Header{}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	return &response{code: code, header: h, body: io.NewSectionReader(bytes.NewReader(body), 0, int64(len(body)))}
}

// setBody replaces resp's body by b (the headers stay).
func (resp *response) setBody(b []byte) {
	resp.close()
	resp.closer = nil
	resp.body = io.NewSectionReader(bytes.NewReader(b), 0, int64(len(b)))
}

func (resp *response) bytes() []byte {
	b := make([]byte, resp.body.Size())
	n, _ := resp.body.ReadAt(b, 0)
	return b[:n]
}

func etagOf(b []byte) string {
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}

// fetch builds the answer for path from the Server's source.
func (s *Server) fetch(ctx context.Context, path string) *response {
	if s.opts.Dir != "" {
		return s.fetchFile(path)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", s.opts.Backend+"/"+path, nil)
	if err != nil {
		return bytesResponse(http.StatusBadGateway, "text/plain; charset=utf-8", []byte(err.Error()+"\n"))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return bytesResponse(http.StatusBadGateway, "text/plain; charset=utf-8", []byte(err.Error()+"\n"))
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return bytesResponse(http.StatusBadGateway, "text/plain; charset=utf-8", []byte(err.Error()+"\n"))
	}
	out := bytesResponse(resp.StatusCode, resp.Header.Get("Content-Type"), body)
	if resp.StatusCode == http.StatusOK {
		etag := resp.Header.Get("ETag")
		if etag == "" {
			etag = etagOf(body)
		}
		out.header.Set("ETag", etag)
	}
	return out
}

func (s *Server) fetchFile(path string) *response {
	notFound := bytesResponse(http.StatusNotFound, "text/plain; charset=utf-8", []byte("not found\n"))
	if strings.Contains(path, "..") || strings.Contains(path, "\\") {
		return notFound
	}
	f, err := os.Open(filepath.Join(s.opts.Dir, filepath.FromSlash(path)))
	if err != nil {
		return notFound
	}
	fi, err := f.Stat()
	if err != nil || fi.IsDir() {
		f.Close()
		return notFound
	}
	ct := "text/plain; charset=UTF-8"
	switch {
	case strings.HasSuffix(path, ".zip"):
		ct = "application/zip"
	case strings.HasSuffix(path, ".info"):
		ct = "application/json"
	}
	h := http.Header{}
	h.Set("Content-Type", ct)
	// Size and modification time name a version of a file in a tree that
	// is written once, and cost nothing to compute (hashing a large zip
	// would delay the first request for it).
	h.Set("ETag", fmt.Sprintf(`"%x-%x"`, fi.Size(), fi.ModTime().UnixNano()))
	return &response{code: http.StatusOK, header: h, body: io.NewSectionReader(f, 0, fi.Size()), closer: f}
}

// ranged returns the answer to r's Range header given the whole answer
// resp (200): resp itself if there is no Range, it is not a single byte
// range or If-Range does not match the ETag; 206 with the range; 416 if
// the range starts past the end.
func ranged(r *http.Request, resp *response) *response {
	resp.header.Set("Accept-Ranges", "bytes")
	spec := r.Header.Get("Range")
	if spec == "" {
		return resp
	}
	if ir := r.Header.Get("If-Range"); ir != "" {
		if etag := resp.header.Get("ETag"); etag == "" || ir != etag || strings.HasPrefix(ir, "W/") {
			return resp
		}
	}
	size := resp.body.Size()
	start, end, ok, satisfiable := parseRange(spec, size)
	if !ok {
		return resp
	}
	if !satisfiable {
		out := bytesResponse(http.StatusRequestedRangeNotSatisfiable, "text/plain; charset=utf-8", []byte("range not satisfiable\n"))
		out.header.Set("Content-Range", fmt.Sprintf("bytes */%d", size))
		out.header.Set("Accept-Ranges", "bytes")
		resp.close()
		return out
	}
	h := resp.header.Clone()
	h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, size))
	return &response{
		code:   http.StatusPartialContent,
		header: h,
		body:   io.NewSectionReader(resp.body, start, end-start+1),
		closer: resp.closer,
	}
}

// parseRange parses a Range header naming one byte range of a body of
// size bytes: ok is false if the header is to be ignored (not bytes, not
// one range, malformed), satisfiable false if the range starts past the
// end. end is inclusive.
func parseRange(spec string, size int64) (start, end int64, ok, satisfiable bool) {
	set, found := strings.CutPrefix(spec, "bytes=")
	if !found || strings.Contains(set, ",") {
		return 0, 0, false, false
	}
	first, last, found := strings.Cut(strings.TrimSpace(set), "-")
	if !found {
		return 0, 0, false, false
	}
	num := func(s string) (int64, bool) {
		if s == "" || strings.TrimLeft(s, "0123456789") != "" {
			return 0, false
		}
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil
	}
	if first == "" { // suffix: the last n bytes
		n, good := num(last)
		if !good {
			return 0, 0, false, false
		}
		if n == 0 || size == 0 {
			return 0, 0, true, false
		}
		return max(size-n, 0), size - 1, true, true
	}
	a, good := num(first)
	if !good {
		return 0, 0, false, false
	}
	b := size - 1
	if last != "" {
		if b, good = num(last); !good || b < a {
			return 0, 0, false, false
		}
	}
	if a >= size {
		return 0, 0, true, false
	}
	return a, min(b, size-1), true, true
}
