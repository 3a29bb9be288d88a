package serve

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"golang.org/x/mod/module"

	"gomodfetch/internal/modtest"
)

// Tests of the bounds on what clients can make the server spend. None
// measures time: each waits (up to waitLimit) for a state the bound must
// bring about, or checks what upstream was asked.

const waitLimit = 20 * time.Second

// waitFor polls cond until it holds, failing the test after waitLimit.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// value reads a counter's or gauge's value.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	switch {
	case d.Counter != nil:
		return d.Counter.GetValue()
	case d.Gauge != nil:
		return d.Gauge.GetValue()
	}
	t.Fatalf("not a counter or gauge: %v", m.Desc())
	return 0
}

// from returns an HTTP client whose connections come from the loopback
// address ip (all of 127.0.0.0/8 is loopback), as if from another host.
func from(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: false}}
}

// fetchURL asks url with hc and returns the status (0 for a transport
// error) and body.
func fetchURL(ctx context.Context, hc *http.Client, url string) (int, string) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return 0, err.Error()
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// hangUpstream makes the setup's upstream hold every request whose path
// has prefix until the request is cancelled (or the test ends), counting
// them.
func hangUpstream(t *testing.T, st *setup, prefix string) *atomic.Int64 {
	var n atomic.Int64
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	st.up.mu.Lock()
	st.up.extra = func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, prefix) {
			return false
		}
		n.Add(1)
		select {
		case <-r.Context().Done():
		case <-done:
		}
		return true
	}
	st.up.mu.Unlock()
	return &n
}

// bigZip puts a zip of about size bytes (stored, incompressible) for mod
// in the cache, with its .ziphash, and returns its length.
func bigZip(t *testing.T, st *setup, mod module.Version, size int) int {
	t.Helper()
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{1}).Read(data)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, content := range map[string][]byte{"go.mod": []byte("module " + mod.Path + "\n"), "blob.bin": data} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: mod.String() + "/" + name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(content)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	file, err := st.cache.File(mod, "zip")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file+"hash", []byte(modtest.MustHashZip(t, buf.Bytes())), 0o666); err != nil {
		t.Fatal(err)
	}
	return buf.Len()
}

// TestWriteTimeout: a client that asks for a large zip and never reads it
// is cut once it has not taken a chunk within the write timeout, and the
// cut is counted; before, it held its connection, a file and the kernel's
// buffers for as long as it liked. Through Serve too, where the
// connection bounds wrap each connection and the zip goes out with the
// connection's ReadFrom (sendfile) under the same timeout.
func TestWriteTimeout(t *testing.T) {
	for _, viaServe := range []bool{false, true} {
		t.Run(fmt.Sprintf("Serve=%v", viaServe), func(t *testing.T) {
			st := newSetup(t, func(c *Config) { c.Offline = true; c.WriteTimeout = 300 * time.Millisecond })
			mod := module.Version{Path: "example.com/big", Version: "v1.0.0"}
			size := bigZip(t, st, mod, 12<<20) // far more than the socket buffers hold
			addr := strings.TrimPrefix(st.srv.URL, "http://")
			if viaServe {
				addr = serveListener(t, st)
			}

			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.(*net.TCPConn).SetReadBuffer(16 << 10) // no autotuning of the window
			fmt.Fprintf(conn, "GET /example.com/big/@v/v1.0.0.zip HTTP/1.1\r\nHost: x\r\n\r\n")
			cut := st.s.metrics.limited.WithLabelValues("write-timeout")
			waitFor(t, "the stalled reader to be cut", func() bool { return value(t, cut) == 1 })

			// What the client gets when it reads at last is short, then the end.
			conn.SetReadDeadline(time.Now().Add(waitLimit))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			if err == nil || n >= int64(size) {
				t.Errorf("the cut client read %d of %d bytes, then %v; want fewer and an error", n, size, err)
			}

			// A client that reads gets the whole zip under the same timeout.
			code, body := fetchURL(context.Background(), http.DefaultClient, "http://"+addr+"/example.com/big/@v/v1.0.0.zip")
			if code != 200 || len(body) != size {
				t.Errorf("a reading client got %d with %d bytes; want 200 with %d", code, len(body), size)
			}
		})
	}
}

// TestLimitedConnReadFrom: a counted connection passes ReadFrom on to the
// connection under it when it has one (a TCP connection: sendfile), and
// copies otherwise; the bytes arrive whole either way.
func TestLimitedConnReadFrom(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, data, 0o666); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, tcp := range []bool{true, false} {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		srv, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		under := srv
		if !tcp {
			under = struct{ net.Conn }{srv} // hides the TCP connection's ReadFrom
		}
		lc := &limitedConn{Conn: under}
		got := make(chan []byte)
		go func() {
			b, _ := io.ReadAll(c)
			got <- b
		}()
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		n, err := lc.ReadFrom(f)
		f.Close()
		srv.Close()
		if b := <-got; err != nil || n != int64(len(data)) || !bytes.Equal(b, data) {
			t.Errorf("tcp=%v: ReadFrom sent %d bytes (%v), the reader got %d; want %d, the same bytes", tcp, n, err, len(b), len(data))
		}
		c.Close()
	}
}

// serveListener runs st's Server with Serve (the connection bounds) on a
// listener of its own and returns its address.
func serveListener(t *testing.T, st *setup) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go st.s.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		st.s.Shutdown(ctx)
	})
	return l.Addr().String()
}

// rawConn opens a connection from ip that has started a request and not
// finished it (not idle: the server is reading its headers).
func rawConn(t *testing.T, addr, ip string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	io.WriteString(c, "GET /healthz HTTP/1.1\r\n")
	return c
}

// refused reports whether conn was answered 503 and closed.
func refused(t *testing.T, c net.Conn) (bool, string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(waitLimit))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return false, err.Error()
	}
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == 503 && resp.Header.Get("Retry-After") != "", string(body)
}

