package serve

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gomodfetch/internal/modtest"
)

// outsideFile is a file outside the cache, whose content must never be
// served.
func outsideFile(t *testing.T) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(f, []byte("SECRET outside the cache\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	return f
}

// plant replaces file by a symlink to target.
func plant(t *testing.T, file, target string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(file), 0o777)
	os.Remove(file)
	if err := os.Symlink(target, file); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
	return w.Code, w.Body.String()
}

// TestSymlinkedCacheFiles checks that a cache file replaced by a symlink
// to a file outside the cache is never served: offline it is not found;
// online a symlinked zip is fetched again and the true zip served.
func TestSymlinkedCacheFiles(t *testing.T) {
	st := newSetup(t, func(c *Config) { c.Prefetch = 0 })
	st.do(t, "GET", "/example.com/m/@v/v1.0.0.zip")
	st.do(t, "GET", "/example.com/m/@v/v1.0.0.mod")
	secret := outsideFile(t)
	dl := filepath.Join(st.cache.Root, "cache", "download")
	sumdbDir := filepath.Join(dl, "sumdb")
	configDir := t.TempDir()
	plant(t, filepath.Join(sumdbDir, "sum.example", "tile", "8", "0", "000"), secret)
	plant(t, filepath.Join(sumdbDir, "sum.example", "lookup", "example.com", "m@v1.0.0"), secret)
	plant(t, filepath.Join(configDir, "sum.example", "latest"), secret)
	plant(t, filepath.Join(dl, "example.com", "m", "@v", "v1.0.0.mod"), secret)
	plant(t, filepath.Join(dl, "example.com", "m", "@v", "v1.0.0.zip"), secret)
	plant(t, filepath.Join(dl, "example.com", "m", "@v", "list"), secret)

	off := New(Config{Cache: st.cache, Offline: true, SumDBName: "sum.example", SumDBCacheDir: sumdbDir, SumDBConfigDir: configDir})
	for _, p := range []string{
		"/example.com/m/@v/v1.0.0.zip",
		"/example.com/m/@v/v1.0.0.mod",
		"/example.com/m/@v/list",
		"/sumdb/sum.example/tile/8/0/000",
		"/sumdb/sum.example/lookup/example.com/m@v1.0.0",
		"/sumdb/sum.example/latest",
	} {
		code, body := get(t, off, p)
		if strings.Contains(body, "SECRET") || code != http.StatusNotFound {
			t.Errorf("offline %s = %d %q; want 404 without the outside file's content", p, code, body)
		}
	}
	_, metrics := get(t, off, "/metrics")
	if !strings.Contains(metrics, `gomodfetch_serve_damaged_total{what="zip"} 1`) {
		t.Errorf("the symlinked zip was not counted as damage")
	}

	// Online, the symlinked zip is replaced by the true one.
	code, body := get(t, st.s, "/example.com/m/@v/v1.0.0.zip")
	if code != 200 || body != string(st.up.zip) {
		t.Errorf("online zip = %d %q; want 200 and the true zip", code, body[:min(len(body), 40)])
	}
	code, body = get(t, st.s, "/example.com/m/@v/v1.0.0.mod")
	if code != 200 || body != st.up.gomod {
		t.Errorf("online mod = %d %q; want 200 and the true go.mod", code, body)
	}
	if data, _ := os.ReadFile(secret); string(data) != "SECRET outside the cache\n" {
		t.Errorf("the outside file was changed: %q", data)
	}
}

// TestTamperedCachedZip checks that a cached zip whose bytes were changed
// while its .ziphash was left is never served: online it is fetched again,
// offline it is not found and counted as damage, even when the change kept
// the zip's size and modification time (a zip already served once).
func TestTamperedCachedZip(t *testing.T) {
	st := newSetup(t, func(c *Config) { c.Prefetch = 0 })
	st.do(t, "GET", "/example.com/m/@v/v1.0.0.zip")
	zipfile, _, ok := st.cache.ZipHash(st.up.mod)
	if !ok {
		t.Fatal("the zip is not in the cache")
	}
	off := New(Config{Cache: st.cache, Offline: true})
	if code, _ := get(t, off, "/example.com/m/@v/v1.0.0.zip"); code != 200 {
		t.Fatalf("offline zip before the change = %d", code)
	}
	// Same size, same modification time, a file renamed (m.go to n.go).
	fi, err := os.Stat(zipfile)
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := os.ReadFile(zipfile)
	data := []byte(strings.ReplaceAll(string(orig), "@v1.0.0/m.go", "@v1.0.0/n.go"))
	if string(data) == string(orig) {
		t.Fatal("no m.go in the zip")
	}
	os.Chmod(zipfile, 0o666)
	time.Sleep(10 * time.Millisecond) // a change time the write can differ in
	if err := os.WriteFile(zipfile, data, 0o666); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(zipfile, fi.ModTime(), fi.ModTime())

	code, body := get(t, off, "/example.com/m/@v/v1.0.0.zip")
	if code != http.StatusNotFound || strings.Contains(body, "n.go") {
		t.Errorf("offline tampered zip = %d; want 404", code)
	}
	if _, metrics := get(t, off, "/metrics"); !strings.Contains(metrics, `gomodfetch_serve_damaged_total{what="zip"} 1`) {
		t.Errorf("the tampered zip was not counted as damage")
	}

	n := st.up.count("/example.com/m/@v/v1.0.0.zip")
	code, body = get(t, st.s, "/example.com/m/@v/v1.0.0.zip")
	if code != 200 || body != string(st.up.zip) {
		t.Errorf("online tampered zip = %d; want 200 and the true zip", code)
	}
	if got := st.up.count("/example.com/m/@v/v1.0.0.zip"); got != n+1 {
		t.Errorf("upstream asked for the zip %d times more; want 1", got-n)
	}
	if code, _ := get(t, off, "/example.com/m/@v/v1.0.0.zip"); code != 200 {
		t.Errorf("offline zip after the online repair = %d; want 200", code)
	}
}

