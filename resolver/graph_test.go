package resolver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/module"
)

// The graph notation: one module version per line,
//
//	name@version go=X: dep@version dep@version
//
// where "name" becomes example.com/name and go=X is optional (no go line).
// The first line is the main module (no version).
type fakeSource struct {
	mu    sync.Mutex
	mods  map[module.Version]string
	asked map[module.Version]int
}

func (s *fakeSource) GoMod(_ context.Context, m module.Version) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked[m]++
	text, ok := s.mods[m]
	if !ok {
		return nil, fmt.Errorf("%s: not found", m)
	}
	return []byte(text), nil
}

func parseGraph(t *testing.T, spec string) (*Main, *fakeSource) {
	t.Helper()
	src := &fakeSource{mods: map[module.Version]string{}, asked: map[module.Version]int{}}
	var main *Main
	for _, line := range strings.Split(strings.TrimSpace(spec), "\n") {
		head, deps, _ := strings.Cut(strings.TrimSpace(line), ":")
		fields := strings.Fields(head)
		name, vers, _ := strings.Cut(fields[0], "@")
		var b strings.Builder
		fmt.Fprintf(&b, "module example.com/%s\n", name)
		for _, f := range fields[1:] {
			if g, ok := strings.CutPrefix(f, "go="); ok {
				fmt.Fprintf(&b, "go %s\n", g)
			}
		}
		for _, d := range strings.Fields(deps) {
			if r, ok := strings.CutPrefix(d, "replace="); ok {
				old, new, _ := strings.Cut(r, "=>")
				op, ov, _ := strings.Cut(old, "@")
				np, nv, _ := strings.Cut(new, "@")
				fmt.Fprintf(&b, "replace example.com/%s %s => example.com/%s %s\n", op, ov, np, nv)
				continue
			}
			if x, ok := strings.CutPrefix(d, "exclude="); ok {
				p, v, _ := strings.Cut(x, "@")
				fmt.Fprintf(&b, "exclude example.com/%s %s\n", p, v)
				continue
			}
			p, v, _ := strings.Cut(d, "@")
			fmt.Fprintf(&b, "require example.com/%s %s\n", p, v)
		}
		if main == nil {
			m, err := ParseMain("/main", "/main/go.mod", []byte(b.String()))
			if err != nil {
				t.Fatalf("main go.mod: %v\n%s", err, b.String())
			}
			main = m
			continue
		}
		src.mods[module.Version{Path: "example.com/" + name, Version: vers}] = b.String()
	}
	return main, src
}

