package faultproxy

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	listPath = "example.com/a/@v/list"
	infoPath = "example.com/a/@v/v1.0.0.info"
	modPath  = "example.com/a/@v/v1.0.0.mod"
	zipPath  = "example.com/a/@v/v1.0.0.zip"
)

// tree writes a small GOPROXY tree and returns its root and its files.
func tree(t *testing.T) (string, map[string][]byte) {
	t.Helper()
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	r := rand.New(rand.NewPCG(1, 1))
	data := make([]byte, 96<<10)
	for i := range data {
		data[i] = byte('a' + r.IntN(26))
	}
	for name, body := range map[string][]byte{
		"example.com/a@v1.0.0/go.mod":   []byte("module example.com/a\n"),
		"example.com/a@v1.0.0/a.go":     []byte("package a\n"),
		"example.com/a@v1.0.0/data.txt": data,
	} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		listPath: []byte("v1.0.0\n"),
		infoPath: []byte(`{"Version":"v1.0.0","Time":"2023-01-02T03:04:05Z"}`),
		modPath:  []byte("module example.com/a\n"),
		zipPath:  zbuf.Bytes(),
	}
	root := t.TempDir()
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	return root, files
}

func start(t *testing.T, o Options) *Server {
	t.Helper()
	s, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// fronted starts a Server on the tree at /mod and a front before it with
// rules; it returns the front and the files.
func fronted(t *testing.T, rules string) (*Server, map[string][]byte) {
	t.Helper()
	root, files := tree(t)
	back := start(t, Options{Dir: root, Prefix: "/mod"})
	rs, err := ParseRules("rules", strings.NewReader(rules))
	if err != nil {
		t.Fatal(err)
	}
	return start(t, Options{Backend: back.URL, Rules: rs}), files
}

// oneShot is a client that never reuses a connection (so never retries a
// request on one that broke).
var oneShot = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

type result struct {
	resp *http.Response
	body []byte
	err  error // of the request or of reading the body
}

func get(c *http.Client, url string, hdr ...string) result {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return result{err: err}
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return result{resp, body, err}
}

func mustGet(t *testing.T, url string, wantCode int, hdr ...string) result {
	t.Helper()
	r := get(oneShot, url, hdr...)
	if r.err != nil {
		t.Fatalf("GET %s: %v", url, r.err)
	}
	if r.resp.StatusCode != wantCode {
		t.Fatalf("GET %s: %s, want %d\n%s", url, r.resp.Status, wantCode, r.body)
	}
	return r
}

func TestServeDir(t *testing.T) {
	root, files := tree(t)
	s := start(t, Options{Dir: root})
	for _, p := range []string{listPath, infoPath, modPath, zipPath} {
		r := mustGet(t, s.URL+"/"+p, 200)
		if !bytes.Equal(r.body, files[p]) {
			t.Errorf("%s: wrong body", p)
		}
		if r.resp.Header.Get("ETag") == "" || r.resp.Header.Get("Accept-Ranges") != "bytes" {
			t.Errorf("%s: headers %v", p, r.resp.Header)
		}
	}
	if ct := mustGet(t, s.URL+"/"+zipPath, 200).resp.Header.Get("Content-Type"); ct != "application/zip" {
		t.Errorf("zip Content-Type %q", ct)
	}
	if ct := mustGet(t, s.URL+"/"+infoPath, 200).resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("info Content-Type %q", ct)
	}
	mustGet(t, s.URL+"/example.com/b/@v/list", 404)
	mustGet(t, s.URL+"/example.com/a/@v", 404)
	mustGet(t, s.URL+"/example.com/a/@v/../@v/list", 404)
	want := []string{"GET /" + listPath, "GET /" + infoPath, "GET /" + modPath, "GET /" + zipPath}
	if got := s.Log(); !slices.Equal(got[:4], want) || s.Count() != 9 {
		t.Errorf("log %q", got)
	}
	s.Reset()
	if s.Count() != 0 || s.Stats() != (Stats{}) {
		t.Errorf("after Reset: %d requests, %+v", s.Count(), s.Stats())
	}
}

