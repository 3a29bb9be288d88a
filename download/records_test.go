package download

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"gomodfetch/internal/modtest"
	"gomodfetch/retry"
	"gomodfetch/verify"
)

// TestRecords: a zip served after a 503 is recorded with its proxy, bytes
// and both attempts; the same module found in the cache by a later run is
// recorded as from the cache, with nothing received.
func TestRecords(t *testing.T) {
	mod := module.Version{Path: "example.com/m", Version: "v1.0.0"}
	gomod := "module example.com/m\n\ngo 1.21\n"
	zipData := modtest.Zip(t, mod, map[string]string{"go.mod": gomod, "m.go": "package m\n"})
	mh, err := verify.HashGoMod([]byte(gomod))
	if err != nil {
		t.Fatal(err)
	}
	sums := "example.com/m v1.0.0 " + modtest.MustHashZip(t, zipData) + "\nexample.com/m v1.0.0/go.mod " + mh + "\n"
	var zips atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/@v/v1.0.0.info"):
			w.Write([]byte(`{"Version":"v1.0.0","Time":"2024-01-01T00:00:00Z"}`))
		case strings.HasSuffix(r.URL.Path, "/@v/v1.0.0.mod"):
			w.Write([]byte(gomod))
		case strings.HasSuffix(r.URL.Path, "/@v/v1.0.0.zip"):
			if zips.Add(1) == 1 {
				http.Error(w, "try again", http.StatusServiceUnavailable)
				return
			}
			w.Write(zipData)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	f, cache := testFetcher(t, srv.URL, sums)
	f.cfg.Router.Policy = retry.Policy{MaxAttempts: 3, Initial: time.Millisecond, Max: time.Millisecond}
	if m := f.Download(context.Background(), mod); m.Error != "" {
		t.Fatal(m.Error)
	}
	recs := f.Records()
	if len(recs) != 1 {
		t.Fatalf("records %+v; want one", recs)
	}
	r := recs[0]
	if r.Path != mod.Path || r.Version != mod.Version || r.Source != srv.URL || r.Bytes != int64(len(zipData)) || r.Attempts != 2 || r.Duration <= 0 || r.Error != "" {
		t.Errorf("record %+v; want %s, %d bytes, 2 attempts", r, srv.URL, len(zipData))
	}

	warm, _ := testFetcher(t, srv.URL, sums)
	warm.cfg.Cache = cache
	if m := warm.Download(context.Background(), mod); m.Error != "" {
		t.Fatal(m.Error)
	}
	if recs := warm.Records(); len(recs) != 1 || recs[0].Source != "cache" || recs[0].Bytes != 0 || recs[0].Attempts != 0 {
		t.Errorf("records from a warm cache %+v; want one from the cache", recs)
	}
}
