package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/mod/module"

	"gomodfetch/download"
	"gomodfetch/internal/modtest"
	"gomodfetch/modcache"
	"gomodfetch/proxy"
	"gomodfetch/resolver"
	"gomodfetch/retry"
	"gomodfetch/verify"
)

// The modules every test serves: a requires b, and c at v1.0.0 requires
// a newer b than the main module does.
var (
	modA = modtest.Module{Path: "example.com/a", Version: "v1.0.0", GoMod: "module example.com/a\n\ngo 1.21\n\nrequire example.com/b v1.1.0\n", Files: map[string]string{"a.go": "package a\n"}}
	modB = modtest.Module{Path: "example.com/b", Version: "v1.1.0", GoMod: "module example.com/b\n\ngo 1.21\n", Files: map[string]string{"b.go": "package b\n"}}
)

// newRun makes a Run for gomod (a go.mod's text) and args, over a fresh
// cache filled from a file:// GOPROXY tree of modA and modB, with their
// go.sum lines.
func newRun(t *testing.T, gomod string, args ...string) (*Run, *modcache.Cache) {
	t.Helper()
	goproxy, sums := modtest.ProxyTree(t, modA, modB)
	proxies, err := proxy.ParseList(goproxy)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gomodFile := filepath.Join(dir, "go.mod")
	if err := os.WriteFile(gomodFile, []byte(gomod), 0o666); err != nil {
		t.Fatal(err)
	}
	m, err := resolver.ParseMain(dir, gomodFile, []byte(gomod))
	if err != nil {
		t.Fatal(err)
	}
	s, err := verify.ParseSums(filepath.Join(dir, "go.sum"), []byte(sums))
	if err != nil {
		t.Fatal(err)
	}
	cache := &modcache.Cache{Root: t.TempDir(), ReadWrite: true}
	f := download.New(download.Config{
		Cache: cache,
		Router: &proxy.Router{
			Proxies: proxies,
			Client:  &proxy.Client{HTTP: proxy.NewHTTPClient(0, 0, 4)},
			Policy:  retry.Policy{MaxAttempts: -1},
		},
		Verifier: &verify.Verifier{Sums: s, SkipSumDB: func(string) bool { return true }},
	})
	run, err := New(Config{Main: m, Args: args, Fetcher: f, Cache: cache, Sums: s, Jobs: 4})
	if err != nil {
		t.Fatal(err)
	}
	return run, cache
}

const mainRequiresAB = "module example.com/main\n\ngo 1.22\n\nrequire (\n\texample.com/a v1.0.0\n\texample.com/b v1.1.0\n)\n"

var wantAB = []module.Version{{Path: "example.com/a", Version: "v1.0.0"}, {Path: "example.com/b", Version: "v1.1.0"}}

// TestDownload: a go ≥ 1.17 module's require lines are downloaded whole,
// reported in go's order, and extracted in the cache.
func TestDownload(t *testing.T) {
	run, cache := newRun(t, mainRequiresAB)
	if run.NothingToDo() {
		t.Fatal("NothingToDo with two requirements")
	}
	rep := run.Download(context.Background())
	if rep.Failed() {
		t.Fatalf("failed: fatal %v, graph %v, modules %v", rep.Fatal, rep.GraphErr, rep.Modules)
	}
	var got []module.Version
	for _, m := range rep.Modules {
		got = append(got, module.Version{Path: m.Path, Version: m.Version})
		dir, _ := cache.Dir(module.Version{Path: m.Path, Version: m.Version})
		if m.Dir != dir {
			t.Errorf("%s@%s: Dir = %q, want %q", m.Path, m.Version, m.Dir, dir)
		}
	}
	if !slices.Equal(got, wantAB) {
		t.Errorf("modules = %v, want %v", got, wantAB)
	}
	if _, err := os.Stat(filepath.Join(rep.Modules[0].Dir, "a.go")); err != nil {
		t.Errorf("a is not extracted: %v", err)
	}
}

// TestRunMoreThanOnce: Download and Resolve each work on a plan of their
// own, so a Run used for both (as verify -repair does) lists each
// download once, and a second Download of a full cache reports the same.
func TestRunMoreThanOnce(t *testing.T) {
	run, _ := newRun(t, mainRequiresAB)
	ctx := context.Background()
	for i := range 2 {
		res := run.Resolve(ctx)
		if res.GraphErr != nil || len(res.Failed) > 0 {
			t.Fatalf("Resolve %d: graph %v, failed %v", i, res.GraphErr, res.Failed)
		}
		if !slices.Equal(res.Zips, wantAB) {
			t.Errorf("Resolve %d: zips = %v, want %v", i, res.Zips, wantAB)
		}
		rep := run.Download(ctx)
		if rep.Failed() || len(rep.Modules) != len(wantAB) {
			t.Errorf("Download %d: %d modules, failed %v", i, len(rep.Modules), rep.Failed())
		}
	}
}

// TestGraphFailureEndsRun: in a go ≥ 1.17 module the graph confirms the
// require lines; a go.mod no proxy has ends the run as go ends it, with
// no module reported.
func TestGraphFailureEndsRun(t *testing.T) {
	run, _ := newRun(t, mainRequiresAB+"require example.com/missing v1.0.0\n")
	rep := run.Download(context.Background())
	if rep.Fatal == nil || len(rep.Modules) != 0 || !rep.Failed() {
		t.Fatalf("Fatal = %v with %d modules, Failed %v; want the graph's failure and none", rep.Fatal, len(rep.Modules), rep.Failed())
	}
}

// TestArgs: an argument is fetched at its version; the main module's
// requirements are not.
func TestArgs(t *testing.T) {
	run, _ := newRun(t, "module example.com/main\n\ngo 1.22\n", "example.com/b@v1.1.0")
	if run.NothingToDo() {
		t.Fatal("NothingToDo with an argument")
	}
	rep := run.Download(context.Background())
	if rep.Failed() || len(rep.Modules) != 1 || rep.Modules[0].Path != "example.com/b" || rep.Modules[0].Query != "" {
		t.Fatalf("modules = %+v, failed %v", rep.Modules, rep.Failed())
	}
}

// TestNothingToDo: a module with no requirement and no argument has
// nothing to download, as go says.
func TestNothingToDo(t *testing.T) {
	run, _ := newRun(t, "module example.com/main\n\ngo 1.22\n")
	if !run.NothingToDo() {
		t.Fatal("NothingToDo = false for a module without requirements")
	}
}