func TestBackend(t *testing.T) {
	f, files := fronted(t, "")
	if !strings.HasSuffix(f.URL, "/mod") {
		t.Fatalf("front URL %s does not keep the backend's path", f.URL)
	}
	r := mustGet(t, f.URL+"/"+zipPath, 200)
	if !bytes.Equal(r.body, files[zipPath]) || r.resp.Header.Get("ETag") == "" {
		t.Errorf("zip through the front: %d bytes, headers %v", len(r.body), r.resp.Header)
	}
	mustGet(t, f.URL+"/example.com/b/@v/list", 404)
	mustGet(t, strings.TrimSuffix(f.URL, "/mod")+"/other/"+listPath, 404)
	if got := f.Log(); len(got) != 3 || got[0] != "GET /mod/"+zipPath {
		t.Errorf("log %q", got)
	}
	if got := f.Served(); len(got) != 1 || got[zipPath] != len(files[zipPath]) {
		t.Errorf("served %v", got)
	}
}

func TestRanges(t *testing.T) {
	root, files := tree(t)
	dir := start(t, Options{Dir: root, Prefix: "/mod"})
	front := start(t, Options{Backend: dir.URL})
	body := files[zipPath]
	n := len(body)
	for _, s := range []*Server{dir, front} {
		u := s.URL + "/" + zipPath
		etag := mustGet(t, u, 200).resp.Header.Get("ETag")
		for _, tc := range []struct {
			hdr        []string
			code       int
			start, end int // of the body expected (206, 200)
			cr         string
		}{
			{[]string{"Range", "bytes=0-9"}, 206, 0, 10, fmt.Sprintf("bytes 0-9/%d", n)},
			{[]string{"Range", "bytes=100-"}, 206, 100, n, fmt.Sprintf("bytes 100-%d/%d", n-1, n)},
			{[]string{"Range", "bytes=-5"}, 206, n - 5, n, fmt.Sprintf("bytes %d-%d/%d", n-5, n-1, n)},
			{[]string{"Range", fmt.Sprintf("bytes=%d-%d", n-3, n+100)}, 206, n - 3, n, fmt.Sprintf("bytes %d-%d/%d", n-3, n-1, n)},
			{[]string{"Range", fmt.Sprintf("bytes=-%d", n+100)}, 206, 0, n, fmt.Sprintf("bytes 0-%d/%d", n-1, n)},
			{[]string{"Range", fmt.Sprintf("bytes=%d-", n)}, 416, 0, 0, fmt.Sprintf("bytes */%d", n)},
			{[]string{"Range", "bytes=-0"}, 416, 0, 0, fmt.Sprintf("bytes */%d", n)},
			{[]string{"Range", "bytes=0-1,5-6"}, 200, 0, n, ""},
			{[]string{"Range", "bytes=9-2"}, 200, 0, n, ""},
			{[]string{"Range", "items=0-1"}, 200, 0, n, ""},
			{[]string{"Range", "bytes=10-19", "If-Range", etag}, 206, 10, 20, fmt.Sprintf("bytes 10-19/%d", n)},
			{[]string{"Range", "bytes=10-19", "If-Range", `"other"`}, 200, 0, n, ""},
			{[]string{"Range", "bytes=10-19", "If-Range", "W/" + etag}, 200, 0, n, ""},
			{[]string{"Range", "bytes=10-19", "If-Range", "Mon, 02 Jan 2023 03:04:05 GMT"}, 200, 0, n, ""},
		} {
			r := mustGet(t, u, tc.code, tc.hdr...)
			if got := r.resp.Header.Get("Content-Range"); got != tc.cr {
				t.Errorf("%v: Content-Range %q, want %q", tc.hdr, got, tc.cr)
			}
			if r.resp.Header.Get("Accept-Ranges") != "bytes" {
				t.Errorf("%v: no Accept-Ranges", tc.hdr)
			}
			if tc.code != 416 && !bytes.Equal(r.body, body[tc.start:tc.end]) {
				t.Errorf("%v: got %d bytes, want body[%d:%d]", tc.hdr, len(r.body), tc.start, tc.end)
			}
		}
	}

	// ignore-range answers the whole body, once.
	rs, _ := ParseRules("r", strings.NewReader("*.zip ignore-range x1\n"))
	front.SetRules(rs)
	r := mustGet(t, front.URL+"/"+zipPath, 200, "Range", "bytes=0-9")
	if !bytes.Equal(r.body, body) || r.resp.Header.Get("Accept-Ranges") != "" {
		t.Errorf("ignore-range: %d bytes, Accept-Ranges %q", len(r.body), r.resp.Header.Get("Accept-Ranges"))
	}
	mustGet(t, front.URL+"/"+zipPath, 206, "Range", "bytes=0-9")

	// A corrupted range is damaged in the bytes sent; a truncated one is
	// cut to half of the range.
	rs, _ = ParseRules("r", strings.NewReader("*.zip corrupt x1\n*.zip truncate x1\n"))
	front.SetRules(rs)
	r = mustGet(t, front.URL+"/"+zipPath, 206, "Range", "bytes=1000-1999")
	if len(r.body) != 1000 || bytes.Equal(r.body, body[1000:2000]) {
		t.Errorf("corrupt range: %d bytes, undamaged=%v", len(r.body), bytes.Equal(r.body, body[1000:2000]))
	}
	r = get(oneShot, front.URL+"/"+zipPath, "Range", "bytes=1000-1999")
	if !errors.Is(r.err, io.ErrUnexpectedEOF) || len(r.body) != 500 || r.resp.StatusCode != 206 {
		t.Errorf("truncated range: %v, %d bytes", r.err, len(r.body))
	}
}

