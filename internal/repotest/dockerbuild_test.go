package repotest

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/goproxytest"
	"github.com/rogpeppe/go-internal/txtar"
)

// The real build test talks to a Docker daemon that .ci/run starts (Debian's
// docker.io, BuildKit built in) and describes in these variables.
const (
	envDockerHost = "GOMODFETCH_DOCKER_HOST" // the daemon's socket, unix://…
	envDockerCLI  = "GOMODFETCH_DOCKER"      // the client with BuildKit (/usr/bin/docker)
	envDockerSkip = "GOMODFETCH_DOCKER_SKIP" // why no daemon could be started
)

// TestDockerBuild builds Dockerfile.example under a real BuildKit (plain
// `docker build`, DOCKER_BUILDKIT=1) against a loopback proxy that answers
// 503 to the first request for each zip and go.mod:
//
//   - the first build succeeds through the faults and its service runs;
//   - a second build after a source change, with the gomodfetch step's
//     layer busted by a build argument, makes no module request: the cache
//     mount kept the modules;
//   - two builds started together on an emptied cache mount (sharing=shared)
//     both succeed, and go mod verify then finds the cache valid;
//   - each build's last stage runs `GOPROXY=off go build`, which fails if
//     anything is missing that gomodfetch did not fetch.
//
// Base images come from this machine (no registry is reachable): the Go
// toolchain and a static busybox, imported with `docker import`; the
// gomodfetch source is an imported image too, named by GOMODFETCH_SRC.
func TestDockerBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds images")
	}
	if raceEnabled {
		t.Skip("the race detector adds nothing to a container build; the plain run covers it")
	}
	d := newDockerDaemon(t)
	t.Logf("real BuildKit build: daemon %s, client %s", d.host, d.cli)

	tmp := t.TempDir()
	pr := startFaultyProxy(t, tmp)
	svc := dockerService(t, tmp, pr)

	// Images: the Go toolchain (a stand-in for golang:1.26), a runtime
	// image, and the gomodfetch source, each with its own tag.
	id := fmt.Sprintf("t%d", time.Now().UnixNano())
	goImage, runImage, srcImage := "gomodfetch-test-go:"+id, "gomodfetch-test-run:"+id, "gomodfetch-test-src:"+id
	d.importImage(t, goImage, goToolchainTar(t), "ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"ENV GOPATH=/go", "ENV HOME=/root", "ENV GOTOOLCHAIN=local")
	d.importImage(t, runImage, busyboxTar(t, nil))
	d.importImage(t, srcImage, sourceTar(t))
	t.Cleanup(func() { d.run(t, "rmi", "-f", goImage, runImage, srcImage) })

	build := func(tag string, args ...string) string {
		t.Helper()
		a := []string{"build", "--network", "host", "--progress", "plain", "-t", tag,
			"--build-arg", "GO_IMAGE=" + goImage, "--build-arg", "RUNTIME_IMAGE=" + runImage,
			"--build-arg", "GOMODFETCH_SRC=" + srcImage, "--build-arg", "GOPROXY=" + pr.URL}
		for _, arg := range args {
			a = append(a, "--build-arg", arg)
		}
		out, err := d.cmd(append(a, svc)...)
		if err != nil {
			t.Fatalf("docker build %s: %v\n%s", tag, err, out)
		}
		t.Cleanup(func() { d.run(t, "rmi", "-f", tag) })
		t.Logf("%s: %s", tag, summaryLines(out))
		return out
	}
	runService := func(tag, want string) {
		t.Helper()
		out, err := d.cmd("run", "--rm", "--network", "none", tag)
		if err != nil || strings.TrimSpace(out) != want {
			t.Fatalf("docker run %s: %v: %q; want %q", tag, err, out, want)
		}
	}
	d.emptyCacheMount(t, goImage)

	// 1. Through the faults.
	start := time.Now()
	out := build("gomodfetch-test-svc:" + id + "-1")
	reqs, faults := pr.counts()
	t.Logf("first build: %.0fs, %d requests, %d faults injected", time.Since(start).Seconds(), reqs, faults)
	if faults == 0 {
		t.Fatalf("no fault was injected: the build did not ask the proxy?\n%s", out)
	}
	runService("gomodfetch-test-svc:"+id+"-1", dockerServiceWant)

	// 2. A source change and a busted gomodfetch layer: the cache mount
	// answers everything.
	writeFile(t, filepath.Join(svc, "main.go"), strings.Replace(dockerServiceMain, `"\n"`, `" (again)\n"`, 1))
	start = time.Now()
	out = build("gomodfetch-test-svc:"+id+"-2", "GOMODFETCH_FLAGS=-x")
	again, _ := pr.counts()
	t.Logf("second build: %.0fs, %d module requests", time.Since(start).Seconds(), again-reqs)
	if again != reqs {
		t.Errorf("second build made %d module requests; want none (the cache mount should hold every module)\n%s", again-reqs, out)
	}
	if !strings.Contains(out, "modules (0 downloaded, 4 from the cache, 0 failed), 0 requests") {
		t.Errorf("second build: gomodfetch did not run on a warm cache (no summary line)\n%s", out)
	}
	runService("gomodfetch-test-svc:"+id+"-2", dockerServiceWant+" (again)")

	// 3. Two builds at once on one emptied cache mount, faults re-armed.
	d.emptyCacheMount(t, goImage)
	pr.rearm()
	start = time.Now()
	var wg sync.WaitGroup
	outs := make([]string, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Different flags, so that BuildKit does not merge the two
			// gomodfetch steps into one.
			outs[i], errs[i] = d.cmd("build", "--network", "host", "--progress", "plain",
				"-t", fmt.Sprintf("gomodfetch-test-svc:%s-p%d", id, i),
				"--build-arg", "GO_IMAGE="+goImage, "--build-arg", "RUNTIME_IMAGE="+runImage,
				"--build-arg", "GOMODFETCH_SRC="+srcImage, "--build-arg", "GOPROXY="+pr.URL,
				"--build-arg", fmt.Sprintf("GOMODFETCH_FLAGS=-j %d", i+1), svc)
		}()
	}
	wg.Wait()
	for i := range 2 {
		tag := fmt.Sprintf("gomodfetch-test-svc:%s-p%d", id, i)
		t.Cleanup(func() { d.run(t, "rmi", "-f", tag) })
		if errs[i] != nil {
			t.Fatalf("parallel build %d: %v\n%s", i, errs[i], outs[i])
		}
		t.Logf("%s: %s", tag, summaryLines(outs[i]))
		runService(tag, dockerServiceWant+" (again)")
	}
	par, parFaults := pr.counts()
	t.Logf("parallel builds: %.0fs, %d requests, %d faults injected", time.Since(start).Seconds(), par-again, parFaults-faults)
	if par == again {
		t.Errorf("the parallel builds made no request: the cache mount was not emptied")
	}
	d.verifyCacheMount(t, goImage, svc)
}

