package goauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseGOAUTH(t *testing.T) {
	tests := []struct {
		name, in string
		methods  []string
		error    string
	}{
		{name: "default", in: "", methods: []string{"netrc"}},
		{name: "netrc", in: "netrc", methods: []string{"netrc"}},
		{name: "off", in: "off", methods: nil},
		{name: "command and netrc", in: "/bin/auth --flag; netrc", methods: []string{"/bin/auth --flag", "netrc"}},
		{name: "off combined", in: "off;netrc", error: "off cannot be combined"},
		{name: "empty command", in: "netrc;;", error: "empty authentication command"},
		{name: "git missing dir", in: "git /nonexistent/src", error: "cannot stat /nonexistent/src"},
		{name: "git relative dir", in: "git src", error: "dir is not absolute"},
		{name: "git without dir", in: "git", error: "requires an absolute path"},
		{name: "git", in: "git /", methods: []string{"git /"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := ParseGOAUTH(tt.in, "")
			if tt.error != "" {
				if err == nil || !strings.Contains(err.Error(), tt.error) {
					t.Fatalf("ParseGOAUTH(%q) error = %v; want %q", tt.in, err, tt.error)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(a.methods, "|") != strings.Join(tt.methods, "|") {
				t.Errorf("methods = %q; want %q", a.methods, tt.methods)
			}
		})
	}
}

func TestParseNetrc(t *testing.T) {
	data := `machine a.example login alice password pa
machine b.example
	login bob
	password pb
macdef init
machine evil.example login x password y

machine c.example:8443 login carol password pc
default login anon password none
machine after.default login d password pd
`
	got := parseNetrc(data)
	want := []netrcLine{{"a.example", "alice", "pa"}, {"b.example", "bob", "pb"}, {"c.example:8443", "carol", "pc"}}
	if len(got) != len(want) {
		t.Fatalf("parseNetrc = %v; want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d = %v; want %v", i, got[i], want[i])
		}
	}
}

func TestParseAuthOutput(t *testing.T) {
	out := "https://a.example/mod\nhttps://b.example\n\nAuthorization: Bearer t1\nX-Extra: v\n\nhttps://c.example\n\nAuthorization: Basic xyz\n\n"
	creds, err := parseAuthOutput(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := creds["a.example/mod"].Get("Authorization"); got != "Bearer t1" {
		t.Errorf("a.example/mod: %q", got)
	}
	if got := creds["b.example"].Get("X-Extra"); got != "v" {
		t.Errorf("b.example X-Extra: %q", got)
	}
	if got := creds["c.example"].Get("Authorization"); got != "Basic xyz" {
		t.Errorf("c.example: %q", got)
	}
	for _, bad := range []string{"https://a.example\nAuthorization: x\n", "https://a.example\n\nnot a header\n\n", "::\n\n"} {
		if _, err := parseAuthOutput(bad); err == nil {
			t.Errorf("parseAuthOutput(%q) succeeded; want an error", bad)
		}
	}
	if creds, err := parseAuthOutput(""); err != nil || len(creds) != 0 {
		t.Errorf("parseAuthOutput(\"\") = %v, %v; want nothing", creds, err)
	}
}

// TestAuthCommand runs a GOAUTH command: it is asked first with no URL
// (and supplies nothing), then, after a 401, with the URL and the response
// on stdin, and its credentials get the request through. The credentials
// appear in no error or trace.

// TestGitCredential: GOAUTH=git dir asks 'git credential fill' in dir and
// sends what it answers for a prefix of the URL as basic authentication;
// an answer for another URL is refused.
func TestGitCredential(t *testing.T) {
	bin := t.TempDir()
	script := "#!/bin/sh\nread line\ncase \"$line\" in\n*evil*) printf 'protocol=https\\nhost=elsewhere.example\\nusername=u\\npassword=p\\n';;\n*) printf 'protocol=https\\nhost=proxy.example\\nusername=alice\\npassword=secret\\n';;\nesac\n"
	if err := os.WriteFile(filepath.Join(bin, "git"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	dir := t.TempDir()
	a, err := ParseGOAUTH("git "+dir, "")
	if err != nil {
		t.Fatal(err)
	}
	a.collect(context.Background(), "https://proxy.example/mod/x/@v/list", nil)
	req, _ := http.NewRequest("GET", "https://proxy.example/mod/x/@v/list", nil)
	if _, ok := a.apply(req); !ok {
		t.Fatalf("no credentials from git credential fill (error: %v)", a.lastErr)
	}
	if u, p, ok := req.BasicAuth(); !ok || u != "alice" || p != "secret" {
		t.Errorf("basic auth = %q, %q, %v; want alice, secret", u, p, ok)
	}
	creds, _, err := gitCredential(context.Background(), dir, "https://proxy.example/evil/x")
	if err == nil {
		t.Errorf("credentials for another host were accepted: %v", creds)
	}
}

// TestGitCredentialValidated: as go does, credentials from 'git credential
// fill' are checked with a HEAD request to their URL prefix, and git is
// told: 'git credential approve' (with fill's answer) when it answers 200,
// 'git credential reject' when 401.
func TestGitCredentialValidated(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); r.Method != http.MethodHead || !ok || u != "alice" || p != "secret" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "https://")
	for _, tc := range []struct {
		password, want string
	}{
		{"secret", "approve"},
		{"wrong", "reject"},
	} {
		bin := t.TempDir()
		log := filepath.Join(bin, "log")
		script := "#!/bin/sh\n" +
			"if [ \"$2\" = fill ]; then read line; printf 'protocol=https\\nhost=" + host + "\\nusername=alice\\npassword=" + tc.password + "\\n'; exit 0; fi\n" +
			"echo \"$2\" >> " + log + "\ncat >> " + log + "\n"
		if err := os.WriteFile(filepath.Join(bin, "git"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
		a, err := ParseGOAUTH("git "+t.TempDir(), "")
		if err != nil {
			t.Fatal(err)
		}
		a.ValidateClient = srv.Client()
		a.collect(context.Background(), srv.URL+"/mod/x/@v/list", nil)
		a.Wait()
		data, _ := os.ReadFile(log)
		got := string(data)
		if !strings.HasPrefix(got, tc.want+"\n") || !strings.Contains(got, "password="+tc.password) {
			t.Errorf("password %s: git was told %q; want %s with fill's answer", tc.password, got, tc.want)
		}
	}
}
