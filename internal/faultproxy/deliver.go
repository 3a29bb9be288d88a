package faultproxy

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// serve answers a request for path (below the proxy root) with fault f.
func (s *Server) serve(ctx context.Context, w http.ResponseWriter, r *http.Request, path string, f fault) {
	// Faults that answer before (or instead of) the source.
	switch f.action {
	case "stall-headers", "slow":
		d, _ := time.ParseDuration(f.arg)
		if !sleep(ctx, min(d, MaxStall)) {
			return
		}
	case "reset":
		s.hijack(ctx, w, func(context.Context, net.Conn, *bufio.Writer) {}, true)
		return
	case "hostile":
		s.serveHostile(ctx, w, f.arg)
		return
	case "garbage":
		io.WriteString(w, "<html>this proxy serves a login page</html>\n")
		return
	case "status":
		fields := strings.Fields(f.arg)
		code, err := strconv.Atoi(fields[0])
		if err != nil || code < 100 || code > 999 {
			code = http.StatusInternalServerError
		}
		for _, kv := range fields[1:] {
			if v, ok := strings.CutPrefix(kv, "retry-after="); ok {
				w.Header().Set("Retry-After", v)
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(code)
		fmt.Fprintf(w, "injected %d\n", code)
		return
	}

	resp := s.fetch(ctx, path)
	defer func() { resp.close() }()
	if resp.code != http.StatusOK {
		s.deliver(ctx, w, r, resp, path)
		return
	}
	if f.action == "tamper" {
		b := tamper(path, resp.bytes())
		resp.setBody(b)
		resp.header.Set("ETag", etagOf(b))
	}
	size := resp.body.Size() // of the whole file
	if f.action != "ignore-range" {
		resp = ranged(r, resp)
	}
	if resp.code != http.StatusOK && resp.code != http.StatusPartialContent {
		s.deliver(ctx, w, r, resp, path)
		return
	}
	whole := resp.body.Size()
	if f.action == "reset-file-at" {
		s.resetFileAt(ctx, w, r, resp, path, f, size)
		return
	}
	switch f.action {
	case "short":
		resp.setBody(resp.bytes()[:whole/2])
	case "corrupt":
		// Damage on the way lands somewhere new each time (a proxy that
		// serves the same wrong bytes twice is lying: see tamper).
		bad := resp.bytes()
		s.mu.Lock()
		s.corrupted++
		n := s.corrupted
		s.mu.Unlock()
		start := len(bad)/3 + (n*37)%(len(bad)/3+1)
		for i := start; i < start+16 && i < len(bad); i++ {
			bad[i] ^= 0x5a
		}
		resp.setBody(bad)
	case "reset-mid", "reset-at", "truncate", "stall-body":
		half := whole / 2
		if f.action == "reset-at" {
			frac, _ := strconv.ParseFloat(f.arg, 64)
			half = int64(frac * float64(whole))
		}
		s.hijack(ctx, w, func(ctx context.Context, c net.Conn, bw *bufio.Writer) {
			writeHead(bw, resp)
			if s.copyBody(ctx, bw, bw.Flush, resp.body, half) != nil || bw.Flush() != nil {
				return
			}
			if f.action == "stall-body" {
				d, _ := time.ParseDuration(f.arg)
				sleep(ctx, min(d, MaxStall))
			}
		}, f.action == "reset-mid" || f.action == "reset-at")
		return
	case "trickle":
		d, _ := time.ParseDuration(f.arg)
		s.hijack(ctx, w, func(ctx context.Context, c net.Conn, bw *bufio.Writer) {
			writeHead(bw, resp)
			if bw.Flush() != nil {
				return
			}
			deadline := time.Now().Add(MaxStall)
			var b [1]byte
			for i := int64(0); i < whole && time.Now().Before(deadline); i++ {
				if _, err := resp.body.ReadAt(b[:], i); err != nil {
					return
				}
				s.bytes.Add(1)
				if _, err := c.Write(b[:]); err != nil {
					s.bytes.Add(-1)
					return // the client gave up
				}
				if !sleep(ctx, d) {
					return
				}
			}
		}, false)
		return
	}
	unaltered := f.action == "" || f.action == "slow" || f.action == "stall-headers" || f.action == "ignore-range"
	if whole, held := s.deliver(ctx, w, r, resp, path); whole && !held && unaltered && resp.code == http.StatusOK {
		s.mu.Lock()
		s.served[path] = int(resp.body.Size())
		s.mu.Unlock()
	}
}

// resetFileAt delivers resp (200 or 206, the answer for path, a file of
// size bytes) and, if it holds the byte at fraction f.arg of the file,
// resets the connection when it gets there, provided the rule still has a
// use left then. A response that does not hold the byte, or whose client
// goes away before it, is delivered as if there were no rule.
func (s *Server) resetFileAt(ctx context.Context, w http.ResponseWriter, r *http.Request, resp *response, path string, f fault, size int64) {
	frac, _ := strconv.ParseFloat(f.arg, 64)
	at := int64(frac * float64(size))
	var from int64
	if resp.code == http.StatusPartialContent {
		fmt.Sscanf(resp.header.Get("Content-Range"), "bytes %d-", &from)
	}
	to := from + resp.body.Size()
	if at < from || at >= to || r.Method == http.MethodHead {
		s.deliver(ctx, w, r, resp, path)
		return
	}
	for k, v := range resp.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.FormatInt(resp.body.Size(), 10))
	w.WriteHeader(resp.code)
	flush := func() error {
		http.NewResponseController(w).Flush()
		return nil
	}
	body := io.Reader(resp.body)
	if s.copyBody(ctx, w, flush, body, at-from) != nil || ctx.Err() != nil {
		return
	}
	flush()
	if !f.claim() {
		if s.copyBody(ctx, w, flush, body, -1) == nil {
			s.finish(path)
		}
		return
	}
	s.mu.Lock()
	s.cuts = append(s.cuts, Cut{Path: path, From: from, To: to, Size: size, At: at})
	s.mu.Unlock()
	if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
		resetConn(c)
	}
}