// TestTamperedZipAndHash: a cached zip and .ziphash replaced to agree with
// each other, but not with the checksum database, are removed online and
// the zip fetched again (not answered 502 for ever).
func TestTamperedZipAndHash(t *testing.T) {
	st := newSetup(t, func(c *Config) { c.Prefetch = 0 })
	st.do(t, "GET", "/example.com/m/@v/v1.0.0.zip")
	zipfile, _, ok := st.cache.ZipHash(st.up.mod)
	if !ok {
		t.Fatal("the zip is not in the cache")
	}
	orig, _ := os.ReadFile(zipfile)
	data := []byte(strings.ReplaceAll(string(orig), "@v1.0.0/m.go", "@v1.0.0/n.go"))
	os.Chmod(zipfile, 0o666)
	if err := os.WriteFile(zipfile, data, 0o666); err != nil {
		t.Fatal(err)
	}
	h := modtest.MustHashZip(t, data)
	os.Chmod(zipfile+"hash", 0o666)
	if err := os.WriteFile(zipfile+"hash", []byte(h), 0o666); err != nil {
		t.Fatal(err)
	}
	// A server started on that cache, as after a restart.
	cfg := st.s.cfg
	cfg.Registry = nil
	s2 := New(cfg)
	n := st.up.count("/example.com/m/@v/v1.0.0.zip")
	code, body := get(t, s2, "/example.com/m/@v/v1.0.0.zip")
	if code != 200 || body != string(st.up.zip) {
		t.Errorf("online zip replaced with its .ziphash = %d; want 200 and the true zip", code)
	}
	if got := st.up.count("/example.com/m/@v/v1.0.0.zip"); got != n+1 {
		t.Errorf("upstream asked for the zip %d times more; want 1", got-n)
	}
	if got, _ := os.ReadFile(zipfile); string(got) != string(st.up.zip) {
		t.Errorf("the cache still holds the replaced zip")
	}
	s2.Wait()
}

// TestFetchedZipKnown: a zip the engine has just fetched, verified and
// written is known as checked by its file's identity, so the first
// request that serves it does not hash it again (a cold server's CPU went
// 40% to that second hash); one that was in the cache before is not
// known until hashed.
func TestFetchedZipKnown(t *testing.T) {
	st := newSetup(t, func(c *Config) { c.Prefetch = 0 })
	known := func() (string, bool) {
		fi, err := os.Stat(filepath.Join(st.cache.Root, "cache", "download", "example.com", "m", "@v", "v1.0.0.zip"))
		if err != nil {
			t.Fatal(err)
		}
		id, ok := identity(fi)
		if !ok {
			t.Skip("no file identity on this platform")
		}
		st.s.disk.mu.Lock()
		defer st.s.disk.mu.Unlock()
		h, ok := st.s.disk.zipsChecked[id]
		return h, ok
	}
	if resp, body := st.do(t, "GET", "/example.com/m/@v/v1.0.0.zip"); resp.StatusCode != 200 || body != string(st.up.zip) {
		t.Fatalf("zip = %d; want 200 and upstream's zip", resp.StatusCode)
	}
	if h, ok := known(); !ok || h != modtest.MustHashZip(t, st.up.zip) {
		t.Errorf("the fetched zip is known as %q, %v; want its hash", h, ok)
	}
	if n := st.s.disk.hashed.Load(); n != 0 {
		t.Errorf("the fetched zip was hashed again %d times before it was served; want 0", n)
	}

	// A server started over that cache has not hashed the file.
	st2 := New(Config{Cache: st.cache, Offline: true, SumDBName: "sum.example"})
	st2.disk.mu.Lock()
	n := len(st2.disk.zipsChecked)
	st2.disk.mu.Unlock()
	if n != 0 {
		t.Errorf("a new server knows %d zips before hashing any", n)
	}
	if code, body := get(t, st2, "/example.com/m/@v/v1.0.0.zip"); code != 200 || body != string(st.up.zip) {
		t.Errorf("offline zip = %d; want 200", code)
	}
	if n := st2.disk.hashed.Load(); n != 1 {
		t.Errorf("a new server hashed the cached zip %d times before serving it; want 1", n)
	}
}
