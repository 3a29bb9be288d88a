package main

// The serve load case (go run ./bench -serve-load): gomodfetch serve under
// a few hundred concurrent clients on loopback for -load-duration, healthy
// and hostile ones at once, and what that costs the server while it lasts
// and after.
//
// The server's cache is filled first with the bench's module set (by a
// serve of its own reading it through file://), and its upstream is then a
// faultproxy over a second, generated set of small modules (the cold set;
// paths that are in the first set are left out of it), with the emulated
// network of -rtt, -conn-bw and -link-bw, in which every path below
// hang.example stalls before its headers for as long as faultproxy allows
// (MaxStall, a minute).
//
// Healthy clients, on the source addresses 127.0.1.1 to 127.0.1.50 (a few
// clients an address, far below -max-conns-per-client), each asking one
// thing after another:
//
//   - cached: a random .mod or .zip of the filled set, read whole;
//   - range: a random byte range (up to 64 KiB) of a random cached zip,
//     checked against the file's bytes;
//   - cold: the .mod, then the .zip, of a version of the cold set nobody
//     asked for yet (the server fetches it upstream), at most four versions
//     a second a client.
//
// Every answer must be 200 (206 for a range) and whole; anything else is
// an error, counted by kind. Hostile clients, on addresses of their own
// (127.0.2.x):
//
//   - slow readers ask for one of the largest zips with a 4 KiB receive
//     buffer and never read the answer; each lets go after slowHold (longer
//     than serve's -write-timeout), sees whether the server had cut it, and
//     starts again;
//   - abandoners ask for a version below hang.example (a new one each
//     time) and give up after two seconds;
//   - malformed clients send paths and methods no go command sends, 25
//     a second each.
//
// The server's open descriptors, TCP sockets (its clients', its
// upstream's), threads and RSS are read from /proc, its goroutines and Go
// heap from its /metrics, every half second: the baseline after a short
// warm-up of cached requests and a rest, the peak during the load, and
// after it, until they are back to the baseline for a few seconds or
// -load-settle has passed.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"gomodfetch/internal/faultproxy"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/mod/module"
)

var (
	serveLoadBench = flag.Bool("serve-load", false, "load-test gomodfetch serve instead: a few hundred healthy and hostile clients at once on loopback, with the server's resources before, during and after (bench/serveload.go)")
	loadDuration   = flag.Duration("load-duration", 60*time.Second, "with -serve-load: how long the load lasts")
	loadSettle     = flag.Duration("load-settle", 65*time.Second, "with -serve-load: how long to wait at most, after the load, for the server to be back to its baseline")
)

// The load mix (see the top of the file).
const (
	cachedClients    = 150
	rangeClients     = 30
	coldClients      = 16
	healthyAddrs     = 50
	slowClients      = 60
	slowAddrs        = 2
	abandonClients   = 40
	abandonAddrs     = 2
	malformedClients = 8

	healthyTimeout = 30 * time.Second // a healthy request not answered by then is an error
	abandonAfter   = 2 * time.Second
	slowHold       = 40 * time.Second
	slowDrain      = 16 << 20               // more than the socket buffers of a connection hold
	coldCycle      = 250 * time.Millisecond // a cold client starts at most one version this often
	malformedCycle = 40 * time.Millisecond  // a malformed client sends at most one request this often
	coldSupply     = 4000                   // versions in the cold set: more than 16 clients take in a minute at four a second each

	sampleEvery   = 500 * time.Millisecond
	backFor       = 5 * time.Second // back to the baseline this long: settled
	warmUp        = 3 * time.Second
	rest          = 2 * time.Second
	maxRangeBytes = 64 << 10
)

// hangPrefix is the upstream path prefix that never answers.
const hangPrefix = "hang.example/"

