// Command bench measures gomodfetch against `go mod download` on one
// machine, in one run, over a simulated network.
//
// It generates a deterministic module set (a few hundred modules, zips from
// a few KB to tens of MB, a graph several levels deep with go 1.16 modules;
// cached under the temp directory between runs), serves it from a loopback
// proxy that adds a round-trip delay to every request and caps bandwidth per
// connection and per link, and runs both tools alternately on fresh module
// caches: cold (empty cache), warm (everything present) and changed (go.mod
// bumps one module). After every case it checks that the two caches hold the
// same files with the same bytes. It prints the median wall time of each
// tool, their ratio, requests, bytes and peak RSS, and the floor the network
// allows.
//
//	go run ./bench            # the full run (a few minutes)
//	go run ./bench -quick     # a smaller module set, one round
//	go run ./bench -serve     # gomodfetch serve: cold through it, warm throughput (bench/serve.go)
//	go run ./bench -serve-load # gomodfetch serve under healthy and hostile clients at once (bench/serveload.go)
//	go run ./bench -set projects  # real projects' go.mod and go.sum, from a mirror (bench/real.go)
//	go run ./bench -prune     # a CI cache through ten go.sum changes, with and without prune (bench/prune.go)
package main

import (
	"bytes"
	"cmp"
	"flag"
	"fmt"
	"gomodfetch/internal/cachecmp"
	"gomodfetch/internal/faultproxy"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

type options struct {
	modules, chain, rounds, jobs int
	repeat                       int
	scale                        float64
	seed                         uint64
	rtt                          time.Duration
	connMB, linkMB               float64
	goCmd, gmf, dir              string
	keep, verbose, only, resume  bool
	set, net                     string
	vs, cases                    string
	project                      string // with -set projects, the one loadSet loads (real.go)
}

func main() {
	if len(os.Args) > 2 && os.Args[1] == measureArg {
		os.Exit(measureChild(os.Args[2:]))
	}
	var o options
	all := flag.Bool("all", false, "run the four benches the README shows, one after another: the real-shaped set over the emulated network, the same from file://, -resume, and the blobs set")
	quick := flag.Bool("quick", false, "a smaller module set (80 modules, quarter sizes) and one round")
	flag.IntVar(&o.modules, "modules", 300, "regular modules in the set")
	flag.IntVar(&o.chain, "chain", 6, "length of the chain of go 1.16 modules read one level after another")
	flag.Float64Var(&o.scale, "scale", 1, "multiply every zip size by this")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the module set")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds (each: cold, warm, changed for both tools)")
	flag.IntVar(&o.repeat, "repeat", 7, "runs per round of the cases that leave the cache as they found it (warm, verify), the tools alternating; the round's figure is their median")
	flag.DurationVar(&o.rtt, "rtt", 50*time.Millisecond, "round-trip time added to every request and new connection")
	flag.Float64Var(&o.connMB, "conn-bw", 8, "bandwidth per connection, MB/s (0: unlimited)")
	flag.Float64Var(&o.linkMB, "link-bw", 40, "bandwidth of the whole link, MB/s (0: unlimited)")
	flag.IntVar(&o.jobs, "j", 0, "pass -j N to gomodfetch (0: its default)")
	flag.StringVar(&o.goCmd, "go", "go", "the go command to compare against")
	flag.StringVar(&o.gmf, "gomodfetch", "", "gomodfetch binary (default: build this module)")
	flag.StringVar(&o.dir, "dir", "", "where to keep the generated module set (default: under the temp directory)")
	flag.BoolVar(&o.keep, "keep", false, "keep the caches of the last round")
	flag.BoolVar(&o.verbose, "v", false, "print every run")
	flag.BoolVar(&o.only, "only", false, "run gomodfetch alone (for tuning: no go runs, no cache comparison)")
	flag.StringVar(&o.vs, "vs", "", "for tuning: compare with this other gomodfetch binary (in go's column) instead of go")
	flag.StringVar(&o.cases, "cases", "cold,warm,changed,verify,bucket", "the cases to run, comma-separated")
	flag.BoolVar(&o.resume, "resume", false, "run only the resume case: the largest zip alone, clean and with its connection reset at 50% and 90% (see resume.go)")
	flag.StringVar(&o.set, "set", "real", "module set: real (many small files, like real modules), blobs (few large files) or projects (real projects' go.mod and go.sum, bench/real.go)")
	flag.StringVar(&o.net, "net", "emulated", "network: emulated (loopback proxy with -rtt and bandwidths) or file (GOPROXY=file://, no network: the CPU and disk floor)")
	flag.Parse()
	if *quick {
		o.modules, o.scale, o.rounds = 80, 0.25, 1
	}
	if o.set != "real" && o.set != "blobs" && o.set != "projects" {
		fmt.Fprintf(os.Stderr, "bench: -set must be real, blobs or projects\n")
		os.Exit(2)
	}
	if o.net != "emulated" && o.net != "file" && o.set != "projects" { // projects: see projectNets
		fmt.Fprintf(os.Stderr, "bench: -net must be emulated or file\n")
		os.Exit(2)
	}
	runBench := run
	if *serveBench {
		runBench = runServe // bench/serve.go
	}
	if *serveLoadBench {
		runBench = runServeLoad // bench/serveload.go
	}
	if *pruneBench {
		runBench = runPruneBench // bench/prune.go
	}
	if *all {
		runBench = runAll
	}
	if o.set == "projects" { // bench/real.go
		runBench = runProjects
		if *serveBench {
			runBench = runServeProjects
		}
	}
	err := runBench(o)
	for _, dir := range atExit {
		removeAll(dir)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

// atExit are the trees the bench removes when it is done, not earlier:
// see settleInodes.
var atExit []string

func removeAtExit(dir string) { atExit = append(atExit, dir) }

// runAll runs the benches the README's tables come from, in one run: the
// same gomodfetch binary, the same machine state, one after another.
func runAll(o options) error {
	if o.gmf == "" {
		work, err := os.MkdirTemp("", "gomodfetch-bench-bin-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(work)
		if o.gmf, _, err = tools(o, work); err != nil {
			return err
		}
	}
	parts := []struct {
		title string
		set   func(*options)
	}{
		{"real-shaped set, emulated network", func(*options) {}},
		{"real-shaped set, GOPROXY=file:// (no network)", func(o *options) { o.net = "file" }},
		{"resume: the largest zip alone, clean and cut at 50% and 90%", func(o *options) { o.resume = true }},
		{"blobs set (few large files), emulated network", func(o *options) { o.set = "blobs" }},
	}
	for i, p := range parts {
		po := o
		p.set(&po)
		fmt.Printf("\n## %d/%d: %s (%s)\n\n", i+1, len(parts), p.title, time.Now().Format(time.TimeOnly))
		if err := run(po); err != nil {
			return fmt.Errorf("%s: %v", p.title, err)
		}
	}
	return nil
}

// sample is one run of one tool.
type sample struct {
	wall     time.Duration
	requests int64
	bytes    int64
	conns    int64
	rss      int64 // bytes
	cpu      time.Duration
	proxyCPU time.Duration // the bench's own CPU meanwhile: the emulated proxy, on the same CPUs
}

type tool struct {
	name string
	cmd  func(dir, kase string) *exec.Cmd // kase: cold, warm, changed or verify
	env  []string
}

// loadSet generates (or reuses) the module set o names and says what it
// holds.
func loadSet(o options) (*moduleSet, error) {
	if o.set == "projects" {
		return projectSet(o) // bench/real.go
	}
	gp := genParams{Seed: o.seed, Modules: o.modules, Chain: o.chain, Scale: o.scale, Shape: o.set}
	dir := o.dir
	if dir == "" {
		dir = filepath.Join(os.TempDir(), fmt.Sprintf("gomodfetch-bench-v%d-%s-%d-%d-%d-%g", genVersion, gp.Shape, gp.Seed, gp.Modules, gp.Chain, gp.Scale))
	}
	t0 := time.Now()
	set, err := generate(gp, dir)
	if err != nil {
		return nil, fmt.Errorf("generating the module set: %v", err)
	}
	total, largest, nfiles := set.zipBytes(set.Main)
	fmt.Printf("module set (%s): %d module versions, %d zips to download (%s, %d files, largest %s), graph depth %d; ready in %.1fs (%s)\n",
		o.set, len(set.Versions), len(set.Main), mib(total), nfiles, mib(largest), set.Depth, time.Since(t0).Seconds(), dir)
	return set, nil
}

func run(o options) error {
	set, err := loadSet(o)
	if err != nil {
		return err
	}
	total, largest, _ := set.zipBytes(set.Main)

	work, err := os.MkdirTemp("", "gomodfetch-bench-run-")
	if err != nil {
		return err
	}
	if !o.keep {
		removeAtExit(work)
	} else { // all but the last round's
		for r := range max(o.rounds-1, 0) {
			removeAtExit(filepath.Join(work, fmt.Sprintf("round%d", r)))
			removeAtExit(filepath.Join(work, fmt.Sprintf("resume%d", r)))
		}
	}
	gmf, goPath, err := tools(o, work)
	if err != nil {
		return err
	}

	connBW, linkBW := o.connMB*1e6, o.linkMB*1e6
	px, err := faultproxy.Start(faultproxy.Options{
		Dir:     set.Dir,
		Network: faultproxy.Network{RTT: o.rtt, ConnBW: connBW, LinkBW: linkBW},
	})
	if err != nil {
		return err
	}
	defer px.Close()

	baseEnv := benchEnv(work, px.URL)
	if o.net == "file" {
		baseEnv = append(baseEnv, "GOPROXY=file://"+filepath.ToSlash(set.Dir))
		connBW, linkBW = 0, 0
	}
	// The fleet cache of the bucket case: a file:// bucket on the same
	// disk, filled once by an unmeasured run.
	bucketDir := filepath.Join(work, "bucket")
	bucketURL := "file://" + filepath.ToSlash(bucketDir) + "?metadata=skip"
	gmfCmd := func(bin string) func(dir, c string) *exec.Cmd {
		return func(dir, c string) *exec.Cmd {
			args := []string{"-q"}
			if o.jobs > 0 {
				args = append(args, "-j", fmt.Sprint(o.jobs))
			}
			if c == "verify" {
				args = []string{"verify"}
			}
			if c == "bucket" {
				args = append(args, "-cache-url", bucketURL)
			}
			cmd := exec.Command(bin, args...)
			cmd.Dir = dir
			return cmd
		}
	}
	tools := []tool{
		{name: "go mod download", env: []string{"GOMAXPROCS=2"}, cmd: func(dir, c string) *exec.Cmd {
			args := []string{"mod", "download"}
			if c == "verify" {
				args = []string{"mod", "verify"}
			}
			cmd := exec.Command(goPath, args...)
			cmd.Dir = dir
			return cmd
		}},
		{name: "gomodfetch", cmd: gmfCmd(gmf)},
	}
	if o.vs != "" {
		tools[0] = tool{name: "gomodfetch " + o.vs, cmd: gmfCmd(o.vs)}
	}
	if o.only {
		tools = tools[1:]
	}
	if o.resume {
		if o.net != "emulated" {
			return fmt.Errorf("-resume needs -net emulated")
		}
		return runResume(o, set, px, tools, baseEnv, work)
	}
	// verify checks the cache the runs left: go mod verify against
	// gomodfetch verify, both offline. bucket is a cold runner with a warm
	// fleet cache (gomodfetch -cache-url) against go from the proxy.
	var cases []string
	for _, c := range strings.Split(o.cases, ",") {
		if !slices.Contains([]string{"cold", "warm", "changed", "verify", "bucket"}, c) {
			return fmt.Errorf("-cases: unknown case %q (cold, warm, changed, verify, bucket)", c)
		}
		cases = append(cases, c)
	}
	if !slices.Contains(cases, "cold") && slices.ContainsFunc(cases, func(c string) bool { return c != "bucket" }) {
		return fmt.Errorf("-cases: warm, changed and verify run on the caches cold leaves; add cold")
	}
	samples := map[string][][]sample{} // case → tool → samples
	for _, c := range cases {
		samples[c] = make([][]sample, len(tools))
	}
	var mismatches []string
	for round := range o.rounds {
		rdir := filepath.Join(work, fmt.Sprintf("round%d", round))
		caches := make([]string, len(tools))
		projects := make([]string, len(tools))
		for i := range tools {
			caches[i] = filepath.Join(rdir, fmt.Sprintf("cache%d", i))
			projects[i] = filepath.Join(rdir, fmt.Sprintf("app%d", i))
			if err := os.MkdirAll(projects[i], 0o777); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(projects[i], "go.mod"), []byte(set.GoMod), 0o666); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(projects[i], "go.sum"), []byte(set.GoSum), 0o666); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(projects[i], "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o666); err != nil {
				return err
			}
		}
		order := []int{0, 1}
		if o.only {
			order = []int{0}
		} else if round%2 == 1 {
			order = []int{1, 0}
		}
		for _, c := range cases {
			if c == "changed" {
				for i := range tools {
					if err := os.WriteFile(filepath.Join(projects[i], "go.mod"), []byte(set.GoModChg), 0o666); err != nil {
						return err
					}
				}
			}
			if c == "bucket" {
				if err := fillBucket(gmf, bucketDir, bucketURL, projects[len(projects)-1], baseEnv, rdir); err != nil {
					return err
				}
				for i := range caches {
					caches[i] += "-bucket" // cold runners
				}
			}
			// A warm run takes tens of milliseconds, where one run's
			// figure is mostly the machine's noise: the cases that leave
			// the cache as they found it are run -repeat times, the tools
			// alternating, and the round keeps each tool's median.
			reps := 1
			if c == "warm" || c == "verify" {
				reps = max(o.repeat, 1)
			}
			runs := make([][]sample, len(tools))
			for rep := range reps {
				for _, i := range order {
					t := tools[i]
					env := append(append(slices.Clip(baseEnv), t.env...),
						"GOMODCACHE="+caches[i], "GOPATH="+filepath.Join(rdir, fmt.Sprintf("gopath%d", i)))
					if c == "verify" {
						env = append(env, "GOPROXY=off")
					}
					s, err := measure(px, t.cmd(projects[i], c), env)
					if err != nil {
						return fmt.Errorf("round %d, %s, %s: %v", round+1, c, t.name, err)
					}
					runs[i] = append(runs[i], s)
					if o.verbose && (reps == 1 || rep == reps-1) {
						s := median(runs[i])
						of := ""
						if reps > 1 {
							of = fmt.Sprintf(" (median of %d)", reps)
						}
						fmt.Printf("round %d %-8s %-16s %8s %5d requests %5d conns %9s %6.1f MiB RSS %6.2fs CPU %6.2fs proxy CPU%s\n",
							round+1, c, t.name, secs(s.wall), s.requests, s.conns, mib(s.bytes), float64(s.rss)/(1<<20), s.cpu.Seconds(), s.proxyCPU.Seconds(), of)
					}
				}
			}
			for _, i := range order {
				samples[c][i] = append(samples[c][i], median(runs[i]))
			}
			if o.only {
				continue
			}
			if diffs := cachecmp.Compare(caches[0], caches[1]); len(diffs) > 0 {
				if len(diffs) > 5 {
					diffs = append(diffs[:5], fmt.Sprintf("... and %d more", len(diffs)-5))
				}
				mismatches = append(mismatches, fmt.Sprintf("round %d, %s: caches differ:\n\t%s", round+1, c, strings.Join(diffs, "\n\t")))
			}
		}
		// Rounds are removed with the whole work directory when the run
		// ends (see settleInodes), or kept with -keep.
		if o.keep && round == o.rounds-1 {
			fmt.Printf("caches kept under %s\n", rdir)
		}
	}

	floorNet := time.Duration(float64(total) / linkBW * float64(time.Second))
	if linkBW == 0 {
		floorNet = 0
	}
	floorConn := time.Duration(0)
	if connBW > 0 {
		floorConn = time.Duration(float64(largest)/connBW*float64(time.Second)) + 2*o.rtt
	}
	floorDepth := time.Duration(set.Depth+1) * o.rtt // handshake + one round trip per level
	floor := max(floorNet, floorConn, floorDepth)

	if o.net == "file" {
		floor = 0
		fmt.Printf("\nnetwork: none (GOPROXY=file://): the CPU and disk floor; GOMAXPROCS=%d for go, %d CPUs\n\n", 2, runtime.NumCPU())
	} else {
		fmt.Printf("\nnetwork: %v RTT per request (and per new connection), %s/s per connection, %s/s link; GOMAXPROCS=%d for go, %d CPUs\n",
			o.rtt, mbs(o.connMB), mbs(o.linkMB), 2, runtime.NumCPU())
		fmt.Printf("floor (cold): %.2fs = max(bytes/link %.2fs, largest zip/connection %.2fs, (depth+1)xRTT %.2fs)\n\n",
			floor.Seconds(), floorNet.Seconds(), floorConn.Seconds(), floorDepth.Seconds())
	}
	if o.only {
		for _, c := range cases {
			f := median(samples[c][0])
			ofFloor := ""
			if floor > 0 && c == "cold" {
				ofFloor = fmt.Sprintf(" (%.2fx the floor)", f.wall.Seconds()/floor.Seconds())
			}
			fmt.Printf("%-8s gomodfetch %.2fs%s, %d requests, %d conns, %.0f MiB RSS, %.2fs CPU\n",
				c, f.wall.Seconds(), ofFloor, f.requests, f.conns, float64(f.rss)/(1<<20), f.cpu.Seconds())
		}
		return nil
	}
	fmt.Printf("| case | %s | gomodfetch | gomodfetch / go | requests (go / gmf) | conns (go / gmf) | bytes (go / gmf) | peak RSS (go / gmf) | CPU (go / gmf) | caches equal |\n", tools[0].name)
	fmt.Printf("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range cases {
		g, f := median(samples[c][0]), median(samples[c][1])
		eq := "yes"
		for _, m := range mismatches {
			if strings.Contains(m, ", "+c+":") {
				eq = "NO"
			}
		}
		fmt.Printf("| %s | %s | %s | %.2f | %d / %d | %d / %d | %s / %s | %.0f / %.0f MiB | %.2fs / %.2fs | %s |\n",
			c, secs(g.wall), secs(f.wall), f.wall.Seconds()/g.wall.Seconds(),
			g.requests, f.requests, g.conns, f.conns, mib(g.bytes), mib(f.bytes),
			float64(g.rss)/(1<<20), float64(f.rss)/(1<<20), g.cpu.Seconds(), f.cpu.Seconds(), eq)
	}
	cold, goCold := median(samples["cold"][1]), median(samples["cold"][0])
	if floor > 0 {
		fmt.Printf("\ncold: gomodfetch at %.2fx the floor (%.2fs / %.2fs); median of %d rounds\n",
			cold.wall.Seconds()/floor.Seconds(), cold.wall.Seconds(), floor.Seconds(), o.rounds)
	}
	mibs := float64(total) / (1 << 20)
	fmt.Printf("cold CPU per MiB of zip: go %.3fs, gomodfetch %.3fs\n", goCold.cpu.Seconds()/mibs, cold.cpu.Seconds()/mibs)
	if o.net != "file" {
		fmt.Printf("cold CPU of the emulated proxy on the same CPUs: %.2fs during go's run, %.2fs during gomodfetch's\n", goCold.proxyCPU.Seconds(), cold.proxyCPU.Seconds())
	}
	for _, m := range mismatches {
		fmt.Printf("MISMATCH %s\n", m)
	}
	if len(mismatches) > 0 {
		return fmt.Errorf("%d cases where the caches differ", len(mismatches))
	}
	return nil
}

// benchEnv is the environment every tool the bench runs starts from: its
// home and build cache under work, GOPROXY=goproxy, nothing from the
// user's go env. (A setting appended later wins: os/exec keeps the last.)
func benchEnv(work, goproxy string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + filepath.Join(work, "home"),
		"GOENV=off", "GOTOOLCHAIN=local", "GOWORK=off", "GOSUMDB=off",
		"GOPRIVATE=", "GONOPROXY=", "GONOSUMDB=", "GOFLAGS=-modcacherw",
		"GOPROXY=" + goproxy, "GOCACHE=" + filepath.Join(work, "gocache"),
	}
	// Profiles of gomodfetch's runs (profile.go); go ignores it.
	if p := os.Getenv("GOMODFETCH_CPUPROFILE"); p != "" {
		env = append(env, "GOMODFETCH_CPUPROFILE="+p)
	}
	return env
}

