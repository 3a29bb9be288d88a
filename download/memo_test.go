package download

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"gomodfetch/internal/modtest"
	"gomodfetch/verify"
)

// TestAnswersKeptForTheRun: a question asked twice in a run is asked of the
// proxy once, even when the calls do not overlap (a version list, a
// revision's .info); a transient failure is not kept.
func TestAnswersKeptForTheRun(t *testing.T) {
	var lists, stats, flaky atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/example.com/m/@v/list":
			lists.Add(1)
			w.Write([]byte("v1.0.0\nv1.1.0\n"))
		case "/example.com/m/@v/main.info":
			stats.Add(1)
			w.Write([]byte(`{"Version":"v1.1.0","Time":"2024-01-01T00:00:00Z"}`))
		case "/example.com/flaky/@v/list":
			if flaky.Add(1) == 1 {
				http.Error(w, "try later", http.StatusServiceUnavailable)
				return
			}
			w.Write([]byte("v0.1.0\n"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	f, _ := testFetcher(t, srv.URL, "")
	ctx := context.Background()
	for range 3 {
		if list, err := f.Versions(ctx, "example.com/m"); err != nil || len(list) != 2 {
			t.Fatalf("Versions = %v, %v", list, err)
		}
		if v, _, err := f.Stat(ctx, "example.com/m", "main"); err != nil || v != "v1.1.0" {
			t.Fatalf("Stat = %v, %v", v, err)
		}
	}
	if lists.Load() != 1 || stats.Load() != 1 {
		t.Errorf("asked the proxy %d times for the list and %d times for the revision; want once each", lists.Load(), stats.Load())
	}
	if _, err := f.Versions(ctx, "example.com/flaky"); err == nil {
		t.Fatalf("first list of the flaky module succeeded; the proxy answered 503")
	}
	if list, err := f.Versions(ctx, "example.com/flaky"); err != nil || len(list) != 1 {
		t.Errorf("a transient failure was kept for the run: second Versions = %v, %v", list, err)
	}
}

// TestJoinedDownloadKeepsEachDecision: a download that one caller has
// started speculatively (its keep says no) and another joins (it wants the
// module) is committed for the second, and the first gets nil.
func TestJoinedDownloadKeepsEachDecision(t *testing.T) {
	mod := module.Version{Path: "example.com/m", Version: "v1.0.0"}
	gomod := "module example.com/m\n\ngo 1.21\n"
	zipData := modtest.Zip(t, mod, map[string]string{"go.mod": gomod, "m.go": "package m\n"})
	mh, err := verify.HashGoMod([]byte(gomod))
	if err != nil {
		t.Fatal(err)
	}
	sums := "example.com/m v1.0.0 " + modtest.MustHashZip(t, zipData) + "\nexample.com/m v1.0.0/go.mod " + mh + "\n"
	release := make(chan struct{})
	var zipAsked sync.Once
	asked := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, ".info"):
			w.Write([]byte(`{"Version":"v1.0.0","Time":"2024-01-01T00:00:00Z"}`))
		case strings.HasSuffix(r.URL.Path, ".mod"):
			w.Write([]byte(gomod))
		case strings.HasSuffix(r.URL.Path, ".zip"):
			zipAsked.Do(func() { close(asked) })
			<-release
			w.Write(zipData)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	f, cache := testFetcher(t, srv.URL, sums)
	ctx := context.Background()

	first := make(chan *Module)
	go func() { first <- f.DownloadIf(ctx, mod, func() bool { return false }) }()
	<-asked
	second := make(chan *Module)
	go func() { second <- f.Download(ctx, mod) }()
	// Let the second caller join before the zip arrives.
	deadline := time.Now().Add(10 * time.Second)
	for f.fetches.callers(mod) < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(release)
	if m := <-first; m != nil {
		t.Errorf("the caller whose keep said no got %+v; want nil", m)
	}
	m := <-second
	if m == nil || m.Error != "" || m.Dir == "" {
		t.Fatalf("the caller that wants the module got %+v; want it downloaded", m)
	}
	if !cache.Complete(mod) {
		t.Errorf("the module is not complete in the cache")
	}
}

// callers returns how many callers have joined mod's download under way.
func (fs *fetches) callers(mod module.Version) int {
	fs.mu.Lock()
	call := fs.calls[mod]
	fs.mu.Unlock()
	if call == nil {
		return 0
	}
	call.mu.Lock()
	defer call.mu.Unlock()
	return len(call.keeps)
}
