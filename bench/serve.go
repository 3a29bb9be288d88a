package main

// The serve benchmark (go run ./bench -serve): gomodfetch serve against
// the floors it should be held to.
//
// Cold: `go mod download` through a fresh serve (whose upstream is the
// emulated proxy) against `go mod download` and gomodfetch straight from
// that proxy, each on fresh caches, with sync before every timed run; the
// server is started before the clock and its startup is not counted. The
// client caches must match go's.
//
// Warm: a serve cache filled by the cold runs is served by `gomodfetch
// serve -offline`, by `gomodfetch serve` (online: @v/list goes upstream on
// every request, by design) and by a plain net/http.FileServer over the
// same cache/download directory (the floor), each in a process of its own,
// all running at once; -clients goroutines ask one server at a time for
// every file of a mix (.info and .mod; @v/list; .zip), each in a random
// order of its own, in five slices per server and mix that alternate
// between the servers, -warm-duration in all. Before those, each server is
// asked for every file of each mix once (the first pass, reported apart:
// a freshly started serve checks each zip against its .ziphash the first
// time it serves it). Every answer must be 200 and
// whole; any error fails the benchmark. The clients share the machine's
// CPUs with the server they drive.
//
// Athens (github.com/gomods/athens) runs beside them when -athens names
// its proxy binary, deployed as a team would put it in front of that
// upstream (see startAthens). Athens is measured, not held to
// gomodfetch's standard: a cold run through it that fails, a cache that
// differs from go's, or warm errors are reported in its rows and do not
// fail the benchmark. Its fetcher takes a module version whole (`go mod
// download -json path@version`: .info, .mod and .zip), so it cannot serve
// the go.mod of a version whose zip its upstream does not hold, which a
// mirror made by go mod download (-set projects) does not for the modules
// go needs only for their go.mod; nor the @v/list of a module whose
// latest version is one of those (it lists with `go list -m -versions
// path@latest`, which needs the latest .info). A mirror made with
// bench/mirror-real.sh -full holds every file of every version but those
// the module proxy refused; the output says which kind it served (the
// "upstream tree" line). Before its warm rows,
// Athens is asked once for every file of the mixes (what a failed cold
// run left out is fetched then); its warm rows drive the files it served.

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"gomodfetch/internal/cachecmp"
	"gomodfetch/internal/faultproxy"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/mod/module"
)

var (
	serveBench   = flag.Bool("serve", false, "benchmark gomodfetch serve instead: cold go mod download through it, warm throughput against a static file server")
	athensBin    = flag.String("athens", "", "Athens proxy binary (github.com/gomods/athens/cmd/proxy) to measure beside serve (default: Athens is skipped)")
	warmDuration = flag.Duration("warm-duration", 10*time.Second, "with -serve: how long each server is driven in each warm mix")
	warmClients  = flag.Int("clients", 64, "with -serve: concurrent clients of the warm throughput")
	warmOnly     = flag.String("warm-cache", "", "with -serve: skip the cold case and measure the warm throughput over this module cache (one a -keep run left)")
)

// staticArg makes the bench binary a plain static file server over a
// directory (the warm floor), in a process of its own as serve is.
const staticArg = "-static-child"

func init() {
	if len(os.Args) > 2 && os.Args[1] == staticArg {
		os.Exit(staticChild(os.Args[2]))
	}
}

func staticChild(dir string) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("http://%s\n", l.Addr())
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.Handle("/", http.FileServer(http.Dir(dir)))
	fmt.Fprintln(os.Stderr, http.Serve(l, mux))
	return 1
}

// proc is a server the benchmark started.
type proc struct {
	name string
	url  string
	cmd  *exec.Cmd
	done chan error
}

// startProc starts cmd (stdout and stderr to logFile unless set), reads the
// server's URL from url (called until it returns one) and waits for its
// /healthz.
func startProc(name string, cmd *exec.Cmd, logFile string, url func() string) (*proc, error) {
	lf, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	if cmd.Stdout == nil {
		cmd.Stdout = lf
	}
	cmd.Stderr = lf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-p.done:
			p.done <- err
			return nil, fmt.Errorf("%s exited at startup (%v); its log: %s", name, err, tail(logFile))
		default:
		}
		if p.url == "" {
			p.url = url()
		}
		if p.url != "" {
			if resp, err := http.Get(p.url + "/healthz"); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return p, nil
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.stop()
	return nil, fmt.Errorf("%s not healthy after 60s; its log: %s", name, tail(logFile))
}

// stop ends the server (SIGTERM, then SIGKILL after 30s) and returns its
// CPU time and peak RSS over its whole life. The peak is the process's own
// VmHWM: its ru_maxrss would start at the bench's RSS when it execs.
func (p *proc) stop() (cpu time.Duration, rss int64) {
	if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid)); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				rss = kb * 1024
			}
		}
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
	st := p.cmd.ProcessState
	return st.UserTime() + st.SystemTime(), rss
}

