package main

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// proxy serves a GOPROXY file tree over loopback HTTP with a simulated
// network: every request waits one round trip before its response starts,
// every new connection one more (the TCP handshake), and each response body
// is paced to connBW bytes/s per connection and linkBW bytes/s over all
// connections together (zero: no limit).
type proxy struct {
	root           string
	rtt            time.Duration
	connBW, linkBW float64

	requests atomic.Int64
	bytes    atomic.Int64
	conns    atomic.Int64

	linkMu   sync.Mutex
	linkNext time.Time

	srv *http.Server
	url string
}

func startProxy(root string, rtt time.Duration, connBW, linkBW float64) (*proxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{root: root, rtt: rtt, connBW: connBW, linkBW: linkBW}
	p.srv = &http.Server{Handler: p}
	p.url = "http://" + l.Addr().String()
	go p.srv.Serve(&slowListener{Listener: l, p: p})
	return p, nil
}

func (p *proxy) close() { p.srv.Close() }

func (p *proxy) reset() {
	p.requests.Store(0)
	p.bytes.Store(0)
	p.conns.Store(0)
}

type slowListener struct {
	net.Listener
	p *proxy
}

func (l *slowListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.p.conns.Add(1)
	return &slowConn{Conn: c, rtt: l.p.rtt}, nil
}

// slowConn delays its first read by one round trip: the handshake.
type slowConn struct {
	net.Conn
	rtt  time.Duration
	once sync.Once
}

func (c *slowConn) Read(b []byte) (int, error) {
	c.once.Do(func() { time.Sleep(c.rtt) })
	return c.Conn.Read(b)
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.requests.Add(1)
	time.Sleep(p.rtt)
	rel := filepath.FromSlash(strings.TrimPrefix(r.URL.Path, "/"))
	if r.Method != http.MethodGet || strings.Contains(r.URL.Path, "..") {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	f, err := os.Open(filepath.Join(p.root, rel))
	if err != nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.IsDir() {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	ct := "text/plain; charset=UTF-8"
	switch {
	case strings.HasSuffix(rel, ".zip"):
		ct = "application/zip"
	case strings.HasSuffix(rel, ".info"):
		ct = "application/json"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.FormatInt(fi.Size(), 10))
	w.WriteHeader(http.StatusOK)
	p.pace(w, f)
}

// pace copies f to w in chunks, sleeping so that neither the connection's
// nor the link's bandwidth is exceeded.
func (p *proxy) pace(w http.ResponseWriter, f *os.File) {
	const chunk = 32 << 10
	buf := make([]byte, chunk)
	start := time.Now()
	var sent int64
	for {
		n, err := f.Read(buf)
		if n > 0 {
			at := start
			if p.connBW > 0 {
				at = start.Add(time.Duration(float64(sent) / p.connBW * float64(time.Second)))
			}
			if p.linkBW > 0 {
				d := time.Duration(float64(n) / p.linkBW * float64(time.Second))
				p.linkMu.Lock()
				now := time.Now()
				slot := now
				if at.After(slot) {
					slot = at
				}
				if p.linkNext.After(slot) {
					slot = p.linkNext
				}
				p.linkNext = slot.Add(d)
				p.linkMu.Unlock()
				at = slot
			}
			if wait := time.Until(at); wait > 0 {
				time.Sleep(wait)
			}
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			sent += int64(n)
			p.bytes.Add(int64(n))
		}
		if err != nil {
			return
		}
	}
}