func TestFaults(t *testing.T) {
	f, files := fronted(t, "")
	set := func(rules string) {
		t.Helper()
		rs, err := ParseRules("rules", strings.NewReader(rules))
		if err != nil {
			t.Fatal(err)
		}
		f.SetRules(rs)
	}
	u := func(p string) string { return f.URL + "/" + p }
	zipBody, modBody := files[zipPath], files[modPath]

	set("*.mod status 503 retry-after=7\n")
	r := mustGet(t, u(modPath), 503)
	if r.resp.Header.Get("Retry-After") != "7" || string(r.body) != "injected 503\n" {
		t.Errorf("status: %v %q", r.resp.Header, r.body)
	}

	set("*.mod reset\n")
	if r := get(oneShot, u(modPath)); r.err == nil {
		t.Errorf("reset: no error, %s", r.resp.Status)
	}

	set("*.zip reset-mid\n")
	if r := get(oneShot, u(zipPath)); r.err == nil || len(r.body) >= len(zipBody) {
		t.Errorf("reset-mid: %v, %d bytes", r.err, len(r.body))
	}

	set("*.zip truncate\n")
	if r := get(oneShot, u(zipPath)); !errors.Is(r.err, io.ErrUnexpectedEOF) || len(r.body) != len(zipBody)/2 {
		t.Errorf("truncate: %v, %d bytes", r.err, len(r.body))
	}

	set("*.zip short\n")
	if r := mustGet(t, u(zipPath), 200); !bytes.Equal(r.body, zipBody[:len(zipBody)/2]) {
		t.Errorf("short: %d bytes, want the first %d", len(r.body), len(zipBody)/2)
	}

	set("*.zip corrupt\n")
	c1 := mustGet(t, u(zipPath), 200).body
	c2 := mustGet(t, u(zipPath), 200).body
	if len(c1) != len(zipBody) || bytes.Equal(c1, zipBody) || bytes.Equal(c1, c2) {
		t.Errorf("corrupt: %d bytes, undamaged=%v, same twice=%v", len(c1), bytes.Equal(c1, zipBody), bytes.Equal(c1, c2))
	}

	set("* tamper\n")
	r = mustGet(t, u(modPath), 200)
	if string(r.body) != string(modBody)+"// tampered\n" {
		t.Errorf("tamper mod: %q", r.body)
	}
	r = mustGet(t, u(zipPath), 200)
	zr, err := zip.NewReader(bytes.NewReader(r.body), int64(len(r.body)))
	if err != nil {
		t.Fatalf("tampered zip: %v", err)
	}
	var names []string
	for _, zf := range zr.File {
		names = append(names, zf.Name)
	}
	if !slices.Contains(names, "example.com/a@v1.0.0/tampered.go") || len(names) != 4 {
		t.Errorf("tampered zip holds %q", names)
	}

	set("*.zip garbage\n")
	if r := mustGet(t, u(zipPath), 200); !bytes.HasPrefix(r.body, []byte("<html>")) {
		t.Errorf("garbage: %q", r.body)
	}

	set("*.mod hostile body\n*.info hostile info\n*/list hostile status\n")
	if r := mustGet(t, u(modPath), 403); string(r.body) != HostileText {
		t.Errorf("hostile body: %q", r.body)
	}
	r = mustGet(t, u(infoPath), 200)
	var info struct{ Version string }
	if err := json.Unmarshal(r.body, &info); err != nil || !strings.Contains(info.Version, "\x1b]0;owned") {
		t.Errorf("hostile info: %v %q", err, r.body)
	}
	if r := mustGet(t, u(listPath), 404); !strings.Contains(r.resp.Status, "\x1b]0;owned") {
		t.Errorf("hostile status: %q", r.resp.Status)
	}

	for _, rule := range []string{"stall-headers 20ms", "slow 20ms"} {
		set("*.mod " + rule + "\n")
		t0 := time.Now()
		r := mustGet(t, u(modPath), 200)
		if !bytes.Equal(r.body, modBody) || time.Since(t0) < 20*time.Millisecond {
			t.Errorf("%s: %q after %v", rule, r.body, time.Since(t0))
		}
	}

	set("*.zip stall-body 20ms\n")
	t0 := time.Now()
	if r := get(oneShot, u(zipPath)); !errors.Is(r.err, io.ErrUnexpectedEOF) || len(r.body) != len(zipBody)/2 || time.Since(t0) < 20*time.Millisecond {
		t.Errorf("stall-body: %v, %d bytes, after %v", r.err, len(r.body), time.Since(t0))
	}

	set("*.mod trickle 1ms\n")
	t0 = time.Now()
	if r := mustGet(t, u(modPath), 200); !bytes.Equal(r.body, modBody) || time.Since(t0) < time.Duration(len(modBody))*time.Millisecond {
		t.Errorf("trickle: %q after %v", r.body, time.Since(t0))
	}

	// random 1: every answer is a fault; random 0: none is.
	set("*.mod random 1 seed=3\n")
	for i := range 16 {
		if r := get(oneShot, u(modPath)); r.err == nil && r.resp.StatusCode == 200 && bytes.Equal(r.body, modBody) {
			t.Errorf("random 1: request %d answered cleanly", i)
		}
	}
	set("*.mod random 0\n")
	for range 4 {
		mustGet(t, u(modPath), 200)
	}

	// xN and first match.
	set("*.mod status 500 x2\n*.mod status 404 x1\n")
	for _, want := range []int{500, 500, 404, 200, 200} {
		mustGet(t, u(modPath), want)
	}
	// Faults leave other paths alone; a rule's glob matches "/" too.
	set("example.com/*/v1.0.0.info status 410\n")
	mustGet(t, u(infoPath), 410)
	mustGet(t, u(modPath), 200)
	f.SetRules(nil)
	mustGet(t, u(infoPath), 200)
}

