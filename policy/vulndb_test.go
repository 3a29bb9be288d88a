package policy

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A small vulnerability database in the published format
// (go.dev/security/vuln/database): bare versions, "introduced": "0",
// fields the gate does not read (details, references, imports), a
// withdrawn entry, a last_affected range, a stdlib module.
var testEntries = map[string]string{
	"GO-2026-0001": `{
  "schema_version": "1.3.1",
  "id": "GO-2026-0001",
  "modified": "2026-03-01T00:00:00Z",
  "published": "2026-02-01T00:00:00Z",
  "aliases": ["CVE-2026-1111", "GHSA-aaaa-bbbb-cccc"],
  "summary": "Bad \u001b[31mthing\u001b[0m in example.com/vulnerable",
  "details": "Long text.",
  "affected": [{
    "package": {"name": "example.com/vulnerable", "ecosystem": "Go"},
    "ranges": [{"type": "SEMVER", "events": [
      {"introduced": "1.3.0"}, {"fixed": "1.3.2"},
      {"introduced": "0"}, {"fixed": "1.2.4"}
    ]}],
    "ecosystem_specific": {"imports": [{"path": "example.com/vulnerable/parse", "symbols": ["Parse"]}]}
  }],
  "references": [{"type": "FIX", "url": "https://example.com/fix"}],
  "database_specific": {"url": "https://pkg.go.dev/vuln/GO-2026-0001", "review_status": "REVIEWED"}
}`,
	"GO-2026-0002": `{
  "id": "GO-2026-0002",
  "modified": "2026-03-02T00:00:00Z",
  "affected": [{
    "package": {"name": "example.com/other", "ecosystem": "Go"},
    "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"last_affected": "0.9.0"}]}]
  }]
}`,
	"GO-2026-0003": `{
  "id": "GO-2026-0003",
  "modified": "2026-03-03T00:00:00Z",
  "withdrawn": "2026-03-03T00:00:00Z",
  "affected": [{"package": {"name": "example.com/vulnerable", "ecosystem": "Go"}}]
}`,
	"GO-2026-0004": `{
  "id": "GO-2026-0004",
  "modified": "2026-03-04T00:00:00Z",
  "affected": [
    {"package": {"name": "stdlib", "ecosystem": "Go"},
     "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.25.1"}]}]},
    {"package": {"name": "example.com/vulnerable/v2", "ecosystem": "Go"},
     "ranges": [{"type": "SEMVER", "events": [{"introduced": "2.0.0"}, {"fixed": "2.1.0"}]}]}
  ]
}`,
}

const testModules = `[
  {"path": "example.com/other", "vulns": [{"id": "GO-2026-0002", "modified": "2026-03-02T00:00:00Z"}]},
  {"path": "example.com/vulnerable", "vulns": [
    {"id": "GO-2026-0001", "modified": "2026-03-01T00:00:00Z", "fixed": "1.3.2"},
    {"id": "GO-2026-0003", "modified": "2026-03-03T00:00:00Z"}
  ]},
  {"path": "example.com/vulnerable/v2", "vulns": [{"id": "GO-2026-0004", "modified": "2026-03-04T00:00:00Z", "fixed": "2.1.0"}]},
  {"path": "stdlib", "vulns": [{"id": "GO-2026-0004", "modified": "2026-03-04T00:00:00Z", "fixed": "1.25.1"}]}
]`

const testDBMeta = `{"modified": "2026-03-04T00:00:00Z"}`