// TestConnLimits: the open connections are bounded per client address and
// in all; a connection past a bound first closes an idle one in its way,
// else it is answered 503 with Retry-After and a text/plain reason.
func TestConnLimits(t *testing.T) {
	st := newSetup(t, func(c *Config) { c.MaxConns = 3; c.MaxConnsPerClient = 2 })
	addr := serveListener(t, st)

	rawConn(t, addr, "127.0.0.1")
	rawConn(t, addr, "127.0.0.1")
	conns := func(st *setup, state string) float64 { return value(t, st.s.metrics.conns.WithLabelValues(state)) }
	waitFor(t, "two connections counted", func() bool { return conns(st, "new") == 2 })
	third := rawConn(t, addr, "127.0.0.1")
	if ok, body := refused(t, third); !ok || !strings.Contains(body, "from your address") {
		t.Errorf("a third connection from one address: refused=%v %q; want 503 naming the address", ok, body)
	}
	// Another address still gets in, up to the total.
	rawConn(t, addr, "127.0.0.2")
	waitFor(t, "three connections counted", func() bool { return conns(st, "new") == 3 })
	// At the total, an address holding two more connections than the
	// newcomer's gives up its oldest silent one (none has sent a request):
	// a few addresses cannot lock everyone else out.
	rawConn(t, addr, "127.0.0.3")
	waitFor(t, "a silent connection of 127.0.0.1 evicted for 127.0.0.3", func() bool {
		return value(t, st.s.metrics.connsEvicted.WithLabelValues("total")) == 1 && conns(st, "new") == 3
	})
	// Now every address holds one: past the total, a newcomer is refused.
	fifth := rawConn(t, addr, "127.0.0.6")
	if ok, body := refused(t, fifth); !ok || !strings.Contains(body, "too many open connections") {
		t.Errorf("a connection past the total: refused=%v %q; want 503", ok, body)
	}
	if a, b := value(t, st.s.metrics.connsRefused.WithLabelValues("per-client")), value(t, st.s.metrics.connsRefused.WithLabelValues("total")); a != 1 || b != 1 {
		t.Errorf("refusals counted: per-client %v, total %v; want 1 and 1", a, b)
	}

	// An idle kept-alive connection makes room: a client of 127.0.0.4
	// that finished a request keeps its connection idle; at the total, a
	// new connection closes it instead of being refused.
	st2 := newSetup(t, func(c *Config) { c.MaxConns = 1; c.MaxConnsPerClient = 1 })
	addr2 := serveListener(t, st2)
	hc := from("127.0.0.4")
	if code, _ := fetchURL(context.Background(), hc, "http://"+addr2+"/healthz"); code != 200 {
		t.Fatalf("healthz = %d", code)
	}
	waitFor(t, "the idle connection", func() bool { return conns(st2, "idle") == 1 })
	if code, body := fetchURL(context.Background(), from("127.0.0.5"), "http://"+addr2+"/healthz"); code != 200 {
		t.Errorf("a new client past the total while one connection was idle: %d %q; want 200", code, body)
	}
	if n := value(t, st2.s.metrics.connsEvicted.WithLabelValues("total")); n != 1 {
		t.Errorf("evictions counted: %v; want 1", n)
	}
	// The evicted client's next request opens a new connection, in place
	// of the other client's, idle by then.
	waitFor(t, "the other client's connection idle", func() bool { return conns(st2, "idle") == 1 })
	if code, body := fetchURL(context.Background(), hc, "http://"+addr2+"/healthz"); code != 200 {
		t.Errorf("the evicted client's next request: %d %q; want 200", code, body)
	}
}

// manyRequires is an unpruned go.mod (its requirements' go.mod files are
// read by the client) that requires n modules upstream does not have.
func manyRequires(n int) string {
	var b strings.Builder
	b.WriteString("module example.com/m\n\ngo 1.16\n\nrequire (\n")
	for i := range n {
		fmt.Fprintf(&b, "\texample.com/dep%d v1.0.0\n", i)
	}
	b.WriteString(")\n")
	return b.String()
}

// TestPrefetchBudget: one request for a go.mod that requires 300 modules
// sets off at most -prefetch-per-client prefetches (the rest wait for the
// client to ask for those), and asking again (the not-found memory
// expired) sets off none: the client owes those it never asked for, and
// what was prefetched lately is skipped. Before, it cost 300 upstream
// requests, and 300 more each time.
func TestPrefetchBudget(t *testing.T) {
	st := newSetup(t, func(c *Config) {
		c.Prefetch = 4
		c.PrefetchPerClient = 8
		c.NotFoundTTL = time.Millisecond
	})
	st.up.gomod = manyRequires(300)
	// The checksum database vouches for the new go.mod.
	hashUpstreamGoMod(t, st)
	deps := func() int {
		n := 0
		for _, r := range st.up.requests() {
			if strings.HasPrefix(r, "/example.com/dep") {
				n++
			}
		}
		return n
	}
	for round := range 3 {
		if code, body := fetchURL(context.Background(), http.DefaultClient, st.srv.URL+"/example.com/m/@v/v1.0.0.mod"); code != 200 {
			t.Fatalf("round %d: .mod = %d %q", round, code, body)
		}
		st.s.Wait()
		time.Sleep(2 * time.Millisecond) // the not-found memory expires
	}
	// go.mod files have a window of 4 × -prefetch-per-client, and four
	// more for the one go.mod the client read (read again, it counts once).
	if n := deps(); n == 0 || n > 36 {
		t.Errorf("upstream was asked %d times for requirements; want 1 to 36: %v", n, st.up.requests())
	}
	if n := value(t, st.s.metrics.prefetch.WithLabelValues("deferred")); n != 300-36 {
		t.Errorf("deferred = %v; want the %d beyond the go.mod window", n, 300-36)
	}
}

// TestPrefetchWindow: prefetching runs -prefetch-per-client requests
// ahead of a client, not -prefetch-per-client requests in all. A client
// that reads a go.mod requiring 40 modules and then asks for them in
// order finds each of the first 20+k prefetched once it has asked for k
// (the window of go.mod files is 4 × -prefetch-per-client, and four more
// for each go.mod the client read: the one so far). Each go.mod it then
// reads, one that nothing predicted (a main module's requirement), widens
// the window by four (readCredit), and as many more start at once.
// Before, the 5th and later were never prefetched: a go command reads a
// whole graph before it asks for the first zip, so most of a real
// project's zips were fetched only when it asked. And a client reading its
// main module's requirements, which settle nothing it owes, held the walk
// of an unpruned graph 256 go.mod files ahead (terraform through serve
// under faults: 285 of 835 reads waited on upstream).
func TestPrefetchWindow(t *testing.T) {
	st := newSetup(t, func(c *Config) {
		c.Prefetch = 2
		c.PrefetchPerClient = 4
	})
	st.up.gomod = manyRequires(60)
	hashUpstreamGoMod(t, st)
	addModules(t, st, map[string]string{
		"example.com/x": "module example.com/x\n\ngo 1.21\n",
		"example.com/y": "module example.com/y\n\ngo 1.21\n",
	})
	asked := func() map[string]int {
		n := map[string]int{}
		for _, r := range st.up.requests() {
			if p, ok := strings.CutPrefix(r, "/example.com/"); ok && strings.HasPrefix(p, "dep") {
				n[strings.SplitN(p, "/", 2)[0]]++
			}
		}
		return n
	}
	inOrder := func(when string, want int) {
		t.Helper()
		got := asked()
		if len(got) != want {
			t.Fatalf("%s, upstream was asked for %d requirements; want %d: %v", when, len(got), want, got)
		}
		for i := range want {
			if got[fmt.Sprintf("dep%d", i)] != 1 {
				t.Fatalf("%s: dep%d asked upstream %d times; want once (prefetched in order): %v", when, i, got[fmt.Sprintf("dep%d", i)], got)
			}
		}
	}
	if code, body := fetchURL(context.Background(), http.DefaultClient, st.srv.URL+"/example.com/m/@v/v1.0.0.mod"); code != 200 {
		t.Fatalf(".mod = %d %q", code, body)
	}
	st.s.Wait()
	inOrder("before the client asked for any requirement", 20)
	for k := range 10 {
		// Not found upstream (and remembered): each answers 404.
		fetchURL(context.Background(), http.DefaultClient, fmt.Sprintf("%s/example.com/dep%d/@v/v1.0.0.mod", st.srv.URL, k))
		st.s.Wait()
		inOrder(fmt.Sprintf("after the client asked for %d requirements", k+1), 20+k+1)
	}
	for i, path := range []string{"example.com/x", "example.com/y"} {
		if code, body := fetchURL(context.Background(), http.DefaultClient, st.srv.URL+"/"+path+"/@v/v1.0.0.mod"); code != 200 {
			t.Fatalf("%s .mod = %d %q", path, code, body)
		}
		st.s.Wait()
		inOrder(fmt.Sprintf("after the client read %d more go.mod files", i+1), 30+4*(i+1))
	}
	// Read again, a go.mod widens nothing.
	fetchURL(context.Background(), http.DefaultClient, st.srv.URL+"/example.com/x/@v/v1.0.0.mod")
	st.s.Wait()
	inOrder("after the client read a go.mod again", 38)
}