// deliver writes resp (the answer for path) through w, paced, stopping at
// the stall point of a StallAt hook for path if there is one. It reports
// whether the whole body was written and whether a hook stalled it.
func (s *Server) deliver(ctx context.Context, w http.ResponseWriter, r *http.Request, resp *response, path string) (whole, held bool) {
	h := s.takeHold(path)
	held = h != nil
	for k, v := range resp.header {
		w.Header()[k] = v
	}
	size := resp.body.Size()
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	if h != nil && h.offset < 0 {
		if !h.wait(ctx) {
			return false, held
		}
		h = nil
	}
	w.WriteHeader(resp.code)
	if r.Method == http.MethodHead {
		return true, held
	}
	flush := func() error {
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		return nil
	}
	body := io.Reader(resp.body)
	if h != nil {
		n := min(int64(h.offset), size)
		if s.copyBody(ctx, w, flush, body, n) != nil {
			return false, held
		}
		flush()
		if !h.wait(ctx) {
			return false, held
		}
	}
	if s.copyBody(ctx, w, flush, body, -1) != nil {
		return false, held
	}
	s.finish(path)
	return true, held
}

// finish records that a response for path has written its whole body.
func (s *Server) finish(path string) {
	s.mu.Lock()
	s.finished[path] = time.Now()
	s.mu.Unlock()
}