// writeDB lays the database out under dir as vuln.go.dev publishes it.
func writeDB(t *testing.T, dir string, meta, modules string, entries map[string]string) {
	t.Helper()
	files := map[string]string{"index/db.json": meta, "index/modules.json": modules}
	for id, e := range entries {
		files["ID/"+id+".json"] = e
	}
	for name, data := range files {
		f := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if !json.Valid([]byte(data)) {
			t.Fatalf("%s: not JSON", name)
		}
		if err := os.WriteFile(f, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// writeZip writes the same tree into a zip below prefix ("" or "dir/").
func writeZip(t *testing.T, file, prefix, meta, modules string, entries map[string]string) {
	t.Helper()
	tmp := file + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	add := func(name, data string) {
		w, err := zw.Create(prefix + name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(data))
	}
	add("index/db.json", meta)
	add("index/modules.json", modules)
	for id, e := range entries {
		add("ID/"+id+".json", e)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
}

// countingServer serves dir over loopback HTTP and counts requests by path.
type countingServer struct {
	*httptest.Server
	mu    sync.Mutex
	count map[string]int
	fail  bool
}

func newCountingServer(t *testing.T, dir string) *countingServer {
	s := &countingServer{count: map[string]int{}}
	fsrv := http.FileServer(http.Dir(dir))
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.count[r.URL.Path]++
		fail := s.fail
		s.mu.Unlock()
		if fail {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		fsrv.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *countingServer) take() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.count
	s.count = map[string]int{}
	return c
}

func ids(vs []Vuln) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.ID+"@"+v.Fixed)
	}
	return out
}

func TestVulnDBSources(t *testing.T) {
	dir := t.TempDir()
	writeDB(t, dir, testDBMeta, testModules, testEntries)
	zipFile := filepath.Join(t.TempDir(), "vulndb.zip")
	writeZip(t, zipFile, "vulndb/", testDBMeta, testModules, testEntries)
	rootZip := filepath.Join(t.TempDir(), "root.zip")
	writeZip(t, rootZip, "", testDBMeta, testModules, testEntries)
	srv := newCountingServer(t, dir)

	for name, source := range map[string]string{
		"dir": dir, "file URL": "file://" + filepath.ToSlash(dir), "zip": zipFile, "zip at root": rootZip, "http": srv.URL + "/",
	} {
		t.Run(name, func(t *testing.T) {
			db, err := OpenVulnDB(source, VulnOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if _, err := db.Affecting(ctx, "example.com/vulnerable", "v1.0.0"); err == nil {
				t.Fatal("Affecting before Refresh succeeded")
			}
			if err := db.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				path, version string
				want          []string
			}{
				{"example.com/vulnerable", "v1.0.0", []string{"GO-2026-0001@v1.2.4"}},
				{"example.com/vulnerable", "v1.2.3", []string{"GO-2026-0001@v1.2.4"}},
				// A pseudo-version based on v1.2.3 is below v1.2.4: affected.
				{"example.com/vulnerable", "v1.2.4-0.20260101000000-0123456789ab", []string{"GO-2026-0001@v1.2.4"}},
				{"example.com/vulnerable", "v1.2.4", nil},
				{"example.com/vulnerable", "v1.3.0-rc.1", nil},
				{"example.com/vulnerable", "v1.3.0", []string{"GO-2026-0001@v1.3.2"}},
				{"example.com/vulnerable", "v1.3.1", []string{"GO-2026-0001@v1.3.2"}},
				{"example.com/vulnerable", "v1.3.2", nil},
				{"example.com/vulnerable", "v2.0.0+incompatible", nil},
				{"example.com/vulnerable/v2", "v2.0.5", []string{"GO-2026-0004@v2.1.0"}},
				{"example.com/vulnerable/v2", "v2.1.0", nil},
				{"example.com/other", "v0.9.0", []string{"GO-2026-0002@"}},
				{"example.com/other", "v0.9.1", nil},
				{"example.com/clean", "v1.0.0", nil},
			} {
				vs, err := db.Affecting(ctx, tc.path, tc.version)
				if err != nil {
					t.Fatalf("%s@%s: %v", tc.path, tc.version, err)
				}
				if got := ids(vs); !reflect.DeepEqual(got, tc.want) {
					t.Errorf("%s@%s: %v, want %v", tc.path, tc.version, got, tc.want)
				}
			}
			vs, _ := db.Affecting(ctx, "example.com/vulnerable", "v1.0.0")
			if v := vs[0]; v.Summary != `Bad \x1b[31mthing\x1b[0m in example.com/vulnerable` ||
				!reflect.DeepEqual(v.Aliases, []string{"CVE-2026-1111", "GHSA-aaaa-bbbb-cccc"}) {
				t.Errorf("vuln = %+v", v)
			}
			st := db.Status()
			if st.Modules != 4 || !st.Modified.Equal(time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)) || st.Err != nil || st.Fetched.IsZero() {
				t.Errorf("Status = %+v", st)
			}
		})
	}
}

