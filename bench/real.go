package main

// The real-projects set (go run ./bench -set projects): the go.mod and
// go.sum of released versions of large open-source projects, kept in
// bench/testdata/real/<project>/ (ORIGIN.md there says where each came
// from), and everything `go mod download` fetches for them, mirrored once
// from the module proxy by bench/mirror-real.sh into a tree outside the
// repository. The bench serves that tree from its own loopback proxy
// (internal/faultproxy) on each network of -net (none: no delay and no
// bandwidth cap; emulated: -rtt, and 20 MiB/s per connection unless
// -conn-bw says otherwise; file: GOPROXY=file://) and runs go mod download
// and gomodfetch alternately on fresh caches (cold), -rounds times, with
// sync before every timed run; after each round both caches must be equal.
//
// Both tools run with GOSUMDB=off: go.sum checks what it lists, and the
// mirror itself was checked against the checksum database when it was
// made (a few hundred go.mod files of the unpruned graphs are not in the
// projects' go.sum files; go looked them up then).
//
// With -serve, the serve bench (serve.go) runs once per project over the
// same tree.

import (
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"gomodfetch/internal/cachecmp"
	"gomodfetch/internal/faultproxy"
	"gomodfetch/internal/termsafe"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/module"
)

var (
	mirrorFlag   = flag.String("mirror", "", "with -set projects: the directory bench/mirror-real.sh filled (default: $GOMODFETCH_BENCH_MIRROR, else $XDG_CACHE_HOME/gomodfetch-bench/real)")
	projectsFlag = flag.String("projects", "", "with -set projects: the projects to run, comma-separated (default: every directory under bench/testdata/real)")
)

// realDir holds one directory per project, relative to the repository
// root (where the bench runs: it builds gomodfetch from ".").
const realDir = "bench/testdata/real"

// realProject is one project of the set.
type realProject struct {
	name         string
	goMod, goSum string
	goLine       string // "" when go.mod has none
}

func loadProjects(only string) ([]realProject, error) {
	var names []string
	if only != "" {
		names = strings.Split(only, ",")
	} else {
		ents, err := os.ReadDir(realDir)
		if err != nil {
			return nil, fmt.Errorf("the real projects (run the bench from the repository root): %w", err)
		}
		for _, e := range ents {
			if e.IsDir() {
				names = append(names, e.Name())
			}
		}
	}
	var ps []realProject
	for _, n := range names {
		p := realProject{name: n}
		mod, err := os.ReadFile(filepath.Join(realDir, n, "go.mod"))
		if err != nil {
			return nil, err
		}
		sum, err := os.ReadFile(filepath.Join(realDir, n, "go.sum"))
		if err != nil {
			return nil, err
		}
		p.goMod, p.goSum = string(mod), string(sum)
		for _, l := range strings.Split(p.goMod, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "go "); ok {
				p.goLine = strings.TrimSpace(v)
			}
		}
		ps = append(ps, p)
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("no projects under %s", realDir)
	}
	return ps, nil
}

// mirrorRoot is the directory bench/mirror-real.sh fills.
func mirrorRoot() string {
	if *mirrorFlag != "" {
		return *mirrorFlag
	}
	if d := os.Getenv("GOMODFETCH_BENCH_MIRROR"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "gomodfetch-bench", "real")
}

// checkMirror returns the GOPROXY tree of the mirror, after checking that
// it was made for these projects' go.mod and go.sum.
func checkMirror(ps []realProject) (string, error) {
	root := mirrorRoot()
	tree := filepath.Join(root, "modcache", "cache", "download")
	if _, err := os.Stat(tree); err != nil {
		return "", fmt.Errorf("no mirror at %s: run bench/mirror-real.sh first (%v)", root, err)
	}
	for _, p := range ps {
		stamp, err := os.ReadFile(filepath.Join(root, "stamps", p.name))
		if err != nil {
			return "", fmt.Errorf("the mirror at %s has no %s: run bench/mirror-real.sh", root, p.name)
		}
		for _, f := range []struct{ name, data string }{{"go.mod", p.goMod}, {"go.sum", p.goSum}} {
			want := fmt.Sprintf("%x  %s\n", sha256.Sum256([]byte(f.data)), f.name)
			if !strings.Contains(string(stamp), want) {
				return "", fmt.Errorf("the mirror at %s was made for another %s of %s: run bench/mirror-real.sh", root, f.name, p.name)
			}
		}
	}
	return tree, nil
}