func short(ms []module.Version) string {
	var out []string
	for _, m := range ms {
		out = append(out, strings.TrimPrefix(m.Path, "example.com/")+"@"+m.Version)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func TestLoadGraph(t *testing.T) {
	tests := []struct {
		name      string
		graph     string
		wantRead  string // go.mod files read
		wantBuild string // build list
		wantZips  string // targets with no arguments
	}{
		{
			name: "pruned main reads only its requirements",
			graph: `
main go=1.21: a@v1.0.0 b@v1.0.0
a@v1.0.0 go=1.21: c@v1.0.0
b@v1.0.0 go=1.21: c@v1.1.0
c@v1.0.0 go=1.21:
c@v1.1.0 go=1.21:`,
			wantRead:  "a@v1.0.0 b@v1.0.0",
			wantBuild: "a@v1.0.0 b@v1.0.0 c@v1.1.0",
			wantZips:  "a@v1.0.0 b@v1.0.0",
		},
		{
			name: "unpruned dependency under a pruned main reads its closure",
			graph: `
main go=1.21: a@v1.0.0 old@v1.0.0
a@v1.0.0 go=1.21: x@v1.0.0
old@v1.0.0: c@v1.0.0
c@v1.0.0 go=1.20: d@v1.0.0
d@v1.0.0 go=1.21: e@v1.0.0
e@v1.0.0 go=1.21:`,
			wantRead:  "a@v1.0.0 c@v1.0.0 d@v1.0.0 e@v1.0.0 old@v1.0.0",
			wantBuild: "a@v1.0.0 c@v1.0.0 d@v1.0.0 e@v1.0.0 old@v1.0.0 x@v1.0.0",
			wantZips:  "a@v1.0.0 old@v1.0.0",
		},
		{
			name: "unpruned main: diamond with an upgrade, every version read",
			graph: `
main go=1.16: a@v1.0.0 b@v1.0.0
a@v1.0.0 go=1.16: c@v1.1.0
b@v1.0.0 go=1.16: c@v1.2.0
c@v1.1.0 go=1.16: d@v1.0.0
c@v1.2.0 go=1.16:
d@v1.0.0 go=1.16:`,
			wantRead:  "a@v1.0.0 b@v1.0.0 c@v1.1.0 c@v1.2.0 d@v1.0.0",
			wantBuild: "a@v1.0.0 b@v1.0.0 c@v1.2.0 d@v1.0.0",
			wantZips:  "a@v1.0.0 b@v1.0.0 c@v1.2.0 d@v1.0.0",
		},
		{
			name: "no go line means unpruned",
			graph: `
main: a@v1.0.0
a@v1.0.0 go=1.21: b@v1.0.0
b@v1.0.0 go=1.21:`,
			wantRead:  "a@v1.0.0 b@v1.0.0",
			wantBuild: "a@v1.0.0 b@v1.0.0",
			wantZips:  "a@v1.0.0 b@v1.0.0",
		},
		{
			name: "replacement's go.mod gives the requirements and is what gets fetched",
			graph: `
main go=1.21: a@v1.0.0 replace=a@v1.0.0=>fork@v1.5.0
fork@v1.5.0 go=1.16: b@v1.0.0
b@v1.0.0 go=1.21:`,
			wantRead:  "b@v1.0.0 fork@v1.5.0",
			wantBuild: "a@v1.0.0 b@v1.0.0",
			wantZips:  "fork@v1.5.0",
		},
		{
			name: "excluded requirements of dependencies are dropped",
			graph: `
main go=1.16: a@v1.0.0 exclude=c@v1.1.0
a@v1.0.0 go=1.16: c@v1.1.0 b@v1.0.0
b@v1.0.0 go=1.16: c@v1.0.0
c@v1.0.0 go=1.16:`,
			wantRead:  "a@v1.0.0 b@v1.0.0 c@v1.0.0",
			wantBuild: "a@v1.0.0 b@v1.0.0 c@v1.0.0",
			wantZips:  "a@v1.0.0 b@v1.0.0 c@v1.0.0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			main, src := parseGraph(t, tt.graph)
			g, err := LoadGraph(context.Background(), main, src, 4)
			if err != nil {
				t.Fatalf("LoadGraph: %v", err)
			}
			var read []module.Version
			for m, n := range src.asked {
				read = append(read, m)
				if n != 1 {
					t.Errorf("%v read %d times", m, n)
				}
			}
			if got := short(read); got != tt.wantRead {
				t.Errorf("read %q, want %q", got, tt.wantRead)
			}
			if got := short(g.BuildList()); got != tt.wantBuild {
				t.Errorf("build list %q, want %q", got, tt.wantBuild)
			}
			plan, err := NewPlan(main, nil)
			if err != nil {
				t.Fatal(err)
			}
			plan.FromGraph(g)
			var zips []module.Version
			for _, tg := range plan.Targets {
				zips = append(zips, module.Version{Path: tg.Path, Version: tg.Version})
			}
			if got := short(zips); got != tt.wantZips {
				t.Errorf("targets %q, want %q", got, tt.wantZips)
			}
		})
	}
}

// TestLoadGraphFailures: a graph that fails reads as go's one error, the
// first failing module a breadth-first walk meets (with the requirement
// path to it), and keeps every failure for those who report each.
func TestLoadGraphFailures(t *testing.T) {
	main, src := parseGraph(t, `
main go=1.21: d@v1.0.0 b@v1.0.0 c@v1.0.0
c@v1.0.0 go=1.16: e@v1.0.0
e@v1.0.0 go=1.16:
d@v1.0.0 go=1.16: f@v1.0.0`)
	_, err := LoadGraph(context.Background(), main, src, 2)
	var ge *GraphError
	if !errors.As(err, &ge) {
		t.Fatalf("error = %v (%T); want a *GraphError", err, err)
	}
	// b is a root (one step from the main module); f is two.
	if msg := err.Error(); !strings.HasPrefix(msg, "example.com/b@v1.0.0: ") || strings.Contains(msg, "example.com/f") {
		t.Errorf("error = %q; want b's alone", msg)
	}
	if len(ge.All) != 2 {
		t.Errorf("All = %v; want b's and f's", ge.All)
	}
	// Without b, f's error comes with the path to it.
	main, src = parseGraph(t, `
main go=1.21: d@v1.0.0
d@v1.0.0 go=1.16: f@v1.0.0`)
	_, err = LoadGraph(context.Background(), main, src, 2)
	if msg := fmt.Sprint(err); !strings.HasPrefix(msg, "example.com/d@v1.0.0 requires\n\texample.com/f@v1.0.0: ") {
		t.Errorf("error = %q; want d's requirement path to f", msg)
	}
}

func TestModulePathMismatch(t *testing.T) {
	main, src := parseGraph(t, `
main go=1.21: a@v1.0.0
a@v1.0.0 go=1.21:`)
	src.mods[module.Version{Path: "example.com/a", Version: "v1.0.0"}] = "module example.com/other\n"
	_, err := LoadGraph(context.Background(), main, src, 2)
	if err == nil || !strings.Contains(err.Error(), "module declares its path as: example.com/other") {
		t.Fatalf("error = %v", err)
	}
}

func TestParseMainErrors(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"module m\n\nrequre x v1.0.0\n", "go.mod:3: unknown directive: requre"},
		{"go 1.21\n", "no module declaration"},
	} {
		_, err := ParseMain("/m", "/m/go.mod", []byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseMain(%q) error = %v, want %q", tt.in, err, tt.want)
		}
	}
}

