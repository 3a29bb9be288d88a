package policy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// A disk cache makes a second process's run (a new VulnDB on the same
// directory) read only index/db.json when the database did not change,
// and what changed when it did; an entry edited in the cache to look
// older than the index says is read again.
func TestVulnDBDiskCache(t *testing.T) {
	dir := t.TempDir()
	writeDB(t, dir, testDBMeta, testModules, testEntries)
	srv := newCountingServer(t, dir)
	cacheDir := t.TempDir()
	ctx := context.Background()
	run := func() *VulnDB {
		t.Helper()
		db, err := OpenVulnDB(srv.URL, VulnOptions{CacheDir: cacheDir})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		vs, err := db.Affecting(ctx, "example.com/vulnerable", "v1.0.0")
		if err != nil || len(vs) != 1 {
			t.Fatalf("Affecting = %v, %v", vs, err)
		}
		return db
	}

	run()
	if c := srv.take(); !reflect.DeepEqual(c, map[string]int{"/index/db.json": 1, "/index/modules.json": 1, "/ID/GO-2026-0001.json": 1, "/ID/GO-2026-0003.json": 1}) {
		t.Errorf("first run asked %v", c)
	}
	run()
	if c := srv.take(); !reflect.DeepEqual(c, map[string]int{"/index/db.json": 1}) {
		t.Errorf("second run, nothing changed, asked %v", c)
	}

	// One entry changes, and the index with it.
	changed := strings.Replace(testEntries["GO-2026-0001"], `{"fixed": "1.2.4"}`, `{"fixed": "1.2.5"}`, 1)
	changed = strings.Replace(changed, `"modified": "2026-03-01T00:00:00Z"`, `"modified": "2026-04-01T00:00:00Z"`, 1)
	modules := strings.Replace(testModules, `{"id": "GO-2026-0001", "modified": "2026-03-01T00:00:00Z"`, `{"id": "GO-2026-0001", "modified": "2026-04-01T00:00:00Z"`, 1)
	writeDB(t, dir, `{"modified": "2026-04-01T00:00:00Z"}`, modules, map[string]string{"GO-2026-0001": changed})
	db := run()
	if c := srv.take(); !reflect.DeepEqual(c, map[string]int{"/index/db.json": 1, "/index/modules.json": 1, "/ID/GO-2026-0001.json": 1}) {
		t.Errorf("run after a change asked %v", c)
	}
	if vs, _ := db.Affecting(ctx, "example.com/vulnerable", "v1.2.4"); !reflect.DeepEqual(ids(vs), []string{"GO-2026-0001@v1.2.5"}) {
		t.Errorf("after change: %v", ids(vs))
	}

	// The database is down: no run passes on the cache alone.
	srv.mu.Lock()
	srv.fail = true
	srv.mu.Unlock()
	db2, _ := OpenVulnDB(srv.URL, VulnOptions{CacheDir: cacheDir})
	if err := db2.Refresh(ctx); err == nil {
		t.Error("refresh with the database down and a cache: no error")
	}
	srv.mu.Lock()
	srv.fail = false
	srv.mu.Unlock()
	srv.take()

	// A cached entry older than the index says is not used.
	matches, _ := filepath.Glob(filepath.Join(cacheDir, "*", "ID", "GO-2026-0001.json"))
	if len(matches) != 1 {
		t.Fatalf("cached entry: %v", matches)
	}
	if err := os.WriteFile(matches[0], []byte(testEntries["GO-2026-0001"]), 0o644); err != nil {
		t.Fatal(err)
	}
	run()
	if c := srv.take(); !reflect.DeepEqual(c, map[string]int{"/index/db.json": 1, "/ID/GO-2026-0001.json": 1}) {
		t.Errorf("run with a stale cached entry asked %v", c)
	}
}

// The cache is bounded: prune keeps the most recently used entries.
func TestVulnDBDiskCachePrune(t *testing.T) {
	c := &diskCache{dir: t.TempDir()}
	for i := range maxCachedEntryFiles + 3 {
		if err := c.store(fmt.Sprintf("ID/GO-2026-%05d.json", i), []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	c.prune()
	des, err := os.ReadDir(filepath.Join(c.dir, "ID"))
	if err != nil {
		t.Fatal(err)
	}
	if len(des) != maxCachedEntryFiles {
		t.Errorf("after prune: %d entries, want %d", len(des), maxCachedEntryFiles)
	}
}
