package serve

import (
	"bytes"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func credLine(t *testing.T, name, secret, scopes string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(secret), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return name + ":" + string(h) + " " + scopes + "\n"
}

// TestAuth: a restricted path is served only to a credential whose scope
// covers it (401 with a Basic challenge without one or with a wrong one,
// 404 outside its scope); public paths are open unless PublicNeedsAuth;
// the log names the credential, never its secret; the file is reloaded
// when it changes.
func TestAuth(t *testing.T) {
	file := filepath.Join(t.TempDir(), "credentials")
	content := "# the clients\n" +
		credLine(t, "ci", "ci-secret", "*") +
		credLine(t, "team-a", "a-secret", "example.com/m,corp.example/a") +
		credLine(t, "team-b", "b-secret", "corp.example/b") +
		credLine(t, "nobody", "n-secret", "")
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	creds, err := LoadCredentials(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := newSetup(t, func(c *Config) {
		c.Credentials = creds
		c.Restricted = func(p string) bool { return p == "example.com/m" || strings.HasPrefix(p, "corp.example/") }
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	get := func(path, user, secret string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", st.srv.URL+path, nil)
		if user != "" {
			req.SetBasicAuth(user, secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	const mod = "/example.com/m/@v/v1.0.0.mod"
	for _, tc := range []struct {
		name, path, user, secret string
		want                     int
	}{
		{"restricted, no credential", mod, "", "", 401},
		{"restricted, wrong secret", mod, "team-a", "nope", 401},
		{"restricted, unknown name", mod, "mallory", "a-secret", 401},
		{"restricted, out of scope", mod, "team-b", "b-secret", 404},
		{"restricted, no scopes", mod, "nobody", "n-secret", 404},
		{"restricted, in scope", mod, "team-a", "a-secret", 200},
		{"restricted, everything", mod, "ci", "ci-secret", 200},
		// (This server proxies no checksum database: 404, not 401.)
		{"public, no credential", "/sumdb/sum.example/supported", "", "", 404},
		{"public path, wrong secret", "/example.com/other/@v/list", "ci", "nope", 401},
	} {
		resp := get(tc.path, tc.user, tc.secret)
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d; want %d", tc.name, resp.StatusCode, tc.want)
		}
		if tc.want == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("%s: 401 without a Basic challenge: %q", tc.name, resp.Header.Get("WWW-Authenticate"))
		}
	}
	if strings.Contains(logs.String(), "a-secret") || strings.Contains(logs.String(), "ci-secret") {
		t.Errorf("a secret reached the log")
	}
	if !strings.Contains(logs.String(), "user=team-a") {
		t.Errorf("the log does not name the credential:\n%s", logs.String())
	}

	// team-a is removed: once the file is read again its secret no
	// longer works, though it was verified (and remembered) before.
	time.Sleep(10 * time.Millisecond) // a new modification time
	if err := os.WriteFile(file, []byte(credLine(t, "ci", "ci-secret", "*")), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "team-a's credential revoked", func() bool { return get(mod, "team-a", "a-secret").StatusCode == 401 })
	if resp := get(mod, "ci", "ci-secret"); resp.StatusCode != 200 {
		t.Errorf("ci after the reload: %d", resp.StatusCode)
	}
	// A broken file keeps the credentials in force.
	os.WriteFile(file, []byte("garbage line here\n"), 0o600)
	time.Sleep(1100 * time.Millisecond)
	if resp := get(mod, "ci", "ci-secret"); resp.StatusCode != 200 {
		t.Errorf("ci after a broken file: %d; want 200 (previous credentials kept)", resp.StatusCode)
	}
}

// TestAuthPublicNeedsAuth: with PublicNeedsAuth every module path needs a
// valid credential (any scope).
func TestAuthPublicNeedsAuth(t *testing.T) {
	file := filepath.Join(t.TempDir(), "credentials")
	os.WriteFile(file, []byte(credLine(t, "dev", "d", "")), 0o600)
	creds, err := LoadCredentials(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := newSetup(t, func(c *Config) { c.Credentials, c.PublicNeedsAuth = creds, true })
	if resp, _ := st.do(t, "GET", "/example.com/m/@v/v1.0.0.mod"); resp.StatusCode != 401 {
		t.Errorf("no credential: %d; want 401", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", st.srv.URL+"/example.com/m/@v/v1.0.0.mod", nil)
	req.SetBasicAuth("dev", "d")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("with a credential: %d; want 200", resp.StatusCode)
	}
}

func TestParseCredentials(t *testing.T) {
	h, _ := bcrypt.GenerateFromPassword([]byte("x"), bcrypt.MinCost)
	for _, tc := range []struct{ name, data, err string }{
		{"no hash", "ci *\n", "no name:hash"},
		{"not bcrypt", "ci:{SHA}abc *\n", "not a bcrypt hash"},
		{"duplicate", "ci:" + string(h) + "\nci:" + string(h) + "\n", "a second credential named ci"},
		{"too many fields", "ci:" + string(h) + " a b\n", "too many fields"},
		{"empty scope", "ci:" + string(h) + " a,,b\n", "an empty scope"},
	} {
		_, err := parseCredentials("creds", []byte(tc.data))
		if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), "creds:") {
			t.Errorf("%s: %v; want %q with the file and line", tc.name, err, tc.err)
		}
	}
}
