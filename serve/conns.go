package serve

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// connLimiter bounds the open client connections, in all
// (Config.MaxConns) and per client address (Config.MaxConnsPerClient). A
// connection over a bound first makes room by closing the longest idle
// kept-alive connection in its way (an idle connection costs its client
// nothing to reopen); if none is idle, it is answered 503 with Retry-After
// and closed at once.
type connLimiter struct {
	net.Listener
	max, perClient int
	onRefuse       func(reason, client string) // a connection refused
	onEvict        func(reason string)         // an idle connection closed to make room
	onState        func(from, to string)       // a connection moved: "" (not counted), "new", "active", "idle"
	wrap           func(net.Conn) net.Conn     // for a refusal's answer: TLS, if the server answers TLS

	mu       sync.Mutex
	open     int
	byClient map[string]*clientConns
	refusing chan struct{} // bounds the goroutines answering refused connections
}

type clientConns struct {
	conns map[*limitedConn]struct{}
}

// limitedConn is a client connection the limiter counts.
type limitedConn struct {
	net.Conn
	l      *connLimiter
	client string
	// guarded by l.mu
	idleSince time.Time // zero while a request is being read or answered
	opened    time.Time
	state     string // "new", "active", "idle"; "" once uncounted
}

func newConnLimiter(l net.Listener, max, perClient int) *connLimiter {
	return &connLimiter{Listener: l, max: max, perClient: perClient,
		byClient: map[string]*clientConns{}, refusing: make(chan struct{}, 64)}
}

// Accept returns the next connection within the bounds, answering the
// others.
func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		client := hostOf(c.RemoteAddr().String())
		lc, reason := l.admit(c, client)
		if lc != nil {
			return lc, nil
		}
		if l.onRefuse != nil {
			l.onRefuse(reason, client)
		}
		l.refuse(c, reason)
	}
}

// admit counts c in, making room if it must, or says why it cannot.
func (l *connLimiter) admit(c net.Conn, client string) (*limitedConn, string) {
	var evict []*limitedConn
	defer func() {
		for _, e := range evict {
			e.Conn.Close() // its server goroutine then ends; it is uncounted already
		}
	}()
	l.mu.Lock()
	defer l.mu.Unlock()
	cc := l.byClient[client]
	if cc != nil && len(cc.conns) >= l.perClient {
		o := oldestIdle(cc.conns)
		if o == nil {
			return nil, "per-client"
		}
		l.uncount(o)
		evict = append(evict, o)
		l.evicted("per-client")
	}
	if l.open >= l.max {
		var o *limitedConn
		for _, cc := range l.byClient {
			if c := oldestIdle(cc.conns); c != nil && (o == nil || c.idleSince.Before(o.idleSince)) {
				o = c
			}
		}
		if o == nil {
			// None idle: an address holding more connections than this
			// one gives up its oldest that has not sent a request, so
			// that many silent connections from a few addresses cannot
			// lock everyone else out.
			o = l.oldestSilentOfBiggest(client)
		}
		if o == nil {
			return nil, "total"
		}
		l.uncount(o)
		evict = append(evict, o)
		l.evicted("total")
	}
	lc := &limitedConn{Conn: c, l: l, client: client, opened: time.Now()}
	l.moved(lc, "new")
	if cc = l.byClient[client]; cc == nil {
		cc = &clientConns{conns: map[*limitedConn]struct{}{}}
		l.byClient[client] = cc
	}
	cc.conns[lc] = struct{}{}
	l.open++
	return lc, ""
}

func (l *connLimiter) evicted(reason string) {
	if l.onEvict != nil {
		l.onEvict(reason)
	}
}

// oldestSilentOfBiggest returns the oldest connection that has not sent
// a request yet of the address holding the most connections, if that
// address holds at least two more than client; else nil. The caller holds
// l.mu.
func (l *connLimiter) oldestSilentOfBiggest(client string) *limitedConn {
	var big *clientConns
	for _, cc := range l.byClient {
		if big == nil || len(cc.conns) > len(big.conns) {
			big = cc
		}
	}
	mine := 0
	if cc := l.byClient[client]; cc != nil {
		mine = len(cc.conns)
	}
	if big == nil || len(big.conns) < mine+2 {
		return nil
	}
	var o *limitedConn
	for c := range big.conns {
		if c.state == "new" && (o == nil || c.opened.Before(o.opened)) {
			o = c
		}
	}
	return o
}

