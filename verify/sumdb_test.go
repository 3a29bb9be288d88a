package verify

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/note"

	"gomodfetch/proxy"
	"gomodfetch/retry"
)

func TestParseGOSUMDB(t *testing.T) {
	_, vkey, err := note.GenerateKey(rand.Reader, "sum.example.com/db")
	if err != nil {
		t.Fatal(err)
	}
	golang := knownSumDBKeys["sum.golang.org"]
	tests := []struct {
		name, in       string
		off            bool
		wantName, key  string
		wantURL, error string
	}{
		{name: "default", in: "", wantName: "sum.golang.org", key: golang},
		{name: "off", in: "off", off: true},
		{name: "known name", in: "sum.golang.org", wantName: "sum.golang.org", key: golang},
		{name: "known name with url", in: "sum.golang.org https://mirror.example/sumdb", wantName: "sum.golang.org", key: golang, wantURL: "https://mirror.example/sumdb"},
		{name: "china alias", in: "sum.golang.google.cn", wantName: "sum.golang.org", key: golang, wantURL: "https://sum.golang.google.cn"},
		{name: "full key", in: vkey, wantName: "sum.example.com/db", key: vkey},
		{name: "full key with url", in: vkey + " http://127.0.0.1:8080/x", wantName: "sum.example.com/db", key: vkey, wantURL: "http://127.0.0.1:8080/x"},
		{name: "unknown name", in: "sum.example.com", error: "invalid GOSUMDB: "},
		{name: "too many fields", in: "sum.golang.org https://a https://b", error: "invalid GOSUMDB: too many fields"},
		{name: "bad url", in: "sum.golang.org ::bad", error: "invalid GOSUMDB URL: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := ParseGOSUMDB(tt.in)
			if tt.error != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.error) {
					t.Fatalf("ParseGOSUMDB(%q) = %v, %v; want error %q", tt.in, spec, err, tt.error)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.off {
				if spec != nil {
					t.Fatalf("ParseGOSUMDB(%q) = %+v; want nil (off)", tt.in, spec)
				}
				return
			}
			if spec.Name != tt.wantName || spec.Key != tt.key {
				t.Errorf("name, key = %q, %q; want %q, %q", spec.Name, spec.Key, tt.wantName, tt.key)
			}
			got := ""
			if spec.URL != nil {
				got = spec.URL.String()
			}
			if got != tt.wantURL {
				t.Errorf("URL = %q; want %q", got, tt.wantURL)
			}
		})
	}
}

// TestSumDBBase checks how the database is reached: through the first
// proxy whose /sumdb/<name>/supported answers 200, past 404s and past any
// error after '|'; an error after ',' makes it unavailable; "direct", "off"
// or the end of the list mean the database's own URL.
func TestSumDBBase(t *testing.T) {
	status := func(code int) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/sumdb/sum.golang.org/supported" {
				t.Errorf("unexpected request %s", r.URL.Path)
			}
			w.WriteHeader(code)
		}))
		t.Cleanup(s.Close)
		return s
	}
	ok, notFound, gone, broken := status(200), status(404), status(410), status(403)
	tests := []struct {
		name, goproxy, want, error string
	}{
		{name: "supported", goproxy: ok.URL, want: ok.URL + "/sumdb/sum.golang.org"},
		{name: "404 then supported", goproxy: notFound.URL + "," + ok.URL, want: ok.URL + "/sumdb/sum.golang.org"},
		{name: "410 then direct", goproxy: gone.URL + ",direct", want: "https://sum.golang.org"},
		{name: "all 404", goproxy: notFound.URL, want: "https://sum.golang.org"},
		{name: "error then comma", goproxy: broken.URL + "," + ok.URL, error: "403 Forbidden"},
		{name: "error then pipe", goproxy: broken.URL + "|" + ok.URL, want: ok.URL + "/sumdb/sum.golang.org"},
		{name: "off", goproxy: "off", want: "https://sum.golang.org"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proxies, err := proxy.ParseList(tt.goproxy)
			if err != nil {
				t.Fatal(err)
			}
			spec, err := ParseGOSUMDB("sum.golang.org")
			if err != nil {
				t.Fatal(err)
			}
			c := NewSumDB(SumDBConfig{
				Spec: spec, Proxies: proxies, Context: context.Background(),
				Client: &proxy.Client{HTTP: http.DefaultClient},
				Policy: retry.Policy{MaxAttempts: -1},
			})
			base, err := c.findBase()
			if tt.error != "" {
				if err == nil || !strings.Contains(err.Error(), tt.error) {
					t.Fatalf("findBase() = %v, %v; want error containing %q", base, err, tt.error)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if base.String() != tt.want {
				t.Errorf("findBase() = %s; want %s", base, tt.want)
			}
		})
	}
}

