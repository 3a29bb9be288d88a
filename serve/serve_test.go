package serve

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"gomodfetch/download"
	"gomodfetch/internal/modtest"
	"gomodfetch/modcache"
	"gomodfetch/proxy"
	"gomodfetch/retry"
	"gomodfetch/verify"
)

// upstream is a fake module proxy serving example.com/m v1.0.0. fail, if
// set, answers a path's request instead; tamper serves a different zip.
type upstream struct {
	srv      *httptest.Server
	mod      module.Version
	zip      []byte
	gomod    string
	mu       sync.Mutex
	reqs     []string
	fail     map[string]int // path → status
	tamper   bool
	zipDelay chan struct{} // if set, the zip waits for it
	// extra, if set, may answer a request first (reporting true if it did).
	extra func(w http.ResponseWriter, r *http.Request) bool
}

func newUpstream(t testing.TB) *upstream {
	u := &upstream{mod: module.Version{Path: "example.com/m", Version: "v1.0.0"}, gomod: "module example.com/m\n\ngo 1.21\n\nrequire example.com/dep v1.2.0\n", fail: map[string]int{}}
	u.zip = modtest.Zip(t, u.mod, map[string]string{"go.mod": u.gomod, "m.go": "package m\n"})
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.reqs = append(u.reqs, r.URL.Path)
		code, tamper, delay, extra := u.fail[r.URL.Path], u.tamper, u.zipDelay, u.extra
		u.mu.Unlock()
		if extra != nil && extra(w, r) {
			return
		}
		if code != 0 {
			http.Error(w, "injected", code)
			return
		}
		switch r.URL.Path {
		case "/example.com/m/@v/list":
			io.WriteString(w, "v1.0.0\nv1.0.1-0.20240101000000-abcdefabcdef\n")
		case "/example.com/m/@latest", "/example.com/m/@v/master.info":
			io.WriteString(w, `{"Version":"v1.0.0","Time":"2024-01-01T00:00:00Z","Origin":{"VCS":"git","URL":"https://example.com/m","Ref":"refs/tags/v1.0.0","Hash":"abc"}}`)
		case "/example.com/m/@v/v1.0.0.info":
			io.WriteString(w, `{"Version":"v1.0.0","Time":"2024-01-01T00:00:00Z","Origin":{"VCS":"git","URL":"https://example.com/m","Ref":"refs/tags/v1.0.0","Hash":"abc"}}`)
		case "/example.com/m/@v/v1.0.0.mod":
			io.WriteString(w, u.gomod)
		case "/example.com/m/@v/v1.0.0.zip":
			if delay != nil {
				<-delay
			}
			if tamper {
				w.Write(modtest.Zip(t, u.mod, map[string]string{"go.mod": u.gomod, "m.go": "package m\n\nvar Evil = 1\n"}))
				return
			}
			w.Write(u.zip)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) requests() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.reqs...)
}

func (u *upstream) count(path string) int {
	n := 0
	for _, r := range u.requests() {
		if r == path {
			n++
		}
	}
	return n
}

// fakeDB is a checksum database that knows the true hashes.
type fakeDB struct{ lines []string }

func (d *fakeDB) Lookup(ctx context.Context, path, version string) ([]string, error) {
	return d.lines, nil
}
func (d *fakeDB) Name() string { return "sum.example" }

type setup struct {
	up     *upstream
	srv    *httptest.Server
	cache  *modcache.Cache
	s      *Server
	db     *fakeDB
	router *proxy.Router
	stop   context.CancelFunc // ends the server's context
}

