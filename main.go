// Command gomodfetch is a resilient, faster, drop-in replacement for
// `go mod download`: it reads go.mod, resolves the module graph as the go
// command does, fetches from the GOPROXY list with retries over a bounded
// worker pool, verifies every byte against go.sum, and writes the standard
// module cache layout.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/mod/module"

	"gomodfetch/internal/gctune"
	"gomodfetch/internal/termsafe"
	"gomodfetch/modcache"
	"gomodfetch/pipeline"
	"gomodfetch/resolver"
	"gomodfetch/toolchain"
)

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr)) }

// exitUsage is the exit status for bad flags, as the go command uses.
const exitUsage = 2

// options are the command-line settings after GOFLAGS is applied.
type options struct {
	json, trace, modCacheRW, quiet bool
	chdir, modFile, reuse          string
	report                         string // -report FILE (report.go)
	jobs, conns, retries           int
	timeout, stallTimeout          time.Duration
	minRate                        int64
	retryInitial, retryMax         time.Duration
	hedgeDelay                     time.Duration
	hedgeAcrossComma               bool
	connectTimeout, headerTimeout  time.Duration
	fleet                          fleetOptions // fleet.go
	args                           []string

	// reuseKeys and reuseDir are set from -reuse (reuse.go).
	reuseKeys map[module.Version]bool
	reuseDir  string

	// switched is the toolchain a run switched to (at startup, or for the
	// run it starts again as that toolchain), whose go command the run's
	// hand-offs use; switches counts the runs started again.
	switched *toolchain.Running
	switches int
}