// tools returns the gomodfetch binary to measure (-gomodfetch, or this
// module built into work) and the go command's path.
func tools(o options, work string) (gmf, goPath string, err error) {
	gmf = o.gmf
	if gmf == "" {
		gmf = filepath.Join(work, "gomodfetch")
		b := exec.Command(o.goCmd, "build", "-o", gmf, ".")
		b.Stdout, b.Stderr = os.Stderr, os.Stderr
		if err := b.Run(); err != nil {
			return "", "", fmt.Errorf("building gomodfetch (run from the repository root): %v", err)
		}
	}
	goPath, err = exec.LookPath(o.goCmd)
	return gmf, goPath, err
}

// fillBucket fills the bucket case's fleet cache once, unmeasured: a
// gomodfetch run into a throwaway cache writes back everything.
func fillBucket(gmf, dir, bucketURL, project string, env []string, rdir string) error {
	if _, err := os.Stat(filepath.Join(dir, "filled")); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	c := exec.Command(gmf, "-q", "-cache-url", bucketURL, "-cache-wait", "5m")
	c.Dir = project
	c.Env = append(slices.Clip(env), "GOMODCACHE="+filepath.Join(rdir, "fill-cache"), "GOPATH="+filepath.Join(rdir, "fill-gopath"))
	c.Stdout, c.Stderr = os.Stderr, os.Stderr
	if err := c.Run(); err != nil {
		return fmt.Errorf("filling the bucket: %v", err)
	}
	// fill-cache stays until the run ends: removing it here would slow
	// the file creation of the timed runs that follow (see settleInodes).
	return os.WriteFile(filepath.Join(dir, "filled"), nil, 0o666)
}