// cpuNow is the CPU time the process has used so far (Linux /proc).
func (p *proc) cpuNow() time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ = 100
}

func tail(file string) string {
	data, _ := os.ReadFile(file)
	if len(data) > 2000 {
		data = data[len(data)-2000:]
	}
	return "\n" + string(data)
}

// readURLFile returns a func reading the URL a server wrote to file.
func readURLFile(file string) func() string {
	return func() string {
		data, err := os.ReadFile(file)
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(data))
	}
}

func startServe(gmf, cache string, env []string, offline bool, logFile string) (*proc, error) {
	addrFile := logFile + ".url"
	os.Remove(addrFile)
	args := []string{"serve", "-addr", "127.0.0.1:0", "-addr-file", addrFile, "-cache", cache}
	name := "gomodfetch serve"
	// For tuning: more serve flags (-prefetch 32, ...), the same in every run.
	if extra := strings.Fields(os.Getenv("GOMODFETCH_BENCH_SERVE_ARGS")); len(extra) > 0 {
		args = append(args, extra...)
		name += " " + strings.Join(extra, " ")
	}
	if offline {
		args = append(args, "-offline")
		name += " -offline"
	}
	cmd := exec.Command(gmf, args...)
	cmd.Env = env
	return startProc(name, cmd, logFile, readURLFile(addrFile))
}

func startStatic(dir, logFile string) (*proc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, staticArg, dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	url := ""
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		mu.Lock()
		url = strings.TrimSpace(line)
		mu.Unlock()
		io.Copy(io.Discard, out)
	}()
	return startProc("static file server", cmd, logFile, func() string {
		mu.Lock()
		defer mu.Unlock()
		return url
	})
}

// startAthens runs Athens v0.18 with disk storage at storage, as a team
// would deploy it in front of upstream: download mode sync (the default:
// a miss is fetched, stored, then answered), network mode strict (the
// default: @v/list is the union of storage and upstream, and fails when
// upstream does), and its go command, which fetches every miss with `go
// mod download -json path@version`, pointed at upstream with the bench
// clients' settings: no checksum database (GOSUMDB=off; Athens adds
// GONOSUMDB from its empty NoSumPatterns), the bench's go toolchain, and
// -mod=mod as Athens's documentation sets it. Athens passes its go
// command only these variables and PATH, HOME and a few others of its own
// environment (pkg/module/prepare_env.go), with GOPATH (and so the module
// cache) in a temporary directory under ATHENS_GOGET_DIR per fetch.
func startAthens(bin, goPath, storage, upstream string, env []string, work, logFile string) (*proc, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	gogetDir := filepath.Join(work, "athens-goget")
	for _, d := range []string{storage, gogetDir} {
		if err := os.MkdirAll(d, 0o777); err != nil {
			return nil, err
		}
	}
	cmd := exec.Command(bin)
	cmd.Dir = work // no athens.toml there: defaults and the variables below
	cmd.Env = append(slices.Clip(env),
		"ATHENS_PORT="+addr,
		"ATHENS_STORAGE_TYPE=disk",
		"ATHENS_DISK_STORAGE_ROOT="+storage,
		"ATHENS_GOGET_DIR="+gogetDir,
		"GO_BINARY_PATH="+goPath,
		"ATHENS_GO_BINARY_ENV_VARS=GOPROXY="+upstream+"; GOSUMDB=off; GOFLAGS=-mod=mod; GOTOOLCHAIN=local",
		"ATHENS_LOG_LEVEL=info",
		"ATHENS_NETWORK_MODE=strict",
	)
	return startProc("Athens", cmd, logFile, func() string { return "http://" + addr })
}

// coldSample is a client run through (or without) a server.
type coldSample struct {
	sample
	srvCPU time.Duration
	srvRSS int64
	// The run failed (only a run through Athens may: see runServe) and
	// the go command printed goErrors error lines.
	failed   bool
	goErrors int
	// From serve's /metrics: zip requests answered from the cache (a
	// prefetch got there first) or after an upstream fetch, and the
	// prefetches started and skipped (the -prefetch bound was full).
	zipHit, zipMiss, prefStarted, prefSkipped int
	goSys                                     int // go_memstats_sys_bytes at the end
}

// coldTool is one way to fill a client's cache.
type coldTool struct {
	name string
	gmf  bool   // the client is gomodfetch (else go mod download)
	via  string // "", "serve" or "athens": the proxy the client asks
}

// warmFile is one file the warm clients ask for.
type warmFile struct {
	path string // URL path
	size int64  // -1: not checked (a version list is generated)
}

// warmResult is one server driven with one mix.
type warmResult struct {
	files, bytes, errors int64
	firstErr             string
	wall                 time.Duration
	p50, p99             time.Duration
	srvCPU, cliCPU       time.Duration
	lats                 []time.Duration
}

