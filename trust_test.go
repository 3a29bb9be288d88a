package main

import (
	"archive/zip"
	"bufio"
	"context"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"gomodfetch/internal/faultproxy"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/note"
)

// trustCmds are the testscript commands for the trust scripts.
var trustCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"sumdblog": cmdSumDBLog,
	"mkzip":    cmdMkZip,
	"authlog":  cmdAuthLog,
}

type sumdbKey struct{}

// sumdbName is the fake checksum database's name.
const sumdbName = "sumdb.test"

// setupTrust runs after setupScript. A script with a .sumdb file (go.sum
// lines: what the database will sign, read at each lookup) gets a fake
// checksum database on 127.0.0.1:0, served at $SUMDBURL and, through a
// proxy in front of the script's module proxy that supports it, at
// $GOPROXY/sumdb/<name>/. GOSUMDB is set to its key and GONOSUMDB cleared.
// Its lookups and tiles (not supported) come through a fault-injecting
// front of their own, "@sumdb" to the faults, proxylog and proxyreqs
// commands (paths below /sumdb/<name>/: lookup/..., tile/...), with the
// rules in the file faults-sumdb from the start.
// $SUMDBREDIRECT/<path>@<version>: is the same database gone bad: every
// lookup there answers with the record of path@version.
func setupTrust(env *testscript.Env) error {
	lines := filepath.Join(env.WorkDir, ".sumdb")
	if _, err := os.Stat(lines); err != nil {
		return nil
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, sumdbName)
	if err != nil {
		return err
	}
	ts := sumdb.NewTestServer(skey, func(path, vers string) ([]byte, error) {
		if strings.HasPrefix(path, fillerPrefix) {
			return []byte(path + " " + vers + " " + fillerHash + "\n"), nil
		}
		return sumdbLines(lines, path, vers)
	})
	db, err := fillSumDB(env, ts, lines)
	if err != nil {
		return err
	}
	var (
		upstream  http.Handler = http.NotFoundHandler()
		proxyPath string
	)
	if f, _ := env.Values[frontKey{}].(*faultproxy.Server); f != nil {
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
	front, err := sumdbFront(env, db, prefix)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == prefix+"/supported":
			rec.add(r)
		case strings.HasPrefix(r.URL.Path, prefix+"/"):
			rec.add(r)
			front.ServeHTTP(w, r)
		case strings.HasPrefix(r.URL.Path, "/sumdb-redirect/"):
			// $SUMDBREDIRECT/<path>@<version>:/lookup/<other>: the signed
			// record of path@version, whatever was asked (go's
			// cmd/go/proxy_test.go has the same attacker).
			rec.add(r)
			target, rest, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/sumdb-redirect"), ":")
			if !ok {
				http.Error(w, "no ':' after the redirect target", http.StatusBadRequest)
				return
			}
			r2 := r.Clone(r.Context())
			r2.URL.Path, r2.URL.RawPath = rest, ""
			if strings.HasPrefix(rest, "/lookup/") {
				r2.URL.Path = "/lookup" + target
			}
			db.ServeHTTP(w, r2)
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
	env.Setenv("SUMDBREDIRECT", base+"/sumdb-redirect")
	if env.Getenv("PROXYURL") != "" {
		env.Setenv("GOPROXY", base+proxyPath)
		env.Setenv("PROXYURL", base+proxyPath)
	}
	return nil
}

// Filler records of a database that .sumdb-fill asks to be grown.
const (
	fillerPrefix = "filler.example/"
	fillerHash   = "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
)

// fillSumDB returns the handler of the test database ts. A script with a
// .sumdb-fill file ("spread S" and "grow G", one a line) gets a database
// that looks more like sum.golang.org's, a large tree in which the
// script's modules are far apart and which grows while it is used: S
// records of other modules are added before each module version .sumdb
// names (in its order, at setup), and G more before each lookup is
// answered.
func fillSumDB(env *testscript.Env, ts *sumdb.TestServer, lines string) (http.Handler, error) {
	db := sumdb.NewServer(ts)
	data, err := os.ReadFile(filepath.Join(env.WorkDir, ".sumdb-fill"))
	if errors.Is(err, fs.ErrNotExist) {
		return db, nil
	} else if err != nil {
		return nil, err
	}
	var spread, grow int
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) == 2 {
			n, err := strconv.Atoi(f[1])
			if err != nil || n < 0 || n > 1<<20 {
				return nil, fmt.Errorf(".sumdb-fill: bad count %q", f[1])
			}
			switch f[0] {
			case "spread":
				spread = n
			case "grow":
				grow = n
			default:
				return nil, fmt.Errorf(".sumdb-fill: unknown %q", f[0])
			}
		}
	}
	var (
		mu     sync.Mutex
		filled int
	)
	ctx := context.Background()
	fill := func(n int) error {
		mu.Lock()
		defer mu.Unlock()
		for range n {
			filled++
			if _, err := ts.Lookup(ctx, module.Version{Path: fmt.Sprintf("%sf%d", fillerPrefix, filled), Version: "v1.0.0"}); err != nil {
				return err
			}
		}
		return nil
	}
	sums, err := os.ReadFile(lines)
	if err != nil {
		return nil, err
	}
	for _, l := range strings.Split(string(sums), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 || strings.HasSuffix(f[1], "/go.mod") {
			continue
		}
		if err := fill(spread); err != nil {
			return nil, err
		}
		if _, err := ts.Lookup(ctx, module.Version{Path: f[0], Version: f[1]}); err != nil {
			return nil, err
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/lookup/") {
			if err := fill(grow); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		db.ServeHTTP(w, r)
	}), nil
}