// mirrorFullness says whether the mirror at root is full (the stamp
// bench/mirror-real.sh -full writes: every version's .info, .mod and .zip,
// but those the proxy refused) or holds only what go mod download fetched.
func mirrorFullness(root string) string {
	b, err := os.ReadFile(filepath.Join(root, "stamps", "full"))
	if err != nil {
		return "not full (only what go mod download fetched: the .mod alone of the versions the graphs read just for their go.mod, which upstream answers 404 for the rest of; bench/mirror-real.sh -full fetches them)"
	}
	first, _, _ := strings.Cut(string(b), "\n")
	first = strings.TrimPrefix(first, "full: ")
	return "full (" + termsafe.String(first) + ")"
}

// projectSet is the module set the serve bench (loadSet) takes for one
// project: the mirror as the proxy tree, the project's go.mod and go.sum.
func projectSet(o options) (*moduleSet, error) {
	ps, err := loadProjects(o.project)
	if err != nil {
		return nil, err
	}
	tree, err := checkMirror(ps)
	if err != nil {
		return nil, err
	}
	p := ps[0]
	full := mirrorFullness(mirrorRoot())
	fmt.Printf("project %s (go %s), served from %s; mirror %s\n", p.name, p.goLine, tree, full)
	return &moduleSet{Dir: tree, GoMod: p.goMod, GoSum: p.goSum, Mirror: full}, nil
}

// projectNets returns the networks -net names, each as the options that
// make it: none is the emulated proxy with no delay and no cap; emulated
// defaults to 20 MiB/s per connection and no link cap where -conn-bw and
// -link-bw are not given.
func projectNets(o options) ([]options, error) {
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	names := []string{"none", "emulated"}
	if set["net"] {
		names = strings.Split(o.net, ",")
	}
	var nets []options
	for _, n := range names {
		no := o
		switch n {
		case "none":
			no.net, no.rtt, no.connMB, no.linkMB = "none", 0, 0, 0
		case "emulated":
			if !set["conn-bw"] {
				no.connMB = 20 * (1 << 20) / 1e6
			}
			if !set["link-bw"] {
				no.linkMB = 0
			}
			no.net = "emulated"
		case "file":
			no.net, no.rtt, no.connMB, no.linkMB = "file", 0, 0, 0
		default:
			return nil, fmt.Errorf("-net: %q: with -set projects, none, emulated or file (comma-separated)", n)
		}
		nets = append(nets, no)
	}
	return nets, nil
}

// netName says what a network of projectNets is, briefly.
func netName(o options) string {
	switch o.net {
	case "none":
		return "none (loopback)"
	case "file":
		return "file://"
	}
	bw := func(mb float64) string {
		if mb == 0 {
			return "no cap"
		}
		return fmt.Sprintf("%.3g MiB/s", mb*1e6/(1<<20))
	}
	return fmt.Sprintf("%v RTT, %s per conn, %s on the link", o.rtt, bw(o.connMB), bw(o.linkMB))
}

// projectFacts describes what a project's cold run left in go's cache.
type projectFacts struct {
	zips, mods, files int
	zipBytes, largest int64
	largestName       string
}

func readFacts(cache string) (projectFacts, error) {
	var f projectFacts
	dl := filepath.Join(cache, "cache", "download")
	err := filepath.WalkDir(cache, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p == filepath.Join(dl, "sumdb") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasPrefix(p, dl+string(filepath.Separator)) {
			f.files++
			return nil
		}
		switch filepath.Ext(p) {
		case ".mod":
			f.mods++
		case ".zip":
			fi, err := d.Info()
			if err != nil {
				return err
			}
			f.zips++
			f.zipBytes += fi.Size()
			if fi.Size() > f.largest {
				f.largest = fi.Size()
				rel, _ := filepath.Rel(dl, strings.TrimSuffix(p, ".zip"))
				path, version, _ := strings.Cut(filepath.ToSlash(rel), "/@v/")
				if up, err := module.UnescapePath(path); err == nil {
					path = up
				}
				if uv, err := module.UnescapeVersion(version); err == nil {
					version = uv
				}
				f.largestName = path + "@" + version
			}
		}
		return nil
	})
	return f, err
}

// projectRow is one project on one network.
type projectRow struct {
	project, net string
	samples      [2][]sample // go, gomodfetch: cold
	warm         [2][]sample // each round's median of -repeat runs over the full cache
	changed      [2][]sample // one module version missing from the full cache
	changedMod   string
	equal        bool
	facts        projectFacts
}