func TestSumDBRecoversAfterOutage(t *testing.T) {
	const name = "sum.example.com"
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	db := sumdb.NewServer(sumdb.NewTestServer(skey, func(path, vers string) ([]byte, error) {
		return []byte(path + " " + vers + " h1:AAAA=\n" + path + " " + vers + "/go.mod h1:BBBB=\n"), nil
	}))
	var down atomic.Bool
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if down.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		db.ServeHTTP(w, r)
	}))
	defer srv.Close()
	spec, err := ParseGOSUMDB(vkey + " " + srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := NewSumDB(SumDBConfig{
		Spec: spec, Context: context.Background(),
		Client:   &proxy.Client{HTTP: http.DefaultClient},
		Policy:   retry.Policy{MaxAttempts: -1},
		CacheDir: t.TempDir(), ConfigDir: t.TempDir(),
	})

	down.Store(true)
	_, err = c.Lookup(context.Background(), "example.com/m", "v1.0.0")
	if err == nil {
		t.Fatal("lookup succeeded against a database answering 503")
	}
	if got := retry.Classify(err); got != retry.Transient {
		t.Errorf("outage classified %v, want transient: %v", got, err)
	}

	down.Store(false)
	before := requests.Load()
	lines, err := c.Lookup(context.Background(), "example.com/m", "v1.0.0")
	if err != nil {
		t.Fatalf("lookup after the database recovered: %v", err)
	}
	if requests.Load() == before {
		t.Errorf("the failed lookup was answered from memory, not asked again")
	}
	want := []string{"example.com/m v1.0.0 h1:AAAA=", "example.com/m v1.0.0/go.mod h1:BBBB="}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines = %q, want %q", lines, want)
	}
}