func run(args []string, stdout, stderr io.Writer) int {
	// Everything printed on stderr may quote a server or a child process;
	// only the progress display writes its own control sequences.
	rawStderr := stderr
	stderr = termsafe.Writer(stderr)
	var (
		opts    options
		parsed  bool
		subcode int // a subcommand's exit status
	)
	app := &cli.App{
		Name:      "gomodfetch",
		Usage:     "a resilient, faster, drop-in replacement for `go mod download`",
		UsageText: "gomodfetch [-x] [-json] [-C dir] [-modcacherw] [-j N] [modules]",
		Description: "With no arguments, downloads what `go mod download` would: the modules required by\n" +
			"the main module (go 1.17 or later) or the whole build list (older go.mod files).\n" +
			"Arguments are module queries (path@version), module paths, or \"all\".\n\n" +
			"Examples:\n" +
			"   gomodfetch                              # instead of: go mod download\n" +
			"   gomodfetch -json                        # one JSON object per module on stdout\n" +
			"   gomodfetch -x                           # trace every request on stderr\n" +
			"   gomodfetch golang.org/x/mod@v0.20.0     # an explicit module version\n" +
			"   gomodfetch -C ./svc -modcacherw         # another directory, writable cache\n" +
			"   gomodfetch all                          # the whole build list\n" +
			"   gomodfetch -q -timeout 10m              # no progress or summary; give up after 10 minutes\n" +
			"   gomodfetch -j 32 -retries 8             # more parallel downloads, more patience\n" +
			"   gomodfetch version                      # version, Go version, commit\n" +
			"   source <(gomodfetch completion bash)    # shell completion (bash or zsh)\n\n" +
			"Progress goes to stderr: a status line on a terminal, a line every 10s otherwise.",
		HideHelpCommand:      true,
		Writer:               stderr,
		ErrWriter:            stderr,
		EnableBashCompletion: true,
		Commands:             commands(stdout, stderr, &subcode), // commands.go
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print a JSON object per module on stdout, like go mod download -json"},
			&cli.BoolFlag{Name: "x", Usage: "print each request (# get URL) and its outcome on stderr, like go mod download -x"},
			&cli.StringFlag{Name: "C", Usage: "change to `dir` before doing anything"},
			&cli.BoolFlag{Name: "modcacherw", Usage: "leave extracted module directories writable"},
			&cli.StringFlag{Name: "modfile", Usage: "read `file` instead of go.mod (and the .sum beside it)"},
			&cli.StringFlag{Name: "reuse", Usage: "read `file`, a previous -json output: accepted for compatibility with go mod download -reuse"},
			&cli.IntFlag{Name: "j", Value: defaultJobs, Usage: "download up to `N` modules at a time"},
			&cli.BoolFlag{Name: "q", Usage: "no progress display and no summary line"},
			&cli.DurationFlag{Name: "timeout", Usage: "give up on the whole run after `d` (0: no limit)"},
			&cli.StringFlag{Name: "report", Usage: "write a JSON report of the run to `file`: per module its source, bytes, attempts and time; per proxy its requests, failures, retries, hedges and demotions"},
		}, append(engineFlags(), fleetFlags()...)...),
		Action: func(c *cli.Context) error {
			parsed = true
			opts = options{
				json:       c.Bool("json"),
				trace:      c.Bool("x"),
				chdir:      c.String("C"),
				modCacheRW: c.Bool("modcacherw"),
				modFile:    c.String("modfile"),
				reuse:      c.String("reuse"),
				jobs:       c.Int("j"),
				quiet:      c.Bool("q"),
				timeout:    c.Duration("timeout"),
				report:     c.String("report"),
				args:       c.Args().Slice(),
				fleet:      fleetOptionsFrom(c),
			}
			opts.readEngine(c)
			// GOFLAGS supplies what the command line did not set.
			flags, err := parseGoFlags(newGoEnv(os.Getenv).Get("GOFLAGS"))
			if err != nil {
				return &goFlagsError{err}
			}
			if !c.IsSet("json") && flags.bool("json") {
				opts.json = true
			}
			if !c.IsSet("modcacherw") && flags.bool("modcacherw") {
				opts.modCacheRW = true
			}
			if !c.IsSet("x") && flags.bool("x") {
				opts.trace = true
			}
			if !c.IsSet("modfile") && flags["modfile"] != "" {
				opts.modFile = flags["modfile"]
			}
			return nil
		},
		ExitErrHandler: func(*cli.Context, error) {},
	}
	if isCompletion(args) {
		app.Writer = stdout
	}
	if msg := chdirNotFirst(args); msg != "" {
		fmt.Fprintf(stderr, "gomodfetch: %s\n", msg)
		return exitUsage
	}
	if err := app.Run(args); err != nil {
		var exit cli.ExitCoder // a subcommand's own message and status
		if errors.As(err, &exit) {
			fmt.Fprintln(stderr, err)
			return exit.ExitCode()
		}
		fmt.Fprintf(stderr, "gomodfetch: %v\n", err)
		var ge *goFlagsError
		if errors.As(err, &ge) {
			return 1 // as go exits for a bad GOFLAGS
		}
		return exitUsage
	}
	if !parsed {
		return subcode // a subcommand, or -h / --help
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"j", opts.jobs}, {"conns", opts.conns}} {
		if n.v < 1 {
			fmt.Fprintf(stderr, "gomodfetch: -%s must be at least 1\n", n.name)
			return exitUsage
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"timeout", opts.timeout}, {"stall-timeout", opts.stallTimeout}, {"connect-timeout", opts.connectTimeout},
		{"header-timeout", opts.headerTimeout}, {"retry-initial", opts.retryInitial}, {"retry-max", opts.retryMax}, {"hedge-delay", opts.hedgeDelay}} {
		if d.v < 0 {
			fmt.Fprintf(stderr, "gomodfetch: -%s must not be negative (got %v)\n", d.name, d.v)
			return exitUsage
		}
	}
	if opts.minRate < 0 {
		fmt.Fprintf(stderr, "gomodfetch: -min-rate must not be negative (got %d)\n", opts.minRate)
		return exitUsage
	}
	if err := opts.fleet.check(); err != nil {
		fmt.Fprintf(stderr, "gomodfetch: %v\n", err)
		return exitUsage
	}
	return runDownload(opts, stdout, stderr, rawStderr)
}

// goFlagsError is a GOFLAGS value the go command would refuse.
type goFlagsError struct{ err error }

func (e *goFlagsError) Error() string { return e.err.Error() }

// chdirNotFirst returns go's complaint about a -C flag that is not the
// first argument ("" if there is none).
func chdirNotFirst(args []string) string {
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		name, val, hasVal := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "C" {
			continue
		}
		if i == 1 {
			return ""
		}
		if !hasVal && i+1 < len(args) {
			val = args[i+1]
		}
		return fmt.Sprintf("invalid value %q for flag -C: -C flag must be first flag on command line", val)
	}
	return ""
}