// add adds the slice r to a.
func (a *warmResult) add(r warmResult) {
	a.files += r.files
	a.bytes += r.bytes
	a.errors += r.errors
	if a.firstErr == "" {
		a.firstErr = r.firstErr
	}
	a.wall += r.wall
	a.srvCPU += r.srvCPU
	a.cliCPU += r.cliCPU
	a.lats = append(a.lats, r.lats...)
}

func (a *warmResult) percentiles() {
	slices.Sort(a.lats)
	if n := len(a.lats); n > 0 {
		a.p50, a.p99 = a.lats[n/2], a.lats[n*99/100]
	}
}

func runServe(o options) error {
	clean, profiles, err := parseFaultProfiles(*upstreamFaults)
	if err != nil {
		return err
	}
	if len(profiles) > 0 && o.net == "file" {
		return fmt.Errorf("-upstream-faults: a file:// upstream has no faults")
	}
	set, err := loadSet(o)
	if err != nil {
		return err
	}
	load0 := loadAvg()

	work, err := os.MkdirTemp("", "gomodfetch-bench-serve-")
	if err != nil {
		return err
	}
	if !o.keep {
		removeAtExit(work)
	} else { // all but the last round's
		for r := range max(o.rounds-1, 0) {
			removeAtExit(filepath.Join(work, fmt.Sprintf("round%d", r)))
		}
	}
	gmf, goPath, err := tools(o, work)
	if err != nil {
		return err
	}
	athens, athensWhy := *athensBin, ""
	if athens == "" {
		athensWhy = "no -athens binary given"
	} else if _, err := os.Stat(athens); err != nil {
		athens, athensWhy = "", err.Error()
	}

	px, err := faultproxy.Start(faultproxy.Options{
		Dir:     set.Dir,
		Network: faultproxy.Network{RTT: o.rtt, ConnBW: o.connMB * 1e6, LinkBW: o.linkMB * 1e6},
	})
	if err != nil {
		return err
	}
	defer px.Close()
	upstream := px.URL
	if o.net == "file" {
		upstream = "file://" + filepath.ToSlash(set.Dir)
	}
	baseEnv := benchEnv(work, upstream)

	tools := []coldTool{
		{name: "go mod download"},
		{name: "gomodfetch", gmf: true},
		{name: "go mod download → serve", via: "serve"},
	}
	if athens != "" {
		tools = append(tools, coldTool{name: "go mod download → Athens", via: "athens"})
	}
	samples := make([][]coldSample, len(tools))
	var mismatches []string
	var athensNotes []string // Athens's failures: reported, not fatal
	var warmCache, athensStore string
	rounds := o.rounds
	if *warmOnly != "" {
		rounds, warmCache, athens, athensWhy = 0, *warmOnly, "", "-warm-cache: no Athens storage"
		tools = tools[:3]
	}
	if !clean {
		rounds = 0 // and no warm case: no serve cache of a clean run
	}
	for round := range rounds {
		rdir := filepath.Join(work, fmt.Sprintf("round%d", round))
		caches := make([]string, len(tools))
		for k := range tools {
			i := (k + round) % len(tools) // each round starts with another tool
			t := tools[i]
			project := filepath.Join(rdir, fmt.Sprintf("app%d", i))
			caches[i] = filepath.Join(rdir, fmt.Sprintf("cache%d", i))
			if err := writeProject(project, set); err != nil {
				return err
			}
			cmd, env := coldCmd(o, t, gmf, goPath, project, append(slices.Clip(baseEnv),
				"GOMODCACHE="+caches[i], "GOPATH="+filepath.Join(rdir, fmt.Sprintf("gopath%d", i))))
			var srv *proc
			srvEnv := append(slices.Clip(baseEnv), "GOPATH="+filepath.Join(rdir, "server-gopath"+t.via))
			logFile := filepath.Join(rdir, t.via+".log")
			switch t.via {
			case "serve":
				warmCache = filepath.Join(rdir, "serve-cache")
				srv, err = startServe(gmf, warmCache, append(srvEnv, "GOMODCACHE="+warmCache), false, logFile)
			case "athens":
				athensStore = filepath.Join(rdir, "athens-storage")
				srv, err = startAthens(athens, goPath, athensStore, upstream,
					append(srvEnv, "GOMODCACHE="+filepath.Join(rdir, "athens-gomodcache")), rdir, logFile)
			}
			if err != nil {
				return err
			}
			if srv != nil {
				env = append(env, "GOPROXY="+srv.url)
			}
			s, err := measure(px, cmd, env)
			cs := coldSample{sample: s}
			if rf := (*runFailure)(nil); t.via == "athens" && errors.As(err, &rf) {
				cs.failed, cs.goErrors, err = true, rf.goErrors(), nil
				athensNotes = append(athensNotes, fmt.Sprintf("round %d: go mod download through Athens failed after %.2fs with %d errors, the first: %s",
					round+1, s.wall.Seconds(), cs.goErrors, firstGoError(rf.stderr)))
			}
			if t.via == "serve" {
				m := scrape(srv.url + "/metrics")
				cs.zipHit, cs.zipMiss = m[`gomodfetch_serve_cache_total{endpoint="zip",outcome="hit"}`], m[`gomodfetch_serve_cache_total{endpoint="zip",outcome="miss"}`]
				cs.prefStarted, cs.prefSkipped = m[`gomodfetch_serve_prefetch_total{result="started"}`], m[`gomodfetch_serve_prefetch_total{result="skipped"}`]
				cs.goSys = m["go_memstats_sys_bytes"]
			}
			if srv != nil {
				cs.srvCPU, cs.srvRSS = srv.stop()
				if err != nil {
					err = fmt.Errorf("%v; the server's log: %s", err, tail(logFile))
				}
			}
			if err != nil {
				return fmt.Errorf("round %d, cold, %s: %v", round+1, t.name, err)
			}
			samples[i] = append(samples[i], cs)
			if o.verbose && cs.failed {
				fmt.Printf("round %d cold %-26s FAILED with %d errors (see the end)\n", round+1, t.name, cs.goErrors)
			}
			if o.verbose {
				fmt.Printf("round %d cold %-26s %7.2fs %5d requests %5d conns %9s upstream, client %.2fs CPU, server %.2fs CPU %.0f MiB RSS, Go runtime sys %.0f MiB, zips hit/miss %d/%d, prefetch started/skipped %d/%d\n",
					round+1, t.name, s.wall.Seconds(), s.requests, s.conns, mib(s.bytes), s.cpu.Seconds(), cs.srvCPU.Seconds(), float64(cs.srvRSS)/(1<<20),
					float64(cs.goSys)/(1<<20), cs.zipHit, cs.zipMiss, cs.prefStarted, cs.prefSkipped)
			}
		}
		for i := 1; i < len(tools); i++ {
			if samples[i][len(samples[i])-1].failed {
				continue // reported as failed; its cache is what it got before
			}
			if diffs := cachecmp.Compare(caches[0], caches[i]); len(diffs) > 0 {
				if len(diffs) > 5 {
					diffs = append(diffs[:5], fmt.Sprintf("... and %d more", len(diffs)-5))
				}
				m := fmt.Sprintf("round %d: %s: the cache differs from go's:\n\t%s", round+1, tools[i].name, strings.Join(diffs, "\n\t"))
				if tools[i].via == "athens" {
					athensNotes = append(athensNotes, m)
				} else {
					mismatches = append(mismatches, m)
				}
			}
		}
		// The rounds are removed with the work directory at the end
		// (see settleInodes).
	}

	// Faults: the cold case once per profile, against go's clean cache.
	var faultResults []faultResult
	var ref goRef
	if len(profiles) > 0 {
		if rounds > 0 {
			ref = goRef{filepath.Join(work, fmt.Sprintf("round%d", rounds-1), "cache0"), medianCold(samples[0]).wall}
		} else if ref, err = goCleanRef(o, set, work, gmf, goPath, px, baseEnv); err != nil {
			return err
		}
		if faultResults, err = runFaultProfiles(o, set, work, gmf, goPath, px, baseEnv, ref, profiles); err != nil {
			return err
		}
	}
	if rounds == 0 && *warmOnly == "" { // the fault profiles alone
		printConditions(o, load0)
		return faultSummary(o, work, faultResults, ref, profiles)
	}

	// Warm: the last round's serve cache (and Athens's storage), from
	// each server in turn.
	files, err := warmFiles(filepath.Join(warmCache, "cache", "download"))
	if err != nil {
		return err
	}
	var small, lists, zips []warmFile
	var smallBytes, zipBytes int64
	for _, f := range files {
		switch {
		case strings.HasSuffix(f.path, ".zip"):
			zips, zipBytes = append(zips, f), zipBytes+f.size
		case strings.HasSuffix(f.path, "/list"):
			lists = append(lists, f)
		default:
			small, smallBytes = append(small, f), smallBytes+f.size
		}
	}
	mixes := []struct {
		name  string
		files []warmFile
	}{{"info+mod", small}, {"list", lists}, {"zip", zips}}
	type server struct {
		name   string
		start  func(logFile string) (*proc, error)
		athens bool
	}
	srvEnv := append(slices.Clip(baseEnv), "GOMODCACHE="+warmCache, "GOPATH="+filepath.Join(work, "warm-gopath"))
	servers := []server{
		{"static file server (floor)", func(lf string) (*proc, error) {
			return startStatic(filepath.Join(warmCache, "cache", "download"), lf)
		}, false},
		{"gomodfetch serve -offline", func(lf string) (*proc, error) { return startServe(gmf, warmCache, srvEnv, true, lf) }, false},
		{"gomodfetch serve", func(lf string) (*proc, error) { return startServe(gmf, warmCache, srvEnv, false, lf) }, false},
	}
	if athens != "" {
		servers = append(servers, server{"Athens", func(lf string) (*proc, error) {
			return startAthens(athens, goPath, athensStore, upstream, append(slices.Clip(srvEnv), "GOMODCACHE="+filepath.Join(work, "athens-warm-gomodcache")), work, lf)
		}, true})
	}
	fmt.Printf("\nwarm: %d clients for %v per server and mix over the last serve cache: info+mod = %d files (%s), list = %d @v/list, zip = %d zips (%s)\n",
		*warmClients, *warmDuration, len(small), mib(smallBytes), len(lists), len(zips), mib(zipBytes))
	// Every server runs meanwhile (idle while another is driven), and
	// each is driven in short slices in turn, so that a machine busy with
	// something else slows them all alike.
	procs := make([]*proc, len(servers))
	defer func() {
		for _, p := range procs {
			if p != nil {
				p.stop()
			}
		}
	}()
	settleInodes()
	syscall.Sync()
	// mixFiles[i][j]: what server i is driven with in mix j.
	mixFiles := make([][][]warmFile, len(servers))
	for i, s := range servers {
		p, err := s.start(filepath.Join(work, fmt.Sprintf("warm%d.log", i)))
		if err != nil {
			return fmt.Errorf("warm: %v", err)
		}
		procs[i] = p
		for _, m := range mixes {
			mixFiles[i] = append(mixFiles[i], m.files)
		}
		if s.athens {
			var asked, failed, noZip int
			var firstErr string
			kinds := map[string]int{}
			for j, m := range mixes {
				served, fails, fe := prime(p, m.files, 8)
				mixFiles[i][j] = served
				asked, failed = asked+len(m.files), failed+len(fails)
				firstErr = cmp.Or(firstErr, fe)
				for _, f := range fails {
					kinds[fileKind(f.path)]++
					if k := fileKind(f.path); k != "list" {
						if _, err := os.Stat(filepath.Join(set.Dir, filepath.FromSlash(strings.TrimSuffix(f.path, k)+".zip"))); err != nil {
							noZip++
						}
					}
				}
			}
			fmt.Printf("warm: Athens, asked once for each of the %d files of the mixes, served %d", asked, asked-failed)
			if failed > 0 {
				var byKind []string
				for _, k := range slices.Sorted(maps.Keys(kinds)) {
					byKind = append(byKind, fmt.Sprintf("%d %s", kinds[k], k))
				}
				n := fmt.Sprintf("failed to serve %d (%s; of versions whose zip upstream does not hold: %d), left out of its warm rows; the first: %s",
					failed, strings.Join(byKind, ", "), noZip, firstErr)
				fmt.Printf("; %s", n)
				athensNotes = append(athensNotes, fmt.Sprintf("warm: Athens, of the %d files of the mixes, %s", asked, n))
			}
			fmt.Println()
			syscall.Sync() // what it fetched meanwhile
		}
	}
	// A first pass asks each server for every file once (serve checks a
	// zip against its .ziphash the first time a process serves it, and
	// reads the disk), then the steady state is measured.
	warm := make([][]warmResult, len(servers))
	first := make([][]warmResult, len(servers))
	for i := range servers {
		warm[i] = make([]warmResult, len(mixes))
		first[i] = make([]warmResult, len(mixes))
		for j := range mixes {
			first[i][j] = drive(procs[i], mixFiles[i][j], *warmClients, 0)
			first[i][j].percentiles()
			drive(procs[i], mixFiles[i][j], *warmClients, 500*time.Millisecond) // connections
			warm[i][j].lats = []time.Duration{}
		}
	}
	const nslices = 5
	for range nslices {
		for j := range mixes {
			for i := range servers {
				warm[i][j].add(drive(procs[i], mixFiles[i][j], *warmClients, *warmDuration/nslices))
			}
		}
	}
	var warmErrs []string
	for i, s := range servers {
		for j, m := range mixes {
			r := &warm[i][j]
			r.percentiles()
			if r.errors > 0 {
				e := fmt.Sprintf("%s, %s: %d errors, the first: %s", s.name, m.name, r.errors, r.firstErr)
				if s.athens {
					athensNotes = append(athensNotes, e)
				} else {
					warmErrs = append(warmErrs, e)
				}
			}
			if f := first[i][j]; f.errors > 0 {
				e := fmt.Sprintf("%s, %s, first pass: %d errors, the first: %s", s.name, m.name, f.errors, f.firstErr)
				if s.athens {
					athensNotes = append(athensNotes, e)
				} else {
					warmErrs = append(warmErrs, e)
				}
			}
			if o.verbose {
				fmt.Printf("warm %-28s %-8s %8.0f files/s %8.1f MB/s p50 %v p99 %v, server %.2f cores, clients %.2f cores, %d errors\n",
					s.name, m.name, float64(r.files)/r.wall.Seconds(), float64(r.bytes)/1e6/r.wall.Seconds(), r.p50, r.p99,
					r.srvCPU.Seconds()/r.wall.Seconds(), r.cliCPU.Seconds()/r.wall.Seconds(), r.errors)
			}
		}
	}

	// The tables.
	printConditions(o, load0)
	if set.Mirror != "" {
		fmt.Printf("upstream tree: the mirror, %s\n\n", set.Mirror)
	}
	goCold := medianCold(samples[0])
	if rounds > 0 {
		fmt.Printf("| cold (median of %d) | wall | / go direct | upstream requests | upstream conns | upstream bytes | client peak RSS | client CPU | server CPU | server peak RSS | cache equal to go's |\n", rounds)
		fmt.Printf("|---|---|---|---|---|---|---|---|---|---|---|\n")
		for i, t := range tools {
			s := medianCold(samples[i])
			eq := "yes"
			if i == 0 {
				eq = "—"
			}
			for _, m := range slices.Concat(mismatches, athensNotes) {
				if strings.Contains(m, ": "+t.name+": the cache differs") {
					eq = "NO"
				}
			}
			wall := fmt.Sprintf("%.2fs", s.wall.Seconds())
			if n := failedRounds(samples[i]); n > 0 {
				wall += fmt.Sprintf(" (FAILED in %d of %d rounds; this one: %d errors)", n, len(samples[i]), s.goErrors)
				if eq == "yes" {
					eq = fmt.Sprintf("yes in %d of %d rounds; failed runs not compared", len(samples[i])-n, len(samples[i]))
					if n == len(samples[i]) {
						eq = "not compared (failed)"
					}
				}
			}
			srvCPU, srvRSS := "—", "—"
			if t.via != "" {
				srvCPU, srvRSS = fmt.Sprintf("%.2fs", s.srvCPU.Seconds()), fmt.Sprintf("%.0f MiB", float64(s.srvRSS)/(1<<20))
			}
			fmt.Printf("| %s | %s | %.2f | %d | %d | %s | %.0f MiB | %.2fs | %s | %s | %s |\n",
				t.name, wall, s.wall.Seconds()/goCold.wall.Seconds(), s.requests, s.conns, mib(s.bytes),
				float64(s.rss)/(1<<20), s.cpu.Seconds(), srvCPU, srvRSS, eq)
		}
		fmt.Println()
	}
	var faultProblems []string
	if len(faultResults) > 0 {
		faultProblems = printFaultTables(faultResults, ref, profiles)
	}
	fmt.Printf("| warm, %d clients | mix | files/s | MB/s | / static | p50 | p99 | server CPU | client CPU | errors |\n", *warmClients)
	fmt.Printf("|---|---|---|---|---|---|---|---|---|---|\n")
	for i, s := range servers {
		for j, m := range mixes {
			r, floor := warm[i][j], warm[0][j]
			fps := float64(r.files) / r.wall.Seconds()
			ratio := "1"
			if i > 0 {
				ratio = fmt.Sprintf("%.2f", fps/(float64(floor.files)/floor.wall.Seconds()))
			}
			fmt.Printf("| %s | %s | %.0f | %.1f | %s | %s | %s | %.2f cores | %.2f cores | %d |\n",
				s.name, m.name, fps, float64(r.bytes)/1e6/r.wall.Seconds(), ratio, ms(r.p50), ms(r.p99),
				r.srvCPU.Seconds()/r.wall.Seconds(), r.cliCPU.Seconds()/r.wall.Seconds(), r.errors)
		}
	}
	fmt.Println()
	fmt.Printf("| first pass after start, %d clients (each file once) | mix | wall | files/s | MB/s | / static | server CPU | errors |\n", *warmClients)
	fmt.Printf("|---|---|---|---|---|---|---|---|\n")
	for i, s := range servers {
		for j, m := range mixes {
			r, floor := first[i][j], first[0][j]
			ratio := "1"
			if i > 0 {
				ratio = fmt.Sprintf("%.2f", rate(r)/rate(floor))
			}
			fmt.Printf("| %s | %s | %.2fs | %.0f | %.1f | %s | %.2fs | %d |\n",
				s.name, m.name, r.wall.Seconds(), rate(r), float64(r.bytes)/1e6/r.wall.Seconds(), ratio, r.srvCPU.Seconds(), r.errors)
		}
	}
	fmt.Println()
	if rounds > 0 {
		sv := medianCold(samples[2])
		g := medianCold(samples[1])
		fmt.Printf("cold: go through serve at %.2fx go direct and %.2fx gomodfetch direct\n",
			sv.wall.Seconds()/goCold.wall.Seconds(), sv.wall.Seconds()/g.wall.Seconds())
		fmt.Printf("cold through serve (that run): %d zip requests found the zip cached (prefetched), %d waited for upstream; prefetches: %d started, %d skipped (bound full)\n",
			sv.zipHit, sv.zipMiss, sv.prefStarted, sv.prefSkipped)
		if athens != "" {
			a := medianCold(samples[3])
			fmt.Printf("cold: go through Athens at %.2fx go direct", a.wall.Seconds()/goCold.wall.Seconds())
			if n := failedRounds(samples[3]); n > 0 {
				fmt.Printf(" (FAILED in %d of %d rounds)", n, len(samples[3]))
			}
			fmt.Println()
		}
	}
	for i := 1; i < len(servers); i++ {
		fmt.Printf("warm: %s at %.2fx the static floor (.info and .mod), %.2fx (@v/list), %.2fx (zips)\n", servers[i].name,
			rate(warm[i][0])/rate(warm[0][0]), rate(warm[i][1])/rate(warm[0][1]), rate(warm[i][2])/rate(warm[0][2]))
	}
	if athens == "" {
		fmt.Printf("Athens: not measured: %s\n", athensWhy)
	}
	for _, m := range mismatches {
		fmt.Printf("MISMATCH %s\n", m)
	}
	for _, e := range warmErrs {
		fmt.Printf("ERRORS %s\n", e)
	}
	for _, n := range athensNotes {
		fmt.Printf("ATHENS %s\n", n)
	}
	if o.keep {
		fmt.Printf("caches and logs kept under %s\n", work)
	}
	if len(mismatches) > 0 || len(warmErrs) > 0 || len(faultProblems) > 0 {
		return fmt.Errorf("%d cold runs whose cache differs, %d warm runs with errors, %d runs under upstream faults failed or differ", len(mismatches), len(warmErrs), len(faultProblems))
	}
	return nil
}