func runServeLoad(o options) error {
	set, err := loadSet(o)
	if err != nil {
		return err
	}
	co := o
	co.set, co.modules, co.chain, co.scale, co.seed = "blobs", o.modules+coldSupply, 0, 0.03, o.seed+1
	coldSet, err := loadSet(co)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "gomodfetch-bench-load-")
	if err != nil {
		return err
	}
	if !o.keep {
		removeAtExit(work)
	}
	gmf, _, err := tools(o, work)
	if err != nil {
		return err
	}
	baseEnv := append(benchEnv(work, "off"), "GOPATH="+filepath.Join(work, "gopath")) // GOPROXY: each serve's own

	// The cache: the whole module set, through a serve of its own.
	cache := filepath.Join(work, "cache")
	all, err := warmFiles(set.Dir)
	if err != nil {
		return err
	}
	var fill, cached []warmFile // all but the lists; the .mod and .zip files
	for _, f := range all {
		switch filepath.Ext(f.path) {
		case ".mod", ".zip":
			cached = append(cached, f)
			fallthrough
		case ".info":
			fill = append(fill, f)
		}
	}
	t0 := time.Now()
	if err := fillCache(gmf, cache, set.Dir, fill, baseEnv, filepath.Join(work, "fill.log")); err != nil {
		return err
	}
	fmt.Printf("serve cache filled with %d files in %.1fs\n", len(fill), time.Since(t0).Seconds())

	// The cold versions: those of the cold set whose path the cache does
	// not have, in an order of their own (what the server prefetches for
	// one, the requirements of a go 1.16 module, is rarely the next).
	inSet := map[string]bool{}
	for _, mv := range set.Versions {
		inSet[mv.Path] = true
	}
	var cold []coldVersion
	for _, mv := range coldSet.Versions {
		if inSet[mv.Path] {
			continue
		}
		base, err := module.EscapePath(mv.Path)
		if err != nil {
			return err
		}
		base = "/" + base + "/@v/" + mv.Version
		cold = append(cold, coldVersion{
			mod: warmFile{base + ".mod", int64(len(goModText(mv.Path, mv.Go, mv.Requires)))},
			zip: warmFile{base + ".zip", mv.ZipSize},
		})
	}
	rand.New(rand.NewPCG(o.seed, 25)).Shuffle(len(cold), func(i, j int) { cold[i], cold[j] = cold[j], cold[i] })

	rules, err := faultproxy.ParseRules("serve-load", strings.NewReader(hangPrefix+"* stall-headers 1h\n"))
	if err != nil {
		return err
	}
	px, err := faultproxy.Start(faultproxy.Options{
		Dir:     coldSet.Dir,
		Network: faultproxy.Network{RTT: o.rtt, ConnBW: o.connMB * 1e6, LinkBW: o.linkMB * 1e6},
		Rules:   rules,
	})
	if err != nil {
		return err
	}
	defer px.Close()

	logFile := filepath.Join(work, "serve.log")
	srv, err := startServe(gmf, cache, append(slices.Clip(baseEnv), "GOPROXY="+px.URL, "GOMODCACHE="+cache), false, logFile)
	if err != nil {
		return err
	}
	defer func() {
		if srv != nil {
			srv.stop()
		}
	}()
	mon, err := newMonitor(srv, px.URL)
	if err != nil {
		return err
	}
	go mon.run()
	defer mon.stop()

	// The baseline: after a warm-up of cached requests (page cache,
	// connections, the server's pools) and a rest.
	drive(srv, cached, 64, warmUp)
	time.Sleep(rest)
	base := mon.last()

	lo := &loadRun{srv: srv, cached: cached, setDir: set.Dir, cold: cold}
	for _, f := range cached {
		if strings.HasSuffix(f.path, ".zip") {
			lo.zips = append(lo.zips, f)
		}
	}
	slices.SortFunc(lo.zips, func(a, b warmFile) int { return int(b.size - a.size) })
	// The slow readers' zips: those too large for the socket buffers
	// (the server's send buffer grows to 4 MiB), or the largest.
	big := lo.zips[:1]
	for i, f := range lo.zips {
		if f.size >= 8<<20 {
			big = lo.zips[:i+1]
		}
	}
	fmt.Printf("load: %d healthy clients (%d cached, %d range, %d cold) on %d addresses, %d slow readers, %d abandoners, %d malformed; %v\n",
		cachedClients+rangeClients+coldClients, cachedClients, rangeClients, coldClients, healthyAddrs, slowClients, abandonClients, malformedClients, *loadDuration)
	mon.mark("load")
	load0, srvCPU0, selfCPU0 := loadAvg(), srv.cpuNow(), selfCPU()
	res := lo.run(*loadDuration, big)
	loadEnd := time.Now()
	mon.mark("settle")
	load1, srvCPU, benchCPU := loadAvg(), srv.cpuNow()-srvCPU0, selfCPU()-selfCPU0

	// After: until the server is back to the baseline for backFor, or
	// -load-settle has passed.
	var backAt time.Time
	for time.Since(loadEnd) < *loadSettle {
		time.Sleep(sampleEvery)
		s := mon.last()
		if !s.at.After(loadEnd) {
			continue
		}
		if backTo(s, base) {
			if backAt.IsZero() {
				backAt = s.at
			}
			if s.at.Sub(backAt) >= backFor {
				break
			}
		} else {
			backAt = time.Time{}
		}
	}
	after := mon.last()
	metrics := scrapeWith(mon.hc, srv.url+"/metrics")
	mon.stop()
	_, hwm := srv.stop()
	srv = nil

	fmt.Printf("\nserve: %s; upstream: faultproxy over %d cold versions, %v RTT, %s/s a connection, %s/s the link; %d CPUs, load average (1 min) %s at the start of the load, %s at its end; serve's log: %s\n\n",
		gmf, len(cold), o.rtt, mbs(o.connMB), mbs(o.linkMB), runtime.NumCPU(), load0, load1, logFile)
	res.print(*loadDuration)
	fmt.Printf("\nCPU during the load: the server %.2f cores, the bench (its clients and the upstream) %.2f cores\n\n",
		srvCPU.Seconds()/loadDuration.Seconds(), benchCPU.Seconds()/loadDuration.Seconds())
	samples := mon.samples()
	printResources(samples, base, after, loadEnd, backAt, hwm)
	csv := filepath.Join(work, "resources.csv")
	if err := writeSamples(csv, samples, loadEnd); err != nil {
		return err
	}
	printServeCounters(metrics)
	if o.keep {
		fmt.Printf("cache, logs and the resources every %v (%s) kept under %s\n", sampleEvery, filepath.Base(csv), work)
	}
	return nil
}

