package project

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gomodfetch/internal/modtest"
)

var (
	modA = modtest.Module{Path: "example.com/a", Version: "v1.0.0", GoMod: "module example.com/a\n\ngo 1.21\n", Files: map[string]string{"a.go": "package a\n"}}
	modB = modtest.Module{Path: "example.com/b", Version: "v1.1.0", GoMod: "module example.com/b\n\ngo 1.21\n", Files: map[string]string{"b.go": "package b\n"}}
)

// fixture is a project directory holding files, with the Go environment
// of a test: a file:// GOPROXY tree of modA and modB, a fresh module
// cache, no checksum database, no go env file.
type fixture struct {
	dir, modCache string
	vars          map[string]string
	sums          string
}

func newFixture(t *testing.T, files map[string]string) *fixture {
	t.Helper()
	goproxy, sums := modtest.ProxyTree(t, modA, modB)
	fx := &fixture{dir: t.TempDir(), modCache: filepath.Join(t.TempDir(), "modcache"), sums: sums}
	fx.vars = map[string]string{
		"GOPROXY": goproxy, "GOSUMDB": "off", "GOMODCACHE": fx.modCache, "GOENV": "off",
		"GOTOOLCHAIN": "local", "GOWORK": "off", "HOME": t.TempDir(),
		"PATH": os.Getenv("PATH"), "GOROOT": os.Getenv("GOROOT"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(fx.dir, name), []byte(data), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	return fx
}

func (fx *fixture) env(t *testing.T) *Env {
	t.Helper()
	env, err := NewEnv(func(k string) string { return fx.vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func (fx *fixture) settings(args ...string) Settings {
	s := Defaults()
	s.Dir, s.Args, s.ModCacheRW = fx.dir, args, true
	return s
}

// open opens the fixture's project with s, closed when the test ends.
func (fx *fixture) open(t *testing.T, s Settings) *Project {
	t.Helper()
	p, err := Open(context.Background(), s, fx.env(t), Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(true, true) })
	return p
}

const requireAB = "module example.com/main\n\ngo 1.22\n\nrequire (\n\texample.com/a v1.0.0\n\texample.com/b v1.1.0\n)\n"

// TestDownloadResolve: a download fills the cache with the require lines'
// modules and writes go.sum; a resolution from the cache alone names the
// same modules, each time it is asked.
func TestDownloadResolve(t *testing.T) {
	fx := newFixture(t, map[string]string{"go.mod": requireAB})
	ctx := context.Background()
	p := fx.open(t, fx.settings())
	res, err := p.Download(ctx, RunHooks{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed() || res.ExitStatus() != 0 || len(res.Report.Modules) != 2 {
		t.Fatalf("download: failed %v, errors %q, %d modules", res.Failed(), res.Errors(false, false), len(res.Report.Modules))
	}
	if _, err := os.Stat(filepath.Join(fx.modCache, "example.com", "a@v1.0.0", "a.go")); err != nil {
		t.Errorf("a is not in the cache: %v", err)
	}
	// With no arguments go adds the go.mod sums, not the zips'.
	var want string
	for _, line := range strings.SplitAfter(fx.sums, "\n") {
		if strings.Contains(line, "/go.mod ") {
			want += line
		}
	}
	sum, err := os.ReadFile(filepath.Join(fx.dir, "go.sum"))
	if err != nil || string(sum) != want {
		t.Errorf("go.sum = %q, %v; want %q", sum, err, want)
	}
	for i := range 2 {
		r, err := p.Resolve(ctx, true)
		if err != nil || r.GraphErr != nil || len(r.Zips) != 2 {
			t.Errorf("Resolve %d: %v, graph %v, zips %v", i, err, r.GraphErr, r.Zips)
		}
	}
}

// TestDownloadErrors: a module no proxy has is reported as go reports it,
// once, with exit status 1.
func TestDownloadErrors(t *testing.T) {
	fx := newFixture(t, map[string]string{"go.mod": "module example.com/main\n\ngo 1.22\n"})
	ctx := context.Background()
	p := fx.open(t, fx.settings("example.com/missing@v1.0.0"))
	res, err := p.Download(ctx, RunHooks{})
	if err != nil {
		t.Fatal(err)
	}
	lines := res.Errors(false, false)
	if res.ExitStatus() != 1 || len(lines) != 1 || !strings.HasPrefix(lines[0], "example.com/missing@v1.0.0: ") {
		t.Fatalf("exit %d, lines %q", res.ExitStatus(), lines)
	}
	if json := res.Errors(true, false); len(json) != 0 {
		t.Errorf("with -json the module's error is in its object, not a line: %q", json)
	}
	if got := res.Unfinished(); len(got) != 1 || got[0] != "example.com/missing@v1.0.0" {
		t.Errorf("Unfinished = %q", got)
	}
}

// TestOpenRefuses: what go refuses before it reads a module, Open refuses
// the same way, for every command alike.
func TestOpenRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		gomod string
		vars  map[string]string
		s     func(*Settings)
		want  string
	}{
		{"go line too new", "module m\n\ngo 1.99\n", nil, nil, "go.mod requires go >= 1.99"},
		{"unknown godebug", "module m\n\ngo 1.22\n\ngodebug bogus=1\n", nil, nil, `unknown godebug "bogus"`},
		{"modfile without .mod", "module m\n", nil, func(s *Settings) { s.ModFile = "alt.txt" }, "file does not have .mod extension"},
		{"reuse inside a module", "module m\n", nil, func(s *Settings) { s.Reuse = "old.json" }, "go mod download -reuse cannot be used inside a module"},
		{"no such -C", "module m\n", nil, func(s *Settings) { s.Dir = filepath.Join(s.Dir, "nowhere") }, "-C: "},
		{"GO111MODULE=off", "module m\n", map[string]string{"GO111MODULE": "off"}, nil, "modules disabled by GO111MODULE=off"},
		{"relative GOMODCACHE", "module m\n", map[string]string{"GOMODCACHE": "rel"}, nil, "GOMODCACHE entry is relative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t, map[string]string{"go.mod": tc.gomod})
			for k, v := range tc.vars {
				fx.vars[k] = v
			}
			s := fx.settings()
			if tc.s != nil {
				tc.s(&s)
			}
			p, err := Open(context.Background(), s, fx.env(t), Hooks{})
			if err == nil {
				p.Close(true, true)
				t.Fatalf("Open succeeded; want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v; want %q", err, tc.want)
			}
		})
	}
}

// TestModFileFromSettings: -modfile names the module read, and the .sum
// beside it is the one written.
func TestModFileFromSettings(t *testing.T) {
	fx := newFixture(t, map[string]string{
		"go.mod":  "module example.com/main\n\ngo 1.22\n\nrequire example.com/b v1.1.0\n",
		"alt.mod": "module example.com/main\n\ngo 1.22\n\nrequire example.com/a v1.0.0\n",
	})
	s := fx.settings()
	s.ModFile = "alt.mod"
	ctx := context.Background()
	p := fx.open(t, s)
	res, err := p.Download(ctx, RunHooks{})
	if err != nil || res.Failed() || len(res.Report.Modules) != 1 || res.Report.Modules[0].Path != "example.com/a" {
		t.Fatalf("download: %v, %+v", err, res.Report)
	}
	if _, err := os.Stat(filepath.Join(fx.dir, "alt.sum")); err != nil {
		t.Errorf("alt.sum: %v", err)
	}
	if _, err := os.Stat(filepath.Join(fx.dir, "go.sum")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("go.sum written with -modfile: %v", err)
	}
}

// TestNothingToDo: a module without requirements downloads nothing.
func TestNothingToDo(t *testing.T) {
	fx := newFixture(t, map[string]string{"go.mod": "module example.com/main\n\ngo 1.22\n"})
	ctx := context.Background()
	p := fx.open(t, fx.settings())
	res, err := p.Download(ctx, RunHooks{})
	if err != nil || !res.NothingToDo || res.ExitStatus() != 0 || res.Errors(false, false) != nil {
		t.Fatalf("res = %+v, %v", res, err)
	}
}

// TestFleetClosedOnce: the fleet cache is finished by the first Close,
// which says what it did; a second Close does nothing.
func TestFleetClosedOnce(t *testing.T) {
	fx := newFixture(t, map[string]string{"go.mod": requireAB})
	bucket := t.TempDir()
	s := fx.settings()
	s.Fleet.URL = "file://" + filepath.ToSlash(bucket)
	ctx := context.Background()
	p, err := Open(ctx, s, fx.env(t), Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := p.Download(ctx, RunHooks{}); err != nil || res.Failed() {
		t.Fatalf("download: %v", err)
	}
	lines := p.Close(false, false)
	if len(lines) != 1 || !strings.Contains(lines[0], "0 hits, ") || strings.Contains(lines[0], " 0 written") {
		t.Errorf("first Close = %q; want the counts of a run that wrote back", lines)
	}
	if again := p.Close(false, false); again != nil {
		t.Errorf("second Close = %q, want nothing", again)
	}
	if _, err := os.Stat(filepath.Join(bucket, "example.com", "a", "@v", "v1.0.0.zip")); err != nil {
		t.Errorf("the write-back of a's zip: %v", err)
	}
}

// TestSettingsCheck: one rule for zero: it turns off what can be off and
// is refused elsewhere; nothing may be negative; Defaults pass.
func TestSettingsCheck(t *testing.T) {
	if err := Defaults().Check(); err != nil {
		t.Fatalf("Defaults: %v", err)
	}
	for _, tc := range []struct {
		name string
		set  func(*Settings)
		want string // "" for valid
	}{
		{"no timeout", func(s *Settings) { s.Timeout = 0 }, ""},
		{"no retry", func(s *Settings) { s.Retries = 0 }, ""},
		{"no min rate", func(s *Settings) { s.MinRate = 0 }, ""},
		{"no timed hedge", func(s *Settings) { s.HedgeDelay = 0 }, ""},
		{"no fleet wait", func(s *Settings) { s.Fleet.Wait = 0 }, ""},
		{"zero jobs", func(s *Settings) { s.Jobs = 0 }, "-j must be at least 1"},
		{"zero conns", func(s *Settings) { s.Conns = 0 }, "-conns must be at least 1"},
		{"zero stall timeout", func(s *Settings) { s.StallTimeout = 0 }, "-stall-timeout must be positive"},
		{"zero connect timeout", func(s *Settings) { s.ConnectTimeout = 0 }, "-connect-timeout must be positive"},
		{"zero retry wait", func(s *Settings) { s.RetryInitial = 0 }, "-retry-initial must be positive"},
		{"zero fleet read timeout", func(s *Settings) { s.Fleet.ReadTimeout = 0 }, "-cache-timeout must be positive"},
		{"negative timeout", func(s *Settings) { s.Timeout = -1 }, "-timeout must not be negative"},
		{"negative retries", func(s *Settings) { s.Retries = -1 }, "-retries must not be negative"},
	} {
		s := Defaults()
		tc.set(&s)
		err := s.Check()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v, want valid", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestGoFlags: GOFLAGS is parsed once into the flags gomodfetch's
// commands define; a flag of another go command is ignored, one of no go
// command is go's error.
func TestGoFlags(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want GoFlags
		err  string
	}{
		{"", GoFlags{}, ""},
		{"-modcacherw -json=true -x=false -modfile=alt.mod", GoFlags{ModCacheRW: true, JSON: true, ModFile: "alt.mod"}, ""},
		{"--x -mod=mod -trimpath", GoFlags{Trace: true}, ""},
		{"-bogus", GoFlags{}, "parsing $GOFLAGS: unknown flag -bogus"},
		{"json", GoFlags{}, `parsing $GOFLAGS: non-flag "json"`},
	} {
		env, err := NewEnv(func(k string) string {
			if k == "GOFLAGS" {
				return tc.in
			}
			if k == "GOENV" {
				return "off"
			}
			return ""
		})
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("GOFLAGS=%q: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || env.Flags != tc.want {
			t.Errorf("GOFLAGS=%q: %+v, %v; want %+v", tc.in, env.Flags, err, tc.want)
		}
	}
}

// TestVerifyRepair: Verify names a damaged module and writes nothing;
// with repair it fetches that module again, and the cache is then whole.
func TestVerifyRepair(t *testing.T) {
	fx := newFixture(t, map[string]string{"go.mod": requireAB})
	ctx := context.Background()
	p := fx.open(t, fx.settings())
	if res, err := p.Download(ctx, RunHooks{}); err != nil || res.Failed() {
		t.Fatalf("download: %v", err)
	}
	zip := filepath.Join(fx.modCache, "cache", "download", "example.com", "a", "@v", "v1.0.0.zip")
	if err := os.Remove(zip); err != nil {
		t.Fatal(err)
	}
	a, err := p.Verify(ctx, false, RunHooks{})
	if err != nil || !a.Bad() || len(a.Findings) != 1 || a.Findings[0].Path != "example.com/a" || a.Repair != nil {
		t.Fatalf("verify: %v, %+v", err, a)
	}
	if _, err := os.Stat(zip); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("verify without repair wrote %s: %v", zip, err)
	}
	a, err = p.Verify(ctx, true, RunHooks{})
	if err != nil || a.Bad() || len(a.Findings) != 1 || !a.Findings[0].Repaired || a.Repair == nil {
		t.Fatalf("repair: %v, %+v", err, a)
	}
	if a, err := p.Verify(ctx, false, RunHooks{}); err != nil || a.Bad() || len(a.Findings) != 0 {
		t.Fatalf("after the repair: %v, %+v", err, a)
	}
}