// failedRounds counts the runs that failed.
func failedRounds(s []coldSample) int {
	n := 0
	for _, c := range s {
		if c.failed {
			n++
		}
	}
	return n
}

// firstGoError is the first error line a go command printed, capped.
func firstGoError(stderr string) string {
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "go: ") {
			if len(l) > 300 {
				l = l[:300] + "..."
			}
			return l
		}
	}
	return "(none printed)"
}

// fileKind names what a proxy URL path asks for: ".info", ".mod", ".zip"
// or "list".
func fileKind(path string) string {
	if strings.HasSuffix(path, "/list") {
		return "list"
	}
	return filepath.Ext(path)
}

// prime asks p once for every file, conc at a time, and returns those it
// served whole, those it did not, and the first failure.
func prime(p *proc, files []warmFile, conc int) (served, failed []warmFile, firstErr string) {
	hc := &http.Client{Timeout: 5 * time.Minute} // a miss is a go mod download of the module
	ok := make([]bool, len(files))
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	sem := make(chan struct{}, conc)
	for k, f := range files {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			_, errs[k] = get(hc, p.url+f.path, f.size)
			ok[k] = errs[k] == nil
		}()
	}
	wg.Wait()
	for k, f := range files {
		if ok[k] {
			served = append(served, f)
		} else {
			failed = append(failed, f)
			if firstErr == "" {
				firstErr = errs[k].Error()
			}
		}
	}
	return served, failed, firstErr
}

