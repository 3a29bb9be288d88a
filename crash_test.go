package main

// Crash and concurrency tests: gomodfetch is run as a process (the
// testscript binary under its real name on $PATH), killed with SIGKILL at
// chosen points of its downloads (a loopback front that stalls a chosen
// response at a chosen byte offset), interrupted with SIGINT/SIGTERM, and
// run beside `go mod download` on one cache. After each, the cache must be
// what `go mod download` leaves (cmpcache's comparison: file set, bytes and
// modes, .lock and temp files aside) and `go mod verify` must pass.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"gomodfetch/internal/cachecmp"
	"gomodfetch/internal/faultproxy"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/goproxytest"
	"github.com/rogpeppe/go-internal/lockedfile"
)

// startStallFront starts a fault proxy before backend for the length of
// the test: the crash tests stall its responses (StallAt) where gomodfetch
// is to die, and read the sizes of those it served whole.
func startStallFront(t testing.TB, backend string, nw faultproxy.Network) *faultproxy.Server {
	t.Helper()
	f, err := faultproxy.Start(faultproxy.Options{Backend: backend, Network: nw})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f
}

// crashFixture is a project and the proxy it downloads from: three modules
// with source trees (one with a large zip), one module whose go.mod is old
// (so the graph below it is unpruned) and one needed only for its go.mod.
type crashFixture struct {
	dir     string // the project: go.mod and a complete go.sum
	backend string // goproxytest URL
	refRW   string // go mod download's cache with -modcacherw
	refRO   string // and without
	home    string
}

func letters(seed uint64, n int) string {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		if i%80 == 79 {
			b[i] = '\n'
		} else {
			b[i] = byte('a' + r.IntN(26))
		}
	}
	return string(b)
}

func writeFiles(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o666); err != nil {
			t.Fatal(err)
		}
	}
}

func newCrashFixture(t testing.TB) *crashFixture {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on $PATH")
	}
	if _, err := exec.LookPath("gomodfetch"); err != nil {
		t.Skip("no gomodfetch on $PATH (run through TestMain)")
	}
	root := t.TempDir()
	mod := func(path, body string) string { return "module " + path + "\n\n" + body }
	info := `{"Version":"v1.0.0","Time":"2023-01-02T03:04:05Z"}`
	writeFiles(t, filepath.Join(root, "proxy"), map[string]string{
		"example.com_big_v1.0.0/.mod":            mod("example.com/big", "go 1.21\n"),
		"example.com_big_v1.0.0/.info":           info,
		"example.com_big_v1.0.0/go.mod":          mod("example.com/big", "go 1.21\n"),
		"example.com_big_v1.0.0/big.go":          "package big\n",
		"example.com_big_v1.0.0/data/one.txt":    letters(1, 192<<10),
		"example.com_big_v1.0.0/data/two.txt":    letters(2, 64<<10),
		"example.com_big_v1.0.0/data/sub/3.txt":  letters(3, 4<<10),
		"example.com_a_v1.0.0/.mod":              mod("example.com/a", "go 1.21\n\nrequire example.com/old v1.0.0\n"),
		"example.com_a_v1.0.0/.info":             info,
		"example.com_a_v1.0.0/go.mod":            mod("example.com/a", "go 1.21\n\nrequire example.com/old v1.0.0\n"),
		"example.com_a_v1.0.0/a.go":              "package a\n",
		"example.com_a_v1.0.0/internal/x/x.go":   "package x\n",
		"example.com_old_v1.0.0/.mod":            mod("example.com/old", "go 1.16\n\nrequire example.com/leaf v1.0.0\n"),
		"example.com_old_v1.0.0/.info":           info,
		"example.com_old_v1.0.0/go.mod":          mod("example.com/old", "go 1.16\n\nrequire example.com/leaf v1.0.0\n"),
		"example.com_old_v1.0.0/old.go":          "package old\n",
		"example.com_leaf_v1.0.0/.mod":           mod("example.com/leaf", "go 1.21\n"),
		"example.com_leaf_v1.0.0/.info":          info,
		"example.com_leaf_v1.0.0/go.mod":         mod("example.com/leaf", "go 1.21\n"),
		"example.com_leaf_v1.0.0/leaf.go":        "package leaf\n",
		"example.com_small_v1.0.0/.mod":          mod("example.com/small", "go 1.21\n"),
		"example.com_small_v1.0.0/.info":         info,
		"example.com_small_v1.0.0/go.mod":        mod("example.com/small", "go 1.21\n"),
		"example.com_small_v1.0.0/small.go":      "package small\n",
		"example.com_small_v1.0.0/doc/README.md": letters(4, 2<<10),
	})
	srv, err := goproxytest.NewServer(filepath.Join(root, "proxy"), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	fx := &crashFixture{
		dir:     filepath.Join(root, "project"),
		backend: srv.URL,
		refRW:   filepath.Join(root, "ref-rw"),
		refRO:   filepath.Join(root, "ref-ro"),
		home:    filepath.Join(root, "home"),
	}
	writeFiles(t, fx.dir, map[string]string{"go.mod": mod("example.com/main", "go 1.21\n\nrequire (\n\texample.com/a v1.0.0\n\texample.com/big v1.0.0\n\texample.com/old v1.0.0\n\texample.com/small v1.0.0\n)\n")})
	// go.sum as go records it for the whole build list, then the oracle.
	fx.run(t, "go", fx.dir, filepath.Join(root, "sumcache"), srv.URL, true, "mod", "download", "all")
	fx.run(t, "go", fx.dir, fx.refRW, srv.URL, true, "mod", "download")
	fx.run(t, "go", fx.dir, fx.refRO, srv.URL, false, "mod", "download")
	t.Cleanup(func() { makeWritable(fx.refRO) })
	return fx
}