// summaryLines returns gomodfetch's summary lines in a build's output.
func summaryLines(out string) string {
	var s []string
	for _, l := range strings.Split(out, "\n") {
		if _, after, ok := strings.Cut(l, " gomodfetch: "); ok && strings.Contains(after, " modules (") {
			s = append(s, "gomodfetch: "+after)
		}
	}
	return strings.Join(s, "; ")
}

// dockerDaemon is the daemon the test builds with.
type dockerDaemon struct{ host, cli string }

func newDockerDaemon(t *testing.T) *dockerDaemon {
	t.Helper()
	if why := os.Getenv(envDockerSkip); why != "" {
		t.Skipf("SKIP: no real BuildKit build: .ci/run could not start dockerd: %s", why)
	}
	d := &dockerDaemon{host: os.Getenv(envDockerHost), cli: os.Getenv(envDockerCLI)}
	if d.host == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set but %s is not: .ci/run should start dockerd (or say in %s why it could not)", envDockerHost, envDockerSkip)
		}
		t.Skipf("SKIP: no real BuildKit build: %s is not set (.ci/run starts a dockerd and sets it)", envDockerHost)
	}
	if d.cli == "" {
		d.cli = "/usr/bin/docker"
	}
	if out, err := d.cmd("version"); err != nil {
		t.Fatalf("docker version: %v\n%s", err, out)
	}
	return d
}

// cmd runs the docker client and returns its combined output.
func (d *dockerDaemon) cmd(args ...string) (string, error) {
	return d.cmdIn(nil, args...)
}

