package verify

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"gomodfetch/proxy"
	"gomodfetch/retry"
)

// testDB is a genuine checksum database (x/mod's TestServer: records are
// added as modules are looked up) behind a front that damages answers as
// it is told and counts the requests for each path.
type testDB struct {
	t          *testing.T
	ts         *sumdb.TestServer
	skey, vkey string
	srv        *httptest.Server

	mu     sync.Mutex
	reqs   map[string]int
	damage func(path string, n int, body []byte) []byte // n: the path's request number, from 1
}

func newTestDB(t *testing.T, records int) *testDB {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, "sum.example.com")
	if err != nil {
		t.Fatal(err)
	}
	return newTestDBKey(t, skey, vkey, "example.com/m", records)
}

// newTestDBKey returns a database signing with skey whose first records
// are prefix<i> v1.0.0.
func newTestDBKey(t *testing.T, skey, vkey, prefix string, records int) *testDB {
	t.Helper()
	d := &testDB{t: t, skey: skey, vkey: vkey, reqs: map[string]int{}}
	d.ts = sumdb.NewTestServer(skey, func(path, vers string) ([]byte, error) {
		return []byte(path + " " + vers + " " + zipHashOf(path, vers) + "\n" + path + " " + vers + "/go.mod " + modHashOf(path, vers) + "\n"), nil
	})
	for i := range records {
		d.add(fmt.Sprintf("%s%d", prefix, i))
	}
	db := sumdb.NewServer(d.ts)
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		d.reqs[r.URL.Path]++
		n, damage := d.reqs[r.URL.Path], d.damage
		d.mu.Unlock()
		rec := httptest.NewRecorder()
		db.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if damage != nil && rec.Code == http.StatusOK {
			body = damage(r.URL.Path, n, body)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(rec.Code)
		w.Write(body)
	}))
	t.Cleanup(d.srv.Close)
	return d
}

func zipHashOf(path, vers string) string { return "h1:" + fmt.Sprintf("%043x", len(path+vers)) + "=" }
func modHashOf(path, vers string) string { return "h1:" + fmt.Sprintf("%043x", len(path+vers)+1) + "=" }

// add adds a record for path v1.0.0.
func (d *testDB) add(path string) {
	d.t.Helper()
	if _, err := d.ts.Lookup(context.Background(), module.Version{Path: path, Version: "v1.0.0"}); err != nil {
		d.t.Fatal(err)
	}
}

// requests returns the requests seen since the last call, by path.
func (d *testDB) requests() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.reqs
	d.reqs = map[string]int{}
	return r
}

// tile is the database's own data for tile t.
func (d *testDB) tile(t tlog.Tile) []byte {
	d.t.Helper()
	data, err := d.ts.ReadTileData(context.Background(), t)
	if err != nil {
		d.t.Fatal(err)
	}
	return data
}

// client returns a client of d with caches in dir (a new one if ""),
// retrying quickly.
func (d *testDB) client(dir string, edit func(*SumDBConfig)) *SumDBClient {
	d.t.Helper()
	if dir == "" {
		dir = d.t.TempDir()
	}
	spec, err := ParseGOSUMDB(d.vkey + " " + d.srv.URL)
	if err != nil {
		d.t.Fatal(err)
	}
	cfg := SumDBConfig{
		Spec: spec, Context: context.Background(),
		Client:   &proxy.Client{HTTP: d.srv.Client()},
		Policy:   retry.Policy{MaxAttempts: 4, Initial: time.Millisecond, Max: time.Millisecond},
		CacheDir: filepath.Join(dir, "cache"), ConfigDir: filepath.Join(dir, "config"),
	}
	if edit != nil {
		edit(&cfg)
	}
	return NewSumDB(cfg)
}

// damaged damages the first n answers for each lookup and tile: short,
// then with bytes flipped, then short again...
func damaged(n int) func(path string, k int, body []byte) []byte {
	return func(path string, k int, body []byte) []byte {
		if path == "/latest" || k > n || len(body) == 0 {
			return body
		}
		if k%2 == 1 {
			return body[:len(body)/2]
		}
		b := bytes.Clone(body)
		for i := len(b) / 3; i < len(b)/3+8 && i < len(b); i++ {
			b[i] ^= 0x5a
		}
		return b
	}
}

func wantLines(path string) string {
	return path + " v1.0.0 " + zipHashOf(path, "v1.0.0") + "\n" + path + " v1.0.0/go.mod " + modHashOf(path, "v1.0.0")
}