// engineFlags are the flags that tune the download engine, shared by the
// download command and serve.
func engineFlags() []cli.Flag {
	d := defaultOptions()
	return []cli.Flag{
		&cli.IntFlag{Name: "conns", Value: d.conns, Usage: "send at most `N` requests at a time to one proxy host, over at most N connections"},
		&cli.DurationFlag{Name: "stall-timeout", Value: d.stallTimeout, Usage: "cut a response that sends no byte for `d`"},
		&cli.Int64Flag{Name: "min-rate", Value: d.minRate, Usage: "cut a response that brings fewer than `N` bytes/s over a whole -stall-timeout window (0: no minimum)"},
		&cli.DurationFlag{Name: "connect-timeout", Value: d.connectTimeout, Usage: "bound each connection and TLS handshake to `d`"},
		&cli.DurationFlag{Name: "header-timeout", Value: d.headerTimeout, Usage: "bound the wait for response headers to `d`"},
		&cli.IntFlag{Name: "retries", Value: d.retries, Usage: "retry a transient failure (5xx, 429, reset, timeout, truncated or corrupt body) up to `N` times per proxy"},
		&cli.DurationFlag{Name: "retry-initial", Value: d.retryInitial, Usage: "first backoff wait `d` (doubling, with jitter; a server's Retry-After is honoured)"},
		&cli.DurationFlag{Name: "retry-max", Value: d.retryMax, Usage: "longest backoff wait `d`"},
		&cli.DurationFlag{Name: "hedge-delay", Value: d.hedgeDelay, Usage: "also ask the next proxy of a GOPROXY run joined by '|' when one has not answered in `d`, and a proxy alone in its run again, on a second connection, when an attempt has waited twice as long as its recent answers took (never longer than d) (0: only after a failure)"},
		&cli.BoolFlag{Name: "hedge-across-comma", Usage: "treat ',' in GOPROXY like '|' (hedge and fall through on any error); later proxies then see requests for every module, which a ',' list keeps from them"},
	}
}

// readEngine sets the engine options from engineFlags' values.
func (o *options) readEngine(c *cli.Context) {
	o.conns = c.Int("conns")
	o.stallTimeout, o.minRate = c.Duration("stall-timeout"), c.Int64("min-rate")
	o.connectTimeout, o.headerTimeout = c.Duration("connect-timeout"), c.Duration("header-timeout")
	o.retries, o.retryInitial, o.retryMax = c.Int("retries"), c.Duration("retry-initial"), c.Duration("retry-max")
	o.hedgeDelay, o.hedgeAcrossComma = c.Duration("hedge-delay"), c.Bool("hedge-across-comma")
}

// defaultJobs is sized for the network, not the CPU: module downloads are
// latency-bound. On the benchmark (go run ./bench: 50ms RTT, 8 MB/s per
// connection) 32 came within 1.1x of the network's floor where 16 took
// 1.2x and 8 1.4x; 64 gained little more for twice the connections.
const defaultJobs = 32

// defaultConns bounds the requests in flight to one proxy host: a module's
// .info, .mod and .zip go at once, besides the graph's go.mod reads, so
// twice -j keeps the pool busy without letting it grow with hedges and
// queries.
const defaultConns = 2 * defaultJobs