func (d *dockerDaemon) cmdIn(stdin io.Reader, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.cli, args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+d.host, "DOCKER_BUILDKIT=1")
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (d *dockerDaemon) run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := d.cmd(args...); err != nil {
		t.Errorf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// importImage makes an image of a root file system (a tar stream).
func (d *dockerDaemon) importImage(t *testing.T, tag string, rootfs io.Reader, changes ...string) {
	t.Helper()
	args := []string{"import"}
	for _, c := range changes {
		args = append(args, "--change", c)
	}
	if out, err := d.cmdIn(rootfs, append(args, "-", tag)...); err != nil {
		t.Fatalf("docker import %s: %v\n%s", tag, err, out)
	}
}

// buildHelper builds a one-off Dockerfile (cache busted) and returns its
// output.
func (d *dockerDaemon) buildHelper(t *testing.T, dockerfile string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "Dockerfile"), dockerfile)
	for name, data := range files {
		writeFile(t, filepath.Join(dir, name), data)
	}
	out, err := d.cmd("build", "--network", "none", "--progress", "plain", "--build-arg", fmt.Sprintf("BUST=%d", time.Now().UnixNano()), dir)
	if err != nil {
		t.Fatalf("docker build (helper):\n%s\n%v\n%s", dockerfile, err, out)
	}
	return out
}

// emptyCacheMount empties the module cache mount the Dockerfile uses (its
// id is its target, /go/pkg/mod).
func (d *dockerDaemon) emptyCacheMount(t *testing.T, goImage string) {
	t.Helper()
	d.buildHelper(t, "FROM "+goImage+"\nARG BUST\n"+
		"RUN --mount=type=cache,target=/go/pkg/mod,sharing=locked rm -rf /go/pkg/mod/* && ls -A /go/pkg/mod | wc -l\n", nil)
}

// verifyCacheMount checks the module cache mount against the service's
// go.sum with go mod verify, offline, and looks for leftovers of unfinished
// writes.
func (d *dockerDaemon) verifyCacheMount(t *testing.T, goImage, svc string) {
	t.Helper()
	files := map[string]string{}
	for _, f := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(svc, f))
		if err != nil {
			t.Fatal(err)
		}
		files[f] = string(data)
	}
	out := d.buildHelper(t, "FROM "+goImage+"\nARG BUST\nWORKDIR /src\nCOPY go.mod go.sum ./\n"+
		"RUN --mount=type=cache,target=/go/pkg/mod,sharing=locked GOPROXY=off GOFLAGS=-mod=mod go mod verify && "+
		"echo leftovers: $(find /go/pkg/mod -name '*.tmp' -o -name '*.partial' | wc -l)\n", files)
	if !strings.Contains(out, "all modules verified") || !strings.Contains(out, "leftovers: 0") {
		t.Errorf("the cache mount after the parallel builds:\n%s", out)
	}
}

// faultyProxy is a loopback front for a goproxytest server that answers 503
// to the first request for each .zip and .mod (until rearmed) and counts
// the requests that reach it.
type faultyProxy struct {
	URL     string
	backend string // the goproxytest server, without faults

	mu     sync.Mutex
	seen   map[string]bool
	reqs   int
	faults int
}

func (p *faultyProxy) counts() (reqs, faults int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reqs, p.faults
}

func (p *faultyProxy) rearm() {
	p.mu.Lock()
	p.seen = map[string]bool{}
	p.mu.Unlock()
}

func startFaultyProxy(t *testing.T, tmp string) *faultyProxy {
	t.Helper()
	ar := txtar.Parse([]byte(dockerServiceArchive))
	for _, f := range ar.Files {
		writeFile(t, filepath.Join(tmp, f.Name), string(f.Data))
	}
	srv, err := goproxytest.NewServer(filepath.Join(tmp, "proxy"), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	backend, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(backend)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// The reverse proxy adds the backend's path (/mod).
	p := &faultyProxy{URL: "http://" + l.Addr().String(), backend: srv.URL, seen: map[string]bool{}}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.reqs++
		fault := (strings.HasSuffix(r.URL.Path, ".zip") || strings.HasSuffix(r.URL.Path, ".mod")) && !p.seen[r.URL.Path]
		p.seen[r.URL.Path] = true
		if fault {
			p.faults++
		}
		p.mu.Unlock()
		if fault {
			http.Error(w, "injected fault", http.StatusServiceUnavailable)
			return
		}
		rp.ServeHTTP(w, r)
	})}
	go hs.Serve(l)
	t.Cleanup(func() { hs.Close() })
	return p
}

