package serve

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSmallFilesBound: the in-memory .info/.mod answers stay within
// smallFilesMax bytes, whatever is put; an entry over smallFileMax is not
// kept; a kept entry is returned as put.
func TestSmallFilesBound(t *testing.T) {
	var c smallFiles
	data := []byte(strings.Repeat("m", smallFileMax))
	n := 2 * smallFilesMax / smallFileMax
	for i := range n {
		c.put(fmt.Sprintf("mod example.com/m%d@v1.0.0", i), data)
		if c.bytes > smallFilesMax {
			t.Fatalf("after %d puts: %d bytes kept; want at most %d", i+1, c.bytes, smallFilesMax)
		}
	}
	if len(c.m) == 0 || len(c.m) >= n {
		t.Errorf("%d entries kept of %d; want some, not all", len(c.m), n)
	}
	c.put("mod example.com/big@v1.0.0", make([]byte, smallFileMax+1))
	if _, ok := c.get("mod example.com/big@v1.0.0"); ok {
		t.Errorf("an entry over smallFileMax was kept")
	}
	c.put("info example.com/x@v1.0.0", []byte("x"))
	if got, ok := c.get("info example.com/x@v1.0.0"); !ok || string(got) != "x" {
		t.Errorf("get = %q, %v; want the bytes put", got, ok)
	}
}

// TestSmallFilesServeVerified: once served, a .mod and a .info are
// answered from memory: the bytes verified, even when the cached files
// are changed afterwards (the change is not served).
func TestSmallFilesServeVerified(t *testing.T) {
	st := newSetup(t, func(c *Config) { c.Prefetch = 0 })
	_, mod := st.do(t, "GET", "/example.com/m/@v/v1.0.0.mod")
	st.do(t, "GET", "/example.com/m/@v/v1.0.0.info")            // fetched upstream
	_, info := st.do(t, "GET", "/example.com/m/@v/v1.0.0.info") // read from the cache
	if mod != st.up.gomod {
		t.Fatalf("first .mod = %q; want upstream's", mod)
	}
	dir := filepath.Join(st.cache.Root, "cache", "download", "example.com", "m", "@v")
	for f, data := range map[string]string{
		"v1.0.0.mod":  "module example.com/m // TAMPERED\n",
		"v1.0.0.info": `{"Version":"v1.0.0","Time":"2000-01-01T00:00:00Z"}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(data), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	if _, got := st.do(t, "GET", "/example.com/m/@v/v1.0.0.mod"); got != mod {
		t.Errorf(".mod after the cached file changed = %q; want the bytes verified, %q", got, mod)
	}
	if _, got := st.do(t, "GET", "/example.com/m/@v/v1.0.0.info"); got != info {
		t.Errorf(".info after the cached file changed = %q; want %q", got, info)
	}
}
