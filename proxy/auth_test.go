package proxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
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
	auth, err := ParseGOAUTH(script, "")
	if err != nil {
		t.Fatal(err)
	}
	var trace strings.Builder
	c := &Client{HTTP: srv.Client(), Auth: auth, Trace: &trace}
	u, _ := url.Parse(srv.URL + "/mod/x/@v/list")
	data, err := c.getBytes(context.Background(), u, 100)
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
	auth, err := ParseGOAUTH("netrc", netrc)
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
		if got := auth.Initial(context.Background(), req); got != tt.want {
			t.Errorf("Initial(%s) = %v; want %v", tt.url, got, tt.want)
		}
	}
	c := &Client{HTTP: http.DefaultClient}
	u, _ := url.Parse("http://user:pw@127.0.0.1:1/mod")
	_, err = c.getBytes(context.Background(), u, 10)
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
	_, err := c.getBytes(context.Background(), u, 10)
	if err == nil || !strings.Contains(err.Error(), "refusing redirect") {
		t.Errorf("https→http redirect: %v; want a refusal", err)
	}
}
