package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// serveCmds are the testscript commands for the serve scripts.
var serveCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"serveurl":  cmdServeURL,
	"parallel":  cmdParallel,
	"proxywait": cmdProxyWait,
}

// serveurl file VAR waits (up to 30s) for file, which `gomodfetch serve
// -addr-file` writes once it listens, and sets VAR to the URL in it.
func cmdServeURL(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: serveurl file VAR")
	}
	file := ts.MkAbs(args[0])
	deadline := time.Now().Add(30 * time.Second)
	for {
		data, err := os.ReadFile(file)
		if err == nil && strings.HasPrefix(string(data), "http://") {
			ts.Setenv(args[1], strings.TrimSpace(string(data)))
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("serveurl: %s did not appear", file)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// parallel N command args... runs N copies of command at once, copy i with
// GOMODCACHE=$WORK/parallel/<i>, and fails if any copy fails.
func cmdParallel(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: parallel N command args...")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 || n > 200 {
		ts.Fatalf("parallel: bad count %q", args[0])
	}
	path, err := exec.LookPath(args[1])
	if err != nil {
		ts.Fatalf("parallel: %v", err)
	}
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "GOPATH", "GOROOT", "GOCACHE", "GOPROXY", "GOFLAGS", "GOSUMDB",
		"GONOSUMDB", "GOPRIVATE", "GONOPROXY", "GOTOOLCHAIN", "GOWORK", "GOENV", "GOOS", "GOARCH", "CCACHE_DISABLE"} {
		if v := ts.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []string
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(path, args[2:]...)
			cmd.Dir = ts.Getenv("WORK")
			if wd := ts.MkAbs("."); wd != "" {
				cmd.Dir = wd
			}
			// A copy each: appending to the shared slice would let every
			// copy write the same GOMODCACHE slot.
			cmd.Env = append(slices.Clip(env), "GOMODCACHE="+filepath.Join(ts.Getenv("WORK"), "parallel", strconv.Itoa(i)))
			out, err := cmd.CombinedOutput()
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Sprintf("copy %d: %v\n%s", i, err, out))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		ts.Fatalf("parallel: %d of %d failed:\n%s", len(errs), n, strings.Join(errs, "\n"))
	}
}

// proxywait [@2] regexp waits (up to 30s) until the front has seen a
// request matching regexp.
func cmdProxyWait(ts *testscript.TestScript, neg bool, args []string) {
	f, args := frontOf(ts, args)
	if neg || len(args) != 1 {
		ts.Fatalf("usage: proxywait [@2] regexp")
	}
	re, err := regexp.Compile(args[0])
	if err != nil {
		ts.Fatalf("proxywait: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, l := range f.Log() {
			if re.MatchString(l) {
				return
			}
		}
		if time.Now().After(deadline) {
			ts.Fatalf("proxywait: no request matched %s:\n%s", args[0], strings.Join(f.Log(), "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
