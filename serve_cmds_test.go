package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/crypto/bcrypt"
)

// serveCmds are the testscript commands for the serve scripts.
var serveCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"serveurl":  cmdServeURL,
	"parallel":  cmdParallel,
	"proxywait": cmdProxyWait,
	"mkcert":    cmdMkcert,
	"mkcred":    cmdMkcred,
	"netrc":     cmdNetrc,
	"httpget":   cmdHTTPGet,
}

// mkcert cert.pem key.pem writes a self-signed certificate for 127.0.0.1
// (a CA of its own, so a client can trust it with SSL_CERT_FILE) and its
// key.
func cmdMkcert(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: mkcert cert.pem key.pem")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ts.Check(err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "gomodfetch test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	ts.Check(err)
	kder, err := x509.MarshalECPrivateKey(key)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))
}

// mkcred file name secret [scopes] adds a credential line to serve's
// credentials file (bcrypt, as htpasswd -nbB).
func cmdMkcred(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 || len(args) > 4 {
		ts.Fatalf("usage: mkcred file name secret [scopes]")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(args[2]), bcrypt.MinCost)
	ts.Check(err)
	line := args[1] + ":" + string(h)
	if len(args) == 4 {
		line += " " + args[3]
	}
	f, err := os.OpenFile(ts.MkAbs(args[0]), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	ts.Check(err)
	_, err = f.WriteString(line + "\n")
	ts.Check(err)
	ts.Check(f.Close())
}

// netrc URL login password writes $HOME/.netrc with one machine: URL's
// host and port.
func cmdNetrc(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: netrc URL login password")
	}
	u, err := url.Parse(args[0])
	ts.Check(err)
	home := ts.Getenv("HOME")
	ts.Check(os.MkdirAll(home, 0o777))
	ts.Check(os.WriteFile(filepath.Join(home, ".netrc"), []byte(fmt.Sprintf("machine %s login %s password %s\n", u.Host, args[1], args[2])), 0o600))
}

// serveurl file VAR waits (up to 30s) for file, which `gomodfetch serve
// -addr-file` writes once it listens, and sets VAR to the URL in it.
func cmdServeURL(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: serveurl file VAR")
	}
	file := ts.MkAbs(args[0])
	deadline := time.Now().Add(30 * time.Second)
	for {
		data, err := os.ReadFile(file)
		if err == nil && (strings.HasPrefix(string(data), "http://") || strings.HasPrefix(string(data), "https://")) {
			ts.Setenv(args[1], strings.TrimSpace(string(data)))
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("serveurl: %s did not appear", file)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// parallel N command args... runs N copies of command at once, copy i with
// GOMODCACHE=$WORK/parallel/<i>, and fails if any copy fails.
func cmdParallel(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: parallel N command args...")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 || n > 200 {
		ts.Fatalf("parallel: bad count %q", args[0])
	}
	path, err := exec.LookPath(args[1])
	if err != nil {
		ts.Fatalf("parallel: %v", err)
	}
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "GOPATH", "GOROOT", "GOCACHE", "GOPROXY", "GOFLAGS", "GOSUMDB",
		"GONOSUMDB", "GOPRIVATE", "GONOPROXY", "GOTOOLCHAIN", "GOWORK", "GOENV", "GOOS", "GOARCH", "CCACHE_DISABLE"} {
		if v := ts.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []string
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(path, args[2:]...)
			cmd.Dir = ts.Getenv("WORK")
			if wd := ts.MkAbs("."); wd != "" {
				cmd.Dir = wd
			}
			// A copy each: appending to the shared slice would let every
			// copy write the same GOMODCACHE slot.
			cmd.Env = append(slices.Clip(env), "GOMODCACHE="+filepath.Join(ts.Getenv("WORK"), "parallel", strconv.Itoa(i)))
			out, err := cmd.CombinedOutput()
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Sprintf("copy %d: %v\n%s", i, err, out))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		ts.Fatalf("parallel: %d of %d failed:\n%s", len(errs), n, strings.Join(errs, "\n"))
	}
}

// proxywait [@2] regexp waits (up to 30s) until the front has seen a
// request matching regexp.
func cmdProxyWait(ts *testscript.TestScript, neg bool, args []string) {
	f, args := frontOf(ts, args)
	if neg || len(args) != 1 {
		ts.Fatalf("usage: proxywait [@2] regexp")
	}
	re, err := regexp.Compile(args[0])
	if err != nil {
		ts.Fatalf("proxywait: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, l := range f.Log() {
			if re.MatchString(l) {
				return
			}
		}
		if time.Now().After(deadline) {
			ts.Fatalf("proxywait: no request matched %s:\n%s", args[0], strings.Join(f.Log(), "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// httpget URL [user password] prints the body of URL (trusting
// $SSL_CERT_FILE's certificate, with Basic authentication if given) and
// fails unless the answer is 200.
func cmdHTTPGet(ts *testscript.TestScript, neg bool, args []string) {
	if neg || (len(args) != 1 && len(args) != 3) {
		ts.Fatalf("usage: httpget URL [user password]")
	}
	tr := &http.Transport{}
	if f := ts.Getenv("SSL_CERT_FILE"); f != "" {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM([]byte(ts.ReadFile(f)))
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequest("GET", args[0], nil)
	ts.Check(err)
	if len(args) == 3 {
		req.SetBasicAuth(args[1], args[2])
	}
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	ts.Check(err)
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	ts.Check(err)
	ts.Stdout().Write(body)
	if resp.StatusCode != http.StatusOK {
		ts.Fatalf("httpget: %s", resp.Status)
	}
}