// hashUpstreamGoMod makes the fake checksum database vouch for the
// upstream's current go.mod of example.com/m.
func hashUpstreamGoMod(t *testing.T, st *setup) {
	t.Helper()
	db := st.db
	h := goModHash(t, st.up.gomod)
	for i, l := range db.lines {
		if strings.HasPrefix(l, "example.com/m v1.0.0/go.mod ") {
			db.lines[i] = "example.com/m v1.0.0/go.mod " + h
		}
	}
}

// TestPrefetchLeavesRoom: prefetches hold at most their share of the
// upstream places; a client's miss is answered while every prefetch hangs.
// Before, prefetches took the places client requests needed.
func TestPrefetchLeavesRoom(t *testing.T) {
	st := newSetup(t, func(c *Config) { c.Prefetch = 8; c.MaxUpstream = 2; c.PrefetchPerClient = 64 })
	st.up.gomod = manyRequires(20)
	hashUpstreamGoMod(t, st)
	hung := hangUpstream(t, st, "/example.com/dep")
	if code, _ := fetchURL(context.Background(), http.DefaultClient, st.srv.URL+"/example.com/m/@v/v1.0.0.mod"); code != 200 {
		t.Fatalf(".mod = %d", code)
	}
	waitFor(t, "a prefetch to hang", func() bool { return hung.Load() >= 1 })
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if code, body := fetchURL(ctx, http.DefaultClient, st.srv.URL+"/example.com/m/@v/v1.0.0.info"); code != 200 {
		t.Errorf("a client's miss while prefetches hang: %d %q; want 200", code, body)
	}
	if n := hung.Load(); n != 1 {
		t.Errorf("%d prefetch requests got upstream at once; want 1 (half of -upstream 2)", n)
	}
}

// TestAbandoned: a request whose client goes away while its upstream hangs
// stops holding upstream capacity. With no prefetch slot free its fetch is
// cancelled, and an unrelated miss is answered at once; with one free, the
// fetch carries on in it. Before, abandoned requests held every place for
// minutes and the unrelated miss got no answer.
func TestAbandoned(t *testing.T) {
	for _, tc := range []struct {
		name     string
		prefetch int
		result   string
	}{
		{"cancelled", -1, "cancelled"},
		{"carried on", 1, "prefetched"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newSetup(t, func(c *Config) { c.MaxUpstream = 2; c.ClientUpstream = 2; c.Prefetch = tc.prefetch })
			hung := hangUpstream(t, st, "/example.com/hang")
			var wg sync.WaitGroup
			for i := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					go func() {
						for hung.Load() < 2 {
							time.Sleep(time.Millisecond)
						}
						cancel()
					}()
					fetchURL(ctx, http.DefaultClient, fmt.Sprintf("%s/example.com/hang%d/@v/v1.0.0.info", st.srv.URL, i))
				}()
			}
			wg.Wait()
			ab := st.s.metrics.abandoned.WithLabelValues(tc.result)
			waitFor(t, "the abandoned fetches to be dealt with", func() bool { return value(t, ab) >= 1 })
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			if code, body := fetchURL(ctx, http.DefaultClient, st.srv.URL+"/example.com/m/@v/v1.0.0.info"); code != 200 {
				t.Errorf("an unrelated miss after two abandoned requests: %d %q; want 200", code, body)
			}
		})
	}
}

// TestNoPlaceDuringBackoff: an upstream request gives its place back
// while its operation waits to retry, so with one place an unrelated miss
// goes upstream between the failing operation's attempts. Before, the
// place was held across the backoff and every retry.
func TestNoPlaceDuringBackoff(t *testing.T) {
	st := newSetup(t, func(c *Config) { c.MaxUpstream = 1; c.ClientUpstream = 2; c.FailureTTL = -1 })
	st.router.Policy.MaxAttempts = 2
	st.router.Policy.Initial, st.router.Policy.Max = 3*time.Second, 3*time.Second
	st.up.mu.Lock()
	st.up.fail["/example.com/flaky/@v/v1.0.0.info"] = 503
	st.up.mu.Unlock()
	go fetchURL(context.Background(), http.DefaultClient, st.srv.URL+"/example.com/flaky/@v/v1.0.0.info")
	waitFor(t, "the first attempt", func() bool { return st.up.count("/example.com/flaky/@v/v1.0.0.info") == 1 })
	if code, body := fetchURL(context.Background(), http.DefaultClient, st.srv.URL+"/example.com/m/@v/v1.0.0.info"); code != 200 {
		t.Fatalf("unrelated miss: %d %q", code, body)
	}
	if n := st.up.count("/example.com/flaky/@v/v1.0.0.info"); n != 1 {
		t.Errorf("the unrelated miss was answered after %d attempts of the failing one; want after its first (during its backoff)", n)
	}
}