func newSetup(t testing.TB, edit func(*Config)) *setup {
	t.Helper()
	up := newUpstream(t)
	proxies, err := proxy.ParseList(up.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	mh, _ := verify.HashGoMod([]byte(up.gomod))
	db := &fakeDB{lines: []string{
		"example.com/m v1.0.0 " + modtest.MustHashZip(t, up.zip),
		"example.com/m v1.0.0/go.mod " + mh,
	}}
	cache := &modcache.Cache{Root: t.TempDir(), ReadWrite: true}
	client := &proxy.Client{HTTP: proxy.NewHTTPClient(0, 0, 4)}
	router := &proxy.Router{
		Proxies: proxies,
		Client:  client,
		Policy:  retry.Policy{MaxAttempts: 3, Initial: time.Millisecond, Max: time.Millisecond},
	}
	f := download.New(download.Config{
		Cache:         cache,
		Router:        router,
		Verifier:      &verify.Verifier{DB: db},
		ForgetAnswers: true,
	})
	ctx, stop := context.WithCancel(context.Background())
	cfg := Config{Cache: cache, Fetcher: f, SumDBName: "sum.example", Prefetch: -1, Context: ctx,
		Private: func(p string) bool { return strings.HasPrefix(p, "example.com/private") }}
	if edit != nil {
		edit(&cfg)
	}
	s := New(cfg)
	client.Gate = s.Gate()
	// Before the cache's TempDir goes: what still runs is stopped.
	t.Cleanup(func() { stop(); s.Wait() })
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &setup{up: up, srv: srv, cache: cache, s: s, db: db, router: router, stop: stop}
}

func (st *setup) do(t *testing.T, method, path string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, st.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestProtocol(t *testing.T) {
	st := newSetup(t, nil)
	tests := []struct {
		name, method, path string
		hdr                []string
		code               int
		ctype, body        string // body: a substring
	}{
		{"list: tagged versions only", "GET", "/example.com/m/@v/list", nil, 200, "text/plain; charset=utf-8", "v1.0.0\n"},
		{"info keeps Origin", "GET", "/example.com/m/@v/v1.0.0.info", nil, 200, "application/json", `"Origin":{"VCS":"git"`},
		{"mod", "GET", "/example.com/m/@v/v1.0.0.mod", nil, 200, "text/plain; charset=utf-8", "module example.com/m"},
		{"zip", "GET", "/example.com/m/@v/v1.0.0.zip", nil, 200, "application/zip", "PK"},
		{"zip range", "GET", "/example.com/m/@v/v1.0.0.zip", []string{"Range", "bytes=0-1"}, 206, "application/zip", "PK"},
		{"latest", "GET", "/example.com/m/@latest", nil, 200, "application/json", `"Version":"v1.0.0"`},
		{"query", "GET", "/example.com/m/@v/master.info", nil, 200, "application/json", `"Version":"v1.0.0"`},
		{"unknown module", "GET", "/example.com/nope/@v/v1.0.0.mod", nil, 404, "text/plain; charset=utf-8", "not found"},
		{"unknown list", "GET", "/example.com/nope/@v/list", nil, 404, "text/plain; charset=utf-8", "not found"},
		{"private", "GET", "/example.com/private/x/@v/list", nil, 404, "text/plain; charset=utf-8", "private"},
		{"non-canonical mod", "GET", "/example.com/m/@v/v1.0.mod", nil, 404, "text/plain; charset=utf-8", "invalid version"},
		{"unescaped upper case", "GET", "/example.com/M/@v/list", nil, 400, "text/plain; charset=utf-8", "bad module path"},
		{"escaped upper case", "GET", "/example.com/!m/@v/list", nil, 404, "text/plain; charset=utf-8", "not found"},
		{"traversal", "GET", "/example.com/m/@v/..%2F..%2F..%2Fetc%2Fpasswd.info", nil, 400, "text/plain; charset=utf-8", "bad version"},
		{"dot path", "GET", "/../x/@v/list", nil, 400, "text/plain; charset=utf-8", ""},
		{"bad suffix", "GET", "/example.com/m/@v/v1.0.0.exe", nil, 404, "text/plain; charset=utf-8", ""},
		{"root", "GET", "/", nil, 404, "text/plain; charset=utf-8", ""},
		{"post", "POST", "/example.com/m/@v/list", nil, 405, "text/plain; charset=utf-8", ""},
		{"sumdb supported, but none to proxy", "GET", "/sumdb/sum.example/supported", nil, 404, "text/plain; charset=utf-8", "nothing of checksum database"},
		{"other sumdb", "GET", "/sumdb/sum.golang.org/supported", nil, 404, "text/plain; charset=utf-8", ""},
		{"sumdb bad tile", "GET", "/sumdb/sum.example/tile/8/0/../../x", nil, 400, "text/plain; charset=utf-8", ""},
		{"healthz", "GET", "/healthz", nil, 200, "text/plain; charset=utf-8", "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := st.do(t, tt.method, tt.path, tt.hdr...)
			if resp.StatusCode != tt.code {
				t.Fatalf("%s %s = %d %q; want %d", tt.method, tt.path, resp.StatusCode, body, tt.code)
			}
			if got := resp.Header.Get("Content-Type"); tt.ctype != "" && got != tt.ctype {
				t.Errorf("Content-Type = %q; want %q", got, tt.ctype)
			}
			if !strings.Contains(body, tt.body) {
				t.Errorf("body = %q; want it to contain %q", body, tt.body)
			}
			if tt.code >= 400 && len(body) > 300 {
				t.Errorf("error body is %d bytes long", len(body))
			}
		})
	}
	for _, r := range st.up.requests() {
		if strings.Contains(r, "private") || strings.Contains(r, "..") || strings.Contains(r, "v1.0.mod") || strings.Contains(r, "/M/") {
			t.Errorf("upstream was asked %s", r)
		}
	}
	if _, body := st.do(t, "GET", "/example.com/m/@v/list"); body != "v1.0.0\n" {
		t.Errorf("list = %q; want only the tagged version", body)
	}
}

func TestHeadAndConditional(t *testing.T) {
	st := newSetup(t, nil)
	resp, body := st.do(t, "HEAD", "/example.com/m/@v/v1.0.0.zip")
	if resp.StatusCode != 200 || body != "" || resp.ContentLength != int64(len(st.up.zip)) {
		t.Fatalf("HEAD = %d, %d bytes, Content-Length %d; want 200, none, %d", resp.StatusCode, len(body), resp.ContentLength, len(st.up.zip))
	}
	etag := resp.Header.Get("ETag")
	if !strings.HasPrefix(etag, `"h1:`) {
		t.Fatalf("ETag = %q; want the zip's hash", etag)
	}
	if resp, _ := st.do(t, "GET", "/example.com/m/@v/v1.0.0.zip", "If-None-Match", etag); resp.StatusCode != 304 {
		t.Errorf("If-None-Match = %d; want 304", resp.StatusCode)
	}
	resp, body = st.do(t, "GET", "/example.com/m/@v/v1.0.0.zip", "Range", "bytes=2-5", "If-Range", etag)
	if resp.StatusCode != 206 || body != string(st.up.zip[2:6]) {
		t.Errorf("If-Range with the ETag = %d %q; want 206", resp.StatusCode, body)
	}
	resp, body = st.do(t, "GET", "/example.com/m/@v/v1.0.0.zip", "Range", "bytes=2-5", "If-Range", `"other"`)
	if resp.StatusCode != 200 || len(body) != len(st.up.zip) {
		t.Errorf("If-Range with another ETag = %d; want 200 and the whole zip", resp.StatusCode)
	}
	lm := resp.Header.Get("Last-Modified")
	if resp, _ := st.do(t, "GET", "/example.com/m/@v/v1.0.0.mod"); resp.Header.Get("ETag") == "" {
		t.Error("no ETag on a .mod")
	}
	if resp, _ := st.do(t, "GET", "/example.com/m/@v/v1.0.0.zip", "If-Modified-Since", lm); resp.StatusCode != 304 {
		t.Errorf("If-Modified-Since = %d; want 304", resp.StatusCode)
	}
	if n := st.up.count("/example.com/m/@v/v1.0.0.zip"); n != 1 {
		t.Errorf("upstream asked for the zip %d times; want 1", n)
	}
	// Served from the cache, not extracted.
	if _, err := os.Stat(filepath.Join(st.cache.Root, "example.com", "m@v1.0.0")); err == nil {
		t.Error("the zip was extracted")
	}
}

func TestNotFoundRemembered(t *testing.T) {
	st := newSetup(t, nil)
	for range 3 {
		if resp, _ := st.do(t, "GET", "/example.com/nope/@v/v1.0.0.info"); resp.StatusCode != 404 {
			t.Fatalf("status %d; want 404", resp.StatusCode)
		}
	}
	if n := st.up.count("/example.com/nope/@v/v1.0.0.info"); n != 1 {
		t.Errorf("upstream asked %d times; want 1", n)
	}
}

// TestStale checks that a list and @latest are refreshed upstream each time
// and served from the cache, marked stale, when upstream fails; and that
// 5xx never becomes 404 or the other way round.
func TestStale(t *testing.T) {
	st := newSetup(t, nil)
	st.do(t, "GET", "/example.com/m/@v/v1.0.0.mod")
	st.do(t, "GET", "/example.com/m/@v/v1.0.0.info")
	st.do(t, "GET", "/example.com/m/@v/list")
	st.do(t, "GET", "/example.com/m/@v/list")
	if n := st.up.count("/example.com/m/@v/list"); n != 2 {
		t.Errorf("list asked upstream %d times; want 2 (never kept)", n)
	}
	st.up.mu.Lock()
	st.up.fail["/example.com/m/@v/list"] = 503
	st.up.fail["/example.com/m/@latest"] = 503
	st.up.fail["/example.com/other/@v/list"] = 503
	st.up.mu.Unlock()
	resp, body := st.do(t, "GET", "/example.com/m/@v/list")
	if resp.StatusCode != 200 || body != "v1.0.0\n" || resp.Header.Get("X-Gomodfetch-Stale") != "1" {
		t.Errorf("list during an outage = %d %q stale=%q; want the cache's, marked stale", resp.StatusCode, body, resp.Header.Get("X-Gomodfetch-Stale"))
	}
	resp, body = st.do(t, "GET", "/example.com/m/@latest")
	if resp.StatusCode != 200 || !strings.Contains(body, `"v1.0.0"`) || resp.Header.Get("X-Gomodfetch-Stale") != "1" {
		t.Errorf("@latest during an outage = %d %q; want the cache's, marked stale", resp.StatusCode, body)
	}
	if resp, _ := st.do(t, "GET", "/example.com/other/@v/list"); resp.StatusCode != 502 {
		t.Errorf("uncached list during an outage = %d; want 502", resp.StatusCode)
	}
}

func TestOffline(t *testing.T) {
	st := newSetup(t, nil)
	st.do(t, "GET", "/example.com/m/@v/v1.0.0.zip")
	n := len(st.up.requests())
	off := httptest.NewServer(New(Config{Cache: st.cache, Offline: true}))
	defer off.Close()
	for path, want := range map[string]int{
		"/example.com/m/@v/list":          200,
		"/example.com/m/@v/v1.0.0.info":   200,
		"/example.com/m/@v/v1.0.0.mod":    200,
		"/example.com/m/@v/v1.0.0.zip":    200,
		"/example.com/m/@latest":          200,
		"/example.com/m/@v/master.info":   404,
		"/example.com/m/@v/v1.0.1.mod":    404,
		"/example.com/dep/@v/v1.2.0.mod":  404,
		"/example.com/dep/@v/list":        404,
		"/sumdb/sum.golang.org/supported": 404,
	} {
		resp, err := http.Get(off.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("offline %s = %d; want %d", path, resp.StatusCode, want)
		}
	}
	if got := len(st.up.requests()); got != n {
		t.Errorf("offline server made %d upstream requests", got-n)
	}
}

// TestTamper checks that a zip the checksum database does not confirm
// reaches no client and is not stored.
func TestTamper(t *testing.T) {
	// Failures are not remembered here: the test's upstream stops lying
	// at once.
	st := newSetup(t, func(c *Config) { c.FailureTTL = -1 })
	st.up.mu.Lock()
	st.up.tamper = true
	st.up.mu.Unlock()
	resp, body := st.do(t, "GET", "/example.com/m/@v/v1.0.0.zip")
	if resp.StatusCode != 502 || strings.Contains(body, "PK") {
		t.Fatalf("tampered zip = %d %q; want 502", resp.StatusCode, body)
	}
	if _, _, ok := st.cache.ZipHash(st.up.mod); ok {
		t.Error("the tampered zip is in the cache")
	}
	st.up.mu.Lock()
	st.up.tamper = false
	st.up.mu.Unlock()
	if resp, _ := st.do(t, "GET", "/example.com/m/@v/v1.0.0.zip"); resp.StatusCode != 200 {
		t.Errorf("after the lie, the true zip = %d; want 200", resp.StatusCode)
	}
}

// TestDisconnect checks that a client going away cancels nothing another
// client waits for: the download finishes, lands in the cache, and the
// second client gets it from the one upstream request.
func TestDisconnect(t *testing.T) {
	st := newSetup(t, func(c *Config) { c.Prefetch = -1 })
	st.up.mu.Lock()
	st.up.zipDelay = make(chan struct{})
	st.up.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", st.srv.URL+"/example.com/m/@v/v1.0.0.zip", nil)
	first := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		first <- err
	}()
	second := make(chan int, 1)
	go func() {
		time.Sleep(50 * time.Millisecond)
		resp, err := http.Get(st.srv.URL + "/example.com/m/@v/v1.0.0.zip")
		if err != nil {
			second <- 0
			return
		}
		resp.Body.Close()
		second <- resp.StatusCode
	}()
	deadline := time.After(10 * time.Second)
	for st.up.count("/example.com/m/@v/v1.0.0.zip") == 0 {
		select {
		case <-deadline:
			t.Fatal("the zip was never asked upstream")
		case <-time.After(5 * time.Millisecond):
		}
	}
	time.Sleep(100 * time.Millisecond)
	cancel()
	<-first
	close(st.up.zipDelay)
	select {
	case code := <-second:
		if code != 200 {
			t.Fatalf("second client got %d", code)
		}
	case <-deadline:
		t.Fatal("second client never answered")
	}
	if _, _, ok := st.cache.ZipHash(st.up.mod); !ok {
		t.Error("the zip is not in the cache")
	}
	if n := st.up.count("/example.com/m/@v/v1.0.0.zip"); n != 1 {
		t.Errorf("upstream asked for the zip %d times; want 1", n)
	}
}

