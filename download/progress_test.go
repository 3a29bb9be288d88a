package download

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/module"
)

// TestProgress holds one module's download inside the proxy while another
// fails, and checks what a progress display would see at each step.
func TestProgress(t *testing.T) {
	// The fetcher asks for the slow module's .info, .mod and .zip at once:
	// the first of them to arrive signals, and all of them are held.
	arrived := make(chan struct{})
	var arrivedOnce sync.Once
	release := make(chan struct{})
	var releaseOnce sync.Once
	releaseAll := func() { releaseOnce.Do(func() { close(release) }) }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// .info, .mod and .zip are asked at once: each is held.
		if strings.HasPrefix(r.URL.Path, "/example.com/slow/") {
			arrivedOnce.Do(func() { close(arrived) })
			<-release
		}
		http.Error(w, "not found", http.StatusNotFound)
	}))
	defer srv.Close()
	// Runs before srv.Close (which waits for the held handlers), also when
	// the test stops early.
	defer releaseAll()
	f, _ := testFetcher(t, srv.URL, "")
	if p := f.Progress(); p.Started != 0 || p.Finished != 0 || len(p.InFlight) != 0 {
		t.Fatalf("before any download: %+v", p)
	}

	slow := module.Version{Path: "example.com/slow", Version: "v1.0.0"}
	done := make(chan *Module, 1)
	go func() { done <- f.Download(context.Background(), slow) }()
	<-arrived

	if m := f.Download(context.Background(), module.Version{Path: "example.com/gone", Version: "v1.0.0"}); m.Error == "" {
		t.Fatalf("download of a module the proxy does not have succeeded")
	}
	p := f.Progress()
	if p.Started != 2 || p.Finished != 1 || p.Failed != 1 {
		t.Errorf("while one download is held: started %d, finished %d, failed %d; want 2, 1, 1", p.Started, p.Finished, p.Failed)
	}
	if len(p.InFlight) != 1 || p.InFlight[0].Mod != slow || p.InFlight[0].Start.IsZero() {
		t.Errorf("in flight: %+v; want only %v with its start time", p.InFlight, slow)
	}
	if p.Requests < 2 {
		t.Errorf("requests: %d; want at least 2", p.Requests)
	}

	releaseAll()
	<-done
	p = f.Progress()
	if p.Started != 2 || p.Finished != 2 || len(p.InFlight) != 0 {
		t.Errorf("after both: started %d, finished %d, in flight %v; want 2, 2, none", p.Started, p.Finished, p.InFlight)
	}
}