// printConditions prints the load average and the network the runs had.
func printConditions(o options, load0 string) {
	fmt.Printf("\nload average (1 min) at the start and the end: %s, %s (a busy machine slows the runs; the warm slices alternate servers)", load0, loadAvg())
	if o.net == "file" {
		fmt.Printf("\nupstream: GOPROXY=file:// (no network); %d CPUs\n\n", runtime.NumCPU())
	} else {
		fmt.Printf("\nupstream network: %v RTT per request (and per new connection), %s/s per connection, %s/s link; client to server: loopback; %d CPUs\n\n",
			o.rtt, mbs(o.connMB), mbs(o.linkMB), runtime.NumCPU())
	}
}

// coldCmd returns the command that fills a client's cache for t in
// project, and its environment (env and what t adds).
func coldCmd(o options, t coldTool, gmf, goPath, project string, env []string) (*exec.Cmd, []string) {
	var cmd *exec.Cmd
	if t.gmf {
		args := []string{"-q"}
		if o.jobs > 0 {
			args = append(args, "-j", fmt.Sprint(o.jobs))
		}
		cmd = exec.Command(gmf, args...)
	} else {
		cmd = exec.Command(goPath, "mod", "download")
		env = append(env, "GOMAXPROCS=2")
	}
	cmd.Dir = project
	return cmd, env
}