func runProjects(o options) error {
	ps, err := loadProjects(*projectsFlag)
	if err != nil {
		return err
	}
	tree, err := checkMirror(ps)
	if err != nil {
		return err
	}
	nets, err := projectNets(o)
	if err != nil {
		return err
	}
	load0 := loadAvg()
	work, err := os.MkdirTemp("", "gomodfetch-bench-projects-")
	if err != nil {
		return err
	}
	removeAtExit(work)
	gmf, goPath, err := tools(o, work)
	if err != nil {
		return err
	}
	fmt.Printf("real projects %s, served from %s (mirror %s); %d rounds, cold, on networks: %s\n", projectNames(ps), tree, mirrorFullness(mirrorRoot()), o.rounds, strings.Join(mapSlice(nets, netName), "; "))

	var rows []*projectRow
	var mismatches []string
	for _, p := range ps {
		pdir := filepath.Join(work, p.name)
		for _, no := range nets {
			row := &projectRow{project: p.name, net: netName(no), equal: true}
			rows = append(rows, row)
			if err := runProjectNet(o, no, p, tree, gmf, goPath, filepath.Join(pdir, no.net), row, &mismatches); err != nil {
				return fmt.Errorf("%s, network %s: %v", p.name, no.net, err)
			}
		}
		// The next project's timed runs wait until this removal is old
		// enough (settleInodes); keeping every project's caches until the
		// end would take some 50 GB.
		if o.keep {
			fmt.Printf("caches of %s kept under %s\n", p.name, pdir)
		} else {
			removeAll(pdir)
		}
	}

	fmt.Printf("\nload average (1 min) at the start and the end: %s, %s; %d CPUs; GOMAXPROCS=2 for go; GOSUMDB=off for both (go.sum checks what it lists)\n\n", load0, loadAvg(), runtime.NumCPU())
	fmt.Printf("| project | go line | zips | zip bytes | largest zip | go.mod only | files extracted |\n|---|---|---|---|---|---|---|\n")
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r.project] {
			continue
		}
		seen[r.project] = true
		f := r.facts
		goLine := ""
		for _, p := range ps {
			if p.name == r.project {
				goLine = p.goLine
			}
		}
		fmt.Printf("| %s | %s | %d | %s | %s (%s) | %d | %d |\n", r.project, goLine, f.zips, mib(f.zipBytes), mib(f.largest), f.largestName, f.mods-f.zips, f.files)
	}
	fmt.Printf("\n| project | network | go mod download | gomodfetch | gomodfetch / go | CPU (go / gmf) | requests (go / gmf) | bytes (go / gmf) | peak RSS (go / gmf) | caches equal |\n")
	fmt.Printf("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		g, f := median(r.samples[0]), median(r.samples[1])
		eq := "yes"
		if !r.equal {
			eq = "NO"
		}
		fmt.Printf("| %s | %s | %s | %s | %.2f | %.2fs / %.2fs | %d / %d | %s / %s | %.0f / %.0f MiB | %s |\n",
			r.project, r.net, secs(g.wall), secs(f.wall), f.wall.Seconds()/g.wall.Seconds(),
			g.cpu.Seconds(), f.cpu.Seconds(), g.requests, f.requests, mib(g.bytes), mib(f.bytes),
			float64(g.rss)/(1<<20), float64(f.rss)/(1<<20), eq)
	}
	fmt.Printf("\nmedians of %d rounds (the median wall time's run gives the other columns); CPU is the tool process's user+sys time\n", o.rounds)
	fmt.Printf("\n| project | network | warm: go | gomodfetch | gomodfetch / go | one module changed | go | gomodfetch | gomodfetch / go | CPU changed (go / gmf) |\n")
	fmt.Printf("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		gw, fw := median(r.warm[0]), median(r.warm[1])
		gc, fc := median(r.changed[0]), median(r.changed[1])
		fmt.Printf("| %s | %s | %s | %s | %.2f | %s | %s | %s | %.2f | %.2fs / %.2fs |\n",
			r.project, r.net, secs(gw.wall), secs(fw.wall), fw.wall.Seconds()/gw.wall.Seconds(),
			r.changedMod, secs(gc.wall), secs(fc.wall), fc.wall.Seconds()/gc.wall.Seconds(), gc.cpu.Seconds(), fc.cpu.Seconds())
	}
	fmt.Printf("\nwarm: each round's median of %d runs over the full cache, then the median over the rounds; one module changed: that version's files and tree removed from the full cache (as after a go.sum change), median over the rounds; caches compared after both\n", max(o.repeat, 1))
	for _, m := range mismatches {
		fmt.Printf("MISMATCH %s\n", m)
	}
	if len(mismatches) > 0 {
		return fmt.Errorf("%d runs where the caches differ", len(mismatches))
	}
	return nil
}

