package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// front sits before a goproxytest server on 127.0.0.1:0, records every
// request, and injects the faults its rules describe, so scripts can test
// what the network does to gomodfetch.
//
// A rules file has one rule a line (# comments):
//
//	<glob> <action> [arg] [xN]
//
// glob matches the request path below the proxy root ("*" matches
// anything, "/" included), e.g. "*.zip" or "example.com/a/@v/*". The first
// rule that matches and has uses left applies; xN limits a rule to its first
// N matching requests (default: all). Actions:
//
//	status CODE [retry-after=S]  answer CODE instead
//	reset                        reset the connection before answering
//	reset-mid                    send half the body, then reset
//	truncate                     promise the whole body, send half, close
//	corrupt                      send the body with bytes flipped
//	tamper                       send a well-formed but different body: a zip
//	                             with one more file, a go.mod with one more line
//	stall-headers D              wait D (or until the client gives up), then answer
//	stall-body D                 send half the body, then wait D and close
//	slow D                       wait D, then answer normally
//	trickle D                    send the body one byte every D
//	random P [seed=S]            with probability P, one of: 500, 502, 503,
//	                             429, reset, reset-mid, truncate, corrupt
type front struct {
	URL string // the proxy URL to put in GOPROXY

	backend string
	srv     *http.Server
	mu      sync.Mutex
	log     []string
	rules   []*rule
}

type rule struct {
	pat    *regexp.Regexp
	action string
	arg    string
	left   int // uses left; -1 means unlimited
	rng    *rand.Rand
	prob   float64
}

// maxStall bounds every injected stall, so no test can hang on the front.
const maxStall = 60 * time.Second

func startFront(target string) (*front, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &front{
		URL:     "http://" + l.Addr().String() + u.Path,
		backend: target,
	}
	prefix := u.Path + "/"
	f.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.log = append(f.log, r.Method+" "+r.URL.Path)
		f.mu.Unlock()
		f.serve(w, r, strings.TrimPrefix(r.URL.Path, prefix))
	})}
	go f.srv.Serve(l)
	return f, nil
}

// deadProxyURL returns a proxy URL on 127.0.0.1 where nothing listens: every
// connection is refused. The port stays bound (by a socket that never
// listens) until release is called, so no server started meanwhile, by this
// test binary or anything else, can be given it and answer there.
func deadProxyURL() (proxyURL string, release func(), err error) {
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
	return fmt.Sprintf("http://127.0.0.1:%d/mod", port), func() { syscall.Close(fd) }, nil
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

// LoadRules replaces the front's fault rules with those in file.
func (f *front) LoadRules(file string) error {
	fh, err := os.Open(file)
	if err != nil {
		return err
	}
	defer fh.Close()
	var rules []*rule
	sc := bufio.NewScanner(fh)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		r, err := parseRule(fields)
		if err != nil {
			return fmt.Errorf("%s:%d: %v", file, n, err)
		}
		rules = append(rules, r)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	f.rules = rules
	f.mu.Unlock()
	return nil
}

func parseRule(fields []string) (*rule, error) {
	if len(fields) < 2 {
		return nil, fmt.Errorf("want: <glob> <action> [arg] [xN]")
	}
	pat := "^" + strings.ReplaceAll(regexp.QuoteMeta(fields[0]), `\*`, ".*") + "$"
	r := &rule{pat: regexp.MustCompile(pat), action: fields[1], left: -1}
	rest := fields[2:]
	if n := len(rest); n > 0 && strings.HasPrefix(rest[n-1], "x") {
		if c, err := strconv.Atoi(rest[n-1][1:]); err == nil {
			r.left = c
			rest = rest[:n-1]
		}
	}
	switch r.action {
	case "reset", "reset-mid", "truncate", "corrupt", "tamper":
	case "status":
		if len(rest) < 1 {
			return nil, fmt.Errorf("status needs a code")
		}
		r.arg = strings.Join(rest, " ")
	case "stall-headers", "stall-body", "slow", "trickle":
		if len(rest) != 1 {
			return nil, fmt.Errorf("%s needs a duration", r.action)
		}
		if _, err := time.ParseDuration(rest[0]); err != nil {
			return nil, err
		}
		r.arg = rest[0]
	case "random":
		if len(rest) < 1 {
			return nil, fmt.Errorf("random needs a probability")
		}
		p, err := strconv.ParseFloat(rest[0], 64)
		if err != nil {
			return nil, err
		}
		seed := uint64(1)
		for _, kv := range rest[1:] {
			if s, ok := strings.CutPrefix(kv, "seed="); ok {
				if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
					return nil, err
				}
			}
		}
		r.prob = p
		r.rng = rand.New(rand.NewPCG(seed, seed))
	default:
		return nil, fmt.Errorf("unknown action %q", r.action)
	}
	return r, nil
}