// runDownload is the whole run after the flags are parsed: environment,
// main module, the pipeline, then output and exit status.
//
// stderr escapes control characters (termsafe); rawStderr is the same
// stream unfiltered, for the progress display alone.
func runDownload(opts options, stdout, stderr, rawStderr io.Writer) int {
	gctune.Start() // a one-shot command: see internal/gctune
	start := time.Now()
	ctx, intr := notifyInterrupts(context.Background())
	defer intr.stop()
	if opts.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.timeout)
		defer cancel()
	}
	fail := failTo(stderr)

	p, err := loadProject(opts)
	if err != nil {
		return failEach(stderr, err)
	}
	env, cfg, mainMod, sums := p.env, p.cfg, p.main, p.sums
	if cfg.warning != "" {
		fmt.Fprintf(stderr, "gomodfetch: warning: %s\n", cfg.warning)
	}
	running, err := toolchain.NewRunning(env.Get("GOTOOLCHAIN"), toolchain.Local(env.goroot()))
	if err != nil {
		return fail("%v", err)
	}
	if opts.reuse != "" && mainMod != nil {
		return fail("-reuse cannot be used inside a module")
	}
	if opts.reuse != "" {
		if opts.reuse, opts.reuseKeys, err = readReuse(p.wd, opts.reuse); err != nil {
			return fail("%v", err)
		}
		opts.reuseDir = p.wd
	}

	prog := newProgress(rawStderr, opts.quiet) // progress.go
	defer prog.stop()
	var trace io.Writer
	if opts.trace {
		trace = prog.writer(stderr)
	}
	warnings := prog.writer(stderr)
	cfg.warn = func(msg string) { fmt.Fprintf(warnings, "gomodfetch: warning: %s\n", msg) }
	fleet, err := openFleet(ctx, opts.fleet, cfg, prog.writer(stderr))
	if err != nil {
		return fail("%v", err)
	}
	defer fleet.close()
	downloadToolchain := func(ctx context.Context, target string, atStartup bool, announce func()) (string, error) {
		// go checks a toolchain against the checksum database, never go.sum.
		f, _ := cfg.fetcherFor(ctx, opts, nil, trace)
		return f.Toolchain(ctx, toolchain.Module(target, runtime.GOOS, runtime.GOARCH), opts.modCacheRW && !atStartup, announce)
	}
	if opts.switched != nil {
		running = *opts.switched
	} else if running, err = switchToolchain(ctx, stderr, running, mainMod, downloadToolchain); err != nil {
		return fail("%v", err)
	} else if running.Go != "" {
		opts.switched = &running
	}
	fetcher, cache := cfg.fetcherFor(ctx, opts, sums, trace)
	if mainMod != nil {
		mainMod.Running = running
		if err := mainMod.CheckGo(); err != nil {
			return fail("%v", err)
		}
		if mainMod.File.Go == nil && !mainMod.Workspace {
			// go mod download adds the missing go line, which makes the
			// module pruned, with the unpruned build list as requirements.
			// If that graph fails, the run reports it as it would anyway.
			if g, err := resolver.LoadGraph(ctx, mainMod, fetcher, opts.jobs); err == nil {
				mainMod = mainMod.AddGoLine(running.Version, g)
			}
		}
		if err := mainMod.CheckGodebugs(running.Version); err != nil {
			return failEach(stderr, err)
		}
	}
	run, err := pipeline.New(pipeline.Config{
		Main:        mainMod,
		Args:        opts.args,
		Fetcher:     fetcher,
		Cache:       cache,
		Sums:        sums,
		Jobs:        opts.jobs,
		JSON:        opts.json,
		Interrupted: func() bool { return intr.signal() != nil },
		Running:     running,
		OnTotal:     prog.setTotal,
	})
	if err != nil {
		return fail("%v", err)
	}
	for _, n := range run.Notes() {
		fmt.Fprintf(stderr, "gomodfetch: %s\n", n)
	}
	if run.NothingToDo() {
		fmt.Fprintf(stderr, "gomodfetch: no module dependencies to download\n")
		return 0
	}
	prog.run(fetcher.Progress)
	rep := run.Download(ctx)
	prog.stop()
	if rep.Switch != nil {
		// go runs again as the toolchain the modules need (toolchainswitch.go).
		next, err := switchForModules(ctx, stderr, running, rep.Switch, fetcher, downloadToolchain)
		if err == nil && opts.switches >= maxSwitches {
			err = errors.New("too many toolchain switches")
		}
		if err != nil {
			return fail("%v", err)
		}
		opts.switched, opts.switches = &next, opts.switches+1
		return runDownload(opts, stdout, stderr, rawStderr)
	}

	if rep.Fatal != nil {
		graphError(stderr, intr, fetcher, rep.Fatal)
	}
	if opts.json {
		for _, m := range rep.Modules {
			b, err := json.MarshalIndent(m, "", "\t")
			if err != nil {
				return fail("%v", err)
			}
			stdout.Write(append(termsafe.JSON(b), '\n'))
		}
	}
	nerr := 0
	var unfinished []string
	cacheErr := fetcher.CacheError()
	for _, m := range rep.Modules {
		if m.Error == "" {
			continue
		}
		nerr++
		switch {
		case intr.signal() != nil:
			unfinished = append(unfinished, m.Path+"@"+m.Version)
		case cacheErr != nil && modcache.Unusable(m.Err()):
			// reported once below
		case !opts.json:
			fmt.Fprintf(stderr, "gomodfetch: %s\n", m.Error)
		}
	}
	// Without -json go stops after the modules' errors (base.ExitIfErrors):
	// the graph's error, printed after the objects with -json, is then not
	// printed at all.
	if rep.GraphErr != nil && (opts.json || nerr == 0) {
		graphError(stderr, intr, fetcher, rep.GraphErr)
	}
	if cacheErr != nil && intr.signal() == nil {
		fmt.Fprintf(stderr, "gomodfetch: module cache %s is not usable: %v\n", cfg.modCache, cacheErr)
	}
	if rep.GoModErr != nil {
		fmt.Fprintf(stderr, "gomodfetch: %v\n", rep.GoModErr)
	}
	if rep.SumsErr != nil {
		fmt.Fprintf(stderr, "gomodfetch: updating %s: %v\n", mainMod.SumFile(), rep.SumsErr)
	}
	for _, line := range fleet.finish(intr.signal() != nil, opts.quiet) {
		fmt.Fprintf(stderr, "gomodfetch: %s\n", line)
	}
	// The summary only after a run that went well: a failed run's stderr
	// is go's lines alone.
	if !opts.quiet && !rep.Failed() && intr.signal() == nil {
		st := fetcher.Stats()
		fmt.Fprintf(stderr, "gomodfetch: %d modules (%d downloaded, %d failed), %d requests, %s, %d retries, %.2fs%s\n",
			len(rep.Modules), st.Zips, nerr, st.Requests, humanBytes(st.Bytes), st.Retries, time.Since(start).Seconds(), servedBy(st.Served))
	}
	reported := writeReports(opts.report, newRunReport(rep, fetcher, time.Since(start)), stderr)
	if intr.signal() != nil {
		reportInterrupt(stderr, intr, len(rep.Modules), unfinished)
		return intr.exitCode()
	}
	if rep.Failed() || !reported {
		return 1
	}
	return 0
}

