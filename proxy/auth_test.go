package proxy

import (
	"context"
	"errors"
	"fmt"
	"gomodfetch/goauth"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestAuthCommand(t *testing.T) {
	const token = "Bearer s3cret-token"
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != token {
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	dir := t.TempDir()
	script := filepath.Join(dir, "auth.sh")
	stdinCopy := filepath.Join(dir, "stdin")
	body := "#!/bin/sh\n[ $# -eq 0 ] && exit 0\ncat > " + stdinCopy + "\nprintf '%s\\n\\nAuthorization: " + token + "\\n\\n' \"$1\"\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	auth, err := goauth.ParseGOAUTH(script, "")
	if err != nil {
		t.Fatal(err)
	}
	var trace strings.Builder
	c := &Client{HTTP: srv.Client(), Auth: auth, Trace: &trace}
	u, _ := url.Parse(srv.URL + "/mod/x/@v/list")
	data, err := c.GetBytes(context.Background(), u, 100)
	if err != nil {
		t.Fatalf("getBytes: %v", err)
	}
	if string(data) != "ok" {
		t.Errorf("body = %q", data)
	}
	in, err := os.ReadFile(stdinCopy)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(in), "HTTP/1.1 401 Unauthorized\n") || !strings.Contains(string(in), "Www-Authenticate: Bearer") {
		t.Errorf("command's stdin = %q; want the 401 response", in)
	}
	if strings.Contains(trace.String(), "s3cret") {
		t.Errorf("trace shows the credentials:\n%s", trace.String())
	}
	if !strings.Contains(trace.String(), "retrying with credentials") {
		t.Errorf("trace does not show the retry:\n%s", trace.String())
	}
}

// TestAuthNetrcHTTPSOnly: .netrc credentials go to https URLs whose
// host[:port] is the machine, never over plain http; userinfo over plain
// http is refused outright.
func TestAuthNetrcHTTPSOnly(t *testing.T) {
	netrc := filepath.Join(t.TempDir(), "netrc")
	if err := os.WriteFile(netrc, []byte("machine proxy.example:8443 login u password p\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	auth, err := goauth.ParseGOAUTH("netrc", netrc)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		url  string
		want bool
	}{
		{"https://proxy.example:8443/mod/x/@v/list", true},
		{"https://proxy.example/mod/x/@v/list", false},
		{"http://proxy.example:8443/mod/x/@v/list", false},
	} {
		req, _ := http.NewRequest("GET", tt.url, nil)
		if _, got := auth.Initial(context.Background(), req); got != tt.want {
			t.Errorf("Initial(%s) = %v; want %v", tt.url, got, tt.want)
		}
	}
	c := &Client{HTTP: http.DefaultClient}
	u, _ := url.Parse("http://user:pw@127.0.0.1:1/mod")
	_, err = c.GetBytes(context.Background(), u, 10)
	if err == nil || !strings.Contains(err.Error(), "refusing to pass credentials to insecure URL") || strings.Contains(err.Error(), "pw") {
		t.Errorf("http URL with userinfo: %v; want a refusal that hides the password", err)
	}
}

// TestRedirectToHTTPRefused: an https proxy redirecting to http is not
// followed.
func TestRedirectToHTTPRefused(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the http target was reached: %s", r.URL)
	}))
	defer plain.Close()
	tls := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+r.URL.Path, http.StatusFound)
	}))
	defer tls.Close()
	hc := NewHTTPClient(0, 0, 1)
	hc.Transport.(*http.Transport).TLSClientConfig = tls.Client().Transport.(*http.Transport).TLSClientConfig
	c := &Client{HTTP: hc}
	u, _ := url.Parse(tls.URL + "/mod/x/@v/list")
	_, err := c.GetBytes(context.Background(), u, 10)
	if err == nil || !strings.Contains(err.Error(), "refusing redirect") {
		t.Errorf("https→http redirect: %v; want a refusal", err)
	}
}

// TestAuthRefreshShared: many requests to one host get a 401 together; the
// GOAUTH command runs once at first and once for all of them, and every
// request then succeeds with its credentials.
func TestAuthRefreshShared(t *testing.T) {
	const token = "Bearer shared-token"
	const n = 30
	// The unauthenticated requests are held until all have arrived, so
	// all n 401s land together.
	var arrived sync.WaitGroup
	arrived.Add(n)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != token {
			arrived.Done()
			arrived.Wait()
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	dir := t.TempDir()
	script := filepath.Join(dir, "auth.sh")
	runs := filepath.Join(dir, "runs")
	// Asked with no URL it supplies nothing; asked with a URL, it supplies
	// the token for the URL's host.
	body := "#!/bin/sh\necho run >> " + runs + "\n[ $# -eq 0 ] && exit 0\ncat > /dev/null\n" +
		"printf '%s\\n\\nAuthorization: " + token + "\\n\\n' \"$(echo \"$1\" | sed 's|^\\(https://[^/]*\\).*|\\1|')\"\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	auth, err := goauth.ParseGOAUTH(script, "")
	if err != nil {
		t.Fatal(err)
	}
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = n
	c := &Client{HTTP: &http.Client{Transport: tr}, Auth: auth}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			u, _ := url.Parse(fmt.Sprintf("%s/mod/example.com/m%d/@v/list", srv.URL, i))
			data, err := c.GetBytes(context.Background(), u, 100)
			if err == nil && string(data) != "ok" {
				err = fmt.Errorf("body %q", data)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	data, err := os.ReadFile(runs)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(data), "\n"); got > 2 {
		t.Errorf("the GOAUTH command ran %d times; want at most 2 (first, and one refresh)", got)
	}
}

// TestAuthRefreshAfterAny4xx: as with the go command, any 4xx (here a 404
// from a proxy hiding private modules) asks the GOAUTH commands again. A
// 4xx the credentials already sent did not avoid is not asked again with
// the same credentials.
func TestAuthRefreshAfterAny4xx(t *testing.T) {
	const token = "Bearer t404"
	var missing atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			missing.Add(1)
		} else if r.Header.Get("Authorization") == token {
			w.Write([]byte("ok"))
			return
		}
		http.Error(w, "not found", http.StatusNotFound)
	}))
	defer srv.Close()
	script := filepath.Join(t.TempDir(), "auth.sh")
	body := "#!/bin/sh\n[ $# -eq 0 ] && exit 0\ncat > /dev/null\nprintf '" + srv.URL + "\\n\\nAuthorization: " + token + "\\n\\n'\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	auth, err := goauth.ParseGOAUTH(script, "")
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{HTTP: srv.Client(), Auth: auth}
	u, _ := url.Parse(srv.URL + "/private/@v/list")
	if data, err := c.GetBytes(context.Background(), u, 100); err != nil || string(data) != "ok" {
		t.Fatalf("getBytes after a 404 = %q, %v; want ok", data, err)
	}
	u, _ = url.Parse(srv.URL + "/missing")
	if _, err := c.GetBytes(context.Background(), u, 100); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("getBytes(missing) = %v; want not found", err)
	}
	if n := missing.Load(); n != 1 {
		t.Errorf("missing was requested %d times; want once (the same credentials again would not help)", n)
	}
}