// env is the environment of a gomodfetch or go process on cache.
func (fx *crashFixture) env(cache, proxy string, rw bool) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GO") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	flags := ""
	if rw {
		flags = "-modcacherw"
	}
	return append(env,
		"HOME="+fx.home, "GOPATH="+filepath.Join(fx.home, "go"), "GOENV=off",
		"GOCACHE="+filepath.Join(fx.home, "gocache"),
		"GOMODCACHE="+cache, "GOPROXY="+proxy, "GOFLAGS="+flags,
		"GOSUMDB=off", "GONOSUMDB=", "GOPRIVATE=", "GONOPROXY=",
		"GOTOOLCHAIN=local", "GOWORK=off")
}

func (fx *crashFixture) cmd(name, dir, cache, proxy string, rw bool, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = fx.env(cache, proxy, rw)
	return cmd
}

// run runs name and fails the test unless it succeeds.
func (fx *crashFixture) run(t testing.TB, name, dir, cache, proxy string, rw bool, args ...string) string {
	t.Helper()
	out, err := fx.cmd(name, dir, cache, proxy, rw, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// project copies the project to a fresh directory (each process gets its
// own go.sum to write).
func (fx *crashFixture) project(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(fx.dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// checkCache fails the test unless cache is go's (ref) and go mod verify
// accepts it. With clean, no temp file or .partial marker may be left.
func (fx *crashFixture) checkCache(t testing.TB, dir, cache, ref string, rw, clean bool) {
	t.Helper()
	if diffs := cachecmp.Compare(ref, cache); len(diffs) > 0 {
		t.Fatalf("cache differs from go's:\n%s", strings.Join(diffs, "\n"))
	}
	if left := leftovers(cache, clean); len(left) > 0 {
		t.Fatalf("left in the cache: %s", strings.Join(left, ", "))
	}
	out := fx.run(t, "go", dir, cache, "off", rw, "mod", "verify")
	if !strings.Contains(out, "all modules verified") {
		t.Fatalf("go mod verify: %s", out)
	}
}

// leftovers lists .partial markers and (with temps) temp files in cache.
func leftovers(cache string, temps bool) []string {
	var left []string
	filepath.WalkDir(cache, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		name := d.Name()
		if strings.HasSuffix(name, ".partial") || temps && (strings.HasSuffix(name, ".tmp") || strings.Contains(name, ".tmp-")) {
			rel, _ := filepath.Rel(cache, p)
			left = append(left, rel)
		}
		return nil
	})
	return left
}

func makeWritable(dir string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o777)
		}
		return nil
	})
}

// killPoint is where a run is killed: the first response for path stalls
// after offset body bytes (-1: before its headers).
type killPoint struct {
	path   string
	offset int
}