// TestClientUpstream: a client with -client-upstream fetches in flight
// waits for one of its own, while another client's miss goes through.
func TestClientUpstream(t *testing.T) {
	st := newSetup(t, func(c *Config) { c.MaxUpstream = 8; c.ClientUpstream = 1 })
	hung := hangUpstream(t, st, "/example.com/hang")
	greedy := from("127.0.0.7")
	go fetchURL(context.Background(), greedy, st.srv.URL+"/example.com/hang0/@v/v1.0.0.info")
	waitFor(t, "the greedy client's first fetch", func() bool { return hung.Load() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	fetchURL(ctx, greedy, st.srv.URL+"/example.com/hang1/@v/v1.0.0.info")
	if n := hung.Load(); n != 1 {
		t.Errorf("the greedy client's second fetch went upstream (%d requests); want it to wait", n)
	}
	if n := value(t, st.s.metrics.limited.WithLabelValues("client-upstream")); n != 1 {
		t.Errorf("client-upstream waits counted: %v; want 1", n)
	}
	if code, body := fetchURL(context.Background(), from("127.0.0.8"), st.srv.URL+"/example.com/m/@v/v1.0.0.info"); code != 200 {
		t.Errorf("another client's miss: %d %q; want 200", code, body)
	}
}

// TestUpstreamDeadline: an upstream that never answers costs a client
// -upstream-timeout, answered 504, not the retries' sum of header timeouts.
func TestUpstreamDeadline(t *testing.T) {
	st := newSetup(t, func(c *Config) { c.UpstreamTimeout = 200 * time.Millisecond })
	hangUpstream(t, st, "/example.com/hang")
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	code, body := fetchURL(ctx, http.DefaultClient, st.srv.URL+"/example.com/hang/@v/v1.0.0.info")
	if code != 504 || !strings.Contains(body, "no answer from upstream within 200ms") {
		t.Errorf("hanging upstream: %d %q; want 504 naming the deadline", code, body)
	}
}

// TestFailureShared: an upstream failure is one operation for every
// client asking at once, and is remembered briefly: a burst of 20 clients,
// then 20 more, cost upstream one operation (its attempts), not one each.
func TestFailureShared(t *testing.T) {
	st := newSetup(t, func(c *Config) { c.FailureTTL = time.Minute })
	const path = "/example.com/broken/@v/v1.0.0.info"
	st.up.mu.Lock()
	st.up.fail[path] = 500
	st.up.mu.Unlock()
	for range 2 {
		var wg sync.WaitGroup
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if code, _ := fetchURL(context.Background(), http.DefaultClient, st.srv.URL+path); code != 502 {
					t.Errorf("broken path = %d; want 502", code)
				}
			}()
		}
		wg.Wait()
	}
	if n, max := st.up.count(path), st.router.Policy.MaxAttempts; n > max {
		t.Errorf("upstream asked %d times; want at most %d (one operation)", n, max)
	}
	if n := value(t, st.s.metrics.rememberedFailures); n < 1 {
		t.Errorf("remembered failures counted: %v", n)
	}
}

// TestStaleAfter: a version list or @latest the cache can answer is not
// held for the whole -list-timeout by an upstream that does not answer:
// past StaleAfter the cache's answer is served, marked stale.
func TestStaleAfter(t *testing.T) {
	st := newSetup(t, func(c *Config) {
		c.ListTimeout = time.Minute
		c.StaleAfter = 200 * time.Millisecond
	})
	st.do(t, "GET", "/example.com/m/@v/v1.0.0.mod")
	st.do(t, "GET", "/example.com/m/@v/v1.0.0.info")
	hangUpstream(t, st, "/example.com/m/@")
	hc := &http.Client{Timeout: 20 * time.Second} // well inside ListTimeout
	for _, path := range []string{"/example.com/m/@v/list", "/example.com/m/@latest"} {
		resp, err := hc.Get(st.srv.URL + path)
		if err != nil {
			t.Fatalf("%s: %v (waited for upstream instead of serving the cache's answer)", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("X-Gomodfetch-Stale") != "1" || !strings.Contains(string(body), "v1.0.0") {
			t.Errorf("%s = %d %q stale=%q; want the cache's answer, marked stale", path, resp.StatusCode, body, resp.Header.Get("X-Gomodfetch-Stale"))
		}
	}
}

// TestAbsentSurvivesRestart: upstream's "not found" for an exact version
// is kept below the cache and answered by the next server on that cache
// without asking upstream; a version list's is not; a log someone else
// wrote is read as untrusted.
func TestAbsentSurvivesRestart(t *testing.T) {
	st := newSetup(t, func(c *Config) { c.NotFoundTTL = -1 })
	for _, p := range []string{"/example.com/nope/@v/v1.0.0.info", "/example.com/nope/@v/v1.0.0.mod", "/example.com/nope/@v/list"} {
		if resp, _ := st.do(t, "GET", p); resp.StatusCode != 404 {
			t.Fatalf("%s: %d; want 404", p, resp.StatusCode)
		}
	}
	st.s.Wait()
	log, err := os.ReadFile(filepath.Join(st.cache.Root, "cache", "gomodfetch", "serve-absent.log"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(log), "\n"); n != 2 {
		t.Errorf("log holds %d lines; want 2 (the .info and the .mod):\n%s", n, log)
	}
	// Lines a careless or hostile writer added: none may take effect.
	now := time.Now().Unix()
	junk := fmt.Sprintf("garbage\n%d\tmod example.com/m@v1.0.0\tfrom the future\n%d\tmod example.com/m@v1.0.0\tlong expired\n%d\tlist example.com/m\tnot an exact version\n%d\tmod example.com/m@master\tnot canonical\n",
		now+3600, now-24*3600, now, now)
	f, err := os.OpenFile(filepath.Join(st.cache.Root, "cache", "gomodfetch", "serve-absent.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(junk)
	f.Close()

	// A new server on the same cache, as after a restart.
	cfg := st.s.cfg
	cfg.Registry = nil
	s2 := New(cfg)
	srv2 := httptest.NewServer(s2)
	defer srv2.Close()
	before := len(st.up.requests())
	for path, want := range map[string]int{
		"/example.com/nope/@v/v1.0.0.info": 404,
		"/example.com/nope/@v/v1.0.0.mod":  404,
		"/example.com/m/@v/v1.0.0.mod":     200,
	} {
		resp, err := http.Get(srv2.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("after restart, %s: %d; want %d", path, resp.StatusCode, want)
		}
	}
	if got := st.up.requests()[before:]; len(got) != 1 || got[0] != "/example.com/m/@v/v1.0.0.mod" {
		t.Errorf("after restart upstream was asked %q; want only example.com/m's .mod", got)
	}
	if n := value(t, s2.metrics.rememberedAbsent); n != 2 {
		t.Errorf("remembered_absent_total = %v; want 2", n)
	}
	s2.Wait()

	// A log that is a symlink is not followed (nor written through).
	outside := filepath.Join(t.TempDir(), "outside")
	os.WriteFile(outside, log, 0o666)
	logPath := filepath.Join(st.cache.Root, "cache", "gomodfetch", "serve-absent.log")
	os.Remove(logPath)
	if err := os.Symlink(outside, logPath); err != nil {
		t.Fatal(err)
	}
	s3 := New(cfg)
	srv3 := httptest.NewServer(s3)
	defer srv3.Close()
	before = len(st.up.requests())
	resp, err := http.Get(srv3.URL + "/example.com/nope/@v/v1.0.0.info")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := len(st.up.requests()) - before; resp.StatusCode != 404 || n != 1 {
		t.Errorf("with a symlinked log: %d after %d upstream requests; want 404 after 1 (the log not read)", resp.StatusCode, n)
	}
	s3.Wait()
	if data, _ := os.ReadFile(outside); !bytes.Equal(data, log) {
		t.Errorf("the symlink's target was written through")
	}
}

// TestShutdownLeavesNoTemp: a zip download cut by the server's shutdown
// leaves no temporary file in the cache.
func TestShutdownLeavesNoTemp(t *testing.T) {
	st := newSetup(t, nil)
	started := make(chan struct{}, 1)
	st.up.mu.Lock()
	st.up.extra = func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, ".zip") {
			return false
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(st.up.zip)))
		w.Write(st.up.zip[:len(st.up.zip)/2])
		w.(http.Flusher).Flush()
		select {
		case started <- struct{}{}:
		default:
		}
		<-r.Context().Done()
		return true
	}
	st.up.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", st.srv.URL+"/example.com/m/@v/v1.0.0.zip", nil)
	go func() {
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	select {
	case <-started:
	case <-ctx.Done():
		t.Fatal("the zip download did not start")
	}
	temps := func() []string {
		var left []string
		filepath.WalkDir(st.cache.Root, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && (strings.Contains(d.Name(), ".tmp") || strings.HasSuffix(d.Name(), ".partial")) {
				left = append(left, path)
			}
			return nil
		})
		return left
	}
	// The half zip is in a temporary file while the download waits.
	waitFor(t, "a temporary zip in the cache", func() bool { return len(temps()) > 0 })
	st.stop()
	st.s.Wait()
	if left := temps(); len(left) > 0 {
		t.Errorf("left in the cache after shutdown: %q", left)
	}
}

// TestShutdownDrains: during a shutdown the request in flight finishes,
// while new requests (and /healthz) are answered 503 with Connection:
// close; once nothing is in flight the listener closes.
func TestShutdownDrains(t *testing.T) {
	st := newSetup(t, nil)
	st.up.mu.Lock()
	st.up.zipDelay = make(chan struct{})
	st.up.mu.Unlock()
	addr := serveListener(t, st)
	hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	inFlight := make(chan int, 1)
	go func() {
		code, _ := fetchURL(context.Background(), hc, "http://"+addr+"/example.com/m/@v/v1.0.0.zip")
		inFlight <- code
	}()
	waitFor(t, "the zip asked upstream", func() bool { return st.up.count("/example.com/m/@v/v1.0.0.zip") > 0 })
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		shut <- st.s.Shutdown(ctx)
	}()
	waitFor(t, "draining", st.s.draining.Load)
	for _, path := range []string{"/healthz", "/example.com/m/@v/v1.0.0.mod"} {
		resp, err := hc.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("%s during the drain: %v; want 503", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 503 || !resp.Close || !strings.Contains(string(body), "shutting down") {
			t.Errorf("%s during the drain = %d %q (close=%v); want 503 \"shutting down\", Connection: close", path, resp.StatusCode, body, resp.Close)
		}
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) with a request in flight", err)
	default:
	}
	close(st.up.zipDelay)
	if code := <-inFlight; code != 200 {
		t.Errorf("the request in flight got %d; want 200", code)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if _, err := net.DialTimeout("tcp", addr, 5*time.Second); err == nil {
		t.Errorf("a connection after the drain was accepted")
	}
}

// TestBodyNeverSent: a request that announces a body and never sends it
// is answered at once and its connection closed; it does not hold the
// connection while net/http waits for the body.
func TestBodyNeverSent(t *testing.T) {
	st := newSetup(t, nil)
	addr := serveListener(t, st)
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /example.com/m/@v/v1.0.0.mod HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second)) // the answer and the close are immediate
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a request whose body never comes: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 || !resp.Close {
		t.Errorf("got %d (close=%v); want 400 and the connection closed", resp.StatusCode, resp.Close)
	}
	// The server closed it: the next read ends.
	var buf [1]byte
	if _, err := c.Read(buf[:]); err == nil {
		t.Errorf("the connection stayed open")
	}
}