func TestParseRules(t *testing.T) {
	rs, err := ParseRules("ok", strings.NewReader("# a comment\n\n*.zip truncate x2 # trailing\n* random 0.5 seed=9\n*.info status 429 retry-after=1\n"))
	if err != nil || len(rs.list) != 3 || rs.list[0].left != 2 || rs.list[2].arg != "429 retry-after=1" {
		t.Fatalf("ParseRules: %v %+v", err, rs)
	}
	for _, bad := range []string{"*.zip", "*.zip explode", "* status", "* hostile", "* hostile rude", "* slow", "* slow soon", "* random", "* random p", "* random 0.1 seed=x", "* reset-file-at", "* reset-file-at 2"} {
		if _, err := ParseRules("bad", strings.NewReader("\n"+bad+"\n")); err == nil || !strings.HasPrefix(err.Error(), "bad:2: ") {
			t.Errorf("%q: error %v", bad, err)
		}
	}
	file := filepath.Join(t.TempDir(), "faults")
	os.WriteFile(file, []byte("* bogus\n"), 0o666)
	if _, err := LoadRules(file); err == nil || !strings.HasPrefix(err.Error(), file+":1: ") {
		t.Errorf("LoadRules: %v", err)
	}
	s := start(t, Options{Dir: t.TempDir()})
	if err := s.LoadRules(file); err == nil {
		t.Errorf("Server.LoadRules accepted a bad file")
	}
}