// writeSamples writes the samples to file as CSV, their times in seconds
// from the end of the load.
func writeSamples(file string, list []resSample, loadEnd time.Time) error {
	var b strings.Builder
	b.WriteString("t,phase,fds,client_conns,upstream_conns,goroutines,upstream_operations,threads,rss_bytes,heap_inuse_bytes\n")
	for _, s := range list {
		fmt.Fprintf(&b, "%.1f,%s,%d,%d,%d,%d,%d,%d,%d,%d\n", s.at.Sub(loadEnd).Seconds(), s.phase, s.fds, s.clients, s.upstreams, s.goroutines, s.operations, s.threads, s.rss, s.heap)
	}
	return os.WriteFile(file, []byte(b.String()), 0o666)
}

// coldVersion is a version of the cold set: its .mod and .zip.
type coldVersion struct{ mod, zip warmFile }

// fillCache runs serve over the file:// proxy dir and asks it for every
// file, so that its cache holds them all.
func fillCache(gmf, cache, dir string, files []warmFile, env []string, logFile string) error {
	p, err := startServe(gmf, cache, append(slices.Clip(env), "GOPROXY=file://"+filepath.ToSlash(dir), "GOMODCACHE="+cache), false, logFile)
	if err != nil {
		return err
	}
	defer p.stop()
	hc := &http.Client{Timeout: 5 * time.Minute}
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(files); i = int(next.Add(1) - 1) {
				if _, err := get(hc, p.url+files[i].path, files[i].size); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("filling the serve cache: %d errors, the first: %v", len(errs), errs[0])
	}
	return nil
}

// loadRun is one load: what the clients ask for, and of whom.
type loadRun struct {
	srv    *proc
	cached []warmFile // .mod and .zip files the cache holds
	zips   []warmFile // the cached zips, largest first
	setDir string     // their bytes (the range clients check against them)
	cold   []coldVersion
	next   atomic.Int64 // the next cold version
}

// loadResult is what the clients saw.
type loadResult struct {
	lats     map[string][]time.Duration // healthy requests answered well, by class
	errs     map[string]int             // healthy requests that failed, by kind
	example  map[string]string          // one failure of each kind
	outcomes map[string]map[string]int  // hostile clients: kind → outcome → count
	coldOut  time.Duration              // when the cold versions ran out (0: never)
}

func newLoadResult() *loadResult {
	return &loadResult{lats: map[string][]time.Duration{}, errs: map[string]int{}, example: map[string]string{}, outcomes: map[string]map[string]int{}}
}

func (r *loadResult) fail(kind string, err error) {
	r.errs[kind]++
	if _, ok := r.example[kind]; !ok {
		r.example[kind] = err.Error()
	}
}

func (r *loadResult) outcome(kind, what string) {
	if r.outcomes[kind] == nil {
		r.outcomes[kind] = map[string]int{}
	}
	r.outcomes[kind][what]++
}

func (r *loadResult) merge(o *loadResult) {
	for k, v := range o.lats {
		r.lats[k] = append(r.lats[k], v...)
	}
	for k, v := range o.errs {
		r.errs[k] += v
		if _, ok := r.example[k]; !ok {
			r.example[k] = o.example[k]
		}
	}
	for k, m := range o.outcomes {
		if r.outcomes[k] == nil {
			r.outcomes[k] = map[string]int{}
		}
		for w, n := range m {
			r.outcomes[k][w] += n
		}
	}
	if o.coldOut > 0 && (r.coldOut == 0 || o.coldOut < r.coldOut) {
		r.coldOut = o.coldOut
	}
}

