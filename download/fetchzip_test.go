package download

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"gomodfetch/internal/modtest"
	"gomodfetch/retry"
)

// moduleServer serves example.com/m v1.0.0 and a version list, counting
// requests by suffix.
func moduleServer(t *testing.T, counts map[string]*atomic.Int64) (*httptest.Server, module.Version) {
	t.Helper()
	mod := module.Version{Path: "example.com/m", Version: "v1.0.0"}
	gomod := "module example.com/m\n\ngo 1.21\n"
	zipData := modtest.Zip(t, mod, map[string]string{"go.mod": gomod, "m.go": "package m\n"})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for suffix, n := range counts {
			if strings.HasSuffix(r.URL.Path, suffix) {
				n.Add(1)
			}
		}
		switch r.URL.Path {
		case "/example.com/m/@v/list":
			w.Write([]byte("v1.0.0\n"))
		case "/example.com/m/@v/v1.0.0.info":
			w.Write([]byte(`{"Version":"v1.0.0","Time":"2024-01-01T00:00:00Z"}`))
		case "/example.com/m/@v/v1.0.0.mod":
			w.Write([]byte(gomod))
		case "/example.com/m/@v/v1.0.0.zip":
			w.Write(zipData)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, mod
}

// TestFetchZip checks that FetchZip leaves what a GOPROXY serves (.info,
// .mod, .zip, .ziphash) and no source tree, and that a later Download
// extracts from the cached zip without asking for it again.
func TestFetchZip(t *testing.T) {
	zips := new(atomic.Int64)
	srv, mod := moduleServer(t, map[string]*atomic.Int64{".zip": zips})
	f, cache := testFetcher(t, srv.URL, "")
	m := f.FetchZip(context.Background(), mod)
	if m == nil || m.Error != "" {
		t.Fatalf("FetchZip: %+v", m)
	}
	if m.Dir != "" || m.Zip == "" || !strings.HasPrefix(m.Sum, "h1:") {
		t.Errorf("FetchZip = %+v; want Zip and Sum, no Dir", m)
	}
	files := cacheFiles(t, cache.Root)
	for _, want := range []string{"v1.0.0.info", "v1.0.0.mod", "v1.0.0.zip", "v1.0.0.ziphash"} {
		if !hasSuffix(files, want) {
			t.Errorf("cache lacks %s; has:\n%s", want, strings.Join(files, "\n"))
		}
	}
	if hasSuffix(files, "m.go") || hasSuffix(files, ".partial") {
		t.Errorf("FetchZip extracted:\n%s", strings.Join(files, "\n"))
	}
	// Again: from the cache.
	if m := f.FetchZip(context.Background(), mod); m == nil || m.Error != "" {
		t.Fatalf("second FetchZip: %+v", m)
	}
	d := f.Download(context.Background(), mod)
	if d.Error != "" || d.Dir == "" {
		t.Fatalf("Download after FetchZip: %+v", d)
	}
	if _, err := os.Stat(d.Dir + "/m.go"); err != nil {
		t.Error(err)
	}
	if n := zips.Load(); n != 1 {
		t.Errorf("zip requested %d times; want 1", n)
	}
}

// TestForgetAnswers checks that with Config.ForgetAnswers a version list is
// asked again on each call (a server's list must not go stale), while
// without it the run's answer is kept.
func TestForgetAnswers(t *testing.T) {
	for _, forget := range []bool{false, true} {
		lists := new(atomic.Int64)
		srv, mod := moduleServer(t, map[string]*atomic.Int64{"/list": lists})
		f, _ := testFetcher(t, srv.URL, "")
		f = New(Config{Cache: f.cfg.Cache, Router: f.cfg.Router, Verifier: f.cfg.Verifier, ForgetAnswers: forget})
		for range 3 {
			if _, err := f.Versions(context.Background(), mod.Path); err != nil {
				t.Fatal(err)
			}
		}
		want := int64(1)
		if forget {
			want = 3
		}
		if n := lists.Load(); n != want {
			t.Errorf("ForgetAnswers=%v: list asked %d times; want %d", forget, n, want)
		}
	}
}

// TestFetchZipDamaged checks that FetchZip (no extraction) asks again
// for a zip that arrives damaged (bytes flipped on the way: it does not
// open or inflate), as Download does, instead of failing at once.
func TestFetchZipDamaged(t *testing.T) {
	mod := module.Version{Path: "example.com/m", Version: "v1.0.0"}
	gomod := "module example.com/m\n\ngo 1.21\n"
	// Data that deflate cannot shrink, so that the middle of the zip is
	// compressed data.
	filler := make([]byte, 32<<10)
	rand.NewChaCha8([32]byte{1}).Read(filler)
	zipData := modtest.Zip(t, mod, map[string]string{"go.mod": gomod, "m.go": "package m\n// " + hex.EncodeToString(filler) + "\n"})
	for _, damage := range []struct {
		name string
		at   func(n int) int // the first byte flipped, of n
	}{
		{"central directory", func(n int) int { return n - 40 }},
		{"compressed data", func(n int) int { return n / 2 }},
	} {
		t.Run(damage.name, func(t *testing.T) {
			var zips atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/example.com/m/@v/v1.0.0.info":
					w.Write([]byte(`{"Version":"v1.0.0","Time":"2024-01-01T00:00:00Z"}`))
				case "/example.com/m/@v/v1.0.0.mod":
					w.Write([]byte(gomod))
				case "/example.com/m/@v/v1.0.0.zip":
					body := bytes.Clone(zipData)
					if zips.Add(1) == 1 {
						for i := damage.at(len(body)); i < damage.at(len(body))+16; i++ {
							body[i] ^= 0x5a
						}
					}
					w.Write(body)
				default:
					http.NotFound(w, r)
				}
			}))
			defer srv.Close()
			f, _ := testFetcher(t, srv.URL, "")
			f.cfg.Router.Policy = retry.Policy{Initial: time.Millisecond, Max: time.Millisecond, MaxAttempts: 3}
			m := f.FetchZip(context.Background(), mod)
			if m == nil || m.Error != "" || m.Zip == "" {
				t.Fatalf("FetchZip: %+v", m)
			}
			if n := zips.Load(); n != 2 {
				t.Errorf("zip requested %d times; want 2 (the damaged answer, then a good one)", n)
			}
		})
	}
}