func TestConcurrentOneFetch(t *testing.T) {
	st := newSetup(t, func(c *Config) { c.Prefetch = -1 })
	var wg sync.WaitGroup
	var bad atomic.Int64
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, p := range []string{"/example.com/m/@v/v1.0.0.info", "/example.com/m/@v/v1.0.0.mod", "/example.com/m/@v/v1.0.0.zip"} {
				resp, err := http.Get(st.srv.URL + p)
				if err != nil || resp.StatusCode != 200 {
					bad.Add(1)
				}
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}()
	}
	wg.Wait()
	if bad.Load() > 0 {
		t.Errorf("%d requests failed", bad.Load())
	}
	for _, p := range []string{"/example.com/m/@v/v1.0.0.info", "/example.com/m/@v/v1.0.0.mod", "/example.com/m/@v/v1.0.0.zip"} {
		if n := st.up.count(p); n != 1 {
			t.Errorf("upstream asked %s %d times; want 1", p, n)
		}
	}
}

// TestPrefetch: what a go client asks for next is fetched ahead, and
// nothing else. A pruned go.mod (go 1.21) that the client asked for on its
// own brings its .info, its zip (a zip candidate: TestPrefetchCandidateZips),
// its requirements' go.mod files on speculation (TestPrefetchGuesses), and
// nothing of its requirements but their go.mod; the client's own request
// for that .info fetches nothing more. An unpruned one (go 1.16) brings its requirements'
// go.mod files too, and a go.mod the client then reads only for its graph
// (predicted) brings nothing.
func TestPrefetch(t *testing.T) {
	st := newSetup(t, func(c *Config) { c.Prefetch = 4 })
	st.do(t, "GET", "/example.com/m/@v/v1.0.0.mod")
	waitFor(t, "the .info prefetched", func() bool { return st.up.count("/example.com/m/@v/v1.0.0.info") == 1 })
	st.s.Wait()
	if n := st.up.count("/example.com/dep/@v/v1.2.0.mod"); n != 1 {
		t.Errorf("a pruned go.mod's requirement's go.mod: %d requests; want 1 (a guess)", n)
	}
	if n := st.up.count("/example.com/dep/@v/v1.2.0.info") + st.up.count("/example.com/dep/@v/v1.2.0.zip"); n != 0 {
		t.Errorf("a pruned go.mod's requirement's .info or zip was prefetched (%d requests)", n)
	}
	if n := st.up.count("/example.com/m/@v/v1.0.0.zip"); n != 1 {
		t.Errorf("the zip of a go.mod the client read on its own: %d requests; want 1 (prefetched at once)", n)
	}
	st.do(t, "GET", "/example.com/m/@v/v1.0.0.info")
	st.s.Wait()
	if n := st.up.count("/example.com/m/@v/v1.0.0.zip"); n != 1 {
		t.Errorf("after the client asked for the .info, the zip was asked upstream %d times; want 1", n)
	}

	st = newSetup(t, func(c *Config) { c.Prefetch = 4 })
	st.up.gomod = strings.Replace(st.up.gomod, "go 1.21", "go 1.16", 1)
	hashUpstreamGoMod(t, st)
	st.do(t, "GET", "/example.com/m/@v/v1.0.0.mod")
	waitFor(t, "the requirement's go.mod prefetched", func() bool { return st.up.count("/example.com/dep/@v/v1.2.0.mod") == 1 })
	st.s.Wait()
	st.do(t, "GET", "/example.com/dep/@v/v1.2.0.mod") // what the client does next
	st.s.Wait()
	if n := st.up.count("/example.com/dep/@v/v1.2.0.zip") + st.up.count("/example.com/dep/@v/v1.2.0.info"); n != 0 {
		t.Errorf("a go.mod not found upstream brought its .info or .zip (%d requests)", n)
	}
	if n := st.up.count("/example.com/m/@v/v1.0.0.info"); n != 1 {
		t.Errorf("the .info of the go.mod the client asked for on its own: %d requests; want 1", n)
	}
}