// sumdbFront starts the fault-injecting front of db (see setupTrust) and
// returns a handler that passes requests for prefix/... to it.
func sumdbFront(env *testscript.Env, db http.Handler, prefix string) (http.Handler, error) {
	back := httptest.NewServer(http.StripPrefix(prefix, db))
	env.Defer(back.Close)
	f, err := faultproxy.Start(faultproxy.Options{Backend: back.URL + prefix})
	if err != nil {
		return nil, err
	}
	env.Defer(f.Close)
	if rules := filepath.Join(env.WorkDir, "faults-sumdb"); fileExists(rules) {
		if err := f.LoadRules(rules); err != nil {
			return nil, err
		}
	}
	env.Values[frontKey{sumdbFrontN}] = f
	u, err := url.Parse(f.URL)
	if err != nil {
		return nil, err
	}
	return httputil.NewSingleHostReverseProxy(&url.URL{Scheme: u.Scheme, Host: u.Host}), nil
}

// sumdbFrontN is the checksum database's front among a script's fronts.
const sumdbFrontN = 2

func fileExists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
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
		if err := setupTrust(env); err != nil {
			return err
		}
		if err := setupVanity(env); err != nil {
			return err
		}
		return setupAuthProxy(env)
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

type authKey struct{}

// Credentials the fake private proxy accepts.
const (
	authUser   = "gopher"
	authPass   = "s3cret-pw"
	authBearer = "Bearer t0ken-xyz"
)

// setupAuthProxy gives a script with a .authproxy file a private module
// proxy: https on 127.0.0.1:0 (its certificate in $SSL_CERT_FILE), in front
// of the script's module proxy, that answers 401 unless a request carries
// basic auth gopher:s3cret-pw or "Bearer t0ken-xyz". $AUTHPROXY is its URL,
// $AUTHHOST its host:port, $AUTHPATH its path; $WORK/.netrc-good and
// $WORK/.netrc-bad hold right and wrong credentials for it.
func setupAuthProxy(env *testscript.Env) error {
	if _, err := os.Stat(filepath.Join(env.WorkDir, ".authproxy")); err != nil {
		return nil
	}
	f, _ := env.Values[frontKey{}].(*faultproxy.Server)
	if f == nil {
		return errors.New(".authproxy needs a .gomodproxy directory")
	}
	u, err := url.Parse(f.URL)
	if err != nil {
		return err
	}
	upstream := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: u.Scheme, Host: u.Host})
	rec := &requestLog{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind := "none"
		if user, pass, ok := r.BasicAuth(); ok {
			kind = "wrong"
			if user == authUser && pass == authPass {
				kind = "basic"
			}
		} else if h := r.Header.Get("Authorization"); h != "" {
			kind = "wrong"
			if h == authBearer {
				kind = "bearer"
			}
		}
		rec.mu.Lock()
		rec.log = append(rec.log, r.Method+" "+r.URL.Path+" auth="+kind)
		rec.mu.Unlock()
		if kind != "basic" && kind != "bearer" {
			w.Header().Set("WWW-Authenticate", `Basic realm="private"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		r.Header.Del("Authorization")
		upstream.ServeHTTP(w, r)
	}))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv.Listener = l
	srv.StartTLS()
	env.Defer(srv.Close)
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	certFile := filepath.Join(env.WorkDir, ".authproxy-cert.pem")
	if err := os.WriteFile(certFile, cert, 0o666); err != nil {
		return err
	}
	host := l.Addr().String()
	for name, content := range map[string]string{
		".netrc-good": "machine " + host + " login " + authUser + " password " + authPass + "\n",
		".netrc-bad":  "machine " + host + " login " + authUser + " password wrong-pw\n",
	} {
		if err := os.WriteFile(filepath.Join(env.WorkDir, name), []byte(content), 0o600); err != nil {
			return err
		}
	}
	env.Values[authKey{}] = rec
	env.Setenv("SSL_CERT_FILE", certFile)
	env.Setenv("AUTHPROXY", "https://"+host+u.Path)
	env.Setenv("AUTHHOST", host)
	env.Setenv("AUTHPATH", u.Path)
	return nil
}

// authlog prints the requests the private proxy has seen, each with
// auth=basic|bearer|wrong|none (never the credentials themselves).
func cmdAuthLog(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! authlog")
	}
	rec, _ := ts.Value(authKey{}).(*requestLog)
	if rec == nil {
		ts.Fatalf("no private proxy in this script (add a .authproxy file)")
	}
	if len(args) == 1 && args[0] == "reset" {
		rec.mu.Lock()
		rec.log = nil
		rec.mu.Unlock()
		return
	}
	for _, l := range rec.lines() {
		fmt.Fprintln(ts.Stdout(), l)
	}
}

// setupVanity gives a script with a .vanity file $VANITYPROXY: a loopback
// HTTP proxy (for HTTP_PROXY/HTTPS_PROXY) that answers every plain-http
// "?go-get=1" request for a path under corp.example with a go-import tag
// naming a git repository at https://corp.example/<first element> (which
// the script's git config rewrites to a local directory), and refuses every
// CONNECT, so no request leaves the machine.
func setupVanity(env *testscript.Env) error {
	if _, err := os.Stat(filepath.Join(env.WorkDir, ".vanity")); err != nil {
		return nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodConnect || r.URL.Host != "corp.example" || r.URL.Query().Get("go-get") != "1" {
			http.Error(w, "refused", http.StatusForbidden)
			return
		}
		elems := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)
		root := "corp.example/" + elems[0]
		fmt.Fprintf(w, "<html><head><meta name=\"go-import\" content=\"%s git https://%s\"></head></html>\n", root, root)
	})}
	go srv.Serve(l)
	env.Defer(func() { srv.Close() })
	env.Setenv("VANITYPROXY", "http://"+l.Addr().String())
	return nil
}