func TestMatchPattern(t *testing.T) {
	m := matchPattern("golang.org/x/...")
	for p, want := range map[string]bool{"golang.org/x/mod": true, "golang.org/x/sync": true, "golang.org/y/mod": false} {
		if m(p) != want {
			t.Errorf("match(%q) = %v", p, !want)
		}
	}
}

func TestLoadGraphWorkspace(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	write("go.work", "go 1.22\n\nuse (\n\t./a\n\t./b\n\t./old\n)\n\nreplace example.com/y v1.0.0 => ./ylocal\n")
	write("a/go.mod", "module example.com/a\n\ngo 1.21\n\nrequire example.com/x v1.0.0\n")
	write("b/go.mod", "module example.com/b\n\ngo 1.21\n\nrequire (\n\texample.com/a v1.0.0\n\texample.com/x v1.1.0\n\texample.com/y v1.0.0\n)\n")
	write("old/go.mod", "module example.com/old\n\ngo 1.16\n\nrequire example.com/u v1.0.0\n")
	write("ylocal/go.mod", "module example.com/y\n\ngo 1.21\n\nrequire example.com/v v1.0.0\n")
	_, src := parseGraph(t, `
main go=1.21:
a@v1.0.0 go=1.21: w@v1.0.0
x@v1.0.0 go=1.21: z@v1.0.0
x@v1.1.0 go=1.21: z@v1.1.0
z@v1.1.0 go=1.21: deep@v1.0.0
u@v1.0.0 go=1.21: t@v1.0.0
t@v1.0.0 go=1.21:
v@v1.0.0 go=1.21:`)
	ws, err := LoadWorkspace(filepath.Join(dir, "go.work"), dir)
	if err != nil {
		t.Fatal(err)
	}
	g, err := LoadGraph(context.Background(), ws, src, 4)
	if err != nil {
		t.Fatal(err)
	}
	var read []module.Version
	for m := range src.asked {
		read = append(read, m)
	}
	// The modules' requirements are read (old's whole closure: go 1.16);
	// x is required below its selected version by a, so x@v1.1.0 is read
	// as a root would be, with z@v1.1.0's go.mod; the directory
	// replacement's go.mod comes from disk; a workspace module required
	// at a version (a@v1.0.0) is read but never selected.
	if got, want := short(read), "a@v1.0.0 t@v1.0.0 u@v1.0.0 x@v1.0.0 x@v1.1.0 z@v1.1.0"; got != want {
		t.Errorf("read %q, want %q", got, want)
	}
	if got, want := short(g.BuildList()), "deep@v1.0.0 t@v1.0.0 u@v1.0.0 v@v1.0.0 w@v1.0.0 x@v1.1.0 y@v1.0.0 z@v1.1.0"; got != want {
		t.Errorf("build list %q, want %q", got, want)
	}
	if v := g.Selected("example.com/a"); v != "" {
		t.Errorf("Selected(a) = %q, want the main module", v)
	}
}