// pick returns the action and argument for a request, consuming a use.
func (f *front) pick(path string) (string, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.rules {
		if r.left == 0 || !r.pat.MatchString(path) {
			continue
		}
		if r.left > 0 {
			r.left--
		}
		if r.action != "random" {
			return r.action, r.arg
		}
		if r.rng.Float64() >= r.prob {
			return "", ""
		}
		choices := []string{"status 500", "status 502", "status 503", "status 429 retry-after=0", "reset", "reset-mid", "truncate", "corrupt"}
		c := choices[r.rng.IntN(len(choices))]
		action, arg, _ := strings.Cut(c, " ")
		return action, arg
	}
	return "", ""
}

func (f *front) serve(w http.ResponseWriter, r *http.Request, path string) {
	action, arg := f.pick(path)
	switch action {
	case "stall-headers", "slow":
		d, _ := time.ParseDuration(arg)
		select {
		case <-time.After(min(d, maxStall)):
		case <-r.Context().Done():
			return
		}
	case "reset":
		hijack(w, func(c net.Conn, _ *bufio.ReadWriter) { resetConn(c) })
		return
	case "status":
		fields := strings.Fields(arg)
		code, _ := strconv.Atoi(fields[0])
		for _, kv := range fields[1:] {
			if s, ok := strings.CutPrefix(kv, "retry-after="); ok {
				w.Header().Set("Retry-After", s)
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(code)
		fmt.Fprintf(w, "injected %d\n", code)
		return
	}

	resp, err := http.Get(f.backend + "/" + path)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if resp.StatusCode != http.StatusOK {
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		w.Write(body)
		return
	}
	half := body[:len(body)/2]
	switch action {
	case "corrupt":
		bad := append([]byte(nil), body...)
		for i := len(bad) / 3; i < len(bad)/3+16 && i < len(bad); i++ {
			bad[i] ^= 0x5a
		}
		body = bad
	case "tamper":
		body = tamper(path, body)
	case "reset-mid":
		hijack(w, func(c net.Conn, bw *bufio.ReadWriter) {
			writeHead(bw, len(body))
			bw.Write(half)
			bw.Flush()
			resetConn(c)
		})
		return
	case "truncate":
		hijack(w, func(c net.Conn, bw *bufio.ReadWriter) {
			writeHead(bw, len(body))
			bw.Write(half)
			bw.Flush()
			c.Close()
		})
		return
	case "trickle":
		d, _ := time.ParseDuration(arg)
		hijack(w, func(c net.Conn, bw *bufio.ReadWriter) {
			defer c.Close()
			writeHead(bw, len(body))
			bw.Flush()
			deadline := time.Now().Add(maxStall)
			for i := 0; i < len(body) && time.Now().Before(deadline); i++ {
				if _, err := c.Write(body[i : i+1]); err != nil {
					return // the client gave up
				}
				time.Sleep(d)
			}
		})
		return
	case "stall-body":
		d, _ := time.ParseDuration(arg)
		hijack(w, func(c net.Conn, bw *bufio.ReadWriter) {
			writeHead(bw, len(body))
			bw.Write(half)
			bw.Flush()
			gone := make(chan struct{})
			go func() {
				io.Copy(io.Discard, c) // returns when the client closes
				close(gone)
			}()
			select {
			case <-time.After(min(d, maxStall)):
			case <-gone:
			}
			c.Close()
		})
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

func hijack(w http.ResponseWriter, fn func(net.Conn, *bufio.ReadWriter)) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "cannot hijack", http.StatusInternalServerError)
		return
	}
	c, bw, err := hj.Hijack()
	if err != nil {
		return
	}
	fn(c, bw)
}

func writeHead(bw *bufio.ReadWriter, n int) {
	fmt.Fprintf(bw, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", n)
}

// resetConn closes c with a TCP reset rather than an orderly shutdown.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
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