// TestSumDBDamagedAnswersRetried: every lookup and tile is answered short
// and then with bytes flipped before it is answered right. The lookups
// succeed (a damaged answer is asked again, as a damaged module file is),
// and each is asked a bounded number of times.
func TestSumDBDamagedAnswersRetried(t *testing.T) {
	d := newTestDB(t, 600)
	d.damage = damaged(2)
	c := d.client("", nil)
	ctx := context.Background()
	for _, path := range []string{"example.com/m3", "example.com/m300", "example.com/m599"} {
		lines, err := c.Lookup(ctx, path, "v1.0.0")
		if err != nil {
			t.Fatalf("Lookup(%s): %v", path, err)
		}
		if got := strings.Join(lines, "\n"); got != wantLines(path) {
			t.Errorf("Lookup(%s) = %q, want %q", path, got, wantLines(path))
		}
	}
	for path, n := range d.requests() {
		if strings.HasPrefix(path, "/lookup/") || strings.HasPrefix(path, "/tile/") {
			if n > 3 {
				t.Errorf("%s asked %d times; want at most 3 (two damaged answers, one right)", path, n)
			}
		}
	}
}

// TestSumDBDamagedForGood: a database (or proxy) that damages every tile
// makes lookups fail, with a transient error, and leaves nothing in the
// cache.
func TestSumDBDamagedForGood(t *testing.T) {
	d := newTestDB(t, 300)
	d.damage = func(path string, k int, body []byte) []byte {
		if strings.HasPrefix(path, "/tile/") {
			b := bytes.Clone(body)
			b[0] ^= 1
			return b
		}
		return body
	}
	dir := t.TempDir()
	c := d.client(dir, nil)
	_, err := c.Lookup(context.Background(), "example.com/m7", "v1.0.0")
	if err == nil {
		t.Fatal("a lookup proven only by damaged tiles succeeded")
	}
	if got := retry.Classify(err); got != retry.Transient {
		t.Errorf("error classified %v, want transient: %v", got, err)
	}
	if _, err := c.Tile(context.Background(), "tile/8/0/000"); err == nil {
		t.Fatal("Tile: a damaged tile was given")
	}
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() && strings.Contains(p, "/tile/") || strings.Contains(p, "/lookup/") {
			t.Errorf("kept: %s", p)
		}
		return nil
	})
}

// TestSumDBTileProven: Tile gives the database's own data for full and
// partial tiles, at once for those of the latest tree head it checked and
// of older ones (cut from wider ones kept), after asking the database for
// its latest tree head for a tile beyond it, and never a damaged one.
func TestSumDBTileProven(t *testing.T) {
	d := newTestDB(t, 700)
	c := d.client("", nil)
	ctx := context.Background()
	if _, err := c.Lookup(ctx, "example.com/m10", "v1.0.0"); err != nil {
		t.Fatal(err)
	}
	d.requests()
	d.damage = damaged(2)
	for _, tc := range []struct {
		tile tlog.Tile
		asks bool // needs the database
	}{
		{tlog.Tile{H: 8, L: 0, N: 0, W: 256}, false},    // the record's, kept
		{tlog.Tile{H: 8, L: 0, N: 2, W: 188}, false},    // the tree's right edge (700 records)
		{tlog.Tile{H: 8, L: 0, N: 2, W: 100}, false},    // an older tree's: cut from the kept one
		{tlog.Tile{H: 8, L: 1, N: 0, W: 2}, false},      // level 1 of the tree
		{tlog.Tile{H: 8, L: 0, N: 1, W: 256}, true},     // not needed so far
		{tlog.Tile{H: 8, L: 0, N: 2, W: 256 - 1}, true}, // beyond the tree checked: a newer one
	} {
		if tc.tile.W == 255 {
			for i := range 100 {
				d.add(fmt.Sprintf("example.com/later%d", i))
			}
		}
		got, err := c.Tile(ctx, tc.tile.Path())
		if err != nil {
			t.Fatalf("Tile(%s): %v", tc.tile.Path(), err)
		}
		if want := d.tile(tc.tile); !bytes.Equal(got, want) {
			t.Errorf("Tile(%s): %d bytes, not the database's (%d bytes)", tc.tile.Path(), len(got), len(want))
		}
		asked := len(d.requests()) > 0
		if asked != tc.asks {
			t.Errorf("Tile(%s): asked the database: %v, want %v", tc.tile.Path(), asked, tc.asks)
		}
	}
	for _, bad := range []string{"tile/8/data/000", "tile/8/0/009", "tile/4/0/000"} {
		if _, err := c.Tile(ctx, bad); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Tile(%s) = %v; want fs.ErrNotExist", bad, err)
		}
	}
}