// measureArg makes the bench binary run the rest of its arguments as a
// child and report the child's wall time and peak RSS on stdout. The
// indirection keeps the bench's own memory out of the figure: on Linux a
// child's ru_maxrss starts at its parent's RSS when it execs, so what is
// reported is max(helper, tool), and the helper's is about 7 MiB.
const measureArg = "-measure-child"

func measureChild(args []string) int {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stderr = os.Stdin, os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var rss int64
	var cpu time.Duration
	code := -1
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rss = ru.Maxrss * 1024 // kilobytes on Linux
		}
		cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		code = cmd.ProcessState.ExitCode()
	}
	fmt.Printf("%d %d %d %d\n", wall.Nanoseconds(), rss, cpu.Nanoseconds(), code)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// measure runs cmd with env (through measureChild) and reports its wall
// time, peak RSS and what the proxy saw meanwhile.
func measure(px *faultproxy.Server, cmd *exec.Cmd, env []string) (sample, error) {
	s, failed, err := measureMayFail(px, cmd, env, 0)
	if err == nil && failed != nil {
		err = failed
	}
	return s, err
}

// runFailure is a measured command that did not succeed.
type runFailure struct {
	code   int // exit status; -1: killed
	stderr string
}

func (f *runFailure) Error() string {
	return fmt.Sprintf("exit status %d\n%s", f.code, f.stderr)
}