func loadAvg() string {
	data, _ := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(data)); len(f) > 0 {
		return f[0]
	}
	return "?"
}

// scrape reads a Prometheus text page into series → value (nothing on
// failure).
func scrape(url string) map[string]int { return scrapeWith(http.DefaultClient, url) }

func scrapeWith(hc *http.Client, url string) map[string]int {
	m := map[string]int{}
	resp, err := hc.Get(url)
	if err != nil {
		return m
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.LastIndexByte(line, ' '); i > 0 && !strings.HasPrefix(line, "#") {
			if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
				m[line[:i]] = int(v)
			}
		}
	}
	return m
}

func rate(r warmResult) float64 { return float64(r.files) / r.wall.Seconds() }

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }

func writeProject(dir string, set *moduleSet) error {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	for name, data := range map[string]string{"go.mod": set.GoMod, "go.sum": set.GoSum, "main.go": "package main\n\nfunc main() {}\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o666); err != nil {
			return err
		}
	}
	return nil
}

func medianCold(s []coldSample) coldSample {
	if len(s) == 0 {
		return coldSample{}
	}
	s = slices.Clone(s)
	slices.SortFunc(s, func(a, b coldSample) int { return cmp.Compare(a.wall, b.wall) })
	return s[len(s)/2]
}

