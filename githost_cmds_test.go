package main

import (
	"crypto/subtle"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/cgi"
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
		if hostile {
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
		w.Header().Set("Content-Type", "text/plain")
		http.Error(w, "\x1b[2J\x1b]0;pwned\x07 fatal: hostile", http.StatusInternalServerError)
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
// to its URL. githost hostile makes it answer every request with terminal
// escapes instead. githost log prints the requests it has seen.
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
		ts.Fatalf("githost: this script has no git host (its name must start with serve_git)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	g.root, g.user, g.pass, g.url = ts.MkAbs(args[1]), args[2], args[3], "http://"+l.Addr().String()
	srv := &http.Server{Handler: g}
	go srv.Serve(l)
	ts.Defer(func() { srv.Close() })
	ts.Setenv("GITHOST", g.url)
}

// setupGitHost gives scripts named serve_git* a (not yet started) git
// host and a git identity of their own.
func setupGitHost(env *testscript.Env) error {
	if !strings.HasPrefix(filepath.Base(env.WorkDir), "script-serve_git") {
		return nil
	}
	env.Values[githostKey{}] = new(gitHost)
	for _, kv := range [][2]string{
		{"GIT_AUTHOR_NAME", "t"}, {"GIT_AUTHOR_EMAIL", "t@example.com"},
		{"GIT_COMMITTER_NAME", "t"}, {"GIT_COMMITTER_EMAIL", "t@example.com"},
		{"GIT_CONFIG_NOSYSTEM", "1"}, {"GIT_CONFIG_GLOBAL", os.DevNull},
	} {
		env.Setenv(kv[0], kv[1])
	}
	return nil
}
