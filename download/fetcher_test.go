package download

import (
	"archive/zip"
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"

	"gomodfetch/retry"
)

// TestDownloadConcurrentOrder checks that fetching .info, .mod and .zip at
// once keeps go's order of trust: when the .info or go.mod fails (missing,
// or not matching go.sum), a good zip that has already arrived must not
// land, and neither must anything else of the module.
func TestDownloadConcurrentOrder(t *testing.T) {
	mod := module.Version{Path: "example.com/m", Version: "v1.0.0"}
	gomod := "module example.com/m\n\ngo 1.21\n"
	zipData := makeZip(t, mod, map[string]string{"go.mod": gomod, "m.go": "package m\n"})
	zh := hashZipBytes(t, zipData)
	mh, err := HashGoMod([]byte(gomod))
	if err != nil {
		t.Fatal(err)
	}
	goodSums := "example.com/m v1.0.0 " + zh + "\nexample.com/m v1.0.0/go.mod " + mh + "\n"

	tests := []struct {
		name    string
		missing string // the file the proxy answers 404 for
		sums    string
		wantErr string // "" means success
	}{
		{name: "all good", sums: goodSums},
		{name: "info missing", missing: ".info", sums: goodSums, wantErr: "404 Not Found"},
		{name: "mod missing", missing: ".mod", sums: goodSums, wantErr: "404 Not Found"},
		{name: "go.mod mismatch", sums: "example.com/m v1.0.0 " + zh + "\nexample.com/m v1.0.0/go.mod h1:bad=\n", wantErr: "checksum mismatch"},
		{name: "zip mismatch", sums: "example.com/m v1.0.0 h1:bad=\nexample.com/m v1.0.0/go.mod " + mh + "\n", wantErr: "checksum mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The .info and .mod answers wait until the zip has been sent,
			// so a good zip is always there when they fail.
			zipSent := make(chan struct{})
			var once sync.Once
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !strings.HasSuffix(r.URL.Path, ".zip") {
					select {
					case <-zipSent:
					case <-time.After(10 * time.Second):
					}
				}
				if tt.missing != "" && strings.HasSuffix(r.URL.Path, tt.missing) {
					http.NotFound(w, r)
					return
				}
				switch {
				case strings.HasSuffix(r.URL.Path, "/@v/v1.0.0.info"):
					w.Write([]byte(`{"Version":"v1.0.0","Time":"2024-01-01T00:00:00Z"}`))
				case strings.HasSuffix(r.URL.Path, "/@v/v1.0.0.mod"):
					w.Write([]byte(gomod))
				case strings.HasSuffix(r.URL.Path, "/@v/v1.0.0.zip"):
					w.Write(zipData)
					once.Do(func() { close(zipSent) })
				default:
					http.NotFound(w, r)
				}
			}))
			defer srv.Close()
			proxies, err := ParseProxyList(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			sums, err := ParseSums("go.sum", []byte(tt.sums))
			if err != nil {
				t.Fatal(err)
			}
			cache := &Cache{Root: t.TempDir(), ReadWrite: true}
			f := New(Config{
				Cache:    cache,
				Proxies:  proxies,
				Client:   &Client{HTTP: NewHTTPClient(0, 0, 4)},
				Verifier: &Verifier{Sums: sums, SkipSumDB: func(string) bool { return true }},
				Policy:   retry.Policy{MaxAttempts: -1},
			})
			m := f.Download(context.Background(), mod)
			files := cacheFiles(t, cache.Root)
			if tt.wantErr == "" {
				if m.Error != "" {
					t.Fatalf("Download: %s", m.Error)
				}
				for _, want := range []string{"v1.0.0.info", "v1.0.0.mod", "v1.0.0.zip", "v1.0.0.ziphash", "example.com/m@v1.0.0/m.go"} {
					if !hasSuffix(files, want) {
						t.Errorf("cache lacks %s; has:\n%s", want, strings.Join(files, "\n"))
					}
				}
				return
			}
			if !strings.Contains(m.Error, tt.wantErr) {
				t.Fatalf("Download error = %q, want %q", m.Error, tt.wantErr)
			}
			for _, bad := range []string{".info", ".zip", ".ziphash", ".tmp", "m.go"} {
				if hasSuffix(files, bad) {
					t.Errorf("after a failure the cache holds a %s file:\n%s", bad, strings.Join(files, "\n"))
				}
			}
		})
	}
}

func makeZip(t *testing.T, mod module.Version, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range files {
		w, err := zw.Create(mod.Path + "@" + mod.Version + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(data))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func hashZipBytes(t *testing.T, data []byte) string {
	t.Helper()
	h, err := hashZipData(t, data)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// hashZipData is the go.sum hash of a zip held in memory, or why it has
// none.
func hashZipData(t *testing.T, data []byte) (string, error) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "m.zip")
	if err := os.WriteFile(file, data, 0o666); err != nil {
		t.Fatal(err)
	}
	return dirhash.HashZip(file, dirhash.DefaultHash)
}

func cacheFiles(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".lock") {
			files = append(files, filepath.ToSlash(p))
		}
		return nil
	})
	return files
}

func hasSuffix(files []string, suffix string) bool {
	for _, f := range files {
		if strings.HasSuffix(f, suffix) {
			return true
		}
	}
	return false
}