// TestPrefetchBigGoMod: a go.mod over maxPrefetchGoMod is served but not
// parsed to predict what comes next (parsing a 16 MiB one cost about a
// second of CPU and 400 MiB on the request path): its requirements'
// go.mod files are not prefetched.
func TestPrefetchBigGoMod(t *testing.T) {
	st := newSetup(t, func(c *Config) { c.Prefetch = 4 })
	st.up.gomod = strings.Replace(st.up.gomod, "go 1.21", "go 1.16", 1) + "// " + strings.Repeat("x", maxPrefetchGoMod) + "\n"
	hashUpstreamGoMod(t, st)
	if resp, body := st.do(t, "GET", "/example.com/m/@v/v1.0.0.mod"); resp.StatusCode != 200 || body != st.up.gomod {
		t.Fatalf("big go.mod = %d, %d bytes; want 200 and its %d bytes", resp.StatusCode, len(body), len(st.up.gomod))
	}
	st.s.Wait()
	if n := st.up.count("/example.com/dep/@v/v1.2.0.mod"); n != 0 {
		t.Errorf("a requirement of a go.mod over %d bytes was prefetched (%d requests)", maxPrefetchGoMod, n)
	}
}

// TestPrefetchQueued: with one prefetch slot, what does not fit waits for
// it (go.mod files first) instead of being skipped.
func TestPrefetchQueued(t *testing.T) {
	st := newSetup(t, func(c *Config) { c.Prefetch = 1 })
	st.up.gomod = strings.Replace(st.up.gomod, "go 1.21", "go 1.16", 1)
	hashUpstreamGoMod(t, st)
	st.do(t, "GET", "/example.com/m/@v/v1.0.0.mod")
	deadline := time.Now().Add(10 * time.Second)
	for st.up.count("/example.com/dep/@v/v1.2.0.mod") == 0 || st.up.count("/example.com/m/@v/v1.0.0.info") == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("a prefetch was dropped; upstream saw %v", st.up.requests())
		}
		time.Sleep(10 * time.Millisecond)
	}
	st.s.Wait()
	p := st.s.prefetcher
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := p.pending(); n != 0 || len(p.slots) != 0 {
		t.Errorf("after Wait: %d queued, %d slots held; want 0 and 0", n, len(p.slots))
	}
}

// addModules makes upstream serve, besides example.com/m, the .info,
// .mod and .zip of each module of gomods (path → go.mod, at v1.0.0),
// vouched for by the checksum database.
func addModules(t *testing.T, st *setup, gomods map[string]string) {
	t.Helper()
	files := map[string]string{}
	for path, gomod := range gomods {
		mod := module.Version{Path: path, Version: "v1.0.0"}
		zip := modtest.Zip(t, mod, map[string]string{"go.mod": gomod, "x.go": "package x\n"})
		st.db.lines = append(st.db.lines, path+" v1.0.0 "+modtest.MustHashZip(t, zip), path+" v1.0.0/go.mod "+goModHash(t, gomod))
		files["/"+path+"/@v/v1.0.0.info"] = `{"Version":"v1.0.0","Time":"2024-01-01T00:00:00Z"}`
		files["/"+path+"/@v/v1.0.0.mod"] = gomod
		files["/"+path+"/@v/v1.0.0.zip"] = string(zip)
	}
	st.up.mu.Lock()
	defer st.up.mu.Unlock()
	st.up.extra = func(w http.ResponseWriter, r *http.Request) bool {
		data, ok := files[r.URL.Path]
		if ok {
			io.WriteString(w, data)
		}
		return ok
	}
}

// TestPrefetchCandidateZips: a pruned main module's client reads the
// go.mod of each module its go.mod requires before anything else, and
// nothing predicts those reads; their zips (the modules `go mod download`
// downloads) are fetched at once, not when the client names them, and
// nothing of what those go.mod files require but the guessed go.mod
// files. At most 4 × -prefetch-per-client of them are owed per client: a
// client that reads go.mod files and never downloads (go list -m all)
// gets no more until it asks for one. A client known to read an unpruned
// graph gets none (its build list's zips come when its download starts:
// TestPrefetchUnprunedBuildList).
func TestPrefetchCandidateZips(t *testing.T) {
	st := newSetup(t, func(c *Config) { c.Prefetch = 4; c.PrefetchPerClient = 1 })
	gomods := map[string]string{
		"example.com/a": "module example.com/a\n\ngo 1.21\n\nrequire example.com/c v1.0.0\n",
		"example.com/c": "module example.com/c\n\ngo 1.21\n",
	}
	for i := range 6 {
		gomods[fmt.Sprintf("example.com/r%d", i)] = fmt.Sprintf("module example.com/r%d\n\ngo 1.21\n", i)
	}
	addModules(t, st, gomods)
	zips := func(path string) int { return st.up.count("/" + path + "/@v/v1.0.0.zip") }
	st.do(t, "GET", "/example.com/a/@v/v1.0.0.mod")
	st.s.Wait()
	if n := zips("example.com/a"); n != 1 {
		t.Errorf("a: zip asked upstream %d times after the client read its go.mod; want 1 (prefetched at once)", n)
	}
	if n := st.up.count("/example.com/c/@v/v1.0.0.mod"); n != 1 {
		t.Errorf("c's go.mod (a's requirement): %d requests; want 1 (a guess)", n)
	}
	if n := zips("example.com/c") + st.up.count("/example.com/c/@v/v1.0.0.info"); n != 0 {
		t.Errorf("c, whose go.mod the client did not read: %d .info and zip requests; want 0", n)
	}
	// Six more requirements: the window (4 × 1) holds a and three of them.
	for i := range 6 {
		st.do(t, "GET", fmt.Sprintf("/example.com/r%d/@v/v1.0.0.mod", i))
	}
	st.s.Wait()
	fetched := func() (n int) {
		for i := range 6 {
			n += zips(fmt.Sprintf("example.com/r%d", i))
		}
		return n
	}
	if n := fetched(); n != 3 {
		t.Errorf("after 7 requirements read, %d more zips asked upstream; want 3 (a window of 4)", n)
	}
	// The download: a's .info and zip come from the cache, and settle a.
	for _, ext := range []string{"info", "zip"} {
		if resp, _ := st.do(t, "GET", "/example.com/a/@v/v1.0.0."+ext); resp.StatusCode != 200 {
			t.Fatalf("a's .%s: %d", ext, resp.StatusCode)
		}
	}
	st.s.Wait()
	if n := zips("example.com/a"); n != 1 {
		t.Errorf("a's zip asked upstream %d times; want once (prefetched, then served from the cache)", n)
	}
	// A new requirement read after that fits the window again.
	addModules(t, st, map[string]string{"example.com/r9": "module example.com/r9\n\ngo 1.21\n"})
	st.do(t, "GET", "/example.com/r9/@v/v1.0.0.mod")
	st.s.Wait()
	if n := zips("example.com/r9"); n != 1 {
		t.Errorf("r9, read once a candidate was settled: zip asked upstream %d times; want 1", n)
	}

	// A client that read two versions of a path unpredicted reads an
	// unpruned graph: what it reads next brings no zip.
	st = newSetup(t, func(c *Config) { c.Prefetch = 4; c.PrefetchPerClient = 8 })
	addModules(t, st, gomods)
	st.s.prefetcher.noteRead("127.0.0.1", module.Version{Path: "example.com/x", Version: "v1.0.0"}, false, true)
	st.s.prefetcher.noteRead("127.0.0.1", module.Version{Path: "example.com/x", Version: "v1.1.0"}, false, true)
	st.do(t, "GET", "/example.com/r0/@v/v1.0.0.mod")
	st.s.Wait()
	if n := zips("example.com/r0"); n != 0 {
		t.Errorf("a client reading an unpruned graph: zip asked upstream %d times after a go.mod read; want 0", n)
	}
}