// TestManyRanges: a request for thousands of ranges gets the whole file
// (200), not a multipart answer far larger than it; a single range is
// served as asked.
func TestManyRanges(t *testing.T) {
	st := newSetup(t, nil)
	st.do(t, "GET", "/example.com/m/@v/v1.0.0.zip")
	var b strings.Builder
	b.WriteString("bytes=0-0")
	for i := 1; i < 2000; i++ {
		fmt.Fprintf(&b, ",%d-%d", i%50, i%50)
	}
	resp, body := st.do(t, "GET", "/example.com/m/@v/v1.0.0.zip", "Range", b.String())
	if resp.StatusCode != 200 || body != string(st.up.zip) {
		t.Errorf("2000 ranges: %d, %d bytes; want 200 and the whole zip (%d bytes)", resp.StatusCode, len(body), len(st.up.zip))
	}
	resp, body = st.do(t, "GET", "/example.com/m/@v/v1.0.0.zip", "Range", "bytes=0-9")
	if resp.StatusCode != 206 || body != string(st.up.zip[:10]) {
		t.Errorf("one range: %d %q", resp.StatusCode, body)
	}
}

// TestUpstream4xx: an upstream refusal (400, 403, 451) keeps its status and
// a one-line message, as go would have shown it asking upstream itself;
// 429 becomes 503 with Retry-After; another 4xx is 502; 404/410 are 404.
func TestUpstream4xx(t *testing.T) {
	for _, tc := range []struct {
		upstream, want int
	}{{400, 400}, {403, 403}, {451, 451}, {429, 503}, {418, 502}, {404, 404}, {410, 404}} {
		st := newSetup(t, func(c *Config) { c.FailureTTL = -1 })
		st.up.mu.Lock()
		st.up.fail["/example.com/m/@v/v1.0.0.info"] = tc.upstream
		st.up.mu.Unlock()
		resp, body := st.do(t, "GET", "/example.com/m/@v/v1.0.0.info")
		if resp.StatusCode != tc.want {
			t.Errorf("upstream %d: serve answered %d; want %d", tc.upstream, resp.StatusCode, tc.want)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") || strings.Count(body, "\n") != 1 {
			t.Errorf("upstream %d: body %q (%s); want one text/plain line", tc.upstream, body, ct)
		}
		if tc.want == tc.upstream && tc.want != 404 && !strings.Contains(body, fmt.Sprintf("upstream answered %d", tc.upstream)) {
			t.Errorf("upstream %d: body %q does not pass its answer on", tc.upstream, body)
		}
		if tc.upstream == 429 && resp.Header.Get("Retry-After") == "" {
			t.Errorf("upstream 429: no Retry-After")
		}
	}
}