// TestFetchZipHashSlot checks that FetchZip hashes a downloaded zip in one
// of the Config.Extractions slots, as unpacking does: hashing inflates
// every file, and a server that hashes every zip at once leaves no CPU to
// its clients. While the test holds the only slot, FetchZip does not
// finish; once it is given back, it does.
func TestFetchZipHashSlot(t *testing.T) {
	srv, mod := moduleServer(t, map[string]*atomic.Int64{})
	f, cache := testFetcher(t, srv.URL, "")
	f.extract = newSizeSlots(1)
	if err := f.extract.acquire(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	done := make(chan *Module, 1)
	go func() { done <- f.FetchZip(context.Background(), mod) }()
	select {
	case m := <-done:
		t.Fatalf("FetchZip finished while the only extraction slot was held: %+v", m)
	case <-time.After(300 * time.Millisecond):
	}
	if hasSuffix(cacheFiles(t, cache.Root), "v1.0.0.ziphash") {
		t.Fatal("the zip was committed while the only extraction slot was held")
	}
	f.extract.release()
	select {
	case m := <-done:
		if m == nil || m.Error != "" {
			t.Fatalf("FetchZip: %+v", m)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("FetchZip did not finish once the extraction slot was free")
	}
	// A run cancelled while it waits for the slot ends with its context.
	other := module.Version{Path: mod.Path, Version: "v1.0.0"}
	f2, _ := testFetcher(t, srv.URL, "")
	f2.extract = newSizeSlots(1)
	f2.extract.acquire(context.Background(), 0)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- f2.FetchZip(ctx, other) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case m := <-done:
		if m == nil || m.Error == "" {
			t.Fatalf("FetchZip cancelled while waiting for a slot: %+v; want an error", m)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("FetchZip did not end when its context was cancelled while it waited for a slot")
	}
}

// TestGoModUnvouchedDamage checks that a go.mod nothing vouches for (no
// go.sum line, no checksum database) that does not parse is taken for
// damage on the way and asked again, as a hash mismatch would be: its
// hash would otherwise be recorded and stand (serve's first-hash record,
// go.sum). The same bytes served twice are the proxy's go.mod, as go
// takes them.
func TestGoModUnvouchedDamage(t *testing.T) {
	good := "module example.com/m\n\ngo 1.21\n\nrequire example.com/dep v1.0.0\n"
	bad := []byte(good)
	copy(bad[len(bad)-22:], "p40;#u7?75(#z,j") // what the fault proxy's corrupt does
	for _, tc := range []struct {
		name  string
		serve []string // the answers, in turn (the last one again after)
		want  string
		asked int
	}{
		{"damaged once", []string{string(bad), good}, good, 2},
		{"always the same", []string{string(bad)}, string(bad), 2},
		{"parses", []string{good}, good, 1},
		// Damage in a quoted path: it parses.
		{"damaged path", []string{"module \"gopkg.in/yaml.v2\"\n\nrequire (\n\t\"=5*1=t34u92?91t,1\" v0.0.0-20161208181325-20d25e280405\n)\n", "module \"gopkg.in/yaml.v2\"\n\nrequire (\n\t\"gopkg.in/check.v1\" v0.0.0-20161208181325-20d25e280405\n)\n"}, "module \"gopkg.in/yaml.v2\"\n\nrequire (\n\t\"gopkg.in/check.v1\" v0.0.0-20161208181325-20d25e280405\n)\n", 2},
		// Damage in a replace line: ParseLax ignores it, Parse does not.
		{"damaged replace", []string{good + "replace example.com/dep?)zgdzttuttu34.?rnal/dep/\n", good + "replace example.com/dep => ../dep/\n"}, good + "replace example.com/dep => ../dep/\n", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/example.com/m/@v/v1.0.0.mod" {
					http.NotFound(w, r)
					return
				}
				i := int(n.Add(1)) - 1
				w.Write([]byte(tc.serve[min(i, len(tc.serve)-1)]))
			}))
			defer srv.Close()
			f, _ := testFetcher(t, srv.URL, "")
			f.cfg.Router.Policy = retry.Policy{Initial: time.Millisecond, Max: time.Millisecond, MaxAttempts: 5}
			data, err := f.GoMod(context.Background(), module.Version{Path: "example.com/m", Version: "v1.0.0"})
			if err != nil {
				t.Fatalf("GoMod: %v", err)
			}
			if string(data) != tc.want {
				t.Errorf("GoMod = %q; want %q", data, tc.want)
			}
			if got := n.Load(); got != int64(tc.asked) {
				t.Errorf("asked %d times; want %d", got, tc.asked)
			}
		})
	}
}