// TestPrefetchWalkThroughPruned: below an unpruned go.mod the go command
// loads every requirement unpruned (modload.readModGraph), so it reads the
// go.mod of a pruned module's requirements too: the walk goes on through
// a pruned go.mod. Before, it stopped there, and the client's read of c's
// go.mod below waited a round trip upstream.
func TestPrefetchWalkThroughPruned(t *testing.T) {
	st := newSetup(t, func(c *Config) { c.Prefetch = 4; c.PrefetchPerClient = 8 })
	addModules(t, st, map[string]string{
		"example.com/a": "module example.com/a\n\ngo 1.16\n\nrequire example.com/b v1.0.0\n",
		"example.com/b": "module example.com/b\n\ngo 1.21\n\nrequire example.com/c v1.0.0\n",
		"example.com/c": "module example.com/c\n\ngo 1.21\n",
	})
	mods := func(path string) int { return st.up.count("/" + path + "/@v/v1.0.0.mod") }
	st.do(t, "GET", "/example.com/a/@v/v1.0.0.mod")
	waitFor(t, "c's go.mod, below pruned b, prefetched", func() bool { return mods("example.com/c") == 1 })
	st.s.Wait()
	for _, path := range []string{"example.com/b", "example.com/c"} {
		if resp, _ := st.do(t, "GET", "/"+path+"/@v/v1.0.0.mod"); resp.StatusCode != 200 {
			t.Fatalf("%s's go.mod: %d", path, resp.StatusCode)
		}
	}
	st.s.Wait()
	for _, path := range []string{"example.com/b", "example.com/c"} {
		if n := mods(path); n != 1 {
			t.Errorf("%s: go.mod asked upstream %d times; want once (prefetched by the walk)", path, n)
		}
		if n := st.up.count("/" + path + "/@v/v1.0.0.zip"); n != 0 {
			t.Errorf("%s: a go.mod the walk predicted brought its zip (%d requests); want none (read for the graph only)", path, n)
		}
	}
}

// TestPrefetchWalkCached: the walk reads a cached go.mod below an
// unpruned one from the cache, pruned or not, and goes on below it; one
// that cannot be read there (a directory planted in its place) is fetched
// as one not cached. None is asked of upstream twice.
func TestPrefetchWalkCached(t *testing.T) {
	st := newSetup(t, func(c *Config) { c.Prefetch = 4; c.PrefetchPerClient = 8 })
	gomods := map[string]string{
		"example.com/a": "module example.com/a\n\ngo 1.16\n\nrequire (\n\texample.com/b v1.0.0\n\texample.com/d v1.0.0\n)\n",
		"example.com/b": "module example.com/b\n\ngo 1.21\n\nrequire example.com/c v1.0.0\n",
		"example.com/c": "module example.com/c\n\ngo 1.21\n",
		"example.com/d": "module example.com/d\n\ngo 1.21\n",
	}
	addModules(t, st, gomods)
	b := module.Version{Path: "example.com/b", Version: "v1.0.0"}
	if _, err := st.s.cfg.Cache.WriteGoMod(b, []byte(gomods["example.com/b"])); err != nil {
		t.Fatal(err)
	}
	d := module.Version{Path: "example.com/d", Version: "v1.0.0"}
	file, err := st.s.cfg.Cache.File(d, "mod")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(file, 0o755); err != nil {
		t.Fatal(err)
	}
	mods := func(path string) int { return st.up.count("/" + path + "/@v/v1.0.0.mod") }
	st.do(t, "GET", "/example.com/a/@v/v1.0.0.mod")
	waitFor(t, "c's go.mod, below cached b, and d's, unreadable in the cache, prefetched", func() bool {
		return mods("example.com/c") == 1 && mods("example.com/d") == 1
	})
	st.s.Wait()
	for path, want := range map[string]int{"example.com/b": 0, "example.com/c": 1, "example.com/d": 1} {
		if n := mods(path); n != want {
			t.Errorf("%s: go.mod asked upstream %d times; want %d", path, n, want)
		}
	}
}