// TestPrefetchBuildList: a client that reads an unpruned graph (two
// versions of a path read unpredicted) gets, when its download starts,
// the zips of the highest version of each path it read, in path order,
// within its window; a client whose reads look pruned gets none. Going
// past a path (asking for a later one's zip) forgives what it owed before
// it. Before, an unpruned project's zips of modules read only for the
// graph were never prefetched (hugo: 222 of 275 waited for upstream).
// TestNoteReadRaised: a read raises its path's version when it is the
// highest of the path the client read so far; a lower one read later, or
// the same again, does not (prefetchFor brings the .info of a predicted
// read only when it raised: the build list's versions, and few others).
func TestNoteReadRaised(t *testing.T) {
	p := newPrefetcher(1, 1)
	v := func(p, v string) module.Version { return module.Version{Path: "example.com/" + p, Version: v} }
	for _, c := range []struct {
		mod  module.Version
		want bool
	}{
		{v("a", "v1.1.0"), true},
		{v("a", "v1.0.0"), false},
		{v("a", "v1.1.0"), false},
		{v("a", "v1.2.0"), true},
		{v("b", "v0.1.0"), true},
	} {
		if _, _, raised := p.noteRead("c", c.mod, true, true); raised != c.want {
			t.Errorf("read %v: raised = %v; want %v", c.mod, raised, c.want)
		}
	}
}

func TestPrefetchBuildList(t *testing.T) {
	st := newSetup(t, func(c *Config) {
		c.Prefetch = 2
		c.PrefetchPerClient = 3
	})
	zips := func() []string {
		// The zips prefetched (started or queued): what upstream sees
		// stops at the .info these modules do not have.
		var got []string
		st.s.prefetcher.recent.each(func(key string, _ struct{}, _ time.Time) {
			if m, ok := zipKeyModule(key); ok {
				got = append(got, strings.TrimPrefix(m.String(), "example.com/"))
			}
		})
		sort.Strings(got)
		return got
	}
	v := func(p, v string) module.Version { return module.Version{Path: "example.com/" + p, Version: v} }
	p := st.s.prefetcher
	// Looks pruned: one version of each path read unpredicted.
	p.noteRead("pruned", v("a", "v1.0.0"), false, true)
	p.noteRead("pruned", v("b", "v1.0.0"), true, true)
	p.noteRead("pruned", v("b", "v1.1.0"), true, true)
	st.s.downloadStarted("pruned")
	st.s.Wait()
	if got := zips(); len(got) != 0 {
		t.Fatalf("a client whose graph looks pruned: zips prefetched %v; want none", got)
	}

	p.noteRead("c", v("a", "v1.0.0"), false, true)
	p.noteRead("c", v("a", "v1.1.0"), false, true)
	p.noteRead("c", v("b", "v1.2.0"), true, true)
	p.noteRead("c", v("b", "v1.1.0"), true, true)
	for _, n := range []string{"c", "d", "e", "f", "g"} {
		p.noteRead("c", v(n, "v0.1.0"), true, true)
	}
	st.s.downloadStarted("c")
	st.s.Wait()
	if got, want := zips(), []string{"a@v1.1.0", "b@v1.2.0", "c@v0.1.0"}; !slices.Equal(got, want) {
		t.Fatalf("when the download started, zips prefetched %v; want the first 3 of the build list %v", got, want)
	}
	// Every .info of the build list at once, outside the window: the
	// go command asks for them all before the first zip.
	var infos []string
	for _, r := range st.up.requests() {
		if p, ok := strings.CutSuffix(strings.TrimPrefix(r, "/example.com/"), ".info"); ok {
			infos = append(infos, strings.Replace(p, "/@v/", "@", 1))
		}
	}
	sort.Strings(infos)
	if want := []string{"a@v1.1.0", "b@v1.2.0", "c@v0.1.0", "d@v0.1.0", "e@v0.1.0", "f@v0.1.0", "g@v0.1.0"}; !slices.Equal(slices.Compact(infos), want) {
		t.Fatalf("when the download started, .info files asked upstream: %v; want the build list's %v", infos, want)
	}
	// The client asks for f's zip: it went past a, b, c, d and e. Three
	// places free up; f is its own fetch (not made here), so d, e and g
	// are prefetched.
	st.s.asked("c", "zip "+v("f", "v0.1.0").String())
	st.s.Wait()
	if got, want := zips(), []string{"a@v1.1.0", "b@v1.2.0", "c@v0.1.0", "d@v0.1.0", "e@v0.1.0", "g@v0.1.0"}; !slices.Equal(got, want) {
		t.Fatalf("after the client went past c: zips prefetched %v; want %v", got, want)
	}
	// Nothing new read: asking again sets nothing off.
	st.s.downloadStarted("c")
	st.s.Wait()
	if n := len(zips()); n != 6 {
		t.Errorf("a second start with nothing new read: %d zips; want 6", n)
	}
	// A go.mod read between two starts costs the next one a look at that
	// path alone, not at the whole graph again (a client reading go.mod
	// files and .info files in turn made every .info scan the cache for
	// its whole build list: 14% of a warm serve's CPU).
	p.mu.Lock()
	before := p.scanned
	p.mu.Unlock()
	p.noteRead("c", v("h", "v0.3.0"), true, true)
	st.s.downloadStarted("c")
	st.s.Wait()
	p.mu.Lock()
	scanned := p.scanned - before
	p.mu.Unlock()
	if scanned != 1 {
		t.Errorf("a start after one more go.mod read looked at %d paths of the build list; want 1", scanned)
	}
	if got := st.up.requests(); !slices.Contains(got, "/example.com/h/@v/v0.3.0.info") {
		t.Errorf("after h's go.mod was read and the download started again, upstream was asked %v; want h's .info among them", got)
	}
	// A client reading an unpruned graph that asks for a zip with no
	// .info first (a build) gets its build list's zips, not those of the
	// lower versions it read unpredicted (zip candidates).
	p.noteRead("u", v("x", "v1.0.0"), false, true)
	p.noteRead("u", v("x", "v1.1.0"), false, true)
	st.s.downloadStarted("u")
	st.s.zipAsked("u")
	st.s.Wait()
	if got := zips(); !slices.Contains(got, "x@v1.1.0") || slices.Contains(got, "x@v1.0.0") {
		t.Errorf("an unpruned client's zip request: zips prefetched %v; want x@v1.1.0 and not x@v1.0.0", got)
	}
}

// TestReadCreditOnce: a go.mod a client read widens its go.mod window
// once (readCredit), however many of its requests for it race. Before, each
// request that found it not yet remembered as walked counted (has, then
// add, with the read noted between), so a client racing 16 requests for
// one cached go.mod was credited 16 reads, and walked and parsed it 16
// times.
func TestReadCreditOnce(t *testing.T) {
	st := newSetup(t, func(c *Config) { c.Prefetch = 1; c.PrefetchPerClient = 4 })
	gomod := []byte("module example.com/x\n\ngo 1.21\n")
	const rounds, racers = 20, 16
	for i := range rounds {
		mod := module.Version{Path: fmt.Sprintf("example.com/x%d", i), Version: "v1.0.0"}
		var start, done sync.WaitGroup
		start.Add(1)
		for range racers {
			done.Add(1)
			go func() {
				defer done.Done()
				start.Wait()
				st.s.prefetchFor("c", mod, gomod)
			}()
		}
		start.Done()
		done.Wait()
	}
	st.s.Wait()
	p := st.s.prefetcher
	p.mu.Lock()
	got := p.window("c", true)
	p.mu.Unlock()
	if want := 4*4 + readCredit*rounds; got != want {
		t.Errorf("go.mod window after %d go.mod files read, each by %d racing requests = %d; want %d (each counted once)", rounds, racers, got, want)
	}
}