// dockerService writes the service's build context (go.sum from the real
// go command, reading the proxy directly) and returns its directory.
func dockerService(t *testing.T, tmp string, pr *faultyProxy) string {
	t.Helper()
	svc := filepath.Join(tmp, "svc")
	writeFile(t, filepath.Join(svc, "main.go"), dockerServiceMain)
	df, err := os.ReadFile("Dockerfile.example")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(svc, "Dockerfile"), string(df))
	// The go command does not retry: it reads the proxy without faults.
	cmd := exec.Command("go", "mod", "download", "-json", "example.com/a@v1.0.0", "example.com/b@v1.1.0", "example.com/c@v1.2.0", "example.com/d@v1.3.0")
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "GOPROXY="+pr.backend, "GOMODCACHE="+filepath.Join(tmp, "oracle-cache"),
		"GOFLAGS=-modcacherw", "GOSUMDB=off", "GOWORK=off", "GOTOOLCHAIN=local")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod download: %v\n%s", err, out)
	}
	var sum bytes.Buffer
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var m struct{ Path, Version, Sum, GoModSum string }
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&sum, "%s %s %s\n%s %s/go.mod %s\n", m.Path, m.Version, m.Sum, m.Path, m.Version, m.GoModSum)
	}
	writeFile(t, filepath.Join(svc, "go.sum"), sum.String())
	return svc
}

// dockerServiceArchive is the proxy's modules and the service's go.mod.
const dockerServiceArchive = `
-- proxy/example.com_a_v1.0.0/.mod --
module example.com/a

go 1.21
-- proxy/example.com_a_v1.0.0/.info --
{"Version":"v1.0.0","Time":"2023-01-02T03:04:05Z"}
-- proxy/example.com_a_v1.0.0/go.mod --
module example.com/a

go 1.21
-- proxy/example.com_a_v1.0.0/a.go --
package a

func Hello() string { return "hello from a" }
-- proxy/example.com_b_v1.1.0/.mod --
module example.com/b

go 1.21
-- proxy/example.com_b_v1.1.0/.info --
{"Version":"v1.1.0","Time":"2023-01-02T03:04:05Z"}
-- proxy/example.com_b_v1.1.0/go.mod --
module example.com/b

go 1.21
-- proxy/example.com_b_v1.1.0/b.go --
package b

const B = ", b"
-- proxy/example.com_c_v1.2.0/.mod --
module example.com/c

go 1.21
-- proxy/example.com_c_v1.2.0/.info --
{"Version":"v1.2.0","Time":"2023-01-02T03:04:05Z"}
-- proxy/example.com_c_v1.2.0/go.mod --
module example.com/c

go 1.21
-- proxy/example.com_c_v1.2.0/c.go --
package c

const C = ", c"
-- proxy/example.com_d_v1.3.0/.mod --
module example.com/d

go 1.21
-- proxy/example.com_d_v1.3.0/.info --
{"Version":"v1.3.0","Time":"2023-01-02T03:04:05Z"}
-- proxy/example.com_d_v1.3.0/go.mod --
module example.com/d

go 1.21
-- proxy/example.com_d_v1.3.0/d.go --
package d

const D = ", d"
-- svc/go.mod --
module example.com/svc

go 1.22

require (
	example.com/a v1.0.0
	example.com/b v1.1.0
	example.com/c v1.2.0
	example.com/d v1.3.0
)
`

const dockerServiceMain = `package main

import (
	"fmt"

	"example.com/a"
	"example.com/b"
	"example.com/c"
	"example.com/d"
)

func main() { fmt.Print(a.Hello() + b.B + c.C + d.D + "\n") }
`

const dockerServiceWant = "hello from a, b, c, d"

func writeFile(t *testing.T, name, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(data), 0o666); err != nil {
		t.Fatal(err)
	}
}

// tarWriter streams a root file system into a pipe.
type tarWriter struct {
	*tar.Writer
	err error
}

func (w *tarWriter) dir(name string) {
	if w.err == nil {
		w.err = w.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: 0o755})
	}
}

func (w *tarWriter) symlink(name, target string) {
	if w.err == nil {
		w.err = w.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777})
	}
}