// transport is an HTTP transport whose connections come from the source
// address ip.
func transport(ip string, conns int) *http.Transport {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &http.Transport{
		DialContext:         d.DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
}

// run runs the load for d and returns what the clients saw.
func (lo *loadRun) run(d time.Duration, big []warmFile) *loadResult {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	var (
		mu  sync.Mutex
		all = newLoadResult()
		wg  sync.WaitGroup
	)
	spawn := func(fn func(r *loadResult)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := newLoadResult()
			fn(r)
			mu.Lock()
			all.merge(r)
			mu.Unlock()
		}()
	}
	healthy := cachedClients + rangeClients + coldClients
	perAddr := (healthy + healthyAddrs - 1) / healthyAddrs
	var trs []*http.Transport
	newClient := func(ip string, conns int) *http.Client {
		tr := transport(ip, conns)
		trs = append(trs, tr)
		return &http.Client{Transport: tr}
	}
	hcs := make([]*http.Client, healthyAddrs)
	for i := range hcs {
		hcs[i] = newClient(fmt.Sprintf("127.0.1.%d", i+1), perAddr)
	}
	for c := range healthy {
		hc := hcs[c%healthyAddrs]
		rng := rand.New(rand.NewPCG(uint64(c), 25))
		switch {
		case c < cachedClients:
			spawn(func(r *loadResult) { lo.cachedClient(ctx, hc, rng, r) })
		case c < cachedClients+rangeClients:
			spawn(func(r *loadResult) { lo.rangeClient(ctx, hc, rng, r) })
		default:
			spawn(func(r *loadResult) { lo.coldClient(ctx, hc, start, r) })
		}
	}
	for c := range slowClients {
		ip := fmt.Sprintf("127.0.2.%d", 1+c%slowAddrs)
		f := big[c%len(big)]
		spawn(func(r *loadResult) { lo.slowReader(ctx, ip, f, r) })
	}
	abandoners := make([]*http.Client, abandonAddrs)
	for i := range abandoners {
		abandoners[i] = newClient(fmt.Sprintf("127.0.2.%d", 1+slowAddrs+i), abandonClients/abandonAddrs)
	}
	for c := range abandonClients {
		hc := abandoners[c%abandonAddrs]
		spawn(func(r *loadResult) { lo.abandoner(ctx, hc, c, r) })
	}
	mc := newClient(fmt.Sprintf("127.0.2.%d", 1+slowAddrs+abandonAddrs), malformedClients)
	for c := range malformedClients {
		spawn(func(r *loadResult) { lo.malformedClient(ctx, mc, c, r) })
	}
	wg.Wait()
	for _, tr := range trs {
		tr.CloseIdleConnections()
	}
	return all
}

// healthyGet asks for url (with header h) and checks the answer against
// e; a request that the end of the load cut is not counted.
func healthyGet(ctx context.Context, hc *http.Client, url string, h http.Header, e expect, class string, r *loadResult) {
	rctx, cancel := context.WithTimeout(ctx, healthyTimeout)
	defer cancel()
	t0 := time.Now()
	_, kind, err := check(rctx, hc, url, h, e)
	switch {
	case err == nil:
		r.lats[class] = append(r.lats[class], time.Since(t0))
	case ctx.Err() != nil:
		// The load ended under it.
	default:
		r.fail(kind, err)
	}
}

func (lo *loadRun) cachedClient(ctx context.Context, hc *http.Client, rng *rand.Rand, r *loadResult) {
	for ctx.Err() == nil {
		f := lo.cached[rng.IntN(len(lo.cached))]
		healthyGet(ctx, hc, lo.srv.url+f.path, nil, expect{status: http.StatusOK, size: f.size}, "cached "+filepath.Ext(f.path), r)
	}
}

func (lo *loadRun) rangeClient(ctx context.Context, hc *http.Client, rng *rand.Rand, r *loadResult) {
	files := map[string]*os.File{}
	defer func() {
		for _, fh := range files {
			fh.Close()
		}
	}()
	for ctx.Err() == nil {
		f := lo.zips[rng.IntN(len(lo.zips))]
		fh := files[f.path]
		if fh == nil {
			var err error
			if fh, err = os.Open(filepath.Join(lo.setDir, filepath.FromSlash(f.path))); err != nil {
				r.fail("bench: "+err.Error(), err)
				return
			}
			files[f.path] = fh
		}
		from := rng.Int64N(f.size)
		n := min(1+rng.Int64N(maxRangeBytes), f.size-from)
		want := make([]byte, n)
		if _, err := fh.ReadAt(want, from); err != nil {
			r.fail("bench: "+err.Error(), err)
			return
		}
		h := http.Header{"Range": {fmt.Sprintf("bytes=%d-%d", from, from+n-1)}}
		healthyGet(ctx, hc, lo.srv.url+f.path, h, expect{status: http.StatusPartialContent, size: n, body: want}, "range of a .zip", r)
	}
}

