package download

import (
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

	"gomodfetch/internal/modtest"
	"gomodfetch/modcache"
	"gomodfetch/proxy"
	"gomodfetch/retry"
	"gomodfetch/verify"
)

// TestDownloadConcurrentOrder checks that fetching .info, .mod and .zip at
// once keeps go's order of trust: when the .info or go.mod fails (missing,
// or not matching go.sum), a good zip that has already arrived must not
// land, and neither must anything else of the module.
func TestDownloadConcurrentOrder(t *testing.T) {
	mod := module.Version{Path: "example.com/m", Version: "v1.0.0"}
	gomod := "module example.com/m\n\ngo 1.21\n"
	zipData := modtest.Zip(t, mod, map[string]string{"go.mod": gomod, "m.go": "package m\n"})
	zh := modtest.MustHashZip(t, zipData)
	mh, err := verify.HashGoMod([]byte(gomod))
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
			f, cache := testFetcher(t, srv.URL, tt.sums)
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

// testFetcher returns a Fetcher on a fresh cache that asks the proxy at
// goproxy once per request (no retries), trusting the go.sum lines in sums
// and skipping the checksum database.
func testFetcher(t *testing.T, goproxy, sums string) (*Fetcher, *modcache.Cache) {
	t.Helper()
	proxies, err := proxy.ParseList(goproxy)
	if err != nil {
		t.Fatal(err)
	}
	s, err := verify.ParseSums("go.sum", []byte(sums))
	if err != nil {
		t.Fatal(err)
	}
	cache := &modcache.Cache{Root: t.TempDir(), ReadWrite: true}
	f := New(Config{
		Cache: cache,
		Router: &proxy.Router{
			Proxies: proxies,
			Client:  &proxy.Client{HTTP: proxy.NewHTTPClient(0, 0, 4)},
			Policy:  retry.Policy{MaxAttempts: -1},
		},
		Verifier: &verify.Verifier{Sums: s, SkipSumDB: func(string) bool { return true }},
	})
	return f, cache
}