// failEach prints each of the errors joined in err as go prints them, one
// "gomodfetch: " line each, and returns the exit status 1.
func failEach(stderr io.Writer, err error) int {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		fmt.Fprintf(stderr, "gomodfetch: %v\n", e)
	}
	return 1
}

// command is a subcommand's run: its context (ended by SIGINT or
// SIGTERM), the project it works on, and how it fails.
type command struct {
	ctx  context.Context
	intr *interrupts
	p    *project
	fail func(format string, args ...any) int
}

// startCommand starts a subcommand for opts, or prints why it cannot and
// returns nil and the exit status. The caller stops it with c.intr.stop.
func startCommand(opts options, stderr io.Writer) (*command, int) {
	ctx, intr := notifyInterrupts(context.Background())
	c := &command{ctx: ctx, intr: intr, fail: failTo(stderr)}
	var err error
	if c.p, err = loadProject(opts); err != nil {
		intr.stop()
		return nil, c.fail("%v", err)
	}
	return c, 0
}

// interrupted reports whether a signal stopped the command.
func (c *command) interrupted() bool { return c.intr.signal() != nil }

// failTo returns a function that prints a "gomodfetch:" line on w and
// returns exit status 1, for a command's fatal errors.
func failTo(w io.Writer) func(format string, args ...any) int {
	return func(format string, args ...any) int {
		fmt.Fprintf(w, "gomodfetch: "+format+"\n", args...)
		return 1
	}
}

// workDir is the directory the run works in: -C's, made absolute, or the
// process's. The process's own working directory is never changed, so run
// can be called more than once in one process.
func workDir(chdir string) (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	if chdir == "" {
		return wd, nil
	}
	dir := chdir
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(wd, dir)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("-C: %v", err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("-C: chdir %s: not a directory", chdir)
	}
	return dir, nil
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// servedBy says which proxies served the downloaded zips, when more than
// one did.
func servedBy(served map[string]int) string {
	if len(served) < 2 {
		return ""
	}
	names := make([]string, 0, len(served))
	for p := range served {
		names = append(names, p)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("; served by")
	for i, p := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, " %s: %d", p, served[p])
	}
	return b.String()
}