// TestPrefetchGuesses: a pruned go.mod a client reads unpredicted brings
// its requirements' go.mod files, on speculation: below a pruned main
// module the client reads the go.mod of each module its main go.mod
// lists, and a tidy main go.mod lists most of these. Not a path the
// client read already, not below a version guessed before, not a private
// path, and at most 4 × -prefetch-per-client guesses the client has not
// settled by reading their path; a read settles a guess, right or wrong.
func TestPrefetchGuesses(t *testing.T) {
	st := newSetup(t, func(c *Config) { c.Prefetch = 4; c.PrefetchPerClient = 1 })
	mods := map[string]string{
		"example.com/a": "module example.com/a\n\ngo 1.21\n\nrequire (\n\texample.com/b v1.0.0\n\texample.com/c v0.9.0\n\texample.com/d v1.0.0\n\texample.com/private/p v1.0.0\n)\n",
		"example.com/g": "module example.com/g\n\ngo 1.21\n\nrequire example.com/c v0.5.0\n",
		"example.com/w": "module example.com/w\n\ngo 1.21\n\nrequire (\n\texample.com/w1 v1.0.0\n\texample.com/w2 v1.0.0\n\texample.com/w3 v1.0.0\n\texample.com/w4 v1.0.0\n\texample.com/w5 v1.0.0\n)\n",
	}
	for _, p := range []string{"b", "c", "d", "w1", "w2", "w3", "w4", "w5"} {
		mods["example.com/"+p] = "module example.com/" + p + "\n\ngo 1.21\n"
	}
	addModules(t, st, mods)
	gomods := func(path, v string) int { return st.up.count("/" + path + "/@v/" + v + ".mod") }
	metric := func(outcome string) string {
		_, body := st.do(t, "GET", "/metrics")
		for _, l := range strings.Split(body, "\n") {
			if strings.HasPrefix(l, `gomodfetch_serve_prefetch_total{result="`+outcome+`"}`) {
				return l[strings.LastIndex(l, " ")+1:]
			}
		}
		return "0"
	}

	st.do(t, "GET", "/example.com/d/@v/v1.0.0.mod") // read before a
	st.do(t, "GET", "/example.com/a/@v/v1.0.0.mod")
	waitFor(t, "b's and c's go.mod guessed", func() bool {
		return gomods("example.com/b", "v1.0.0") == 1 && gomods("example.com/c", "v0.9.0") == 1
	})
	st.s.Wait()
	if n := gomods("example.com/d", "v1.0.0"); n != 1 {
		t.Errorf("d's go.mod asked upstream %d times; want 1 (the client read it before a: no guess)", n)
	}
	if n := gomods("example.com/private/p", "v1.0.0"); n != 0 {
		t.Errorf("a private path's go.mod was guessed (%d requests)", n)
	}
	// c was guessed at v0.9.0: a requirement of c v0.5.0 is below it.
	st.do(t, "GET", "/example.com/g/@v/v1.0.0.mod")
	st.s.Wait()
	if n := gomods("example.com/c", "v0.5.0"); n != 0 {
		t.Errorf("c v0.5.0's go.mod guessed below the v0.9.0 guessed before (%d requests)", n)
	}
	// The client reads b: the guess was right, and b is not asked again.
	st.do(t, "GET", "/example.com/b/@v/v1.0.0.mod")
	st.s.Wait()
	if n := gomods("example.com/b", "v1.0.0"); n != 1 {
		t.Errorf("b's go.mod asked upstream %d times; want 1 (guessed, then read from the cache)", n)
	}
	if got := metric("speculative-read"); got != "1" {
		t.Errorf("speculative-read = %s; want 1", got)
	}
	// Open guesses now: c. The window is 4 (-prefetch-per-client 1): w
	// brings 3 of its 5 requirements.
	st.do(t, "GET", "/example.com/w/@v/v1.0.0.mod")
	st.s.Wait()
	n := 0
	for _, p := range []string{"w1", "w2", "w3", "w4", "w5"} {
		n += gomods("example.com/"+p, "v1.0.0")
	}
	if n != 3 {
		t.Errorf("%d of w's 5 requirements guessed; want 3 (4 open guesses at most, c's among them)", n)
	}
	if got := metric("speculative"); got != "5" {
		t.Errorf("speculative = %s; want 5 (b, c, and 3 of w's)", got)
	}
	// Reading c at another version (the main go.mod lists a higher one)
	// settles its guess, wrong.
	st.do(t, "GET", "/example.com/c/@v/v1.0.0.mod")
	if got := metric("speculative-wrong"); got != "1" {
		t.Errorf("speculative-wrong = %s; want 1", got)
	}
}

// TestPrefetchInfoPredicted: a go.mod a client reads as predicted (below
// an unpruned go.mod: for its graph) brings its .info when it is the
// highest version of its path the client read so far, and no zip: below
// an unpruned main module `go mod download` asks for the .info of every
// module of its build list, one after another, before the first zip. A
// lower version read after a higher one brings nothing. Before, a client
// whose reads the walk had all predicted found no .info fetched, and each
// one waited a round trip upstream (terraform: 192 of 301); then they
// were set off only at its first .info request, and under the bench's
// flaky profile the client still overtook them (15 waited, 3.6 s).
func TestPrefetchInfoPredicted(t *testing.T) {
	st := newSetup(t, func(c *Config) { c.Prefetch = 4 })
	addModules(t, st, map[string]string{
		"example.com/a": "module example.com/a\n\ngo 1.16\n\nrequire (\n\texample.com/b v1.0.0\n\texample.com/c v1.0.0\n)\n",
		"example.com/b": "module example.com/b\n\ngo 1.16\n",
		"example.com/c": "module example.com/c\n\ngo 1.16\n",
	})
	files := map[string]string{
		"/example.com/b/@v/v0.9.0.info": `{"Version":"v0.9.0","Time":"2023-01-01T00:00:00Z"}`,
		"/example.com/b/@v/v0.9.0.mod":  "module example.com/b\n\ngo 1.16\n",
	}
	st.db.lines = append(st.db.lines, "example.com/b v0.9.0/go.mod "+goModHash(t, files["/example.com/b/@v/v0.9.0.mod"]))
	st.up.mu.Lock()
	extra := st.up.extra
	st.up.extra = func(w http.ResponseWriter, r *http.Request) bool {
		if data, ok := files[r.URL.Path]; ok {
			io.WriteString(w, data)
			return true
		}
		return extra(w, r)
	}
	st.up.mu.Unlock()
	count := func(path, v, ext string) int { return st.up.count("/" + path + "/@v/" + v + "." + ext) }
	st.do(t, "GET", "/example.com/a/@v/v1.0.0.mod")
	waitFor(t, "b's and c's go.mod predicted and prefetched", func() bool {
		return count("example.com/b", "v1.0.0", "mod") == 1 && count("example.com/c", "v1.0.0", "mod") == 1
	})
	st.s.Wait()
	st.do(t, "GET", "/example.com/b/@v/v1.0.0.mod")
	st.do(t, "GET", "/example.com/c/@v/v1.0.0.mod")
	st.s.Wait()
	for _, path := range []string{"example.com/b", "example.com/c"} {
		if n := count(path, "v1.0.0", "info"); n != 1 {
			t.Errorf("%s: .info asked upstream %d times after its predicted go.mod was read; want 1 (prefetched)", path, n)
		}
		if n := count(path, "v1.0.0", "zip"); n != 0 {
			t.Errorf("%s: zip asked upstream %d times after its predicted go.mod was read; want 0", path, n)
		}
	}
	// A lower version of b, read later (predicted, as if below another
	// unpruned go.mod), is not in the build list: no .info.
	st.s.prefetcher.predicted.add("127.0.0.1 mod example.com/b@v0.9.0", struct{}{})
	if resp, _ := st.do(t, "GET", "/example.com/b/@v/v0.9.0.mod"); resp.StatusCode != 200 {
		t.Fatalf("b@v0.9.0's go.mod: %d", resp.StatusCode)
	}
	st.s.Wait()
	if n := count("example.com/b", "v0.9.0", "info"); n != 0 {
		t.Errorf("b@v0.9.0: .info asked upstream %d times, read below b@v1.0.0; want 0", n)
	}
	// The download asks for each .info: served from the cache.
	for _, path := range []string{"example.com/b", "example.com/c"} {
		if resp, _ := st.do(t, "GET", "/"+path+"/@v/v1.0.0.info"); resp.StatusCode != 200 {
			t.Fatalf("%s's .info: %d", path, resp.StatusCode)
		}
		if n := count(path, "v1.0.0", "info"); n != 1 {
			t.Errorf("%s: .info asked upstream %d times; want 1 (prefetched, then served from the cache)", path, n)
		}
	}
}

// readCandidates has the client read the go.mod files of n modules
// (example.com/candN) unpredicted, whose zips are prefetched at once
// (TestPrefetchCandidateZips), and checks they were: n = 4 ×
// -prefetch-per-client fills the client's window of such zips, so that
// the go.mod files it reads next are left to the rules that follow
// (their zips prefetched when it names them).
func readCandidates(t *testing.T, st *setup, n int) {
	t.Helper()
	gomods := map[string]string{}
	for i := range n {
		gomods[fmt.Sprintf("example.com/cand%d", i)] = fmt.Sprintf("module example.com/cand%d\n\ngo 1.21\n", i)
	}
	old := st.up.extra
	addModules(t, st, gomods)
	mine := st.up.extra
	st.up.mu.Lock()
	st.up.extra = func(w http.ResponseWriter, r *http.Request) bool {
		return mine(w, r) || (old != nil && old(w, r))
	}
	st.up.mu.Unlock()
	for i := range n {
		st.do(t, "GET", fmt.Sprintf("/example.com/cand%d/@v/v1.0.0.mod", i))
	}
	st.s.Wait()
	for i := range n {
		if c := st.up.count(fmt.Sprintf("/example.com/cand%d/@v/v1.0.0.zip", i)); c != 1 {
			t.Fatalf("cand%d: zip asked upstream %d times after its go.mod was read; want 1", i, c)
		}
	}
}