// measureMayFail is measure for a command that may fail: the sample is
// good either way, and failed says how the command ended if it did not
// succeed. With timeout > 0 the command (its whole process group) is
// killed after that long. err is for the measurement itself.
func measureMayFail(px *faultproxy.Server, cmd *exec.Cmd, env []string, timeout time.Duration) (s sample, failed *runFailure, err error) {
	self, err := os.Executable()
	if err != nil {
		return sample{}, nil, err
	}
	// The run must not pay for the previous one's disk writeback, nor for
	// the inodes an earlier removal freed.
	settleInodes()
	syscall.Sync()
	px.Reset()
	self0 := selfCPU()
	var stdout, stderr bytes.Buffer
	w := exec.Command(self, append([]string{measureArg, cmd.Path}, cmd.Args[1:]...)...)
	w.Dir, w.Env, w.Stdout, w.Stderr = cmd.Dir, env, &stdout, &stderr
	if timeout > 0 {
		w.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // killed as a group
	}
	start := time.Now()
	if err := w.Start(); err != nil {
		return sample{}, nil, err
	}
	if timeout > 0 {
		t := time.AfterFunc(timeout, func() { syscall.Kill(-w.Process.Pid, syscall.SIGKILL) })
		defer t.Stop()
	}
	runErr := w.Wait()
	st := px.Stats()
	s = sample{requests: st.Requests, bytes: st.Bytes, conns: st.Conns}
	var ns, cpu int64
	code := -1
	if _, err := fmt.Sscan(stdout.String(), &ns, &s.rss, &cpu, &code); err != nil {
		if runErr == nil {
			return sample{}, nil, fmt.Errorf("reading the measurement %q: %v", stdout.String(), err)
		}
		ns = int64(time.Since(start)) // killed with its wrapper
	}
	s.wall, s.cpu = time.Duration(ns), time.Duration(cpu)
	s.proxyCPU = selfCPU() - self0
	if runErr != nil {
		failed = &runFailure{code: code, stderr: stderr.String()}
	}
	return s, failed, nil
}