// killPoints lists, for every response a clean run gets, the points
// before its headers, before its body, halfway and one byte short of the
// end; large bodies get more.
func killPoints(sizes map[string]int) []killPoint {
	var paths []string
	for p := range sizes {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var pts []killPoint
	for _, p := range paths {
		n := sizes[p]
		offs := []int{-1, 0, n / 2, n - 1}
		if n > 64<<10 {
			offs = append(offs, 1, 4<<10, n/4, 3*n/4)
		}
		slices.Sort(offs)
		for _, o := range slices.Compact(offs) {
			pts = append(pts, killPoint{p, o})
		}
	}
	return pts
}

// TestKillAndRerun kills gomodfetch with SIGKILL at every kill point (each
// response stalled before its headers, before its body, halfway, one byte
// short; more points in the large zip), while its other downloads go on,
// then reruns gomodfetch (every fourth point: go mod download) on what it
// left. The rerun must succeed, the cache must be go's and verify, and a
// gomodfetch rerun must leave no temp file or .partial marker. Half the
// points run without -modcacherw (read-only trees). -short (and the race
// detector, which makes every process several times slower) runs every
// third point.
func TestKillAndRerun(t *testing.T) {
	fx := newCrashFixture(t)

	// A clean run through the front lists the responses and their sizes.
	probe := startStallFront(t, fx.backend, faultproxy.Network{})
	fx.run(t, "gomodfetch", fx.project(t), t.TempDir(), probe.URL, true, "-q")
	pts := killPoints(probe.Served())
	if testing.Short() || raceEnabled {
		var short []killPoint
		for i, p := range pts {
			if i%3 == 0 {
				short = append(short, p)
			}
		}
		pts = short
	}
	t.Logf("%d kill points over %d responses", len(pts), len(probe.Served()))

	for i, pt := range pts {
		rw := i%2 == 0
		rerunGo := i%4 == 3
		t.Run(fmt.Sprintf("%02d%s@%d", i, strings.ReplaceAll(pt.path, "/", "_"), pt.offset), func(t *testing.T) {
			t.Parallel()
			front := startStallFront(t, fx.backend, faultproxy.Network{})
			hit := front.StallAt(pt.path, pt.offset)
			dir, cache := fx.project(t), filepath.Join(t.TempDir(), "modcache")
			t.Cleanup(func() { makeWritable(cache) })
			cmd := fx.cmd("gomodfetch", dir, cache, front.URL, rw, "-q")
			var out bytes.Buffer
			cmd.Stdout = &out
			exited := startWatched(t, cmd, &out)
			select {
			case <-hit:
				cmd.Process.Signal(syscall.SIGKILL)
				<-exited
			case err := <-exited:
				t.Fatalf("gomodfetch ended (%v) before reaching %s@%d:\n%s", err, pt.path, pt.offset, out.String())
			case <-time.After(30 * time.Second): // a safety net, not an assertion on speed
				cmd.Process.Kill()
				t.Fatalf("%s@%d was never requested", pt.path, pt.offset)
			}

			ref := fx.refRO
			if rw {
				ref = fx.refRW
			}
			if rerunGo {
				// go repairs everything but a version list that a kill
				// left torn or unwritten (it rewrites a list only when it
				// writes a .mod, and a kill may land between the two, in
				// go as in gomodfetch).
				fx.run(t, "go", dir, cache, front.URL, rw, "mod", "download")
				var other []string
				for _, d := range cachecmp.Compare(ref, cache) {
					if !regexp.MustCompile(`^(cache/download/\S+/@v/list: content differs|only in \S+: cache/download/\S+/@v/list$)`).MatchString(d) {
						other = append(other, d)
					}
				}
				if len(other) > 0 {
					t.Fatalf("after go mod download, cache differs from go's:\n%s", strings.Join(other, "\n"))
				}
				if out := fx.run(t, "go", dir, cache, "off", rw, "mod", "verify"); !strings.Contains(out, "all modules verified") {
					t.Fatalf("go mod verify: %s", out)
				}
				// gomodfetch then repairs the lists too.
				fx.run(t, "gomodfetch", dir, cache, front.URL, rw, "-q")
				fx.checkCache(t, dir, cache, ref, rw, false)
				return
			}
			fx.run(t, "gomodfetch", dir, cache, front.URL, rw, "-q")
			fx.checkCache(t, dir, cache, ref, rw, true)
		})
	}
}

// TestInterrupt sends SIGINT or SIGTERM while the large zip is halfway
// down: gomodfetch must stop, remove its temp files, say what finished and
// what did not, and exit 130 or 143; a rerun then completes.
func TestInterrupt(t *testing.T) {
	fx := newCrashFixture(t)
	for _, tc := range []struct {
		sig  syscall.Signal
		name string
		code int
	}{
		{syscall.SIGINT, "SIGINT", 130},
		{syscall.SIGTERM, "SIGTERM", 143},
	} {
		t.Run(tc.name, func(t *testing.T) {
			front := startStallFront(t, fx.backend, faultproxy.Network{})
			hit := front.StallAt("example.com/big/@v/v1.0.0.zip", 100<<10)
			dir, cache := fx.project(t), filepath.Join(t.TempDir(), "modcache")
			cmd := fx.cmd("gomodfetch", dir, cache, front.URL, true)
			var stderr bytes.Buffer
			exited := startWatched(t, cmd, &stderr)
			select {
			case <-hit:
			case err := <-exited:
				t.Fatalf("gomodfetch ended (%v) before the stall:\n%s", err, stderr.String())
			}
			cmd.Process.Signal(tc.sig)
			var err error
			select {
			case err = <-exited:
			case <-time.After(30 * time.Second): // safety net
				cmd.Process.Kill()
				t.Fatalf("gomodfetch did not stop on %s", tc.name)
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != tc.code {
				t.Fatalf("exit: %v, want status %d\n%s", err, tc.code, stderr.String())
			}
			want := "gomodfetch: interrupted by " + tc.name + ": "
			if !strings.Contains(stderr.String(), want) || !regexp.MustCompile(`not finished: .*example\.com/big@v1\.0\.0`).MatchString(stderr.String()) {
				t.Fatalf("stderr does not say what was interrupted:\n%s", stderr.String())
			}
			if left := leftovers(cache, true); len(left) > 0 {
				t.Fatalf("left in the cache after %s: %s", tc.name, strings.Join(left, ", "))
			}
			fx.run(t, "gomodfetch", dir, cache, front.URL, true, "-q")
			fx.checkCache(t, dir, cache, fx.refRW, true, true)
		})
	}
}

// TestConcurrentWithGo runs three gomodfetch and two go mod download
// processes on one empty cache at once, eight times over (three with
// -short or the race detector). Responses are sent in small pieces so the
// runs overlap. All must succeed and leave go's cache.
func TestConcurrentWithGo(t *testing.T) {
	fx := newCrashFixture(t)
	// Bodies go in 8 KiB pieces at 8 MB/s, widening the windows in which
	// the runs overlap.
	front := startStallFront(t, fx.backend, faultproxy.Network{ConnBW: 8e6, Chunk: 8 << 10})
	rounds := 8
	if testing.Short() || raceEnabled {
		rounds = 3
	}
	for round := range rounds {
		rw := round%2 == 0
		cache := filepath.Join(t.TempDir(), "modcache")
		var wg sync.WaitGroup
		errs := make(chan error, 5)
		for i := range 5 {
			name := "gomodfetch"
			args := []string{"-q"}
			if i%2 == 1 {
				name, args = "go", []string{"mod", "download"}
			}
			dir := fx.project(t)
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // safety net
				defer cancel()
				cmd := exec.CommandContext(ctx, name, args...)
				cmd.Dir, cmd.Env = dir, fx.env(cache, front.URL, rw)
				if out, err := cmd.CombinedOutput(); err != nil {
					errs <- fmt.Errorf("round %d: %s: %v\n%s", round, name, err, out)
				}
			}()
		}
		wg.Wait()
		close(errs)
		t.Logf("round %d: up to %d requests in flight at once", round, front.MaxInFlight())
		front.Reset()
		for err := range errs {
			t.Error(err)
		}
		if t.Failed() {
			return
		}
		ref := fx.refRO
		if rw {
			ref = fx.refRW
		}
		fx.checkCache(t, fx.dir, cache, ref, rw, true)
		makeWritable(cache)
	}
}

// TestRepairStates builds, in a complete cache, each state a crash can
// leave between two steps of the write protocol (including ones no network
// stall stops at), and checks that the next gomodfetch run repairs it.
func TestRepairStates(t *testing.T) {
	fx := newCrashFixture(t)
	const v = "cache/download/example.com/big/@v/v1.0.0"
	states := map[string]func(cache string) error{
		"zip without ziphash": func(c string) error { return os.Remove(filepath.Join(c, v+".ziphash")) },
		"empty ziphash beside zip": func(c string) error {
			return os.WriteFile(filepath.Join(c, v+".ziphash"), nil, 0o666)
		},
		"ziphash and temp zip, no zip": func(c string) error {
			if err := os.WriteFile(filepath.Join(c, v+".zip123.tmp"), []byte("PK\x03\x04 half"), 0o666); err != nil {
				return err
			}
			return os.Remove(filepath.Join(c, v+".zip"))
		},
		"temp ziphash, no zip": func(c string) error {
			if err := os.WriteFile(filepath.Join(c, v+".ziphash456.tmp"), []byte("h1:"), 0o666); err != nil {
				return err
			}
			os.Remove(filepath.Join(c, v+".ziphash"))
			return os.Remove(filepath.Join(c, v+".zip"))
		},
		"partial extraction": func(c string) error {
			if err := os.WriteFile(filepath.Join(c, v+".partial"), nil, 0o666); err != nil {
				return err
			}
			return os.RemoveAll(filepath.Join(c, "example.com/big@v1.0.0/data"))
		},
		"extraction without .partial removed, read-only half done": func(c string) error {
			if err := os.WriteFile(filepath.Join(c, v+".partial"), nil, 0o666); err != nil {
				return err
			}
			return os.Chmod(filepath.Join(c, "example.com/big@v1.0.0/data"), 0o555)
		},
		"own .mod temp, no .mod, torn list": func(c string) error {
			d := filepath.Join(c, "cache/download/example.com/small/@v")
			if err := os.WriteFile(filepath.Join(d, "v1.0.0.mod.gmf789.tmp"), []byte("module exa"), 0o666); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(d, "list"), []byte("\x00\x00\x00\x00\x00\x00\x00"), 0o666); err != nil {
				return err
			}
			return os.Remove(filepath.Join(d, "v1.0.0.mod"))
		},
		"graph-only .mod written, list not yet": func(c string) error {
			return os.Remove(filepath.Join(c, "cache/download/example.com/leaf/@v/list"))
		},
	}
	for name, mutate := range states {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			t.Parallel()
			dir, cache := fx.project(t), filepath.Join(t.TempDir(), "modcache")
			fx.run(t, "gomodfetch", dir, cache, fx.backend, true, "-q")
			if err := mutate(cache); err != nil {
				t.Fatal(err)
			}
			fx.run(t, "gomodfetch", dir, cache, fx.backend, true, "-q")
			fx.checkCache(t, dir, cache, fx.refRW, true, true)
		})
	}
}