func TestStallAt(t *testing.T) {
	root, files := tree(t)
	s := start(t, Options{Dir: root})
	zipBody := files[zipPath]

	// Stall after 100 body bytes: they arrive, the rest waits for Release.
	hit := s.StallAt(zipPath, 100)
	resp, err := oneShot.Get(s.URL + "/" + zipPath)
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 100)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}
	<-hit
	s.Release()
	rest, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(append(first, rest...), zipBody) {
		t.Fatalf("after release: %v, %d bytes", err, 100+len(rest))
	}
	if _, ok := s.Served()[zipPath]; ok {
		t.Errorf("a stalled response counts as served whole")
	}
	mustGet(t, s.URL+"/"+zipPath, 200)
	if got := s.Served()[zipPath]; got != len(zipBody) {
		t.Errorf("served %d, want %d", got, len(zipBody))
	}

	// Two stalls before the headers at once: both are in flight.
	s.Reset()
	hits := []<-chan struct{}{s.StallAt(listPath, -1), s.StallAt(modPath, -1)}
	var wg sync.WaitGroup
	results := make([]result, 2)
	for i, p := range []string{listPath, modPath} {
		wg.Go(func() { results[i] = get(oneShot, s.URL+"/"+p) })
	}
	for _, h := range hits {
		<-h
	}
	if n := s.MaxInFlight(); n != 2 {
		t.Errorf("MaxInFlight %d, want 2", n)
	}
	s.Release()
	wg.Wait()
	for i, p := range []string{listPath, modPath} {
		if r := results[i]; r.err != nil || !bytes.Equal(r.body, files[p]) {
			t.Errorf("%s after release: %v %q", p, r.err, r.body)
		}
	}
	// A hook is used once; Release drops those not reached.
	mustGet(t, s.URL+"/"+listPath, 200)
	s.StallAt(listPath, 0)
	s.Release()
	mustGet(t, s.URL+"/"+listPath, 200)
	s.Reset()
	if s.MaxInFlight() != 0 {
		t.Errorf("MaxInFlight after Reset: %d", s.MaxInFlight())
	}
}