func (lo *loadRun) coldClient(ctx context.Context, hc *http.Client, start time.Time, r *loadResult) {
	for ctx.Err() == nil {
		i := int(lo.next.Add(1) - 1)
		if i >= len(lo.cold) {
			r.coldOut = time.Since(start)
			return
		}
		t0 := time.Now()
		for _, f := range []warmFile{lo.cold[i].mod, lo.cold[i].zip} {
			healthyGet(ctx, hc, lo.srv.url+f.path, nil, expect{status: http.StatusOK, size: f.size}, "cold "+filepath.Ext(f.path)+" (miss)", r)
		}
		sleepCtx(ctx, coldCycle-time.Since(t0))
	}
}

// slowReader asks for f, never reads the answer, lets go after slowHold
// (or at the end of the load) and notes whether the server had cut it.
func (lo *loadRun) slowReader(ctx context.Context, ip string, f warmFile, r *loadResult) {
	u, _ := url.Parse(lo.srv.url)
	d := &net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)},
		Timeout:   10 * time.Second,
		Control: func(_, _ string, c syscall.RawConn) error {
			var err error
			c.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
			return err
		},
	}
	for ctx.Err() == nil {
		c, err := d.DialContext(ctx, "tcp", u.Host)
		if err != nil {
			if ctx.Err() == nil {
				r.outcome("slow", "could not connect: "+errKind(err))
				sleepCtx(ctx, 100*time.Millisecond)
			}
			continue
		}
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: slow-reader\r\n\r\n", f.path, u.Host)
		sleepCtx(ctx, slowHold)
		// Was it cut? With the window open, what the socket buffers hold
		// comes at once, and then the server's close if it cut the
		// connection; one it still answers gives more than they hold.
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetReadBuffer(1 << 20)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := io.Copy(io.Discard, io.LimitReader(c, slowDrain))
		c.Close()
		switch {
		case err == nil && n < slowDrain && n < f.size:
			r.outcome("slow", "cut by the server")
		case err == nil && n < slowDrain:
			r.outcome("slow", "answered whole, then closed by the server")
		default:
			r.outcome("slow", "held open until the client let go")
		}
	}
}

// abandoner asks for versions whose upstream never answers and gives up
// on each after abandonAfter.
func (lo *loadRun) abandoner(ctx context.Context, hc *http.Client, c int, r *loadResult) {
	exts := []string{".info", ".mod", ".zip"}
	for i := 0; ctx.Err() == nil; i++ {
		rctx, cancel := context.WithTimeout(ctx, abandonAfter)
		url := fmt.Sprintf("%s/%sa%d/@v/v1.0.%d%s", lo.srv.url, hangPrefix, c, i, exts[i%len(exts)])
		req, _ := http.NewRequestWithContext(rctx, "GET", url, nil)
		resp, err := hc.Do(req)
		switch {
		case err == nil:
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			r.outcome("abandon", "answered "+strconv.Itoa(resp.StatusCode))
		case ctx.Err() != nil:
		case rctx.Err() != nil:
			r.outcome("abandon", fmt.Sprintf("gave up after %v", abandonAfter))
		default:
			r.outcome("abandon", errKind(err))
			sleepCtx(ctx, 100*time.Millisecond)
		}
		cancel()
	}
}

// malformedRequests are requests no go command sends.
var malformedRequests = []struct{ method, path string }{
	{"GET", "/../../etc/passwd"},
	{"GET", "/%2e%2e/%2e%2e/etc/passwd"},
	{"GET", "/github.com/Acme/m000/@v/v1.0.0.mod"},
	{"GET", "/github.com/acme/m000/@v/v1.0.0.exe"},
	{"GET", "/github.com/acme/m000/@v/not-a-version.info"},
	{"GET", "/github.com/acme/m000/@v/v1.0.0/../../../../etc/passwd.zip"},
	{"GET", "/github.com/acme/m000/@v/%ff.zip"},
	{"GET", "//@v/list"},
	{"GET", "/@latest"},
	{"GET", "/sumdb/evil.example/lookup/x@v1.0.0"},
	{"GET", "/" + strings.Repeat("a/", 3000) + "@v/list"},
	{"GET", "/github.com/acme/m000/@v/v1.0.0.info?" + strings.Repeat("x", 5000)},
	{"POST", "/github.com/acme/m000/@v/v1.0.0.zip"},
	{"DELETE", "/github.com/acme/m000/@v/list"},
}

