package main

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
)

// front sits before a goproxytest server on 127.0.0.1:0 and records every
// request, so scripts can count what reached the network.
type front struct {
	URL string // the proxy URL to put in GOPROXY

	srv *http.Server
	mu  sync.Mutex
	log []string
}

func startFront(target string) (*front, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &front{URL: "http://" + l.Addr().String() + u.Path}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: u.Scheme, Host: u.Host})
	f.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.log = append(f.log, r.Method+" "+r.URL.Path)
		f.mu.Unlock()
		rp.ServeHTTP(w, r)
	})}
	go f.srv.Serve(l)
	return f, nil
}

func (f *front) Close() { f.srv.Close() }

func (f *front) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = nil
}

func (f *front) Count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.log)
}

func (f *front) Log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}