// TestGoModUnvouchedLarge checks what a go.mod nothing vouches for costs
// when it is large (up to 16 MiB may be served; real ones are under 100
// KiB): it is not parsed to judge its form (a strict parse of 16 MiB costs
// about a second of CPU and 400 MiB of allocation, once per attempt, and
// anyone can publish one), but is taken only when the same bytes come
// twice, as a malformed one is: damage on the way is still refused.
func TestGoModUnvouchedLarge(t *testing.T) {
	var b strings.Builder
	b.WriteString("module example.com/m\n\ngo 1.21\n\nrequire (\n")
	for i := 0; b.Len() < 12<<20; i++ {
		fmt.Fprintf(&b, "\texample.com/dep%d v1.0.%d\n", i, i%100)
	}
	b.WriteString(")\n")
	good := []byte(b.String())
	damaged := bytes.Clone(good)
	damaged[len(damaged)/2] ^= 0x20
	for _, tc := range []struct {
		name  string
		serve [][]byte // the answers, in turn (the last one again after)
		asked int
	}{
		{"the same bytes", [][]byte{good}, 2},
		{"damaged once", [][]byte{damaged, good}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/example.com/m/@v/v1.0.0.mod" {
					http.NotFound(w, r)
					return
				}
				i := int(n.Add(1)) - 1
				w.Write(tc.serve[min(i, len(tc.serve)-1)])
			}))
			defer srv.Close()
			f, _ := testFetcher(t, srv.URL, "")
			f.cfg.Router.Policy = retry.Policy{Initial: time.Millisecond, Max: time.Millisecond, MaxAttempts: 5}
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			data, err := f.GoMod(context.Background(), module.Version{Path: "example.com/m", Version: "v1.0.0"})
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatalf("GoMod: %v", err)
			}
			if !bytes.Equal(data, good) {
				t.Errorf("GoMod returned other bytes than the go.mod served twice")
			}
			if got := n.Load(); got != int64(tc.asked) {
				t.Errorf("asked %d times; want %d", got, tc.asked)
			}
			// Each answer is read, hashed and compared (the server's
			// writes count too): a few times its size, not the parse's
			// twenty-odd.
			if alloc, limit := after.TotalAlloc-before.TotalAlloc, uint64(tc.asked)*6*uint64(len(good)); alloc > limit {
				t.Errorf("GoMod allocated %d MiB for a %d MiB go.mod asked %d times; want at most %d MiB", alloc>>20, len(good)>>20, tc.asked, limit>>20)
			}
		})
	}
}