func (lo *loadRun) malformedClient(ctx context.Context, hc *http.Client, c int, r *loadResult) {
	for i := c; ctx.Err() == nil; i++ {
		t0 := time.Now()
		m := malformedRequests[i%len(malformedRequests)]
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		req, err := http.NewRequestWithContext(rctx, m.method, lo.srv.url+m.path, nil)
		if err != nil {
			cancel()
			r.outcome("malformed", "bench: "+err.Error())
			continue
		}
		resp, err := hc.Do(req)
		switch {
		case err == nil:
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			r.outcome("malformed", strconv.Itoa(resp.StatusCode))
		case ctx.Err() == nil:
			r.outcome("malformed", errKind(err))
		}
		cancel()
		sleepCtx(ctx, malformedCycle-time.Since(t0))
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (r *loadResult) print(d time.Duration) {
	classes := []string{"cached .mod", "cached .zip", "range of a .zip", "cold .mod (miss)", "cold .zip (miss)"}
	fmt.Printf("| healthy clients, %v | answered well | requests/s | p50 | p99 |\n|---|---|---|---|---|\n", d)
	var total []time.Duration
	for _, c := range classes {
		l := r.lats[c]
		total = append(total, l...)
		fmt.Printf("| %s | %d | %.0f | %s | %s |\n", c, len(l), float64(len(l))/d.Seconds(), pct(l, 50), pct(l, 99))
	}
	nerr := 0
	for _, n := range r.errs {
		nerr += n
	}
	fmt.Printf("| all | %d | %.0f | %s | %s |\n", len(total), float64(len(total))/d.Seconds(), pct(total, 50), pct(total, 99))
	fmt.Printf("\nhealthy errors: %d%s\n", nerr, byCount(r.errs, ", "))
	for _, k := range sortedKeys(r.errs) {
		fmt.Printf("  %s, e.g.: %s\n", k, oneLine(r.example[k]))
	}
	if r.coldOut > 0 {
		fmt.Printf("the cold versions ran out %.0fs into the load\n", r.coldOut.Seconds())
	}
	fmt.Printf("\n| hostile clients | outcomes |\n|---|---|\n")
	for _, k := range []struct{ kind, name string }{
		{"slow", fmt.Sprintf("%d slow readers (never read, let go after %v)", slowClients, slowHold)},
		{"abandon", fmt.Sprintf("%d abandoners (upstream never answers, give up after %v)", abandonClients, abandonAfter)},
		{"malformed", fmt.Sprintf("%d malformed (bad paths and methods)", malformedClients)},
	} {
		fmt.Printf("| %s | %s |\n", k.name, strings.TrimPrefix(byCount(r.outcomes[k.kind], "; "), ": "))
	}
}

// byCount is ": k1 n1, k2 n2" for m, largest first.
func byCount(m map[string]int, sep string) string {
	if len(m) == 0 {
		return ""
	}
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return ": " + strings.Join(parts, sep)
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

func pct(l []time.Duration, p int) string {
	if len(l) == 0 {
		return "—"
	}
	l = slices.Clone(l)
	slices.Sort(l)
	return ms(l[min(len(l)-1, len(l)*p/100)])
}

// expect is what a healthy answer must be.
type expect struct {
	status int
	size   int64  // body length (-1: any)
	body   []byte // if not nil, the body itself
}

// check asks for url (with the header h) and reads the whole answer, which
// must be what e says; a failure comes with its kind.
func check(ctx context.Context, hc *http.Client, url string, h http.Header, e expect) (n int64, kind string, err error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return 0, "bench", err
	}
	if h != nil {
		req.Header = h
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, errKind(err), err
	}
	defer resp.Body.Close()
	var got bytes.Buffer
	if e.body != nil {
		n, err = io.Copy(&got, io.LimitReader(resp.Body, int64(len(e.body))+1))
	} else {
		n, err = io.Copy(io.Discard, resp.Body)
	}
	switch {
	case resp.StatusCode != e.status:
		return n, "status " + strconv.Itoa(resp.StatusCode), fmt.Errorf("%s: %s", url, resp.Status)
	case err != nil:
		return n, errKind(err), fmt.Errorf("%s: after %d bytes: %w", url, n, err)
	case resp.ContentLength >= 0 && n != resp.ContentLength:
		return n, "short body", fmt.Errorf("%s: %d bytes of %d", url, n, resp.ContentLength)
	case e.size >= 0 && n != e.size:
		return n, "wrong size", fmt.Errorf("%s: %d bytes, the file has %d", url, n, e.size)
	case e.body != nil && !bytes.Equal(got.Bytes(), e.body):
		return n, "wrong bytes", fmt.Errorf("%s: the body differs from the file's bytes", url)
	}
	return n, "", nil
}

// errKind names the kind of a failed request's error.
func errKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE):
		return "connection reset"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed early"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no local port"
	}
	return "other error"
}