// TestInterruptWhileLocked: another process (here the test) holds a
// version's lock, as go does for the length of a download; SIGTERM must
// still end gomodfetch, which is waiting for that lock.
func TestInterruptWhileLocked(t *testing.T) {
	fx := newCrashFixture(t)
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("needs /proc to see the process wait for the lock")
	}
	dir, cache := fx.project(t), filepath.Join(t.TempDir(), "modcache")
	lock := filepath.Join(cache, "cache/download/example.com/big/@v/v1.0.0.lock")
	if err := os.MkdirAll(filepath.Dir(lock), 0o777); err != nil {
		t.Fatal(err)
	}
	release, err := lockedfile.MutexAt(lock).Lock()
	if err != nil {
		t.Fatal(err)
	}
	unlock := sync.OnceFunc(release)
	defer unlock()

	cmd := fx.cmd("gomodfetch", dir, cache, fx.backend, true)
	var stderr bytes.Buffer
	exited := startWatched(t, cmd, &stderr)
	// Wait (bounded) until the process has the lock file open: it is then
	// blocked in flock.
	fdDir := fmt.Sprintf("/proc/%d/fd", cmd.Process.Pid)
	opened := false
	for range 3000 {
		entries, _ := os.ReadDir(fdDir)
		for _, e := range entries {
			if target, _ := os.Readlink(filepath.Join(fdDir, e.Name())); target == lock {
				opened = true
			}
		}
		if opened {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("gomodfetch ended (%v) while the lock was held:\n%s", err, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if !opened {
		cmd.Process.Kill()
		t.Fatal("gomodfetch never opened the lock file")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err = <-exited:
	case <-time.After(30 * time.Second): // safety net
		cmd.Process.Kill()
		<-exited
		t.Fatal("gomodfetch waited for the lock after SIGTERM")
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 143 {
		t.Fatalf("exit: %v, want status 143\n%s", err, stderr.String())
	}
	if !regexp.MustCompile(`interrupted by SIGTERM: .*not finished: .*example\.com/big@v1\.0\.0`).MatchString(stderr.String()) {
		t.Fatalf("stderr does not say what was interrupted:\n%s", stderr.String())
	}
	unlock()
	fx.run(t, "gomodfetch", dir, cache, fx.backend, true, "-q")
	fx.checkCache(t, dir, cache, fx.refRW, true, true)
}

// startWatched starts cmd with its stderr in stderr and returns a channel
// that receives its exit.
func startWatched(t *testing.T, cmd *exec.Cmd, stderr *bytes.Buffer) <-chan error {
	t.Helper()
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	return exited
}