func TestDirectoryReplacement(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/a\n\nrequire example.com/b v1.0.0\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	main, src := parseGraph(t, `
main go=1.21: a@v1.0.0
b@v1.0.0 go=1.21:`)
	main.replace[module.Version{Path: "example.com/a", Version: "v1.0.0"}] = module.Version{Path: dir}
	g, err := LoadGraph(context.Background(), main, src, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := short(g.BuildList()), "a@v1.0.0 b@v1.0.0"; got != want {
		t.Errorf("build list %q, want %q", got, want)
	}
	plan, _ := NewPlan(main, nil)
	if tg := plan.Targets[0]; tg.Version != "" || tg.Path != "example.com/a" {
		t.Errorf("target %+v, want nothing to download for example.com/a", tg)
	}

	main.replace[module.Version{Path: "example.com/a", Version: "v1.0.0"}] = module.Version{Path: filepath.Join(dir, "nope")}
	main.written[module.Version{Path: "example.com/a", Version: "v1.0.0"}] = "./nope"
	_, err = LoadGraph(context.Background(), main, src, 2)
	if err == nil || !strings.Contains(err.Error(), "example.com/a@v1.0.0 (replaced by ./nope): reading ") || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing directory: error %v", err)
	}
}

// boundSource is a fakeSource that records how many GoMod calls run at once
// and the most goroutines alive while one runs.
type boundSource struct {
	*fakeSource
	inFlight, peak, peakG int
	mu                    sync.Mutex
}

func (s *boundSource) GoMod(ctx context.Context, m module.Version) ([]byte, error) {
	s.mu.Lock()
	s.inFlight++
	s.peak = max(s.peak, s.inFlight)
	s.peakG = max(s.peakG, runtime.NumGoroutine())
	s.mu.Unlock()
	time.Sleep(200 * time.Microsecond)
	s.mu.Lock()
	s.inFlight--
	s.mu.Unlock()
	return s.fakeSource.GoMod(ctx, m)
}

// TestLoadGraphBound: a wide graph is read with at most jobs go.mod reads
// at once, by at most jobs goroutines, not one goroutine per module
// waiting for a slot; each go.mod is asked once.
func TestLoadGraphBound(t *testing.T) {
	const width, jobs = 200, 3
	var spec strings.Builder
	spec.WriteString("main go=1.21:")
	for i := range width {
		fmt.Fprintf(&spec, " a%d@v1.0.0", i)
	}
	spec.WriteString("\n")
	for i := range width {
		fmt.Fprintf(&spec, "a%d@v1.0.0 go=1.16: b%d@v1.0.0\nb%d@v1.0.0 go=1.16:\n", i, i, i)
	}
	main, fake := parseGraph(t, spec.String())
	src := &boundSource{fakeSource: fake}
	base := runtime.NumGoroutine()
	g, err := LoadGraph(context.Background(), main, src, jobs)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(g.BuildList()); n != 2*width {
		t.Errorf("build list has %d modules, want %d", n, 2*width)
	}
	for m, n := range fake.asked {
		if n != 1 {
			t.Errorf("%s: go.mod asked %d times, want once", m, n)
		}
	}
	if src.peak > jobs {
		t.Errorf("%d go.mod reads at once, want at most %d", src.peak, jobs)
	}
	if extra := src.peakG - base; extra > jobs+2 {
		t.Errorf("%d goroutines beyond the test's while the graph was read, want at most %d (one per job)", extra, jobs+2)
	}
}