// resSample is the server's resources at one moment.
type resSample struct {
	at                      time.Time
	phase                   string
	fds, clients, upstreams int   // open descriptors; TCP connections from clients, to upstream
	threads                 int   // OS threads
	rss                     int64 // bytes
	goroutines, heap        int   // from /metrics; -1 if it did not answer in time
	operations              int   // gomodfetch_serve_upstream_operations (-1: none)
}

// monitor samples a server's resources every sampleEvery.
type monitor struct {
	p            *proc
	port, upPort int
	hc           *http.Client

	mu     sync.Mutex
	phase  string
	list   []resSample
	done   chan struct{}
	closed sync.Once
	ended  chan struct{}
}

func newMonitor(p *proc, upstream string) (*monitor, error) {
	port, err := portOf(p.url)
	if err != nil {
		return nil, err
	}
	upPort, err := portOf(upstream)
	if err != nil {
		return nil, err
	}
	m := &monitor{p: p, port: port, upPort: upPort, phase: "baseline", done: make(chan struct{}), ended: make(chan struct{}),
		hc: &http.Client{Timeout: sampleEvery, Transport: &http.Transport{DisableKeepAlives: true}}}
	m.sample()
	return m, nil
}

func portOf(u string) (int, error) {
	pu, err := url.Parse(u)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(pu.Port())
}

func (m *monitor) run() {
	defer close(m.ended)
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		select {
		case <-m.done:
			return
		case <-t.C:
			m.sample()
		}
	}
}

func (m *monitor) stop() {
	m.closed.Do(func() {
		close(m.done)
		<-m.ended
	})
}

func (m *monitor) mark(phase string) {
	m.mu.Lock()
	m.phase = phase
	m.mu.Unlock()
}

func (m *monitor) last() resSample {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.list[len(m.list)-1]
}

func (m *monitor) samples() []resSample {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.list)
}

func (m *monitor) sample() {
	pid := m.p.cmd.Process.Pid
	s := resSample{at: time.Now(), goroutines: -1, heap: -1, operations: -1}
	s.fds, s.clients, s.upstreams = procSockets(pid, m.port, m.upPort)
	s.threads, s.rss = procStatus(pid)
	met := scrapeWith(m.hc, m.p.url+"/metrics")
	if v, ok := met["go_goroutines"]; ok {
		s.goroutines = v
	}
	if v, ok := met["go_memstats_heap_inuse_bytes"]; ok {
		s.heap = v
	}
	if v, ok := met["gomodfetch_serve_upstream_operations"]; ok {
		s.operations = v
	}
	m.mu.Lock()
	s.phase = m.phase
	m.list = append(m.list, s)
	m.mu.Unlock()
}

// procSockets counts pid's open descriptors and, among them, its TCP
// connections from the load's clients (local port port, from an address
// other than 127.0.0.1, where the monitor and the warm-up are) and to its
// upstream (remote port upPort).
func procSockets(pid, port, upPort int) (fds, clients, upstreams int) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, 0
	}
	inodes := map[string]bool{}
	for _, e := range ents {
		l, err := os.Readlink(filepath.Join(dir, e.Name()))
		if s, ok := strings.CutPrefix(l, "socket:["); ok && err == nil {
			inodes[strings.TrimSuffix(s, "]")] = true
		}
	}
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/net/tcp", pid))
	portOf := func(addr string) int {
		_, p, _ := strings.Cut(addr, ":")
		n, _ := strconv.ParseUint(p, 16, 32)
		return int(n)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 10 || !inodes[f[9]] || f[3] == "0A" { // 0A: listening
			continue
		}
		switch {
		case portOf(f[1]) == port && !strings.HasPrefix(f[2], "0100007F:"): // not from 127.0.0.1: the bench's own
			clients++
		case portOf(f[2]) == upPort:
			upstreams++
		}
	}
	return len(ents), clients, upstreams
}

// procStatus reads pid's threads and resident memory.
func procStatus(pid int) (threads int, rss int64) {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(data), "\n") {
		k, v, _ := strings.Cut(l, ":")
		v = strings.TrimSpace(v)
		switch k {
		case "Threads":
			threads, _ = strconv.Atoi(v)
		case "VmRSS":
			kb, _ := strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64)
			rss = kb << 10
		}
	}
	return threads, rss
}

