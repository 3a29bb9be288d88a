package main

import (
	"archive/zip"
	"bufio"
	"crypto/rand"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/note"
)

// trustCmds are the testscript commands for the trust scripts.
var trustCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"sumdblog": cmdSumDBLog,
	"mkzip":    cmdMkZip,
}

type sumdbKey struct{}

// sumdbName is the fake checksum database's name.
const sumdbName = "sumdb.test"

// setupTrust runs after setupScript. A script with a .sumdb file (go.sum
// lines: what the database will sign, read at each lookup) gets a fake
// checksum database on 127.0.0.1:0, served at $SUMDBURL and, through a
// proxy in front of the script's module proxy that supports it, at
// $GOPROXY/sumdb/<name>/. GOSUMDB is set to its key and GONOSUMDB cleared.
func setupTrust(env *testscript.Env) error {
	lines := filepath.Join(env.WorkDir, ".sumdb")
	if _, err := os.Stat(lines); err != nil {
		return nil
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, sumdbName)
	if err != nil {
		return err
	}
	db := sumdb.NewServer(sumdb.NewTestServer(skey, func(path, vers string) ([]byte, error) {
		return sumdbLines(lines, path, vers)
	}))
	var (
		upstream  http.Handler = http.NotFoundHandler()
		proxyPath string
	)
	if f, _ := env.Values[frontKey{}].(*front); f != nil {
		u, err := url.Parse(f.URL)
		if err != nil {
			return err
		}
		upstream = httputil.NewSingleHostReverseProxy(&url.URL{Scheme: u.Scheme, Host: u.Host})
		proxyPath = strings.TrimSuffix(u.Path, "/")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	rec := &requestLog{}
	prefix := proxyPath + "/sumdb/" + sumdbName
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == prefix+"/supported":
			rec.add(r)
		case strings.HasPrefix(r.URL.Path, prefix+"/"):
			rec.add(r)
			http.StripPrefix(prefix, db).ServeHTTP(w, r)
		default:
			upstream.ServeHTTP(w, r)
		}
	})}
	go srv.Serve(l)
	env.Defer(func() { srv.Close() })
	env.Values[sumdbKey{}] = rec
	base := "http://" + l.Addr().String()
	env.Setenv("GOSUMDB", vkey)
	env.Setenv("GONOSUMDB", "")
	env.Setenv("SUMDBKEY", vkey)
	env.Setenv("SUMDBURL", base+prefix)
	if env.Getenv("PROXYURL") != "" {
		env.Setenv("GOPROXY", base+proxyPath)
		env.Setenv("PROXYURL", base+proxyPath)
	}
	return nil
}

// sumdbLines returns the lines of file for path at vers (the module and its
// go.mod), or fs.ErrNotExist (a 404) if there are none.
func sumdbLines(file, path, vers string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 3 && fields[0] == path && (fields[1] == vers || fields[1] == vers+"/go.mod") {
			fmt.Fprintf(&out, "%s %s %s\n", fields[0], fields[1], fields[2])
		}
	}
	if out.Len() == 0 {
		return nil, fmt.Errorf("%s@%s: %w", path, vers, fs.ErrNotExist)
	}
	return []byte(out.String()), sc.Err()
}

type requestLog struct {
	mu  sync.Mutex
	log []string
}

func (l *requestLog) add(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.log = append(l.log, r.Method+" "+r.URL.Path)
}

func (l *requestLog) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.log...)
}

// sumdblog prints the requests the fake checksum database has seen, for
// matching with stdout / ! stdout.
func cmdSumDBLog(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! sumdblog")
	}
	rec, _ := ts.Value(sumdbKey{}).(*requestLog)
	if rec == nil {
		ts.Fatalf("no checksum database in this script (add a .sumdb file)")
	}
	for _, l := range rec.lines() {
		fmt.Fprintln(ts.Stdout(), l)
	}
}

// withTrust runs setupTrust after setup.
func withTrust(setup func(*testscript.Env) error) func(*testscript.Env) error {
	return func(env *testscript.Env) error {
		if err := setup(env); err != nil {
			return err
		}
		return setupTrust(env)
	}
}

// mkzip file name... writes a zip holding the named entries (each with
// content "package x\n"), whatever their names: for unsafe zips.
func cmdMkZip(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: mkzip file name...")
	}
	file := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(filepath.Dir(file), 0o777))
	f, err := os.Create(file)
	ts.Check(err)
	zw := zip.NewWriter(f)
	for _, name := range args[1:] {
		w, err := zw.Create(name)
		ts.Check(err)
		_, err = w.Write([]byte("package x\n"))
		ts.Check(err)
	}
	ts.Check(zw.Close())
	ts.Check(f.Close())
}