func TestVulnDBRefresh(t *testing.T) {
	dir := t.TempDir()
	writeDB(t, dir, testDBMeta, testModules, testEntries)
	srv := newCountingServer(t, dir)
	db, err := OpenVulnDB(srv.URL, VulnOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := db.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if c := srv.take(); !reflect.DeepEqual(c, map[string]int{"/index/db.json": 1, "/index/modules.json": 1}) {
		t.Errorf("first refresh asked %v", c)
	}
	for range 3 {
		if vs, err := db.Affecting(ctx, "example.com/vulnerable", "v1.0.0"); err != nil || len(vs) != 1 {
			t.Fatalf("Affecting = %v, %v", vs, err)
		}
	}
	// Each entry read once (the withdrawn one too: only its entry says so).
	if c := srv.take(); !reflect.DeepEqual(c, map[string]int{"/ID/GO-2026-0001.json": 1, "/ID/GO-2026-0003.json": 1}) {
		t.Errorf("lookups asked %v", c)
	}
	// At or above the index's newest fix, no entry is read.
	db.Affecting(ctx, "example.com/vulnerable/v2", "v2.1.0")
	if c := srv.take(); len(c) != 0 {
		t.Errorf("lookup above the fix asked %v", c)
	}

	// Unchanged database: only db.json.
	if err := db.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if c := srv.take(); !reflect.DeepEqual(c, map[string]int{"/index/db.json": 1}) {
		t.Errorf("unchanged refresh asked %v", c)
	}

	// The entry changes (a later fix): the index says so, the entry is
	// read again.
	changed := strings.Replace(testEntries["GO-2026-0001"], `{"fixed": "1.2.4"}`, `{"fixed": "1.2.5"}`, 1)
	changed = strings.Replace(changed, `"modified": "2026-03-01T00:00:00Z"`, `"modified": "2026-04-01T00:00:00Z"`, 1)
	entries := map[string]string{"GO-2026-0001": changed}
	modules := strings.Replace(testModules, `{"id": "GO-2026-0001", "modified": "2026-03-01T00:00:00Z"`, `{"id": "GO-2026-0001", "modified": "2026-04-01T00:00:00Z"`, 1)
	writeDB(t, dir, `{"modified": "2026-04-01T00:00:00Z"}`, modules, entries)
	if err := db.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	vs, err := db.Affecting(ctx, "example.com/vulnerable", "v1.2.4")
	if err != nil || !reflect.DeepEqual(ids(vs), []string{"GO-2026-0001@v1.2.5"}) {
		t.Errorf("after change: %v, %v", ids(vs), err)
	}
	if c := srv.take(); c["/index/modules.json"] != 1 || c["/ID/GO-2026-0001.json"] != 1 || c["/ID/GO-2026-0003.json"] != 0 {
		t.Errorf("changed refresh asked %v", c)
	}

	// The server fails: the refresh reports it, the data stays.
	srv.mu.Lock()
	srv.fail = true
	srv.mu.Unlock()
	err = db.Refresh(ctx)
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("Refresh with the server down = %v", err)
	}
	if st := db.Status(); st.Err == nil || !st.Modified.Equal(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Status = %+v", st)
	}
	if vs, err := db.Affecting(ctx, "example.com/vulnerable", "v1.2.4"); err != nil || len(vs) != 1 {
		t.Errorf("Affecting with the server down = %v, %v", vs, err)
	}
	// An entry not yet cached cannot be read: the check fails rather than
	// pass.
	if _, err := db.Affecting(ctx, "example.com/other", "v0.1.0"); err == nil {
		t.Error("Affecting an uncached entry with the server down succeeded")
	}
}