// TestSumDBTilesKept: what one client proved, another on the same cache
// (a serve restarted, a go command) never asks the database for again.
func TestSumDBTilesKept(t *testing.T) {
	d := newTestDB(t, 70000)
	dir := t.TempDir()
	ctx := context.Background()
	paths := []string{"example.com/m5", "example.com/m30000", "example.com/m69990"}
	c := d.client(dir, nil)
	for _, p := range paths {
		if _, err := c.Lookup(ctx, p, "v1.0.0"); err != nil {
			t.Fatal(err)
		}
	}
	first := d.requests()
	for p, n := range first {
		if n > 1 {
			t.Errorf("%s asked %d times", p, n)
		}
	}
	c2 := d.client(dir, nil)
	for _, p := range paths {
		if _, err := c2.Lookup(ctx, p, "v1.0.0"); err != nil {
			t.Fatal(err)
		}
		if _, err := c2.Record(ctx, p, "v1.0.0"); err != nil {
			t.Fatal(err)
		}
	}
	if again := d.requests(); len(again) > 0 {
		t.Errorf("the second client asked the database again: %v", again)
	}
}

// TestSumDBDamagedDisk: a tile kept on disk that someone changed does not
// fail lookups: the proof that reads it fails, the tiles are read again
// from the database, and the copy kept is replaced.
func TestSumDBDamagedDisk(t *testing.T) {
	d := newTestDB(t, 600)
	dir := t.TempDir()
	ctx := context.Background()
	if _, err := d.client(dir, nil).Lookup(ctx, "example.com/m3", "v1.0.0"); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "cache", "sum.example.com", "tile", "8", "0", "000")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	data[40] ^= 1
	if err := os.WriteFile(file, data, 0o666); err != nil {
		t.Fatal(err)
	}
	// A new client: nothing in memory, the cached lookup and tiles on disk.
	if _, err := d.client(dir, nil).Lookup(ctx, "example.com/m3", "v1.0.0"); err != nil {
		t.Fatalf("a damaged tile on disk failed the lookup: %v", err)
	}
	got, err := os.ReadFile(file)
	if err != nil || !bytes.Equal(got, d.tile(tlog.Tile{H: 8, L: 0, N: 0, W: 256})) {
		t.Errorf("the damaged tile on disk was not replaced (%v)", err)
	}
}

// TestSumDBDamagedRecordOnDisk: a lookup kept on disk that someone
// changed is asked of the database again, and replaced.
func TestSumDBDamagedRecordOnDisk(t *testing.T) {
	d := newTestDB(t, 20)
	dir := t.TempDir()
	ctx := context.Background()
	if _, err := d.client(dir, nil).Lookup(ctx, "example.com/m3", "v1.0.0"); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "cache", "sum.example.com", "lookup", "example.com", "m3@v1.0.0")
	good, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Replace(good, []byte(zipHashOf("example.com/m3", "v1.0.0")), []byte(zipHashOf("example.com/m3x", "v1.0.0")), 1)
	if bytes.Equal(bad, good) {
		t.Fatal("test bug: the record was not changed")
	}
	if err := os.WriteFile(file, bad, 0o666); err != nil {
		t.Fatal(err)
	}
	lines, err := d.client(dir, nil).Lookup(ctx, "example.com/m3", "v1.0.0")
	if err != nil {
		t.Fatalf("a damaged lookup on disk failed the lookup: %v", err)
	}
	if got := strings.Join(lines, "\n"); got != wantLines("example.com/m3") {
		t.Errorf("lines = %q; want the database's", got)
	}
	if got, _ := os.ReadFile(file); !bytes.Equal(got, good) {
		t.Errorf("the damaged lookup on disk was not replaced")
	}
}

// memFleet is a fleet cache in memory.
type memFleet struct {
	mu   sync.Mutex
	objs map[string][]byte
	puts int
}

func (m *memFleet) Read(ctx context.Context, key string, w io.Writer, limit int64) error {
	m.mu.Lock()
	data, ok := m.objs[key]
	m.mu.Unlock()
	if !ok {
		return fs.ErrNotExist
	}
	_, err := w.Write(data)
	return err
}