// copyBody copies n bytes (-1: all) of body to w, paced to the Server's
// Network, counting them in its Stats. With pacing, every piece is
// flushed.
func (s *Server) copyBody(ctx context.Context, w io.Writer, flush func() error, body io.Reader, n int64) error {
	nw := s.opts.Network
	if n >= 0 {
		body = io.LimitReader(body, n)
	}
	buf := make([]byte, nw.Chunk)
	start := time.Now()
	var sent int64
	for {
		k, err := io.ReadFull(body, buf)
		if k > 0 {
			if nw.paced() {
				if !sleep(ctx, time.Until(s.slot(start, sent, k))) {
					return ctx.Err()
				}
			}
			// Counted before they go, so that a client that has them all
			// sees them in Stats.
			s.bytes.Add(int64(k))
			if _, werr := w.Write(buf[:k]); werr != nil {
				s.bytes.Add(-int64(k))
				return werr
			}
			if nw.paced() {
				if ferr := flush(); ferr != nil {
					return ferr
				}
			}
			sent += int64(k)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// slot returns when the next k bytes of a response that started at start
// and has sent sent bytes may go, given the connection's and the link's
// bandwidth, and books them on the link.
func (s *Server) slot(start time.Time, sent int64, k int) time.Time {
	nw := s.opts.Network
	at := start
	if nw.ConnBW > 0 {
		at = start.Add(time.Duration(float64(sent) / nw.ConnBW * float64(time.Second)))
	}
	if nw.LinkBW > 0 {
		d := time.Duration(float64(k) / nw.LinkBW * float64(time.Second))
		s.linkMu.Lock()
		slot := time.Now()
		if at.After(slot) {
			slot = at
		}
		if s.linkNext.After(slot) {
			slot = s.linkNext
		}
		s.linkNext = slot.Add(d)
		s.linkMu.Unlock()
		at = slot
	}
	return at
}

// sleep waits d; false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// hijack takes over the connection of w and runs fn on it with a context
// that also ends when the client closes it, then closes it (with a TCP
// reset if reset). Writes fail once the context ends.
func (s *Server) hijack(ctx context.Context, w http.ResponseWriter, fn func(context.Context, net.Conn, *bufio.Writer), reset bool) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "cannot hijack", http.StatusInternalServerError)
		return
	}
	c, brw, err := hj.Hijack()
	if err != nil {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.goTracked(func() {
		io.Copy(io.Discard, c) // returns when the client or we close c
		cancel()
	})
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	fn(ctx, c, brw.Writer)
	stop()
	if reset {
		resetConn(c)
	} else {
		c.Close()
	}
}

func writeHead(bw *bufio.Writer, resp *response) {
	fmt.Fprintf(bw, "HTTP/1.1 %d %s\r\n", resp.code, http.StatusText(resp.code))
	resp.header.Write(bw)
	fmt.Fprintf(bw, "Content-Length: %d\r\nConnection: close\r\n\r\n", resp.body.Size())
}

// resetConn closes c with a TCP reset rather than an orderly shutdown.
func resetConn(c net.Conn) {
	if sc, ok := c.(*slowConn); ok {
		c = sc.Conn
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// HostileText would, printed raw, set the window title, ring the bell,
// erase the line and print a forged success summary.
const HostileText = "denied\x1b]0;owned\a\r\x1b[2Kgomodfetch: 1 modules (1 downloaded, 0 failed)\u202e\n"

func (s *Server) serveHostile(ctx context.Context, w http.ResponseWriter, kind string) {
	switch kind {
	case "body":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, HostileText)
	case "status":
		s.hijack(ctx, w, func(_ context.Context, _ net.Conn, bw *bufio.Writer) {
			fmt.Fprintf(bw, "HTTP/1.1 404 Not Found\x1b[2J\x1b]0;owned\a\r\nContent-Type: text/plain\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			bw.Flush()
		}, false)
	case "info":
		w.Header().Set("Content-Type", "application/json")
		b, _ := json.Marshal(map[string]string{"Version": "v9.9.9" + HostileText, "Time": "2023-01-02T03:04:05Z"})
		w.Write(b)
	}
}

// tamper returns a well-formed but different version of body: a zip with
// one more file in the module, or any other file with one more line.
func tamper(path string, body []byte) []byte {
	if !strings.HasSuffix(path, ".zip") {
		return append(append([]byte(nil), body...), "// tampered\n"...)
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil || len(zr.File) == 0 {
		return body
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		w, _ := zw.Create(f.Name)
		r, _ := f.Open()
		io.Copy(w, r)
		r.Close()
	}
	prefix, _, _ := strings.Cut(zr.File[0].Name, "/")
	if i := strings.Index(zr.File[0].Name, "@"); i >= 0 {
		if j := strings.Index(zr.File[0].Name[i:], "/"); j >= 0 {
			prefix = zr.File[0].Name[:i+j]
		}
	}
	w, _ := zw.Create(prefix + "/tampered.go")
	io.WriteString(w, "package tampered\n")
	zw.Close()
	return buf.Bytes()
}

// listener counts connections and, with an RTT, delays each new one by it.
type listener struct {
	net.Listener
	s *Server
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.s.conns.Add(1)
	if l.s.opts.Network.RTT > 0 {
		return &slowConn{Conn: c, s: l.s}, nil
	}
	return c, nil
}

// slowConn delays its first read by one round trip: the handshake.
type slowConn struct {
	net.Conn
	s    *Server
	once sync.Once
}

func (c *slowConn) Read(b []byte) (int, error) {
	c.once.Do(func() { sleep(c.s.ctx, c.s.opts.Network.RTT) })
	return c.Conn.Read(b)
}