func TestVulnDBBoundedCache(t *testing.T) {
	dir := t.TempDir()
	writeDB(t, dir, testDBMeta, testModules, testEntries)
	srv := newCountingServer(t, dir)
	db, err := OpenVulnDB(srv.URL, VulnOptions{MaxEntries: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := db.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	srv.take()
	for range 3 {
		db.Affecting(ctx, "example.com/other", "v0.1.0")
		db.Affecting(ctx, "example.com/vulnerable/v2", "v2.0.0")
	}
	if c := srv.take(); c["/ID/GO-2026-0002.json"] != 3 || c["/ID/GO-2026-0004.json"] != 3 {
		t.Errorf("asked %v", c)
	}
	if st := db.Status(); st.Cached != 1 {
		t.Errorf("Cached = %d", st.Cached)
	}
}

func TestVulnDBBadData(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		modules string
		entries map[string]string
		lookup  bool // the error comes at lookup, not refresh
		want    string
	}{
		{"bad index", `{"not": "a list"}`, testEntries, false, "index/modules.json"},
		{"bad ID", `[{"path": "example.com/x", "vulns": [{"id": "../../etc/passwd"}]}]`, nil, false, "bad entry ID"},
		{"wrong entry", `[{"path": "example.com/x", "vulns": [{"id": "GO-2026-0009"}]}]`,
			map[string]string{"GO-2026-0009": `{"id": "GO-2026-0001", "affected": []}`}, true, `holds entry "GO-2026-0001"`},
		{"missing entry", `[{"path": "example.com/x", "vulns": [{"id": "GO-2026-0009"}]}]`, nil, true, "GO-2026-0009.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeDB(t, dir, testDBMeta, tc.modules, tc.entries)
			db, err := OpenVulnDB(dir, VulnOptions{})
			if err != nil {
				t.Fatal(err)
			}
			err = db.Refresh(ctx)
			if tc.lookup {
				if err != nil {
					t.Fatal(err)
				}
				_, err = db.Affecting(ctx, "example.com/x", "v1.0.0")
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}

	// An entry that is a symlink out of the directory is not followed.
	dir := t.TempDir()
	writeDB(t, dir, testDBMeta, `[{"path": "example.com/x", "vulns": [{"id": "GO-2026-0009"}]}]`, nil)
	outside := filepath.Join(t.TempDir(), "secret.json")
	os.WriteFile(outside, []byte(`{"id": "GO-2026-0009", "affected": [{"package": {"name": "example.com/x"}}]}`), 0o644)
	os.MkdirAll(filepath.Join(dir, "ID"), 0o755)
	if err := os.Symlink(outside, filepath.Join(dir, "ID", "GO-2026-0009.json")); err != nil {
		t.Fatal(err)
	}
	db, _ := OpenVulnDB(dir, VulnOptions{})
	if err := db.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Affecting(ctx, "example.com/x", "v1.0.0"); err == nil {
		t.Error("a symlink out of the database was followed")
	}
}

func TestOpenVulnDBSources(t *testing.T) {
	for _, tc := range []struct {
		source, want string
	}{
		{"http://vuln.example.com", "use https://"},
		{"ftp://vuln.example.com", `scheme "ftp"`},
		{"file://host/dir", "with a host"},
		{filepath.Join(t.TempDir(), "missing"), "no such file"},
	} {
		if _, err := OpenVulnDB(tc.source, VulnOptions{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("OpenVulnDB(%q) = %v, want %q", tc.source, err, tc.want)
		}
	}
	for _, ok := range []string{"https://vuln.go.dev", "http://127.0.0.1:1/db", "http://[::1]:1", "http://localhost:1"} {
		if _, err := OpenVulnDB(ok, VulnOptions{}); err != nil {
			t.Errorf("OpenVulnDB(%q) = %v", ok, err)
		}
	}
}

func TestVulnDBZipReplaced(t *testing.T) {
	zipFile := filepath.Join(t.TempDir(), "vulndb.zip")
	writeZip(t, zipFile, "", testDBMeta, testModules, testEntries)
	db, err := OpenVulnDB(zipFile, VulnOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := db.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	// A mirror job replaces the zip by rename with a newer database.
	writeZip(t, zipFile, "", `{"modified": "2026-05-01T00:00:00Z"}`,
		`[{"path": "example.com/new", "vulns": [{"id": "GO-2026-0002", "modified": "2026-05-01T00:00:00Z"}]}]`,
		map[string]string{"GO-2026-0002": strings.Replace(testEntries["GO-2026-0002"], "example.com/other", "example.com/new", 1)})
	if err := db.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if vs, err := db.Affecting(ctx, "example.com/new", "v0.1.0"); err != nil || len(vs) != 1 {
		t.Errorf("after replacement: %v, %v", vs, err)
	}
	if vs, _ := db.Affecting(ctx, "example.com/vulnerable", "v1.0.0"); len(vs) != 0 {
		t.Errorf("old data after replacement: %v", vs)
	}
	os.WriteFile(zipFile, []byte("not a zip"), 0o644)
	if err := db.Refresh(ctx); err == nil {
		t.Error("Refresh of a broken zip succeeded")
	}
	if vs, err := db.Affecting(ctx, "example.com/new", "v0.1.0"); err != nil || len(vs) != 1 {
		t.Errorf("after a broken replacement: %v, %v", vs, err)
	}
}

func TestVulnDBRun(t *testing.T) {
	dir := t.TempDir()
	writeDB(t, dir, testDBMeta, testModules, testEntries)
	srv := newCountingServer(t, dir)
	db, _ := OpenVulnDB(srv.URL, VulnOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	tick := make(chan time.Time)
	reports := make(chan error, 3)
	done := make(chan struct{})
	go func() {
		db.Run(ctx, tick, func(err error) { reports <- err })
		close(done)
	}()
	for range 2 {
		tick <- time.Time{}
		select {
		case err := <-reports:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no report from Run")
		}
	}
	cancel()
	<-done
	if c := srv.take(); c["/index/db.json"] != 2 || c["/index/modules.json"] != 1 {
		t.Errorf("Run asked %v", c)
	}
}

func TestGateWithVulnDB(t *testing.T) {
	dir := t.TempDir()
	writeDB(t, dir, testDBMeta, testModules, testEntries)
	db, _ := OpenVulnDB(dir, VulnOptions{})
	p := mustParse(t, "vulns deny\nexcept example.com/vulnerable vuln GHSA-aaaa-bbbb-cccc until 2026-01-01 \"expired\"\n")
	g := &Gate{Policy: p, Vulns: db, Now: func() time.Time { return testNow }}
	ctx := context.Background()
	d := g.Check(ctx, "example.com/vulnerable", "v1.3.0", nil)
	if d.Action != Deny || !strings.Contains(d.Reason, "not loaded") {
		t.Errorf("before the first refresh: %+v", d)
	}
	if err := db.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	d = g.Check(ctx, "example.com/vulnerable", "v1.3.0", nil)
	if want := "gomodfetch policy: example.com/vulnerable@v1.3.0: GO-2026-0001 (denied; fixed in v1.3.2)"; d.Message() != want {
		t.Errorf("Message() = %s", d.Message())
	}
	var de *DeniedError
	if !errors.As(d.Err(), &de) || de.Decision.FixedIn != "v1.3.2" {
		t.Errorf("Err() = %v", d.Err())
	}
	if d := g.Check(ctx, "example.com/vulnerable", "v1.3.2", nil); d.Action != Allow {
		t.Errorf("fixed version: %+v", d)
	}
}

func TestVulnDBConcurrent(t *testing.T) {
	dir := t.TempDir()
	writeDB(t, dir, testDBMeta, testModules, testEntries)
	srv := newCountingServer(t, dir)
	db, _ := OpenVulnDB(srv.URL, VulnOptions{MaxEntries: 2})
	ctx := context.Background()
	if err := db.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 20 {
				if (i+j)%7 == 0 {
					db.Refresh(ctx)
				}
				vs, err := db.Affecting(ctx, "example.com/vulnerable", "v1.3.1")
				if err != nil || len(vs) != 1 {
					t.Errorf("Affecting = %v, %v", vs, err)
					return
				}
				db.Affecting(ctx, "example.com/other", "v0.1.0")
				db.Affecting(ctx, "example.com/vulnerable/v2", "v2.0.0")
			}
		}()
	}
	wg.Wait()
}

// TestDirSourceFIFO: a database directory whose index/db.json is a FIFO
// fails its refresh at once. Before, the read blocked for ever.
func TestDirSourceFIFO(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "index"), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "index", "db.json"), 0o644); err != nil {
		t.Skip(err)
	}
	db, err := OpenVulnDB(dir, VulnOptions{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- db.Refresh(context.Background()) }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("a FIFO index/db.json was read")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the refresh blocked on a FIFO")
	}
}