func (m *memFleet) Put(key string, data []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objs[key] = data
	m.puts++
}

// TestSumDBFleet: the tiles and lookups one replica proved are in the
// fleet cache, and another replica with an empty cache reads them there,
// asking the database nothing; a damaged one there is not used (the proof
// fails and is made again from the database) and is replaced.
func TestSumDBFleet(t *testing.T) {
	d := newTestDB(t, 70000)
	fleet := &memFleet{objs: map[string][]byte{}}
	withFleet := func(cfg *SumDBConfig) { cfg.Fleet = fleet }
	ctx := context.Background()
	a := d.client("", withFleet)
	if _, err := a.Lookup(ctx, "example.com/m300", "v1.0.0"); err != nil {
		t.Fatal(err)
	}
	d.requests()
	if len(fleet.objs) == 0 {
		t.Fatal("nothing was written to the fleet cache")
	}
	lookups := 0
	for key, data := range fleet.objs {
		rest := strings.TrimPrefix(key, "sumdb/sum.example.com/")
		if rest == "lookup/example.com/m300@v1.0.0" {
			lookups++
			continue
		}
		tile, err := tlog.ParseTilePath(rest)
		if err != nil || !bytes.Equal(data, d.tile(tile)) {
			t.Errorf("fleet cache %s: not a tile of the database (%v)", key, err)
		}
	}
	if lookups != 1 {
		t.Errorf("the lookup was not written to the fleet cache")
	}
	// Replica b, its cache empty, proves the same record from the fleet
	// cache, asking the database for its latest tree head alone.
	b := d.client("", withFleet)
	if _, err := b.Lookup(ctx, "example.com/m300", "v1.0.0"); err != nil {
		t.Fatal(err)
	}
	if reqs := d.requests(); len(reqs) > 1 || len(reqs) == 1 && reqs["/latest"] == 0 {
		t.Errorf("replica b asked the database for %v, which the fleet cache has", reqs)
	}
	// A lookup in the fleet cache that is another module's record (signed
	// and proven, but not the one asked) is not used.
	fleet.mu.Lock()
	good := fleet.objs["sumdb/sum.example.com/lookup/example.com/m300@v1.0.0"]
	fleet.objs["sumdb/sum.example.com/lookup/example.com/m301@v1.0.0"] = good
	fleet.mu.Unlock()
	b2 := d.client("", withFleet)
	if lines, err := b2.Lookup(ctx, "example.com/m301", "v1.0.0"); err != nil || len(lines) != 2 || !strings.HasPrefix(lines[0], "example.com/m301 v1.0.0 ") {
		t.Fatalf("m301 with m300's record in the fleet cache: %q, %v", lines, err)
	}
	if reqs := d.requests(); reqs["/lookup/example.com/m301@v1.0.0"] != 1 {
		t.Errorf("m301's lookup was not asked of the database: %v", reqs)
	}
	// Damage a tile in the fleet cache: replica c does not take it.
	fleet.mu.Lock()
	var damagedKey string
	for key, data := range fleet.objs {
		if !strings.Contains(key, "/tile/") {
			continue
		}
		b := bytes.Clone(data)
		b[5] ^= 1
		fleet.objs[key], damagedKey = b, key
		break
	}
	puts := fleet.puts
	fleet.mu.Unlock()
	c := d.client("", withFleet)
	if _, err := c.Lookup(ctx, "example.com/m300", "v1.0.0"); err != nil {
		t.Fatalf("a damaged fleet cache object failed the lookup: %v", err)
	}
	tile, _ := tlog.ParseTilePath(strings.TrimPrefix(damagedKey, "sumdb/sum.example.com/"))
	fleet.mu.Lock()
	defer fleet.mu.Unlock()
	if !bytes.Equal(fleet.objs[damagedKey], d.tile(tile)) || fleet.puts == puts {
		t.Errorf("the damaged object %s was not replaced by the database's", damagedKey)
	}
}