func oldestIdle(conns map[*limitedConn]struct{}) *limitedConn {
	var o *limitedConn
	for c := range conns {
		if !c.idleSince.IsZero() && (o == nil || c.idleSince.Before(o.idleSince)) {
			o = c
		}
	}
	return o
}

// uncount takes c out of the counts. The caller holds l.mu.
func (l *connLimiter) uncount(c *limitedConn) {
	if c.state == "" {
		return
	}
	l.moved(c, "")
	l.open--
	if cc := l.byClient[c.client]; cc != nil {
		delete(cc.conns, c)
		if len(cc.conns) == 0 {
			delete(l.byClient, c.client)
		}
	}
}

// Open returns the number of connections counted now.
func (l *connLimiter) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// busyResponse is what a refused connection gets: go shows a text/plain
// body to its user.
func busyResponse(reason string) string {
	msg := "server busy: too many open connections; try again shortly\n"
	if reason == "per-client" {
		msg = "server busy: too many open connections from your address; try again shortly\n"
	}
	return "HTTP/1.1 503 Service Unavailable\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"Retry-After: 1\r\n" +
		"Connection: close\r\n" +
		"Content-Length: " + strconv.Itoa(len(msg)) + "\r\n\r\n" + msg
}

// refuse answers a refused connection 503 and closes it, in the
// background for a short while (so that the client reads the answer rather
// than a reset), or at once when many are being refused.
func (l *connLimiter) refuse(c net.Conn, reason string) {
	select {
	case l.refusing <- struct{}{}:
	default:
		c.Close()
		return
	}
	go func() {
		defer func() { <-l.refusing }()
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Second))
		if l.wrap != nil {
			c = l.wrap(c) // the answer goes over TLS, after a handshake
		}
		if _, err := c.Write([]byte(busyResponse(reason))); err != nil {
			return
		}
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		// Read what the client sent until it closes (or a second has
		// passed), so that closing does not reset the connection under
		// the answer.
		var buf [4096]byte
		for {
			if _, err := c.Read(buf[:]); err != nil {
				return
			}
		}
	}()
}

// connState is the http.Server's ConnState hook: it tells the limiter
// which connections are idle between requests.
func (l *connLimiter) connState(c net.Conn, state http.ConnState) {
	lc := asLimited(c)
	if lc == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if lc.state == "" {
		return // closed to make room already
	}
	switch state {
	case http.StateIdle:
		lc.idleSince = time.Now()
		l.moved(lc, "idle")
	case http.StateActive:
		lc.idleSince = time.Time{}
		l.moved(lc, "active")
	case http.StateClosed, http.StateHijacked:
		l.uncount(lc)
	}
}

// moved records c's new state. The caller holds l.mu.
func (l *connLimiter) moved(c *limitedConn, to string) {
	if l.onState != nil && c.state != to {
		l.onState(c.state, to)
	}
	c.state = to
}

// asLimited finds the limiter's connection under c (a TLS connection
// wraps it).
func asLimited(c net.Conn) *limitedConn {
	for range 4 {
		switch x := c.(type) {
		case *limitedConn:
			return x
		case interface{ NetConn() net.Conn }:
			c = x.NetConn()
		default:
			return nil
		}
	}
	return nil
}

// ReadFrom lets the HTTP server send a file with the connection's own
// ReadFrom (sendfile on Linux): without it, the embedded net.Conn hides
// that method and every byte of a cached zip went through a copy buffer
// (`go run ./bench -serve`, warm zips: 0.8 of a core of serve's CPU
// without it, 0.2 with it, for more zips a second).
func (c *limitedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// Close closes the connection and takes it out of the counts.
func (c *limitedConn) Close() error {
	c.l.mu.Lock()
	c.l.uncount(c)
	c.l.mu.Unlock()
	err := c.Conn.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil // closed to make room already
	}
	return err
}

// hostOf is the host part of a host:port address (the client's address).
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