// warmFiles lists what a proxy over root (a cache/download directory)
// serves: every .info, .mod, .zip and @v/list, sumdb left out.
func warmFiles(root string) ([]warmFile, error) {
	var files []warmFile
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := filepath.ToSlash(strings.TrimPrefix(p, root))
		if d.IsDir() {
			if rel == "/sumdb" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.Contains(rel, "/@v/") {
			return nil
		}
		switch ext := filepath.Ext(rel); {
		case d.Name() == "list":
			// A module with only pseudo-versions (in real graphs, many)
			// lists none: the mix asks for the lists that have some.
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if slices.ContainsFunc(strings.Fields(string(data)), func(v string) bool { return !module.IsPseudoVersion(v) }) {
				files = append(files, warmFile{rel, -1})
			}
		case ext == ".info" || ext == ".mod" || ext == ".zip":
			fi, err := d.Info()
			if err != nil {
				return err
			}
			files = append(files, warmFile{rel, fi.Size()})
		}
		return nil
	})
	if err == nil && len(files) == 0 {
		err = fmt.Errorf("no files to serve under %s", root)
	}
	return files, err
}

// drive runs clients goroutines against p for d, each asking for files in
// a random order of its own, and reports what was served. With d = 0 they
// ask for every file once between them instead (a first pass: what a
// server freshly started does before its steady state), within 10 minutes.
func drive(p *proc, files []warmFile, clients int, d time.Duration) warmResult {
	once := d == 0
	if once {
		d = 10 * time.Minute
	}
	var next atomic.Int64
	tr := &http.Transport{
		MaxIdleConns:        clients,
		MaxIdleConnsPerHost: clients,
		DisableCompression:  true,
		IdleConnTimeout:     time.Minute,
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: time.Minute}
	var (
		nfiles, nbytes, nerr atomic.Int64
		errOnce              sync.Once
		firstErr             string
		lats                 = make([][]time.Duration, clients)
		wg                   sync.WaitGroup
	)
	fail := func(err error) {
		nerr.Add(1)
		errOnce.Do(func() { firstErr = err.Error() })
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var ru0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	srv0 := p.cpuNow()
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 14))
			order := rng.Perm(len(files))
			for k := 0; ctx.Err() == nil; k++ {
				f := files[order[k%len(order)]]
				if once {
					i := next.Add(1) - 1
					if i >= int64(len(files)) {
						break
					}
					f = files[i]
				}
				t0 := time.Now()
				n, err := get(hc, p.url+f.path, f.size)
				if err != nil {
					fail(err)
					continue
				}
				lats[c] = append(lats[c], time.Since(t0))
				nfiles.Add(1)
				nbytes.Add(n)
			}
		}()
	}
	wg.Wait()
	r := warmResult{wall: time.Since(start), files: nfiles.Load(), bytes: nbytes.Load(), errors: nerr.Load(), firstErr: firstErr}
	r.srvCPU = p.cpuNow() - srv0
	var ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	r.cliCPU = time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	r.lats = slices.Concat(lats...)
	return r
}

// get asks for url and reads the whole answer, which must be 200 and, if
// size is not -1, size bytes long (see check).
func get(hc *http.Client, url string, size int64) (int64, error) {
	n, _, err := check(context.Background(), hc, url, nil, expect{status: http.StatusOK, size: size})
	if err == nil && size < 0 && n == 0 {
		return n, errors.New(url + ": empty")
	}
	return n, err
}