func TestNetwork(t *testing.T) {
	root, files := tree(t)
	zipBody := files[zipPath]

	// RTT: a request on a new connection waits two, then one each.
	const rtt = 30 * time.Millisecond
	s := start(t, Options{Dir: root, Network: Network{RTT: rtt}})
	t0 := time.Now()
	mustGet(t, s.URL+"/"+listPath, 200)
	if d := time.Since(t0); d < 2*rtt {
		t.Errorf("first request took %v, want >= %v", d, 2*rtt)
	}
	for range 2 {
		mustGet(t, s.URL+"/"+modPath, 200)
	}
	if st := s.Stats(); st.Requests != 3 || st.Conns != 3 || st.Bytes != int64(len(files[listPath])+2*len(files[modPath])) {
		t.Errorf("stats %+v", st)
	}

	// Per-connection bandwidth: the zip takes at least its size over it
	// (less the first piece, which goes at once).
	const bw = 1 << 20
	s = start(t, Options{Dir: root, Network: Network{ConnBW: bw, Chunk: 8 << 10}})
	t0 = time.Now()
	if r := mustGet(t, s.URL+"/"+zipPath, 200); !bytes.Equal(r.body, zipBody) {
		t.Fatal("paced body differs")
	}
	if d, min := time.Since(t0), time.Duration(float64(len(zipBody)-8<<10)/bw*float64(time.Second)); d < min {
		t.Errorf("paced zip took %v, want >= %v", d, min)
	}

	// Link bandwidth: two at once take at least both sizes over it.
	s = start(t, Options{Dir: root, Network: Network{LinkBW: bw, Chunk: 8 << 10}})
	t0 = time.Now()
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if r := get(oneShot, s.URL+"/"+zipPath); r.err != nil || !bytes.Equal(r.body, zipBody) {
				t.Errorf("linked: %v", r.err)
			}
		})
	}
	wg.Wait()
	if d, min := time.Since(t0), time.Duration(float64(2*len(zipBody)-8<<10)/bw*float64(time.Second)); d < min {
		t.Errorf("two zips over the link took %v, want >= %v", d, min)
	}
	if st := s.Stats(); st.Bytes != int64(2*len(zipBody)) {
		t.Errorf("link stats %+v", st)
	}
}

// TestResetFileAt: reset-file-at cuts the first response that gets to a
// byte of the file, whatever range it answers, and spends its use only
// then.
func TestResetFileAt(t *testing.T) {
	root, files := tree(t)
	body := files[zipPath]
	n := len(body)
	at := int(0.75 * float64(n))
	// Paced, so that a client that goes away early is noticed before the
	// byte is reached.
	s := start(t, Options{Dir: root, Network: Network{ConnBW: 256 << 10, Chunk: 4 << 10}, Rules: mustRules(t, "*.zip reset-file-at 0.75 x1\n")})
	u := s.URL + "/" + zipPath

	// A range before the byte: whole.
	r := mustGet(t, u, 206, "Range", fmt.Sprintf("bytes=0-%d", n/2-1))
	if !bytes.Equal(r.body, body[:n/2]) {
		t.Errorf("range before the byte: %d bytes", len(r.body))
	}
	// A whole GET that the client closes early: not cut, use not spent.
	resp, err := oneShot.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadFull(resp.Body, make([]byte, 1<<10))
	resp.Body.Close()
	time.Sleep(50 * time.Millisecond)
	if c := s.Cuts(); len(c) != 0 {
		t.Fatalf("cut a response its client closed: %v", c)
	}
	// The range that holds the byte: reset right there.
	from := n / 2
	r = get(oneShot, u, "Range", fmt.Sprintf("bytes=%d-", from))
	if r.err == nil || r.resp.StatusCode != 206 || len(r.body) > at-from || !bytes.Equal(r.body, body[from:from+len(r.body)]) {
		t.Errorf("range holding the byte: %v, %d bytes, want at most %d", r.err, len(r.body), at-from)
	}
	want := Cut{Path: zipPath, From: int64(from), To: int64(n), Size: int64(n), At: int64(at)}
	if c := s.Cuts(); len(c) != 1 || c[0] != want {
		t.Errorf("Cuts() = %v, want [%v]", c, want)
	}
	if !strings.Contains(want.String(), "of the range") {
		t.Errorf("Cut.String() = %q", want.String())
	}
	// x1: spent.
	t0 := time.Now()
	if fin := s.Finished(zipPath); fin.IsZero() || fin.After(t0) {
		t.Errorf("Finished %v, want the end of the first range, before %v", fin, t0)
	}
	if r := mustGet(t, u, 200); !bytes.Equal(r.body, body) {
		t.Errorf("after the cut: %d bytes", len(r.body))
	}
	// The server records the end after its last write returns, which may
	// be after the client has read the last byte: wait for it.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		fin := s.Finished(zipPath)
		if !fin.Before(t0) {
			if fin.After(time.Now()) {
				t.Errorf("Finished %v, in the future", fin)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Finished %v, want after %v", fin, t0)
		}
	}
	if c := s.Cuts(); len(c) != 1 {
		t.Errorf("cut twice: %v", c)
	}
	s.Reset()
	if c := s.Cuts(); len(c) != 0 || !s.Finished(zipPath).IsZero() {
		t.Errorf("after Reset: Cuts %v, Finished %v", c, s.Finished(zipPath))
	}

	// Unlimited, on a whole body: every GET is cut at the byte.
	s.SetRules(mustRules(t, "*.zip reset-file-at 0.5\n"))
	for range 2 {
		if r := get(oneShot, u); r.err == nil || len(r.body) > n/2 {
			t.Errorf("whole body: %v, %d bytes", r.err, len(r.body))
		}
	}
	if c := s.Cuts(); len(c) != 2 || !strings.Contains(c[0].String(), "(all ") {
		t.Errorf("Cuts() = %v", c)
	}
}