// TestSumDBRecord: a record is given with the latest tree head checked
// that holds it, which proves it.
func TestSumDBRecord(t *testing.T) {
	d := newTestDB(t, 10)
	c := d.client("", nil)
	ctx := context.Background()
	if _, err := c.Lookup(ctx, "example.com/m3", "v1.0.0"); err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		d.add(fmt.Sprintf("example.com/later%d", i))
	}
	if _, err := c.Lookup(ctx, "example.com/later299", "v1.0.0"); err != nil {
		t.Fatal(err)
	}
	rec, err := c.Record(ctx, "example.com/m3", "v1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	id, text, msg, err := tlog.ParseRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := c.openTree(msg)
	if err != nil {
		t.Fatal(err)
	}
	if tree.N != 310 {
		t.Errorf("record given with tree %d, want the latest checked, 310", tree.N)
	}
	hashes, err := tlog.TileHashReader(tree.Tree, testTiles{d}).ReadHashes([]int64{tlog.StoredHashIndex(0, id)})
	if err != nil || hashes[0] != tlog.RecordHash(text) {
		t.Errorf("the record is not proven by the tree it comes with: %v", err)
	}
}

// testTiles reads tiles from the database itself.
type testTiles struct{ d *testDB }

func (r testTiles) Height() int { return 8 }
func (r testTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	var out [][]byte
	for _, t := range tiles {
		out = append(out, r.d.tile(t))
	}
	return out, nil
}
func (r testTiles) SaveTiles([]tlog.Tile, [][]byte) {}

// TestSumDBForkedLatest: a tree head that is not the continuation of the
// latest one checked (another log signed with the database's key) is a
// security error, and every later lookup or tile fails.
func TestSumDBForkedLatest(t *testing.T) {
	d := newTestDB(t, 20)
	dir := t.TempDir()
	ctx := context.Background()
	if _, err := d.client(dir, nil).Lookup(ctx, "example.com/m3", "v1.0.0"); err != nil {
		t.Fatal(err)
	}
	fork := newTestDBKey(t, d.skey, d.vkey, "example.com/other", 40)
	var sec *SumDBSecurityError
	c := fork.client(dir, nil)
	if _, err := c.Latest(ctx); !errors.As(err, &sec) {
		t.Fatalf("Latest of a forked log: %v; want a security error", err)
	}
	if _, err := c.Lookup(ctx, "example.com/other4", "v1.0.0"); !errors.As(err, &sec) {
		t.Errorf("a lookup after a fork was seen: %v; want the security error", err)
	}
	if _, err := c.Tile(ctx, "tile/8/0/000.p/20"); !errors.As(err, &sec) {
		t.Errorf("a tile after a fork was seen: %v; want the security error", err)
	}
	if _, err := fork.client(dir, nil).Lookup(ctx, "example.com/other5", "v1.0.0"); !errors.As(err, &sec) {
		t.Errorf("a lookup in a forked log: %v; want a security error", err)
	}
}

// TestSumDBHedge: with two proxies in a '|' run serving the database, one
// that damages every answer does not stop the lookups: the other's
// answers are taken.
func TestSumDBHedge(t *testing.T) {
	d := newTestDB(t, 300)
	mkProxy := func(bad bool) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rest, ok := strings.CutPrefix(r.URL.Path, "/sumdb/sum.example.com")
			if !ok {
				http.NotFound(w, r)
				return
			}
			if rest == "/supported" {
				return
			}
			resp, err := d.srv.Client().Get(d.srv.URL + rest)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if bad && len(body) > 0 {
				body = body[:len(body)-1]
			}
			w.WriteHeader(resp.StatusCode)
			w.Write(body)
		}))
		t.Cleanup(s.Close)
		return s
	}
	bad, good := mkProxy(true), mkProxy(false)
	proxies, err := proxy.ParseList(bad.URL + "|" + good.URL)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := ParseGOSUMDB(d.vkey)
	if err != nil {
		t.Fatal(err)
	}
	c := NewSumDB(SumDBConfig{
		Spec: spec, Proxies: proxies, Context: context.Background(),
		Client:     &proxy.Client{HTTP: http.DefaultClient},
		Policy:     retry.Policy{MaxAttempts: 2, Initial: time.Millisecond, Max: time.Millisecond},
		HedgeDelay: -1,
		CacheDir:   t.TempDir(), ConfigDir: t.TempDir(),
	})
	lines, err := c.Lookup(context.Background(), "example.com/m200", "v1.0.0")
	if err != nil {
		t.Fatalf("Lookup through a damaging proxy and a good one: %v", err)
	}
	if got := strings.Join(lines, "\n"); got != wantLines("example.com/m200") {
		t.Errorf("lines = %q", got)
	}
}