// TestPrefetchBuildZips: a client that asks for a zip without a .info
// first (go build and go get fetch sources so) gets the zips of the
// go.mod files it read unpredicted since its last .info or .zip
// request (those the candidates' window left), in the order it read
// them, within its window: a build keeps its head start.
func TestPrefetchBuildZips(t *testing.T) {
	st := newSetup(t, func(c *Config) { c.Prefetch = 4; c.PrefetchPerClient = 1 })
	gomods := map[string]string{}
	for _, p := range []string{"a", "b", "c"} {
		gomods["example.com/"+p] = "module example.com/" + p + "\n\ngo 1.21\n"
	}
	addModules(t, st, gomods)
	zips := func() map[string]int {
		n := map[string]int{}
		for _, p := range []string{"a", "b", "c"} {
			n[p] = st.up.count("/example.com/" + p + "/@v/v1.0.0.zip")
		}
		return n
	}
	readCandidates(t, st, 4)
	for _, p := range []string{"a", "c", "b"} {
		st.do(t, "GET", "/example.com/"+p+"/@v/v1.0.0.mod")
	}
	st.s.Wait()
	if got := zips(); got["a"]+got["b"]+got["c"] != 0 {
		t.Fatalf("zips asked upstream after the go.mod reads alone, past the candidates' window: %v; want none", got)
	}
	for i, step := range []struct {
		ask  string
		want map[string]int
	}{
		// a is the client's own; c is next in the order read, and b waits
		// for the window (one zip owed).
		{"a", map[string]int{"a": 1, "b": 0, "c": 1}},
		// The client asked for c, which it owed: b starts.
		{"c", map[string]int{"a": 1, "b": 1, "c": 1}},
		{"b", map[string]int{"a": 1, "b": 1, "c": 1}},
	} {
		if resp, _ := st.do(t, "GET", "/example.com/"+step.ask+"/@v/v1.0.0.zip"); resp.StatusCode != 200 {
			t.Fatalf("step %d: %s's zip: %d", i, step.ask, resp.StatusCode)
		}
		st.s.Wait()
		if got := zips(); !maps.Equal(got, step.want) {
			t.Errorf("step %d: after the client asked for %s's zip, zips asked upstream %v; want %v", i, step.ask, got, step.want)
		}
	}
}

// TestPrefetchInfoWindow: `go mod download` asks for the .info of every
// module it downloads, then for their zips in the same order; the zips
// its .info requests set off run within its window, the rest waiting in
// that order, each starting as the client asks for one it owed.
func TestPrefetchInfoWindow(t *testing.T) {
	st := newSetup(t, func(c *Config) { c.Prefetch = 4; c.PrefetchPerClient = 1 })
	gomods := map[string]string{}
	for _, p := range []string{"a", "b", "c"} {
		gomods["example.com/"+p] = "module example.com/" + p + "\n\ngo 1.21\n"
	}
	addModules(t, st, gomods)
	zips := func() map[string]int {
		n := map[string]int{}
		for _, p := range []string{"a", "b", "c"} {
			n[p] = st.up.count("/example.com/" + p + "/@v/v1.0.0.zip")
		}
		return n
	}
	readCandidates(t, st, 4)
	for _, p := range []string{"a", "b", "c"} {
		st.do(t, "GET", "/example.com/"+p+"/@v/v1.0.0.mod")
	}
	for _, p := range []string{"c", "a", "b"} {
		if resp, _ := st.do(t, "GET", "/example.com/"+p+"/@v/v1.0.0.info"); resp.StatusCode != 200 {
			t.Fatalf("%s's .info: %d", p, resp.StatusCode)
		}
	}
	st.s.Wait()
	if got, want := zips(), map[string]int{"a": 0, "b": 0, "c": 1}; !maps.Equal(got, want) {
		t.Fatalf("after the .info requests, zips asked upstream %v; want %v (the first named, within a window of one)", got, want)
	}
	for i, step := range []struct {
		ask  string
		want map[string]int
	}{
		{"c", map[string]int{"a": 1, "b": 0, "c": 1}},
		{"a", map[string]int{"a": 1, "b": 1, "c": 1}},
		{"b", map[string]int{"a": 1, "b": 1, "c": 1}},
	} {
		if resp, _ := st.do(t, "GET", "/example.com/"+step.ask+"/@v/v1.0.0.zip"); resp.StatusCode != 200 {
			t.Fatalf("step %d: %s's zip: %d", i, step.ask, resp.StatusCode)
		}
		st.s.Wait()
		if got := zips(); !maps.Equal(got, step.want) {
			t.Errorf("step %d: after the client asked for %s's zip, zips asked upstream %v; want %v", i, step.ask, got, step.want)
		}
	}
}