// TestClose: Close ends every wait at once and returns when every
// goroutine has ended (the bounds are generous: the waits are 50s).
func TestClose(t *testing.T) {
	root, files := tree(t)
	for _, tc := range []struct {
		name  string
		setup func(s *Server)
		net   Network
		path  string
	}{
		{"stall-body", func(s *Server) { s.SetRules(mustRules(t, "* stall-body 50s")) }, Network{}, zipPath},
		{"stall-headers", func(s *Server) { s.SetRules(mustRules(t, "* stall-headers 50s")) }, Network{}, zipPath},
		{"trickle", func(s *Server) { s.SetRules(mustRules(t, "* trickle 50s")) }, Network{}, modPath},
		{"hold", func(s *Server) { s.StallAt(zipPath, 10) }, Network{}, zipPath},
		{"rtt", func(*Server) {}, Network{RTT: 50 * time.Second}, zipPath},
		{"slow link", func(*Server) {}, Network{LinkBW: 1, Chunk: 1}, modPath},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Start(Options{Dir: root, Network: tc.net})
			if err != nil {
				t.Fatal(err)
			}
			tc.setup(s)
			done := make(chan result, 1)
			go func() { done <- get(oneShot, s.URL+"/"+tc.path) }()
			for s.Stats().Conns == 0 {
				time.Sleep(time.Millisecond)
			}
			time.Sleep(20 * time.Millisecond) // let it reach its wait (if it has not, Close still ends it)
			t0 := time.Now()
			s.Close()
			if d := time.Since(t0); d > 10*time.Second {
				t.Errorf("Close took %v", d)
			}
			select {
			case r := <-done:
				if r.err == nil && bytes.Equal(r.body, files[tc.path]) {
					t.Errorf("the request completed")
				}
			case <-time.After(10 * time.Second):
				t.Errorf("the client still waits after Close")
			}
			if left := serverGoroutines(5 * time.Second); left != "" {
				t.Errorf("goroutines left after Close:\n%s", left)
			}
		})
	}
}