// TestReadCreditNewSession: a client silent for recentTTL starts afresh:
// what it read before widens its go.mod window no more, and a version it
// read before is read anew (a predicted read of the highest version of its
// path brings its .info). Before, its graph was kept until 128 other
// clients' graphs pushed it out: a CI runner that read a graph every hour
// had its window grow by four for each go.mod of each run, without end,
// and a path read at a higher version in an earlier run never raised.
func TestReadCreditNewSession(t *testing.T) {
	p := newPrefetcher(1, 4)
	v := func(i int) module.Version {
		return module.Version{Path: fmt.Sprintf("example.com/p%d", i), Version: "v1.0.0"}
	}
	window := func() int {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.window("c", true)
	}
	for i := range 10 {
		p.noteRead("c", v(i), true, true)
	}
	if got, want := window(), 16+readCredit*10; got != want {
		t.Fatalf("window after 10 reads = %d; want %d", got, want)
	}
	// The client goes quiet for longer than recentTTL.
	p.mu.Lock()
	p.graphs["c"].expires = time.Now().Add(-time.Second)
	p.mu.Unlock()
	if _, _, raised := p.noteRead("c", v(0), true, true); !raised {
		t.Errorf("a new session's first read of a path: raised = false; want true")
	}
	if got, want := window(), 16+readCredit; got != want {
		t.Errorf("window after a new session's first read = %d; want %d (the old session's reads forgotten)", got, want)
	}
}

// TestReadCreditLately: a client that keeps reading is credited for the
// go.mod files it read in the last recentTTL, or up to twice that, not for
// all it read since it started. Before, a client reading a few cached
// go.mod files again each time the server forgot them (recentTTL) kept
// its graph alive and its window grew by four for each, without end: what
// it made the server fetch ahead in any recentTTL grew with how long it
// kept on, not with what it read in it.
func TestReadCreditLately(t *testing.T) {
	p := newPrefetcher(1, 4)
	v := func(i int) module.Version {
		return module.Version{Path: fmt.Sprintf("example.com/p%d", i), Version: "v1.0.0"}
	}
	window := func() int {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.window("c", true)
	}
	age := func() { // recentTTL passes, the client reading all along
		p.mu.Lock()
		defer p.mu.Unlock()
		g := p.graphs["c"]
		g.readsFrom = g.readsFrom.Add(-recentTTL)
	}
	for i := range 10 {
		p.noteRead("c", v(i), true, true)
	}
	age()
	p.noteRead("c", v(10), true, true)
	if got, want := window(), 16+readCredit*11; got != want {
		t.Errorf("window after 10 reads, then one recentTTL later = %d; want %d", got, want)
	}
	age()
	p.noteRead("c", v(11), true, true)
	if got, want := window(), 16+readCredit*2; got != want {
		t.Errorf("window after another recentTTL and one read = %d; want %d (the first 10 reads forgotten)", got, want)
	}
	age()
	age()
	if got, want := window(), 16; got != want {
		t.Errorf("window after 2 × recentTTL without a read = %d; want %d", got, want)
	}
}

// TestPrefetchQueueOrder: a freed prefetch slot goes to a waiting go.mod
// first, then a .info, then a zip, each kind in the order queued: a client
// waits on its graph's go.mod files before it asks for any .info.
func TestPrefetchQueueOrder(t *testing.T) {
	p := newPrefetcher(1, 1)
	var got []string
	task := func(name string) prefetchTask {
		return prefetchTask{run: func(context.Context) { got = append(got, name) }}
	}
	p.slots <- struct{}{}
	zip := func(name string) prefetchTask { t := task(name); t.zip = true; return t }
	p.pendingZips = append(p.pendingZips, zip("zip1"), zip("zip2"))
	p.pendingInfos = append(p.pendingInfos, task("info1"), task("info2"))
	p.pendingMods = append(p.pendingMods, task("mod1"), task("mod2"))
	var done prefetchTask
	for {
		tk, ok := p.handOn(done)
		if !ok {
			break
		}
		tk.run(context.Background())
		done = tk
	}
	if want := []string{"mod1", "mod2", "info1", "info2", "zip1", "zip2"}; !slices.Equal(got, want) {
		t.Errorf("handed on in the order %v; want %v", got, want)
	}
	if len(p.slots) != 0 {
		t.Errorf("the slot was not freed once nothing was queued")
	}
}

// TestPrefetchZipShare: zips hold at most half the prefetch slots; a slot
// freed while that many run goes to no zip, and one freed by a zip goes
// to the next.
func TestPrefetchZipShare(t *testing.T) {
	p := newPrefetcher(4, 1)
	zip := prefetchTask{run: func(context.Context) {}, zip: true}
	p.zips = 2 // two zips run, in two of the four slots
	p.slots <- struct{}{}
	p.slots <- struct{}{}
	p.slots <- struct{}{} // a third slot, done with a go.mod
	p.pendingZips = append(p.pendingZips, zip, zip)
	if _, ok := p.handOn(prefetchTask{}); ok {
		t.Fatalf("a slot freed by a go.mod went to a zip while 2 of 4 ran zips")
	}
	if len(p.slots) != 2 {
		t.Fatalf("%d slots held; want 2 (the one with nothing to run freed)", len(p.slots))
	}
	if _, ok := p.handOn(zip); !ok {
		t.Fatalf("a slot freed by a zip did not go to the next zip")
	}
	if p.zips != 2 || len(p.pendingZips) != 1 {
		t.Errorf("after a zip handed on to a zip: %d run, %d wait; want 2 and 1", p.zips, len(p.pendingZips))
	}
}