func TestMetrics(t *testing.T) {
	st := newSetup(t, nil)
	st.do(t, "GET", "/example.com/m/@v/v1.0.0.mod")
	st.do(t, "GET", "/example.com/m/@v/v1.0.0.mod")
	_, body := st.do(t, "GET", "/metrics")
	for _, want := range []string{
		`gomodfetch_serve_requests_total{code="200",endpoint="mod"} 2`,
		`gomodfetch_serve_cache_total{endpoint="mod",outcome="hit"} 1`,
		`gomodfetch_serve_request_duration_seconds_bucket{endpoint="mod"`,
		`gomodfetch_upstream_requests_total`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// readFromWriter is a ResponseWriter with a ReadFrom, as the connection's
// own is (sendfile on Linux), that remembers it was used.
type readFromWriter struct {
	*httptest.ResponseRecorder
	readFrom int64
}

func (w *readFromWriter) ReadFrom(r io.Reader) (int64, error) {
	n, err := io.Copy(struct{ io.Writer }{w.ResponseRecorder}, r)
	w.readFrom += n
	return n, err
}

// TestZipReadFrom checks that a cached zip reaches the connection's
// ReadFrom whole (not through a copy buffer) and is counted in the
// metrics.
func TestZipReadFrom(t *testing.T) {
	st := newSetup(t, nil)
	st.do(t, "GET", "/example.com/m/@v/v1.0.0.zip")
	for _, offline := range []bool{false, true} {
		s := st.s
		if offline {
			s = New(Config{Cache: st.cache, Offline: true})
		}
		w := &readFromWriter{ResponseRecorder: httptest.NewRecorder()}
		s.ServeHTTP(w, httptest.NewRequest("GET", "/example.com/m/@v/v1.0.0.zip", nil))
		if w.Code != 200 || w.Body.String() != string(st.up.zip) {
			t.Fatalf("offline=%v: %d, %d bytes; want 200 and the zip's %d", offline, w.Code, w.Body.Len(), len(st.up.zip))
		}
		if w.readFrom != int64(len(st.up.zip)) {
			t.Errorf("offline=%v: %d bytes through ReadFrom; want all %d", offline, w.readFrom, len(st.up.zip))
		}
		w = &readFromWriter{ResponseRecorder: httptest.NewRecorder()}
		s.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
		want := fmt.Sprintf(`gomodfetch_serve_response_bytes_total{endpoint="zip"} %d`, len(st.up.zip))
		if !offline {
			want = fmt.Sprintf(`gomodfetch_serve_response_bytes_total{endpoint="zip"} %d`, 2*len(st.up.zip))
		}
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("offline=%v: metrics lack %s", offline, want)
		}
	}
}

func goModHash(t *testing.T, gomod string) string {
	t.Helper()
	h, err := verify.HashGoMod([]byte(gomod))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestPrefetchGuessesBoundFetches: the guesses a client has not settled
// are bounded in go.mod files fetched, not in paths: go.mod files that
// name one path at higher and higher versions (a hostile module's), or
// one go.mod that names a path many times, bring at most the window's
// number of upstream requests for a client that never reads that path.
func TestPrefetchGuessesBoundFetches(t *testing.T) {
	mods := map[string]string{}
	var dup strings.Builder
	dup.WriteString("module example.com/dup\n\ngo 1.21\n\nrequire (\n")
	for i := 1; i <= 12; i++ {
		mods[fmt.Sprintf("example.com/g%d", i)] = fmt.Sprintf("module example.com/g%d\n\ngo 1.21\n\nrequire example.com/x v1.0.%d\n", i, i)
		fmt.Fprintf(&dup, "\texample.com/y v1.0.%d\n", i)
	}
	dup.WriteString(")\n")
	mods["example.com/dup"] = dup.String()
	setup := func(t *testing.T) (*setup, func(path string) []string) {
		st := newSetup(t, func(c *Config) { c.Prefetch = 4; c.PrefetchPerClient = 1 }) // window: 4
		addModules(t, st, mods)
		return st, func(path string) []string {
			var got []string
			for _, r := range st.up.requests() {
				if strings.HasPrefix(r, "/"+path+"/@v/") && strings.HasSuffix(r, ".mod") {
					got = append(got, r)
				}
			}
			return got
		}
	}

	t.Run("higher and higher", func(t *testing.T) {
		st, fetched := setup(t)
		for i := 1; i <= 12; i++ {
			st.do(t, "GET", fmt.Sprintf("/example.com/g%d/@v/v1.0.0.mod", i))
			st.s.Wait()
		}
		if got := fetched("example.com/x"); len(got) != 4 {
			t.Errorf("12 go.mod files naming x at higher and higher versions brought %d of x's go.mod files upstream for a client that never read x; want 4 (the window): %q", len(got), got)
		}
	})
	t.Run("one path many times", func(t *testing.T) {
		st, fetched := setup(t)
		st.do(t, "GET", "/example.com/dup/@v/v1.0.0.mod")
		st.s.Wait()
		if got := fetched("example.com/y"); len(got) != 1 || got[0] != "/example.com/y/@v/v1.0.12.mod" {
			t.Errorf("a go.mod naming y twelve times brought %q upstream; want y v1.0.12's go.mod alone (the highest)", got)
		}
	})
}

// TestPrefetchGuessesForgiven: guesses a client never read are forgiven
// after recentTTL, as the prefetches it owes are: a client address that
// keeps reading (a CI host, a NAT) is not left without guesses for good
// once its window filled with wrong ones.
func TestPrefetchGuessesForgiven(t *testing.T) {
	st := newSetup(t, func(c *Config) { c.Prefetch = 4; c.PrefetchPerClient = 1 }) // window: 4
	mods := map[string]string{}
	for _, p := range []string{"a", "b"} {
		var gm strings.Builder
		fmt.Fprintf(&gm, "module example.com/%s\n\ngo 1.21\n\nrequire (\n", p)
		for i := 1; i <= 4; i++ {
			fmt.Fprintf(&gm, "\texample.com/%s%d v1.0.0\n", p, i)
			mods[fmt.Sprintf("example.com/%s%d", p, i)] = fmt.Sprintf("module example.com/%s%d\n\ngo 1.21\n", p, i)
		}
		gm.WriteString(")\n")
		mods["example.com/"+p] = gm.String()
	}
	addModules(t, st, mods)
	guessed := func(p string) int {
		n := 0
		for i := 1; i <= 4; i++ {
			n += st.up.count(fmt.Sprintf("/example.com/%s%d/@v/v1.0.0.mod", p, i))
		}
		return n
	}
	st.do(t, "GET", "/example.com/a/@v/v1.0.0.mod")
	st.s.Wait()
	if n := guessed("a"); n != 4 {
		t.Fatalf("%d of a's 4 requirements guessed; want 4", n)
	}
	// The client never reads them; recentTTL passes (it reads other
	// things meanwhile, so its graph stays).
	p := st.s.prefetcher
	p.mu.Lock()
	for _, g := range p.graphs {
		for path, sg := range g.spec {
			sg.until = time.Now().Add(-time.Second)
			g.spec[path] = sg
		}
		g.specNext = time.Now().Add(-time.Second)
	}
	p.mu.Unlock()
	st.do(t, "GET", "/example.com/b/@v/v1.0.0.mod")
	st.s.Wait()
	if n := guessed("b"); n != 4 {
		t.Errorf("%d of b's 4 requirements guessed after a's guesses were forgiven; want 4", n)
	}
}

// TestPrefetchGuessesNotRestricted: a client that reads a public go.mod
// naming a restricted path (served only to credentials whose scope covers
// it) does not make serve fetch that path's go.mod on speculation: the
// client may not be one that could read it, and the path's name would go
// upstream (or to version control, with serve's own credentials) on its
// behalf.
func TestPrefetchGuessesNotRestricted(t *testing.T) {
	file := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(file, []byte(credLine(t, "team", "team-secret", "example.com/corp")), 0o600); err != nil {
		t.Fatal(err)
	}
	creds, err := LoadCredentials(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := newSetup(t, func(c *Config) {
		c.Prefetch = 4
		c.Credentials = creds
		c.Restricted = func(path string) bool { return module.MatchPrefixPatterns("example.com/corp", path) }
	})
	addModules(t, st, map[string]string{
		"example.com/pub":         "module example.com/pub\n\ngo 1.21\n\nrequire (\n\texample.com/corp/secret v1.0.0\n\texample.com/open v1.0.0\n)\n",
		"example.com/corp/secret": "module example.com/corp/secret\n\ngo 1.21\n",
		"example.com/open":        "module example.com/open\n\ngo 1.21\n",
	})
	if resp, _ := st.do(t, "GET", "/example.com/pub/@v/v1.0.0.mod"); resp.StatusCode != 200 {
		t.Fatalf("anonymous read of a public go.mod: %s", resp.Status)
	}
	waitFor(t, "the public requirement guessed", func() bool { return st.up.count("/example.com/open/@v/v1.0.0.mod") == 1 })
	st.s.Wait()
	if n := st.up.count("/example.com/corp/secret/@v/v1.0.0.mod"); n != 0 {
		t.Errorf("an anonymous client's read made serve fetch a restricted path's go.mod on speculation (%d requests)", n)
	}
}