// serverGoroutines waits up to d for no goroutine to be running the
// Server's code and returns the stacks of those that still are.
func serverGoroutines(d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var left []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "faultproxy.(*Server)") || strings.Contains(g, "faultproxy.(*slowConn)") || strings.Contains(g, "faultproxy.sleep") {
				left = append(left, g)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return strings.Join(left, "\n\n")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mustRules(t *testing.T, text string) *Rules {
	t.Helper()
	rs, err := ParseRules("rules", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestDeadURL(t *testing.T) {
	u, release, err := DeadURL("/mod")
	defer release()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(u, "/mod") {
		t.Errorf("DeadURL %s", u)
	}
	if r := get(oneShot, u+"/"+listPath); r.err == nil {
		t.Errorf("a dead proxy answered %s", r.resp.Status)
	}
}

func TestStartOptions(t *testing.T) {
	if _, err := Start(Options{}); err == nil {
		t.Error("Start with no source")
	}
	if _, err := Start(Options{Dir: "x", Backend: "http://127.0.0.1:1"}); err == nil {
		t.Error("Start with two sources")
	}
}

func TestKeyedRules(t *testing.T) {
	paths := make([]string, 200)
	for i := range paths {
		paths[i] = fmt.Sprintf("example.com/m%d/@v/v1.0.0.zip", i)
	}
	// faults asks for every path three times, the paths in the order given
	// (each round), and returns what each request met.
	// ("" for none, else "action arg").
	faults := func(text string, order []string) map[string][3]string {
		rs := mustRules(t, text)
		got := map[string][3]string{}
		for n := range 3 {
			for _, p := range order {
				a := got[p]
				if f := rs.pick(p); f.action != "" {
					a[n] = f.action + " " + f.arg
				}
				got[p] = a
			}
		}
		return got
	}
	reversed := slices.Clone(paths)
	slices.Reverse(reversed)

	// p= draws by path and request, not by arrival; a rule that does not
	// fire lets the next one decide; first=N counts per path.
	const keyed = "* status 503 p=0.5 seed=7 first=2\n*.zip status 500 first=1\n"
	rs := mustRules(t, keyed)
	for range 3 {
		rs.pick(paths[0])
	}
	if rs.Faults() != 1 && rs.Faults() != 2 {
		t.Errorf("Faults: %d after 3 requests for one path, want 1 or 2 (first=2)", rs.Faults())
	}
	a, b := faults(keyed, paths), faults(keyed, reversed)
	if !maps.Equal(a, b) {
		t.Errorf("p=: the faults depend on the order of the requests")
	}
	var n503 int
	for _, p := range paths {
		got := a[p]
		switch {
		case got[0] != "status 503" && got[0] != "status 500":
			t.Errorf("%s: first request met %q, want 503 or 500 (the next rule)", p, got[0])
		case got[1] != "status 503" && got[1] != "":
			t.Errorf("%s: second request met %q, want 503 or nothing", p, got[1])
		case got[2] != "":
			t.Errorf("%s: third request met %q, want nothing (first=2)", p, got[2])
		}
		if got[0] == "status 503" {
			n503++
		}
	}
	if n503 < 60 || n503 > 140 {
		t.Errorf("p=0.5: %d of %d first requests met 503", n503, len(paths))
	}
	if c := faults("* status 503 p=0.5 seed=8\n", paths); maps.Equal(a, c) {
		t.Errorf("seed=8 drew the same faults as seed=7")
	}

	// random draws the same way, and falls through when it does not fire.
	const random = "* random 0.3 seed=3\n* status 404\n"
	a, b = faults(random, paths), faults(random, reversed)
	if !maps.Equal(a, b) {
		t.Errorf("random: the faults depend on the order of the requests")
	}
	kinds := map[string]int{}
	for _, p := range paths {
		for _, f := range a[p] {
			kinds[f]++
		}
	}
	if kinds["status 404"] < 300 || len(kinds) < 6 {
		t.Errorf("random 0.3 over 600 requests met %v", kinds)
	}

	// Modifiers may come in any order, xN last or not.
	rs = mustRules(t, "*.zip status 500 x1 p=1 first=3\n")
	if r := rs.list[0]; r.left != 1 || r.arg != "500" || r.first != 3 || r.prob != 1 {
		t.Errorf("parsed %+v", r)
	}
	for _, bad := range []string{"* status 500 p=2", "* status 500 p=x", "* status 500 first=0", "* status 500 seed=-1", "* random 0.3 p=0.5", "* random 0.3 extra"} {
		if _, err := ParseRules("bad", strings.NewReader(bad+"\n")); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}
