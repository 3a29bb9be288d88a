package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Timeouts on a client connection that are not Config's: a request's
// headers must arrive within readHeaderTimeout (a slowloris client is cut
// then), and a kept-alive connection is closed after idleTimeout without
// a request (sooner when a connection bound needs the room).
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
)

// listening is the http.Server that Serve runs, for Shutdown.
type listening struct {
	mu sync.Mutex
	hs []*http.Server
}

// Serve answers the connections l accepts until Shutdown, within the
// connection bounds (Config.MaxConns, Config.MaxConnsPerClient) and
// timeouts; it returns http.ErrServerClosed after Shutdown.
func (s *Server) Serve(l net.Listener) error {
	cl := newConnLimiter(l, s.cfg.MaxConns, s.cfg.MaxConnsPerClient)
	cl.onRefuse = func(reason, client string) {
		s.metrics.connsRefused.WithLabelValues(reason).Inc()
		s.limits.note("conns-"+reason, "a connection was refused with 503: "+map[string]string{
			"per-client": "its address has -max-conns-per-client connections open, none idle",
			"total":      "-max-conns connections are open, none idle",
		}[reason], client)
	}
	cl.onEvict = func(reason string) { s.metrics.connsEvicted.WithLabelValues(reason).Inc() }
	cl.onState = func(from, to string) {
		if from != "" {
			s.metrics.conns.WithLabelValues(from).Dec()
		}
		if to != "" {
			s.metrics.conns.WithLabelValues(to).Inc()
		}
	}
	var tlsConfig *tls.Config
	if s.cfg.TLS != nil {
		s.listening.mu.Lock()
		if s.certs == nil {
			c, err := newCerts(*s.cfg.TLS, func(msg string, err error) { s.log.Warn(msg, "error", oneLine(err.Error(), 300)) })
			if err != nil {
				s.listening.mu.Unlock()
				return err
			}
			s.certs = c
		}
		s.listening.mu.Unlock()
		tlsConfig = s.certs.tlsConfig()
		cl.wrap = func(c net.Conn) net.Conn { return tls.Server(c, tlsConfig) }
	}
	hs := &http.Server{
		TLSConfig:         tlsConfig,
		Handler:           s,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ConnState:         cl.connState,
		ErrorLog:          log.New(limitWriter{s.limits}, "", 0),
		BaseContext:       func(net.Listener) context.Context { return context.Background() },
	}
	s.listening.mu.Lock()
	s.listening.hs = append(s.listening.hs, hs)
	s.listening.mu.Unlock()
	if tlsConfig != nil {
		return hs.ServeTLS(cl, "", "")
	}
	return hs.Serve(cl)
}

// Shutdown stops every Serve. First it drains: the requests in flight get
// until ctx ends to finish, while new requests (on new connections or kept
// alive ones) are answered 503 with "Connection: close", /healthz
// included, so that clients and load balancers go elsewhere rather than
// meet a refused connection. Then the listeners close and Serve returns
// (see http.Server.Shutdown).
func (s *Server) Shutdown(ctx context.Context) error {
	s.listening.mu.Lock()
	hss := s.listening.hs
	s.listening.mu.Unlock()
	if !s.draining.Swap(true) {
		s.log.Info("draining: new requests are answered 503", "in_flight", s.active.Load())
	}
	for _, hs := range hss {
		hs.SetKeepAlivesEnabled(false)
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for s.active.Load() > 0 && ctx.Err() == nil {
		select {
		case <-tick.C:
		case <-ctx.Done():
		}
	}
	var errs []error
	for _, hs := range hss {
		errs = append(errs, hs.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// limitWriter takes the http.Server's own error lines (a failed TLS
// handshake, a refused Accept) to the log, at most one a bound interval.
type limitWriter struct{ l *limitLog }

func (w limitWriter) Write(p []byte) (int, error) {
	w.l.note("http", "http server: "+oneLine(strings.TrimSpace(string(p)), 300), "")
	return len(p), nil
}