func (w *tarWriter) data(name string, mode int64, data []byte) {
	if w.err == nil {
		w.err = w.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data))})
	}
	if w.err == nil {
		_, w.err = w.Write(data)
	}
}

// file adds the file at src (a regular file) as name.
func (w *tarWriter) file(name, src string) {
	if w.err != nil {
		return
	}
	f, err := os.Open(src)
	if err != nil {
		w.err = err
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		w.err = err
		return
	}
	if w.err = w.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: int64(fi.Mode().Perm()), Size: fi.Size()}); w.err == nil {
		_, w.err = io.Copy(w, f)
	}
}

// streamTar runs fill in the background, writing a tar stream that the
// returned reader reads.
func streamTar(fill func(w *tarWriter)) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		w := &tarWriter{Writer: tar.NewWriter(pw)}
		fill(w)
		if w.err == nil {
			w.err = w.Close()
		}
		pw.CloseWithError(w.err)
	}()
	return pr
}

// busyboxTar is a root file system with a static busybox as /bin/sh and
// its other commands, plus whatever more adds.
func busyboxTar(t *testing.T, more func(w *tarWriter)) io.Reader {
	t.Helper()
	bb := "/bin/busybox"
	if out, err := exec.Command("file", "-L", bb).Output(); err == nil && !strings.Contains(string(out), "statically linked") {
		t.Fatalf("%s is not statically linked (install busybox-static): %s", bb, out)
	}
	list, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Fatalf("%s --list: %v (install busybox-static)", bb, err)
	}
	return streamTar(func(w *tarWriter) {
		for _, d := range []string{"bin", "etc", "root", "usr", "usr/local", "usr/local/bin"} {
			w.dir(d)
		}
		if w.err == nil {
			w.err = w.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "tmp/", Mode: 0o1777})
		}
		w.data("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\n"))
		w.data("etc/group", 0o644, []byte("root:x:0:\n"))
		w.file("bin/busybox", bb)
		for _, name := range strings.Fields(string(list)) {
			if name != "busybox" {
				w.symlink("bin/"+name, "busybox")
			}
		}
		if more != nil {
			more(w)
		}
	})
}

// goToolchainTar is busybox plus this machine's Go toolchain at
// /usr/local/go, as in the golang image (without its tests, API files,
// docs, the toolchain's own sources and testdata: nothing a build reads).
func goToolchainTar(t *testing.T) io.Reader {
	t.Helper()
	goroot := strings.TrimSpace(string(must(exec.Command("go", "env", "GOROOT").Output())))
	return busyboxTar(t, func(w *tarWriter) {
		w.dir("go")
		if w.err != nil {
			return
		}
		w.err = filepath.WalkDir(goroot, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(goroot, p)
			rel = filepath.ToSlash(rel)
			switch {
			case rel == "test", rel == "api", rel == "doc", rel == "src/cmd", rel == "pkg/obj", d.Name() == "testdata":
				return filepath.SkipDir
			}
			name := "usr/local/go"
			if rel != "." {
				name += "/" + rel
			}
			switch {
			case d.IsDir():
				w.dir(name)
			case d.Type()&fs.ModeSymlink != 0:
				target, err := os.Readlink(p)
				if err != nil {
					return err
				}
				w.symlink(name, target)
			case d.Type().IsRegular():
				w.file(name, p)
			}
			return w.err
		})
	})
}

// sourceTar is this checkout's files (tracked, and untracked ones git does
// not ignore, such as a vendor/ tree not yet committed) at the root.
func sourceTar(t *testing.T) io.Reader {
	t.Helper()
	out, err := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	var files []string
	for _, f := range strings.Split(string(out), "\x00") {
		if fi, err := os.Lstat(f); err == nil && fi.Mode().IsRegular() {
			files = append(files, f)
		}
	}
	return streamTar(func(w *tarWriter) {
		dirs := map[string]bool{}
		for _, f := range files {
			for d := filepath.Dir(f); d != "." && !dirs[d]; d = filepath.Dir(d) {
				dirs[d] = true
			}
		}
		for _, d := range slices.Sorted(maps.Keys(dirs)) {
			w.dir(filepath.ToSlash(d))
		}
		for _, f := range files {
			w.file(filepath.ToSlash(f), f)
		}
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