// TestFetchZipWaitedFirst checks that a zip someone waits on (Waited) is
// hashed before one no one does yet that waits for a slot too: a server's
// client goes before its prefetches.
func TestFetchZipWaitedFirst(t *testing.T) {
	mods := []module.Version{{Path: "example.com/a", Version: "v1.0.0"}, {Path: "example.com/b", Version: "v1.0.0"}}
	files := map[string][]byte{}
	for _, m := range mods {
		gomod := "module " + m.Path + "\n\ngo 1.21\n"
		files["/"+m.Path+"/@v/v1.0.0.info"] = []byte(`{"Version":"v1.0.0","Time":"2024-01-01T00:00:00Z"}`)
		files["/"+m.Path+"/@v/v1.0.0.mod"] = []byte(gomod)
		files["/"+m.Path+"/@v/v1.0.0.zip"] = modtest.Zip(t, m, map[string]string{"go.mod": gomod, "x.go": "package x\n"})
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	}))
	defer srv.Close()
	f, _ := testFetcher(t, srv.URL, "")
	f.extract = newSizeSlots(1)
	f.extract.acquire(context.Background(), 0)
	done := make(chan string, 2)
	fetch := func(ctx context.Context, m module.Version) {
		if r := f.FetchZip(ctx, m); r == nil || r.Error != "" {
			t.Errorf("FetchZip %s: %+v", m, r)
		}
		done <- m.Path
	}
	// a, no one waiting, queues first; then b, waited on.
	go fetch(context.Background(), mods[0])
	waitQueued := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(time.Millisecond) {
			f.extract.mu.Lock()
			q := len(f.extract.waiting)
			f.extract.mu.Unlock()
			if q >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d zips waiting for the slot; want %d", q, n)
			}
		}
	}
	waitQueued(1)
	f.extract.mu.Lock()
	aSeq := f.extract.waiting[0].seq
	f.extract.mu.Unlock()
	go fetch(Waited(context.Background(), func() bool { return true }), mods[1])
	waitQueued(2)
	// b, waited on, waits with the higher order: the slot goes to it
	// first (the slots hand themselves on largest first, then in order
	// of arrival).
	f.extract.mu.Lock()
	orders := map[string]int64{}
	for _, w := range f.extract.waiting {
		name := "b"
		if w.seq == aSeq {
			name = "a"
		}
		orders[name] = w.size
	}
	top := f.extract.waiting[0].seq
	f.extract.mu.Unlock()
	if orders["b"] <= orders["a"] || top == aSeq {
		t.Errorf("waiting for the slot: orders %v, a first: %v; want b (waited on) before a", orders, top == aSeq)
	}
	f.extract.release()
	<-done
	<-done
}

