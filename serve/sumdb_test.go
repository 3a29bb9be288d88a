package serve

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"gomodfetch/fleet"
	"gomodfetch/proxy"
	"gomodfetch/retry"
	"gomodfetch/verify"
)

// upstreamDB is a checksum database (x/mod's TestServer) behind a front
// that damages the first answers for each lookup and tile (short, then
// with bytes flipped) and counts the requests by path.
type upstreamDB struct {
	ts   *sumdb.TestServer
	vkey string
	srv  *httptest.Server

	mu      sync.Mutex
	reqs    map[string]int
	damaged int // answers damaged per path
}

const dbName = "sum.example.com"

func newUpstreamDB(t *testing.T, records, damaged int) *upstreamDB {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, dbName)
	if err != nil {
		t.Fatal(err)
	}
	u := &upstreamDB{vkey: vkey, reqs: map[string]int{}, damaged: damaged}
	u.ts = sumdb.NewTestServer(skey, func(path, vers string) ([]byte, error) {
		return []byte(fmt.Sprintf("%s %s h1:%043d=\n%s %s/go.mod h1:%043d=\n", path, vers, len(path), path, vers, len(path)+1)), nil
	})
	for i := range records {
		if _, err := u.ts.Lookup(context.Background(), module.Version{Path: fmt.Sprintf("example.com/m%d", i), Version: "v1.0.0"}); err != nil {
			t.Fatal(err)
		}
	}
	db := sumdb.NewServer(u.ts)
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, "/sumdb/"+dbName)
		if !ok {
			http.NotFound(w, r)
			return
		}
		if rest == "/supported" {
			return
		}
		u.mu.Lock()
		u.reqs[rest]++
		n := u.reqs[rest]
		u.mu.Unlock()
		rec := httptest.NewRecorder()
		r2 := r.Clone(r.Context())
		r2.URL.Path = rest
		db.ServeHTTP(rec, r2)
		body := rec.Body.Bytes()
		if rec.Code == http.StatusOK && rest != "/latest" && n <= u.damaged && len(body) > 1 {
			if n%2 == 1 {
				body = body[:len(body)/2]
			} else {
				body = bytes.Clone(body)
				body[len(body)/2] ^= 0x5a
			}
		}
		w.WriteHeader(rec.Code)
		w.Write(body)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// requests returns the requests seen since the last call, by path.
func (u *upstreamDB) requests() map[string]int {
	u.mu.Lock()
	defer u.mu.Unlock()
	r := u.reqs
	u.reqs = map[string]int{}
	return r
}

// sumdbSetup is a server proxying u's database, with bucket as its fleet
// cache if one is given.
func sumdbSetup(t *testing.T, u *upstreamDB, bucket ...verify.SumDBFleet) *setup {
	t.Helper()
	spec, err := verify.ParseGOSUMDB(u.vkey)
	if err != nil {
		t.Fatal(err)
	}
	proxies, err := proxy.ParseList(u.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	return newSetup(t, func(cfg *Config) {
		cfg.SumDBCacheDir = filepath.Join(dir, "cache")
		cfg.SumDBConfigDir = filepath.Join(dir, "config")
		dbcfg := verify.SumDBConfig{
			Spec: spec, Proxies: proxies, Context: cfg.Context,
			Client:   &proxy.Client{HTTP: u.srv.Client()},
			Policy:   retry.Policy{MaxAttempts: 4, Initial: time.Millisecond, Max: time.Millisecond},
			CacheDir: cfg.SumDBCacheDir, ConfigDir: cfg.SumDBConfigDir,
		}
		if len(bucket) > 0 {
			dbcfg.Fleet = bucket[0]
		}
		cfg.SumDB = verify.NewSumDB(dbcfg)
	})
}

// goClient is a checksum database client as the go command has it
// (x/mod/sumdb's, no retries, its own caches in memory) reaching the
// database through the server. Anything damaged it is given fails it.
type goClient struct {
	t      *testing.T
	base   string
	key    string
	mu     sync.Mutex
	config map[string][]byte
	cache  map[string][]byte
}

func newGoClient(t *testing.T, st *setup, vkey string) *sumdb.Client {
	return sumdb.NewClient(&goClient{t: t, base: st.srv.URL + "/sumdb/" + dbName, key: vkey, config: map[string][]byte{}, cache: map[string][]byte{}})
}

func (g *goClient) ReadRemote(path string) ([]byte, error) {
	resp, err := http.Get(g.base + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, data)
	}
	return data, err
}

func (g *goClient) ReadConfig(file string) ([]byte, error) {
	if file == "key" {
		return []byte(g.key), nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.config[file], nil
}

func (g *goClient) WriteConfig(file string, old, new []byte) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !bytes.Equal(g.config[file], old) {
		return sumdb.ErrWriteConflict
	}
	g.config[file] = new
	return nil
}

func (g *goClient) ReadCache(file string) ([]byte, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if data, ok := g.cache[file]; ok {
		return data, nil
	}
	return nil, errors.New("not cached")
}

func (g *goClient) WriteCache(file string, data []byte) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cache[file] = data
}

func (g *goClient) Log(msg string)           {}
func (g *goClient) SecurityError(msg string) { g.t.Errorf("go client: %s", msg) }

