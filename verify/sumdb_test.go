package verify

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

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
// or the end of the list mean the database's own URL. The proxies after
// the chosen one in its '|' run that serve it too are hedges.
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
	ok2, ok3 := status(200), status(200)
	tests := []struct {
		name, goproxy, want, error string
	}{
		{name: "supported", goproxy: ok.URL, want: ok.URL + "/sumdb/sum.golang.org"},
		{name: "404 then supported", goproxy: notFound.URL + "," + ok.URL, want: ok.URL + "/sumdb/sum.golang.org"},
		{name: "410 then direct", goproxy: gone.URL + ",direct", want: "https://sum.golang.org"},
		{name: "all 404", goproxy: notFound.URL, want: "https://sum.golang.org"},
		{name: "error then comma", goproxy: broken.URL + "," + ok.URL, error: "403 Forbidden"},
		{name: "error then pipe", goproxy: broken.URL + "|" + ok.URL, want: ok.URL + "/sumdb/sum.golang.org"},
		{name: "pipe run: hedges that serve it", goproxy: ok.URL + "|" + notFound.URL + "|" + ok2.URL + "," + ok3.URL, want: ok.URL + "/sumdb/sum.golang.org|" + ok2.URL + "/sumdb/sum.golang.org"},
		{name: "never direct as a hedge", goproxy: ok.URL + "|direct", want: ok.URL + "/sumdb/sum.golang.org"},
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
			bases, err := c.findBases(context.Background())
			if tt.error != "" {
				if err == nil || !strings.Contains(err.Error(), tt.error) {
					t.Fatalf("findBases() = %v, %v; want error containing %q", bases, err, tt.error)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, b := range bases {
				got = append(got, b.String())
			}
			if strings.Join(got, "|") != tt.want {
				t.Errorf("findBases() = %s; want %s", strings.Join(got, "|"), tt.want)
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
	c := clientOf(t, vkey, srv)
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

// lyingDB is a checksum database (sumdb.ServerOps) over a genuine log
// (sumdb.TestServer) that lies where it is told to: a lookup of a module
// in lookups answers with that record id, a record in records and a tile
// in tiles (by path) are served in place of the genuine ones, and
// treeLines are added to the text of every signed tree head (signed with
// the database's own key).
type lyingDB struct {
	*sumdb.TestServer
	skey, vkey string
	lookups    map[string]int64
	records    map[int64][]byte
	tiles      map[string][]byte
	treeLines  string
}

func (d *lyingDB) Lookup(ctx context.Context, m module.Version) (int64, error) {
	if id, ok := d.lookups[m.String()]; ok {
		return id, nil
	}
	return d.TestServer.Lookup(ctx, m)
}

func (d *lyingDB) ReadRecords(ctx context.Context, id, n int64) ([][]byte, error) {
	if r, ok := d.records[id]; ok && n == 1 {
		return [][]byte{r}, nil
	}
	return d.TestServer.ReadRecords(ctx, id, n)
}

func (d *lyingDB) ReadTileData(ctx context.Context, t tlog.Tile) ([]byte, error) {
	if data, ok := d.tiles[t.Path()]; ok {
		return data, nil
	}
	return d.TestServer.ReadTileData(ctx, t)
}

func (d *lyingDB) Signed(ctx context.Context) ([]byte, error) {
	signed, err := d.TestServer.Signed(ctx)
	if err != nil || d.treeLines == "" {
		return signed, err
	}
	v, err := note.NewVerifier(d.vkey)
	if err != nil {
		return nil, err
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		return nil, err
	}
	s, err := note.NewSigner(d.skey)
	if err != nil {
		return nil, err
	}
	return note.Sign(&note.Note{Text: n.Text + d.treeLines}, s)
}

// newLyingDB returns a lying database over a log of n genuine records
// (example.com/m<i> v1.0.0), and a Verifier that reaches it directly.
func newLyingDB(t *testing.T, n int) (*lyingDB, *Verifier) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, "sum.example.com")
	if err != nil {
		t.Fatal(err)
	}
	d := &lyingDB{
		TestServer: sumdb.NewTestServer(skey, func(path, vers string) ([]byte, error) {
			return []byte(path + " " + vers + " h1:AAAA=\n" + path + " " + vers + "/go.mod h1:BBBB=\n"), nil
		}),
		skey: skey, vkey: vkey,
		lookups: map[string]int64{}, records: map[int64][]byte{}, tiles: map[string][]byte{},
	}
	for i := range n {
		if _, err := d.TestServer.Lookup(context.Background(), module.Version{Path: fmt.Sprintf("example.com/m%d", i), Version: "v1.0.0"}); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(sumdb.NewServer(d))
	t.Cleanup(srv.Close)
	return d, &Verifier{DB: clientOf(t, vkey, srv)}
}

// clientOf returns a client, without retries, of the database with
// verifier key vkey served by srv, with caches of its own.
func clientOf(t *testing.T, vkey string, srv *httptest.Server) *SumDBClient {
	t.Helper()
	spec, err := ParseGOSUMDB(vkey + " " + srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return NewSumDB(SumDBConfig{
		Spec: spec, Context: context.Background(),
		Client:   &proxy.Client{HTTP: srv.Client()},
		Policy:   retry.Policy{MaxAttempts: -1},
		CacheDir: t.TempDir(), ConfigDir: t.TempDir(),
	})
}

// The hashes a lying database vouches for in TestSumDBForgedTile and
// TestSumDBLinesOutsideTheRecord.
const (
	evilZip = "h1:EVILEVILEVILEVILEVILEVILEVILEVILEVILEVIL0A="
	evilMod = "h1:EVILEVILEVILEVILEVILEVILEVILEVILEVILEVIL0B="
)

var evil = module.Version{Path: "example.com/evil", Version: "v1.0.0"}

// TestSumDBForgedTile: a database (or a proxy in front of it) serves a
// record the log does not hold, and a forged level-0 tile whose hash at
// that record's index is the forged record's. The tile's parent (a tile
// also needed for the tree head) does not vouch for it. x/mod before
// v0.40.0 (go before 1.26.6) did not check such a tile against its parent
// when it was not among the first tiles it read (CVE-2026-56865,
// go.dev/issue/80744), so the forged hashes were accepted.
func TestSumDBForgedTile(t *testing.T) {
	// 259 records: the tree head needs tiles 1/000.p/1 and 0/001.p/3 (three
	// subtrees, two tiles); record 1 is in tile 0/000, checked against
	// 1/000.p/1.
	d, v := newLyingDB(t, 259)
	forged := []byte(evil.Path + " " + evil.Version + " " + evilZip + "\n" + evil.Path + " " + evil.Version + "/go.mod " + evilMod + "\n")
	d.lookups[evil.String()] = 1
	d.records[1] = forged
	full := tlog.Tile{H: 8, L: 0, N: 0, W: 256}
	tile, err := d.TestServer.ReadTileData(context.Background(), full)
	if err != nil {
		t.Fatal(err)
	}
	h := tlog.RecordHash(forged)
	copy(tile[1*tlog.HashSize:], h[:])
	d.tiles[full.Path()] = tile

	ctx := context.Background()
	err = v.Check(ctx, GoModKey(evil), evilMod)
	t.Logf("Check(go.mod): %v", err)
	if err == nil {
		t.Fatalf("a go.mod hash proved only by a forged tile was accepted")
	}
	if err := v.Check(ctx, evil, evilZip); err == nil {
		t.Fatalf("a zip hash proved only by a forged tile was accepted")
	}
}

// TestSumDBLinesOutsideTheRecord: a database with its own key (one a
// GOSUMDB names) answers a lookup with another module's genuine record and
// a signed tree head whose text carries go.sum lines for the module asked
// about. Only the record is proved by the log; x/mod before v0.40.0 (go
// before 1.26.6) returned lines from the whole answer (CVE-2026-56864,
// go.dev/issue/80745), so those lines were accepted.
func TestSumDBLinesOutsideTheRecord(t *testing.T) {
	d, v := newLyingDB(t, 3)
	d.lookups[evil.String()] = 0
	d.treeLines = evil.Path + " " + evil.Version + " " + evilZip + "\n" + evil.Path + " " + evil.Version + "/go.mod " + evilMod + "\n"
	ctx := context.Background()
	err := v.Check(ctx, GoModKey(evil), evilMod)
	if err == nil || !strings.Contains(err.Error(), "checksum missing from sumdb response") {
		t.Fatalf("Check(go.mod) = %v; want the SECURITY ERROR of a record without the module", err)
	}
	err = v.Check(ctx, evil, evilZip)
	if err == nil || !strings.Contains(err.Error(), "checksum missing from sumdb response") {
		t.Fatalf("Check(zip) = %v; want the SECURITY ERROR of a record without the module", err)
	}
}
