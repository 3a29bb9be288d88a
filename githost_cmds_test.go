package main

import (
	"crypto/subtle"
	"crypto/tls"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/rogpeppe/go-internal/testscript"
)

// githostKey finds a script's git host among its values.
type githostKey struct{}

// gitHost is a git server over HTTP for the scripts: Debian's git
// http-backend behind net/http/cgi, requiring Basic authentication, plus
// the go-get=1 pages that lead the go command to its repositories. It is
// meant to be reached as an HTTP proxy (HTTP_PROXY, which git itself does
// not read): a request for http://<any host>/<name>/...?go-get=1 is
// answered with a go-import tag for <host>/<name> naming
// $GITHOST/<name>.git; CONNECT is refused, so the go command falls back
// from https to http (GOINSECURE).
type gitHost struct {
	root, user, pass, url string
	mu                    sync.Mutex
	log                   []string
	hostile               bool
}

func (g *gitHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	g.log = append(g.log, r.Method+" "+r.Host+r.URL.Path)
	hostile := g.hostile
	g.mu.Unlock()
	if r.Method == http.MethodConnect {
		http.Error(w, "no CONNECT here", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Query().Get("go-get") == "1" {
		if hostile && !strings.HasPrefix(r.URL.Path, "/git-") {
			// A tag whose text would move a terminal's cursor and colour it.
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, "<html><head><meta name=\"go-import\" content=\"%s/x git \x1b[31mEVIL\x1b[0m\x07\"></head></html>\n", r.Host)
			return
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		if name == "" {
			http.NotFound(w, r)
			return
		}
		prefix := r.Host + "/" + name
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<html><head><meta name=\"go-import\" content=\"%s git %s/%s.git\"></head></html>\n",
			html.EscapeString(prefix), g.url, html.EscapeString(name))
		return
	}
	if hostile {
		// A git protocol error whose text would clear the terminal and
		// retitle it, as git prints it ("remote error: ...").
		w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
		msg := "ERR \x1b[2J\x1b]0;pwned\x07 hostile\n"
		fmt.Fprintf(w, "%04x%s", len(msg)+4, msg)
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(g.user)) != 1 || subtle.ConstantTimeCompare([]byte(pass), []byte(g.pass)) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
		http.Error(w, "authentication required", http.StatusUnauthorized)
		return
	}
	git, err := exec.LookPath("git")
	if err != nil {
		http.Error(w, "no git", http.StatusInternalServerError)
		return
	}
	h := &cgi.Handler{
		Path: git,
		Args: []string{"http-backend"},
		Root: "/",
		Env:  []string{"GIT_PROJECT_ROOT=" + g.root, "GIT_HTTP_EXPORT_ALL=1", "REMOTE_USER=" + user, "HOME=" + g.root},
	}
	h.ServeHTTP(w, r)
}

// githost start dir user password starts the script's git host serving
// the bare repositories in dir (name.git) to that user, and sets $GITHOST
// to its URL. githost hostile makes it answer with terminal escapes
// instead: in its go-import tags, except for paths whose first element
// starts with git- (those get a good tag), and in every git answer. githost log prints the requests it has seen.
func cmdGitHost(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: githost start dir user password | githost hostile | githost log")
	}
	if args[0] != "start" {
		g, _ := ts.Value(githostKey{}).(*gitHost)
		if g == nil {
			ts.Fatalf("githost: not started")
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		switch args[0] {
		case "hostile":
			g.hostile = true
		case "log":
			for _, l := range g.log {
				fmt.Fprintln(ts.Stdout(), l)
			}
		default:
			ts.Fatalf("githost: unknown %q", args[0])
		}
		return
	}
	if len(args) != 4 {
		ts.Fatalf("usage: githost start dir user password")
	}
	g, _ := ts.Value(githostKey{}).(*gitHost)
	if g == nil {
		ts.Fatalf("githost: this script has no git host (its name must start with serve_)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	g.root, g.user, g.pass, g.url = ts.MkAbs(args[1]), args[2], args[3], "http://"+l.Addr().String()
	srv := &http.Server{Handler: g}
	go srv.Serve(l)
	ts.Defer(func() { srv.Close() })
	ts.Setenv("GITHOST", g.url)
}

// setupGitHost gives scripts named serve_* a (not yet started) git host,
// private proxy, and a git identity of their own.
func setupGitHost(env *testscript.Env) error {
	if !strings.HasPrefix(filepath.Base(env.WorkDir), "script-serve_") {
		return nil
	}
	env.Values[githostKey{}] = new(gitHost)
	env.Values[privProxyKey{}] = new(privProxy)
	for _, kv := range [][2]string{
		{"GIT_AUTHOR_NAME", "t"}, {"GIT_AUTHOR_EMAIL", "t@example.com"},
		{"GIT_COMMITTER_NAME", "t"}, {"GIT_COMMITTER_EMAIL", "t@example.com"},
		{"GIT_CONFIG_NOSYSTEM", "1"}, {"GIT_CONFIG_GLOBAL", os.DevNull},
	} {
		env.Setenv(kv[0], kv[1])
	}
	return nil
}

// privProxyKey finds a script's private proxy among its values.
type privProxyKey struct{}

// privProxy is a private GOPROXY for the scripts: HTTPS, Basic
// authentication required (as a GOAUTH command or .netrc supplies it), in
// front of the script's module proxy (not its fronts, whose logs stay the
// public proxy's).
type privProxy struct {
	mu  sync.Mutex
	log []string
}

// privproxy start cert.pem key.pem user password starts the script's
// private proxy and sets $PRIVPROXY to its URL; privproxy log prints the
// requests it has seen, each with its outcome.
func cmdPrivProxy(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: privproxy start cert.pem key.pem user password | privproxy log")
	}
	if args[0] == "log" {
		p, _ := ts.Value(privProxyKey{}).(*privProxy)
		if p == nil {
			ts.Fatalf("privproxy: not started")
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, l := range p.log {
			fmt.Fprintln(ts.Stdout(), l)
		}
		return
	}
	if args[0] != "start" || len(args) != 5 {
		ts.Fatalf("usage: privproxy start cert.pem key.pem user password")
	}
	backend, _ := ts.Value(backendKey{}).(string)
	if backend == "" {
		ts.Fatalf("privproxy: no module proxy in this script (add a .gomodproxy directory)")
	}
	target, err := url.Parse(backend)
	ts.Check(err)
	target.Path = "" // $PRIVPROXY has the same path as the backend
	cert, err := tls.LoadX509KeyPair(ts.MkAbs(args[1]), ts.MkAbs(args[2]))
	ts.Check(err)
	user, pass := args[3], args[4]
	p, _ := ts.Value(privProxyKey{}).(*privProxy)
	rp := httputil.NewSingleHostReverseProxy(target)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, pw, ok := r.BasicAuth()
		granted := ok && subtle.ConstantTimeCompare([]byte(u), []byte(user)) == 1 && subtle.ConstantTimeCompare([]byte(pw), []byte(pass)) == 1
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		if granted {
			rp.ServeHTTP(sw, r)
		} else {
			w.Header().Set("WWW-Authenticate", `Basic realm="private proxy"`)
			http.Error(sw, "authentication required", http.StatusUnauthorized)
		}
		p.mu.Lock()
		p.log = append(p.log, fmt.Sprintf("%s %s auth=%v %d", r.Method, r.URL.Path, granted, sw.status))
		p.mu.Unlock()
	})
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	ts.Check(err)
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	ts.Defer(func() { srv.Close() })
	ts.Setenv("PRIVPROXY", "https://"+l.Addr().String()+"/mod")
}

// statusWriter remembers a response's status.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}