// TestSumDBProxyDamagedUpstream: the database's answers come damaged
// (short, then with bytes flipped) before they come right. The server
// retries them and passes on only what it proved, so go clients, which
// retry nothing and refuse anything damaged, get their lookups and tiles;
// a second client costs the database no request at all.
func TestSumDBProxyDamagedUpstream(t *testing.T) {
	u := newUpstreamDB(t, 3000, 2)
	st := sumdbSetup(t, u)
	mods := []string{"example.com/m5", "example.com/m1500", "example.com/m2999", "example.com/m700"}
	for i, name := range []string{"first", "second"} {
		c := newGoClient(t, st, u.vkey)
		for _, path := range mods {
			lines, err := c.Lookup(path, "v1.0.0")
			if err != nil {
				t.Fatalf("%s client: Lookup(%s): %v", name, path, err)
			}
			if want := fmt.Sprintf("%s v1.0.0 h1:%043d=", path, len(path)); len(lines) != 1 || lines[0] != want {
				t.Errorf("%s client: Lookup(%s) = %q, want %q", name, path, lines, want)
			}
		}
		reqs := u.requests()
		for path, n := range reqs {
			if n > 3+1 {
				t.Errorf("%s client: upstream asked for %s %d times", name, path, n)
			}
		}
		if i == 1 && len(reqs) > 0 {
			t.Errorf("the second client's lookups and tiles were asked upstream again: %v", reqs)
		}
	}
}

// TestSumDBSupported: /sumdb/<name>/supported is 200 for the database the
// server proxies, 404 for any other.
func TestSumDBSupported(t *testing.T) {
	u := newUpstreamDB(t, 1, 0)
	st := sumdbSetup(t, u)
	for path, want := range map[string]int{
		"/sumdb/" + dbName + "/supported":       200,
		"/sumdb/sum.golang.org/supported":       404,
		"/sumdb/" + dbName + "x/supported":      404,
		"/sumdb/" + dbName + "/supported/x":     404,
		"/sumdb/" + dbName + "/tile/8/data/000": 404,
	} {
		if resp, body := st.do(t, "GET", path); resp.StatusCode != want {
			t.Errorf("GET %s = %d %q; want %d", path, resp.StatusCode, body, want)
		}
	}
}

// TestSumDBServedTileIsProven: a tile answer is the database's tile, even
// when the database's own answers for it come damaged, and a tile upstream
// keeps damaging is never passed on.
func TestSumDBServedTileIsProven(t *testing.T) {
	u := newUpstreamDB(t, 600, 2)
	st := sumdbSetup(t, u)
	want, err := u.ts.ReadTileData(context.Background(), tlog.Tile{H: 8, L: 0, N: 1, W: 256})
	if err != nil {
		t.Fatal(err)
	}
	resp, body := st.do(t, "GET", "/sumdb/"+dbName+"/tile/8/0/001")
	if resp.StatusCode != 200 || body != string(want) {
		t.Fatalf("tile: %d, %d bytes; want 200 and the database's %d bytes", resp.StatusCode, len(body), len(want))
	}
	u.mu.Lock()
	u.damaged = 1000
	u.mu.Unlock()
	resp, body = st.do(t, "GET", "/sumdb/"+dbName+"/tile/8/0/000")
	if resp.StatusCode == 200 {
		t.Fatalf("a tile upstream only ever damaged was served (%d bytes)", len(body))
	}
}

// TestSumDBReplicasShareBucket: two serve replicas on one bucket (a fleet
// cache on file://). The first proves what its clients look up and keeps
// the tiles and lookups in the bucket; the second, its caches empty, serves
// the same lookups from the bucket, proven again, asking the database for
// nothing but its latest tree head, if that.
func TestSumDBReplicasShareBucket(t *testing.T) {
	u := newUpstreamDB(t, 3000, 0)
	bucket := "file://" + filepath.ToSlash(t.TempDir())
	mods := []string{"example.com/m5", "example.com/m1500", "example.com/m2999", "example.com/m700"}
	for i, name := range []string{"first", "second"} {
		fc, err := fleet.Open(context.Background(), fleet.Config{URL: bucket})
		if err != nil {
			t.Fatal(err)
		}
		st := sumdbSetup(t, u, fc)
		c := newGoClient(t, st, u.vkey)
		for _, path := range mods {
			lines, err := c.Lookup(path, "v1.0.0")
			if err != nil {
				t.Fatalf("%s replica: Lookup(%s): %v", name, path, err)
			}
			if want := fmt.Sprintf("%s v1.0.0 h1:%043d=", path, len(path)); len(lines) != 1 || lines[0] != want {
				t.Errorf("%s replica: Lookup(%s) = %q, want %q", name, path, lines, want)
			}
		}
		if n := fc.Close(context.Background(), time.Minute); n != 0 {
			t.Fatalf("%s replica: %d writes to the bucket dropped", name, n)
		}
		reqs := u.requests()
		if i == 0 && (reqs["/lookup/example.com/m5@v1.0.0"] != 1 || fc.Stats().Writes == 0) {
			t.Fatalf("first replica: upstream requests %v, %+v: nothing to share", reqs, fc.Stats())
		}
		if i == 1 {
			delete(reqs, "/latest")
			if len(reqs) > 0 {
				t.Errorf("second replica asked the database for %v, which the bucket holds", reqs)
			}
			if st := fc.Stats(); st.Hits == 0 || st.Damaged != 0 {
				t.Errorf("second replica: bucket %+v", st)
			}
		}
	}
}