// TestSumDBConcurrentLookupErrors: two lookups fail at the same time, one
// with a 403 (permanent) and one with a 503 (transient); each must report
// its own typed error, not the other's or an untyped one.
func TestSumDBConcurrentLookupErrors(t *testing.T) {
	const name = "sum.example.com"
	_, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	// Both lookup requests are held until both have arrived, so the two
	// failures land together.
	var arrived sync.WaitGroup
	arrived.Add(2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		arrived.Wait()
		switch {
		case strings.HasPrefix(r.URL.Path, "/lookup/example.com/denied@"):
			http.Error(w, "denied", http.StatusForbidden)
		case strings.HasPrefix(r.URL.Path, "/lookup/example.com/busy@"):
			http.Error(w, "busy", http.StatusServiceUnavailable)
		default:
			t.Errorf("unexpected request %s", r.URL.Path)
			http.Error(w, "unexpected", http.StatusNotFound)
		}
	}))
	defer srv.Close()
	spec, err := ParseGOSUMDB(vkey + " " + srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := NewSumDB(SumDBConfig{
		Spec: spec, Context: context.Background(),
		Client:   &proxy.Client{HTTP: srv.Client()},
		Policy:   retry.Policy{MaxAttempts: -1},
		CacheDir: t.TempDir(), ConfigDir: t.TempDir(),
	})
	want := map[string]int{"example.com/denied": http.StatusForbidden, "example.com/busy": http.StatusServiceUnavailable}
	errs := make(map[string]error)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for path := range want {
		wg.Go(func() {
			_, err := c.Lookup(context.Background(), path, "v1.0.0")
			mu.Lock()
			errs[path] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	for path, code := range want {
		var he *proxy.HTTPError
		if !errors.As(errs[path], &he) {
			t.Errorf("Lookup(%s) = %v; want an *proxy.HTTPError %d", path, errs[path], code)
		} else if he.StatusCode != code {
			t.Errorf("Lookup(%s) = %v; want its own %d", path, errs[path], code)
		}
	}
	if got := retry.Classify(errs["example.com/denied"]); got != retry.Permanent {
		t.Errorf("403 classified %v, want permanent", got)
	}
	if got := retry.Classify(errs["example.com/busy"]); got != retry.Transient {
		t.Errorf("503 classified %v, want transient", got)
	}
}

// TestJoinURLEscaping: a lookup URL prints "!" as the go command prints it
// (unescaped under a database URL without a path; escaped under a proxy's
// /sumdb/<name> base, where go's RawPath no longer spells the path).
func TestJoinURLEscaping(t *testing.T) {
	for _, tc := range []struct{ base, want string }{
		{"https://sum.golang.org", "https://sum.golang.org/lookup/github.com/!burnt!sushi/toml@v1.0.0"},
		{"https://sum.golang.org/", "https://sum.golang.org/lookup/github.com/!burnt!sushi/toml@v1.0.0"},
		{"https://proxy.example/sumdb/sum.golang.org", "https://proxy.example/sumdb/sum.golang.org/lookup/github.com/%21burnt%21sushi/toml@v1.0.0"},
	} {
		base, err := url.Parse(tc.base)
		if err != nil {
			t.Fatal(err)
		}
		if got := joinURL(base, "/lookup/github.com/!burnt!sushi/toml@v1.0.0").String(); got != tc.want {
			t.Errorf("joinURL(%s) = %s, want %s", tc.base, got, tc.want)
		}
	}
}

// TestAnswersLookup: a lookup is kept in the cache only if its record has
// a line for the module version asked about.
func TestAnswersLookup(t *testing.T) {
	record := func(lines string) []byte {
		return []byte("7\n" + lines + "\ngo.sum database tree\n9\nAAAA\n\n— sum.example.com sig\n")
	}
	const db = "sum.example.com"
	for _, tc := range []struct {
		name, file string
		data       []byte
		want       bool
	}{
		{"its record", db + "/lookup/example.com/a@v1.0.0", record("example.com/a v1.0.0 h1:x=\nexample.com/a v1.0.0/go.mod h1:y=\n"), true},
		{"go.mod line only", db + "/lookup/example.com/a@v1.0.0", record("example.com/a v1.0.0/go.mod h1:y=\n"), true},
		{"escaped path", db + "/lookup/github.com/!burnt!sushi/toml@v1.0.0", record("github.com/BurntSushi/toml v1.0.0 h1:x=\n"), true},
		{"another module's record", db + "/lookup/example.com/a@v1.0.0", record("example.com/b v1.0.0 h1:x=\nexample.com/b v1.0.0/go.mod h1:y=\n"), false},
		{"another version's record", db + "/lookup/example.com/a@v1.0.0", record("example.com/a v1.0.1 h1:x=\n"), false},
		{"a longer path", db + "/lookup/example.com/a@v1.0.0", record("example.com/a/v2 v1.0.0 h1:x=\n"), false},
		{"not a record", db + "/lookup/example.com/a@v1.0.0", []byte("example.com/a v1.0.0 h1:x=\n"), false},
		{"a tile", db + "/tile/8/0/000", []byte("anything"), true},
	} {
		if got := answersLookup(db, tc.file, tc.data); got != tc.want {
			t.Errorf("%s: answersLookup(%s) = %v, want %v", tc.name, tc.file, got, tc.want)
		}
	}
}