// goErrors counts the error lines a go command printed ("go: ...").
func (e *runFailure) goErrors() int {
	n := 0
	for _, l := range strings.Split(e.stderr, "\n") {
		if strings.HasPrefix(l, "go: ") {
			n++
		}
	}
	return n
}

// selfCPU is the CPU time (user and system) this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// median returns the sample with the median wall time (the others' fields
// come from that same run).
func median(s []sample) sample {
	if len(s) == 0 {
		return sample{}
	}
	s = slices.Clone(s)
	slices.SortFunc(s, func(a, b sample) int { return cmp.Compare(a.wall, b.wall) })
	return s[len(s)/2]
}

// secs prints a wall time: to the millisecond below ten seconds, where
// the warm cases' figures would otherwise round to one or two digits.
func secs(d time.Duration) string {
	if d < 10*time.Second {
		return fmt.Sprintf("%.3fs", d.Seconds())
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func mbs(mb float64) string {
	if mb == 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%g MB", mb)
}

// removeAll removes a tree that may have read-only directories in it, and
// notes when (see settleInodes).
func removeAll(dir string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o777)
		}
		return nil
	})
	os.RemoveAll(dir)
	os.WriteFile(removedMark, []byte(time.Now().Format(time.RFC3339Nano)), 0o666)
}