// backTo reports whether s is back to the baseline b: no client
// connection more, no upstream operation in progress, and descriptors and
// goroutines within a little of the baseline's, once the upstream
// connections kept alive (each one descriptor and two goroutines; at most
// serve's -conns, and closed after 90s idle) are set aside.
func backTo(s, b resSample) bool {
	up := max(s.upstreams-b.upstreams, 0)
	return s.clients <= b.clients &&
		s.operations <= 0 &&
		s.fds-up <= b.fds+fdSlack &&
		s.goroutines >= 0 && s.goroutines-2*up <= b.goroutines+goroutineSlack
}

const (
	fdSlack        = 4
	goroutineSlack = 10
)

func printResources(list []resSample, base, after resSample, loadEnd, backAt time.Time, hwm int64) {
	var peak resSample
	for _, s := range list {
		if s.phase == "baseline" {
			continue
		}
		peak.fds, peak.clients, peak.upstreams = max(peak.fds, s.fds), max(peak.clients, s.clients), max(peak.upstreams, s.upstreams)
		peak.threads, peak.rss = max(peak.threads, s.threads), max(peak.rss, s.rss)
		peak.goroutines, peak.heap, peak.operations = max(peak.goroutines, s.goroutines), max(peak.heap, s.heap), max(peak.operations, s.operations)
	}
	mb := func(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }
	num := func(n int) string {
		if n < 0 {
			return "—"
		}
		return strconv.Itoa(n)
	}
	fmt.Printf("| server | baseline | peak (load and after) | %.0fs after the load |\n|---|---|---|---|\n", after.at.Sub(loadEnd).Seconds())
	rows := []struct {
		name    string
		b, p, a string
	}{
		{"open descriptors (/proc)", num(base.fds), num(peak.fds), num(after.fds)},
		{"… client connections", num(base.clients), num(peak.clients), num(after.clients)},
		{"… upstream connections", num(base.upstreams), num(peak.upstreams), num(after.upstreams)},
		{"goroutines (/metrics)", num(base.goroutines), num(peak.goroutines), num(after.goroutines)},
		{"upstream operations (/metrics)", num(base.operations), num(peak.operations), num(after.operations)},
		{"threads (/proc)", num(base.threads), num(peak.threads), num(after.threads)},
		{"RSS (/proc)", mb(base.rss), mb(max(peak.rss, hwm)), mb(after.rss)},
		{"Go heap in use (/metrics)", mb(int64(base.heap)), mb(int64(peak.heap)), mb(int64(after.heap))},
	}
	for _, r := range rows {
		fmt.Printf("| %s | %s | %s | %s |\n", r.name, r.b, r.p, r.a)
	}
	if !backAt.IsZero() {
		fmt.Printf("\nback to the baseline %.1fs after the load ended (and stayed so for %v)\n", backAt.Sub(loadEnd).Seconds(), backFor)
	} else {
		fmt.Printf("\nNOT back to the baseline %.0fs after the load ended\n", after.at.Sub(loadEnd).Seconds())
	}
	fmt.Printf("(back: no client connection, no upstream operation, descriptors within %d and goroutines within %d of the baseline's once the upstream connections kept alive are set aside, each a descriptor and two goroutines)\n", fdSlack, goroutineSlack)
}

// printServeCounters prints what serve's /metrics says its bounds did
// (nothing from a serve that has no such counters).
func printServeCounters(m map[string]int) {
	var lines []string
	for k, v := range m {
		for _, p := range []string{"gomodfetch_serve_limited_total", "gomodfetch_serve_abandoned_total", "gomodfetch_serve_connections_refused_total",
			"gomodfetch_serve_connections_evicted_total", "gomodfetch_serve_prefetch_total", "gomodfetch_serve_remembered_failures_total", "gomodfetch_serve_requests_total"} {
			if strings.HasPrefix(k, p) && v > 0 {
				lines = append(lines, fmt.Sprintf("%s %d", k, v))
			}
		}
	}
	for _, class := range []string{"client", "prefetch"} {
		n := m[`gomodfetch_serve_upstream_wait_seconds_count{class="`+class+`"}`]
		if n > 0 {
			lines = append(lines, fmt.Sprintf("upstream requests of class %s: %d, waited at the -upstream gate %d of them over 100 ms, %d over 1 s",
				class, n, n-m[`gomodfetch_serve_upstream_wait_seconds_bucket{class="`+class+`",le="0.1"}`], n-m[`gomodfetch_serve_upstream_wait_seconds_bucket{class="`+class+`",le="1"}`]))
		}
	}
	if len(lines) == 0 {
		return
	}
	sort.Strings(lines)
	fmt.Printf("\nserve's counters at the end:\n  %s\n", strings.Join(lines, "\n  "))
}