// TestPrefetchZipShareRun: prefetches spawned and ended in random orders,
// with abandoned flights taking free slots (trySlot) between, never run
// more zips at once than zipShare nor more of all than the slots, and
// every one of them runs: no zip is left queued with no slot holder to
// hand it on, and the counters come back to zero.
func TestPrefetchZipShareRun(t *testing.T) {
	for seed := uint64(1); seed <= 100; seed++ {
		s := New(Config{Prefetch: 4, PrefetchPerClient: 1000, Offline: true})
		p := s.prefetcher
		rng := rand.New(rand.NewPCG(seed, 7))
		type task struct {
			zip     bool
			release chan struct{}
		}
		started := make(chan *task)
		var mu sync.Mutex
		zips, all, maxZips, maxAll := 0, 0, 0, 0
		const n = 40
		tasks := make([]*task, n)
		for i := range tasks {
			tasks[i] = &task{zip: rng.IntN(2) == 0, release: make(chan struct{})}
		}
		spawned := 0
		spawnOne := func() {
			tk := tasks[spawned]
			kind := "mod "
			if tk.zip {
				kind = "zip "
			}
			ok := s.spawn("c", fmt.Sprintf("%sexample.com/m%d@v1.0.0", kind, spawned), !tk.zip, func(ctx context.Context) {
				mu.Lock()
				all++
				maxAll = max(maxAll, all)
				if tk.zip {
					zips++
					maxZips = max(maxZips, zips)
				}
				mu.Unlock()
				started <- tk
				<-tk.release
				mu.Lock()
				all--
				if tk.zip {
					zips--
				}
				mu.Unlock()
			})
			if !ok {
				t.Fatalf("seed %d: prefetch %d not spawned", seed, spawned)
			}
			spawned++
		}
		var running []*task
		var slots []func() // abandoned flights' slots (trySlot)
		ran := 0
		timeout := time.After(10 * time.Second)
		for ran < n || len(running) > 0 || len(slots) > 0 {
			// Take in what has started.
			for more := true; more; {
				select {
				case tk := <-started:
					running = append(running, tk)
					ran++
				default:
					more = false
				}
			}
			switch r := rng.IntN(4); {
			case r == 0 && spawned < n:
				spawnOne()
			case r == 1:
				if release, ok := s.trySlot(); ok {
					slots = append(slots, release)
				}
			case r == 2 && len(slots) > 0:
				i := rng.IntN(len(slots))
				release := slots[i]
				slots = slices.Delete(slots, i, i+1)
				release()
			case len(running) > 0:
				i := rng.IntN(len(running))
				close(running[i].release)
				running = slices.Delete(running, i, i+1)
			case spawned < n:
				spawnOne()
			case len(slots) > 0:
				slots[0]()
				slots = slots[1:]
			default:
				// Everything is spawned and nothing runs or holds a
				// slot: what is queued must start.
				select {
				case tk := <-started:
					running = append(running, tk)
					ran++
				case <-timeout:
					p.mu.Lock()
					t.Fatalf("seed %d: %d of %d prefetches ran; %d zips and %d go.mod files queued, %d zips counted, %d slots held", seed, ran, n, len(p.pendingZips), len(p.pendingMods), p.zips, len(p.slots))
				}
			}
		}
		s.Wait()
		if maxZips > p.zipShare() || maxAll > cap(p.slots) {
			t.Errorf("seed %d: %d zips and %d prefetches ran at once; want at most %d and %d", seed, maxZips, maxAll, p.zipShare(), cap(p.slots))
		}
		if p.zips != 0 || len(p.slots) != 0 || p.pending() != 0 {
			t.Errorf("seed %d: after all ran, %d zips counted, %d slots held, %d queued; want none", seed, p.zips, len(p.slots), p.pending())
		}
	}
}

// owedCount counts the prefetches p's clients owe, key by key; owedAll
// must say the same.
func owedCount(p *prefetcher) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, owed := range p.owed {
		n += len(owed)
	}
	return n
}

// TestPrefetchOwedByGoneClients: what a client owes is forgiven after
// recentTTL even if that client never comes back. Before, only the
// client's own next prefetch forgave it (owedBy): clients that came once
// (CI runners on addresses of their own, a client that reads go.mod files
// and never downloads the candidates' zips) left their debts counted in
// owedAll for good, and once maxOwed were, no prefetch was made for
// anyone again.
func TestPrefetchOwedByGoneClients(t *testing.T) {
	s := New(Config{Prefetch: 4, PrefetchPerClient: 10, Offline: true})
	p := s.prefetcher
	noop := func(context.Context) {}
	const perClient = 10
	for c := range maxOwed / perClient {
		client := fmt.Sprintf("10.%d.%d.1", c/256, c%256)
		for i := range perClient {
			if !s.spawn(client, fmt.Sprintf("zip example.com/c%d/m%d@v1.0.0", c, i), false, noop) {
				t.Fatalf("client %d: prefetch %d not made", c, i)
			}
		}
		if c%100 == 99 {
			s.Wait() // what is queued runs: no prefetch is skipped for a full queue
		}
	}
	s.Wait()
	p.mu.Lock()
	all := p.owedAll
	p.mu.Unlock()
	if all != maxOwed || owedCount(p) != maxOwed {
		t.Fatalf("%d prefetches owed (owedAll %d); want %d", owedCount(p), all, maxOwed)
	}
	// recentTTL passes; none of those clients comes back.
	p.mu.Lock()
	for _, owed := range p.owed {
		for k := range owed {
			owed[k] = time.Now().Add(-time.Second)
		}
	}
	p.mu.Unlock()
	var ran atomic.Bool
	s.spawn("10.200.0.1", "zip example.com/new@v1.0.0", false, func(context.Context) { ran.Store(true) })
	s.Wait()
	if !ran.Load() {
		t.Errorf("a new client's prefetch was not made while gone clients' debts, all forgiven by now, filled maxOwed")
	}
	p.mu.Lock()
	all = p.owedAll
	p.mu.Unlock()
	if n := owedCount(p); all != n {
		t.Errorf("owedAll = %d; %d owed", all, n)
	}
}

// TestPrefetchOwedCountedOnce: a prefetch made again for a client that
// still owes it (the server forgot it had made it: recent keeps at most
// 100000 keys and drops any when full) is owed once, and counted once:
// when the client asks for it, nothing is owed. Before, owedAll counted
// it twice and kept the second count for good.
func TestPrefetchOwedCountedOnce(t *testing.T) {
	st := newSetup(t, func(c *Config) { c.Prefetch = 4; c.PrefetchPerClient = 8 })
	s, p := st.s, st.s.prefetcher
	check := func(when string, want int) {
		t.Helper()
		p.mu.Lock()
		all := p.owedAll
		p.mu.Unlock()
		if n := owedCount(p); all != n || n != want {
			t.Errorf("%s: owedAll = %d, %d owed; want %d", when, all, n, want)
		}
	}
	// A zip the client named (spawn), and a zip candidate (candidateZip):
	// modules upstream has not, so that nothing is cached.
	named := module.Version{Path: "example.com/named", Version: "v1.0.0"}
	cand := module.Version{Path: "example.com/cand", Version: "v1.0.0"}
	p.noteRead("c", cand, false, true) // read unpredicted, below a pruned main module
	for range 2 {
		s.spawn("c", "zip "+named.String(), false, func(ctx context.Context) { s.ensureZip(ctx, requester{prefetch: true}, named) })
		s.candidateZip("c", cand)
		s.Wait()
		check("prefetched", 2)
		p.recent.clear()
	}
	s.asked("c", "zip "+named.String())
	s.asked("c", "zip "+cand.String())
	check("asked for", 0)
}