// TestFetchZipWaitedLate checks that a zip a client starts waiting on
// while its hash already waits for a slot (serve: a client joins the
// prefetch's flight) goes before the zips no one waits on: the order is
// read when a slot is handed on, not only when the zip queued. Before, it
// kept its place behind every prefetch, and behind every zip a client
// waited on from the start, however many came after it.
func TestFetchZipWaitedLate(t *testing.T) {
	mods := []module.Version{{Path: "example.com/a", Version: "v1.0.0"}, {Path: "example.com/b", Version: "v1.0.0"}}
	files := map[string][]byte{}
	for _, m := range mods {
		gomod := "module " + m.Path + "\n\ngo 1.21\n"
		files["/"+m.Path+"/@v/v1.0.0.info"] = []byte(`{"Version":"v1.0.0","Time":"2024-01-01T00:00:00Z"}`)
		files["/"+m.Path+"/@v/v1.0.0.mod"] = []byte(gomod)
		files["/"+m.Path+"/@v/v1.0.0.zip"] = modtest.Zip(t, m, map[string]string{"go.mod": gomod, "x.go": "package x\n"})
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	}))
	defer srv.Close()
	f, _ := testFetcher(t, srv.URL, "")
	f.extract = newSizeSlots(1)
	f.extract.acquire(context.Background(), 0)
	done := make(chan string, 2)
	fetch := func(ctx context.Context, m module.Version) {
		if r := f.FetchZip(ctx, m); r == nil || r.Error != "" {
			t.Errorf("FetchZip %s: %+v", m, r)
		}
		done <- m.Path
	}
	waitQueued := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(time.Millisecond) {
			f.extract.mu.Lock()
			q := len(f.extract.waiting)
			f.extract.mu.Unlock()
			if q >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d zips waiting for the slot; want %d", q, n)
			}
		}
	}
	// a, no one waiting, queues first; then b, no one waiting yet.
	go fetch(context.Background(), mods[0])
	waitQueued(1)
	f.extract.mu.Lock()
	aSeq := f.extract.waiting[0].seq
	f.extract.mu.Unlock()
	var bWaited atomic.Bool
	go fetch(Waited(context.Background(), bWaited.Load), mods[1])
	waitQueued(2)
	// A client starts waiting on b; then one more job a client waits on
	// (the test's own, order 1) queues behind it.
	bWaited.Store(true)
	mine := make(chan struct{})
	go func() {
		if err := f.extract.acquire(context.Background(), 1); err != nil {
			t.Error(err)
		}
		close(mine)
	}()
	waitQueued(3)
	// The slot goes to b, then to the test's job: a, no one waiting on it,
	// is left waiting while the test holds the slot.
	f.extract.release()
	select {
	case <-mine:
	case <-time.After(20 * time.Second):
		t.Fatal("the test's job never got the slot")
	}
	f.extract.mu.Lock()
	var left []int64
	for _, w := range f.extract.waiting {
		left = append(left, w.seq)
	}
	f.extract.mu.Unlock()
	if len(left) != 1 || left[0] != aSeq {
		t.Errorf("while a job queued after b holds the slot, waiting: %v; want a alone (seq %d): b, waited on, goes first", left, aSeq)
	}
	f.extract.release()
	<-done
	<-done
}