// inodeSettle is how long a removal slows down the creation of files
// after it. On ext4 without a journal (this VM's root file system, and
// many cloud runners'), allocating an inode skips, one by one, the free
// inodes near it that were deleted recently (ext4's recently_deleted:
// 60 s after the deletion, RECENTCY_MIN, and 300 s more while their inode
// table block is dirty, RECENTCY_DIRTY, as it is while files are being
// created around them), looking each one up in the buffer cache. So the
// first trees of tens of thousands of files created after a large tree
// was removed pay for all of those inodes: here a cold run that follows
// the removal of the previous bench's caches spent 42% of its CPU in
// find_get_block_common, recently_deleted and find_inode_bit, and took
// twice as long. A bench that removed each round's caches before the
// next cold runs measured the file system, not the tool (whichever tool
// ran first paid more). So the bench removes its trees only when it
// exits, and waits until the last removal (its own or an earlier run's)
// is older than the longest window before it times anything.
const inodeSettle = 370 * time.Second

// removedMark records the last removal, across bench runs.
var removedMark = filepath.Join(os.TempDir(), "gomodfetch-bench-removed")

// settleInodes waits until the last removal (an earlier bench run's, or
// the generation of a new module set's) is inodeSettle old; the bench
// itself removes trees only when it exits (removeAtExit).
func settleInodes() {
	data, err := os.ReadFile(removedMark)
	if err != nil {
		return
	}
	at, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(data)))
	if err != nil {
		return
	}
	if wait := inodeSettle - time.Since(at); wait > 0 {
		fmt.Fprintf(os.Stderr, "bench: waiting %.0fs for the inodes freed %.0fs ago to age (see settleInodes in bench/main.go)\n", wait.Seconds(), time.Since(at).Seconds())
		time.Sleep(wait)
	}
}