// runProjectNet runs project p's cold case on network no, o.rounds times,
// under dir.
func runProjectNet(o, no options, p realProject, tree, gmf, goPath, dir string, row *projectRow, mismatches *[]string) error {
	px, err := faultproxy.Start(faultproxy.Options{
		Dir:     tree,
		Network: faultproxy.Network{RTT: no.rtt, ConnBW: no.connMB * 1e6, LinkBW: no.linkMB * 1e6},
	})
	if err != nil {
		return err
	}
	defer px.Close()
	goproxy := px.URL
	if no.net == "file" {
		goproxy = "file://" + filepath.ToSlash(tree)
	}
	baseEnv := benchEnv(dir, goproxy)
	cmds := [2]func(app string) *exec.Cmd{
		func(app string) *exec.Cmd {
			c := exec.Command(goPath, "mod", "download")
			c.Dir = app
			return c
		},
		func(app string) *exec.Cmd {
			args := []string{"-q"}
			if o.jobs > 0 {
				args = append(args, "-j", fmt.Sprint(o.jobs))
			}
			c := exec.Command(gmf, args...)
			c.Dir = app
			return c
		},
	}
	names := [2]string{"go mod download", "gomodfetch"}
	for round := range o.rounds {
		rdir := filepath.Join(dir, fmt.Sprintf("round%d", round))
		var caches [2]string
		order := []int{0, 1}
		if round%2 == 1 {
			order = []int{1, 0}
		}
		for _, i := range order {
			app := filepath.Join(rdir, fmt.Sprintf("app%d", i))
			caches[i] = filepath.Join(rdir, fmt.Sprintf("cache%d", i))
			if err := writeProject(app, &moduleSet{GoMod: p.goMod, GoSum: p.goSum}); err != nil {
				return err
			}
			env := append(slices.Clip(baseEnv), "GOMODCACHE="+caches[i], "GOPATH="+filepath.Join(rdir, fmt.Sprintf("gopath%d", i)))
			if i == 0 {
				env = append(env, "GOMAXPROCS=2")
			}
			s, err := measure(px, cmds[i](app), env)
			if err != nil {
				return fmt.Errorf("round %d, %s: %v", round+1, names[i], err)
			}
			row.samples[i] = append(row.samples[i], s)
			if o.verbose {
				fmt.Printf("%s %-9s round %d %-16s %8s %6.2fs CPU %5d requests %5d conns %10s %6.0f MiB RSS %6.2fs proxy CPU\n",
					p.name, no.net, round+1, names[i], secs(s.wall), s.cpu.Seconds(), s.requests, s.conns, mib(s.bytes), float64(s.rss)/(1<<20), s.proxyCPU.Seconds())
			}
		}
		if round == 0 {
			f, err := readFacts(caches[0])
			if err != nil {
				return err
			}
			row.facts = f
		}
		// Warm: everything cached, -repeat runs the tools alternating.
		var warm [2][]sample
		for rep := range max(o.repeat, 1) {
			for _, i := range order {
				env := append(slices.Clip(baseEnv), "GOMODCACHE="+caches[i], "GOPATH="+filepath.Join(rdir, fmt.Sprintf("gopath%d", i)))
				if i == 0 {
					env = append(env, "GOMAXPROCS=2")
				}
				s, err := measure(px, cmds[i](filepath.Join(rdir, fmt.Sprintf("app%d", i))), env)
				if err != nil {
					return fmt.Errorf("round %d, warm run %d, %s: %v", round+1, rep+1, names[i], err)
				}
				warm[i] = append(warm[i], s)
			}
		}
		for i := range 2 {
			row.warm[i] = append(row.warm[i], median(warm[i]))
		}
		// One module changed: as after a go.sum change to a version not
		// in the cache, one module version is missing and the rest is
		// cached (the same version each round: the middle of go's zips).
		mod, err := middleZip(caches[0])
		if err != nil {
			return err
		}
		row.changedMod = mod.String()
		for _, i := range order {
			if err := removeVersion(caches[i], mod); err != nil {
				return err
			}
			env := append(slices.Clip(baseEnv), "GOMODCACHE="+caches[i], "GOPATH="+filepath.Join(rdir, fmt.Sprintf("gopath%d", i)))
			if i == 0 {
				env = append(env, "GOMAXPROCS=2")
			}
			s, err := measure(px, cmds[i](filepath.Join(rdir, fmt.Sprintf("app%d", i))), env)
			if err != nil {
				return fmt.Errorf("round %d, one module changed, %s: %v", round+1, names[i], err)
			}
			row.changed[i] = append(row.changed[i], s)
		}
		if o.verbose {
			for i := range 2 {
				w, c := median(warm[i]), row.changed[i][len(row.changed[i])-1]
				fmt.Printf("%s %-9s round %d %-16s warm %8s %6.2fs CPU; one module changed (%s) %8s %6.2fs CPU %5d requests\n",
					p.name, no.net, round+1, names[i], secs(w.wall), w.cpu.Seconds(), mod, secs(c.wall), c.cpu.Seconds(), c.requests)
			}
		}
		if diffs := cachecmp.Compare(caches[0], caches[1]); len(diffs) > 0 {
			row.equal = false
			if len(diffs) > 5 {
				diffs = append(diffs[:5], fmt.Sprintf("... and %d more", len(diffs)-5))
			}
			*mismatches = append(*mismatches, fmt.Sprintf("%s, %s, round %d: caches differ:\n\t%s", p.name, no.net, round+1, strings.Join(diffs, "\n\t")))
		}
	}
	return nil
}

// runServeProjects runs the serve bench once per project and network,
// removing each run's trees before the next (see runProjects).
func runServeProjects(o options) error {
	ps, err := loadProjects(*projectsFlag)
	if err != nil {
		return err
	}
	nets, err := projectNets(o)
	if err != nil {
		return err
	}
	if o.gmf == "" { // one build for every run
		work, err := os.MkdirTemp("", "gomodfetch-bench-bin-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(work)
		if o.gmf, _, err = tools(o, work); err != nil {
			return err
		}
	}
	for _, p := range ps {
		for _, no := range nets {
			if no.net == "none" {
				no.net = "emulated" // runServe's name for the loopback proxy, here with no delay and no cap
			}
			no.project = p.name
			fmt.Printf("\n## serve, project %s, network %s (%s)\n\n", p.name, netName(no), time.Now().Format(time.TimeOnly))
			n := len(atExit)
			err := runServe(no)
			if !o.keep {
				for _, d := range atExit[n:] {
					removeAll(d)
				}
				atExit = atExit[:n]
			}
			if err != nil {
				return fmt.Errorf("%s, network %s: %v", p.name, netName(no), err)
			}
		}
	}
	return nil
}

func projectNames(ps []realProject) string {
	return strings.Join(mapSlice(ps, func(p realProject) string { return p.name }), ", ")
}

func mapSlice[T any](s []T, f func(T) string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = f(v)
	}
	return out
}

// middleZip returns the module version in the middle of the zips in
// cache, sorted by path: the one the "one module changed" case removes.
func middleZip(cache string) (module.Version, error) {
	dl := filepath.Join(cache, "cache", "download")
	var mods []module.Version
	err := filepath.WalkDir(dl, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p == filepath.Join(dl, "sumdb") {
			return filepath.SkipDir
		}
		if d.IsDir() || filepath.Ext(p) != ".zip" {
			return nil
		}
		rel, _ := filepath.Rel(dl, strings.TrimSuffix(p, ".zip"))
		epath, ever, ok := strings.Cut(filepath.ToSlash(rel), "/@v/")
		if !ok {
			return nil
		}
		path, err1 := module.UnescapePath(epath)
		version, err2 := module.UnescapeVersion(ever)
		if err1 != nil || err2 != nil {
			return nil
		}
		mods = append(mods, module.Version{Path: path, Version: version})
		return nil
	})
	if err != nil {
		return module.Version{}, err
	}
	if len(mods) == 0 {
		return module.Version{}, fmt.Errorf("no zip in %s", cache)
	}
	module.Sort(mods)
	return mods[len(mods)/2], nil
}

// removeVersion removes mod's .info, .mod, .zip, .ziphash and .lock and
// its extracted tree from cache (made writable first).
func removeVersion(cache string, mod module.Version) error {
	epath, err := module.EscapePath(mod.Path)
	if err != nil {
		return err
	}
	ever, err := module.EscapeVersion(mod.Version)
	if err != nil {
		return err
	}
	base := filepath.Join(cache, "cache", "download", filepath.FromSlash(epath), "@v", ever)
	for _, ext := range []string{".info", ".mod", ".zip", ".ziphash", ".lock"} {
		if err := os.Remove(base + ext); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	dir := filepath.Join(cache, filepath.FromSlash(epath)+"@"+ever)
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
	return os.RemoveAll(dir)
}
