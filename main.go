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
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"gomodfetch/internal/gctune"
	"gomodfetch/internal/termsafe"
	"gomodfetch/project"
)

func main() {
	stop := startProfile()
	code := run(os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// exitUsage is the exit status for bad flags, as the go command uses.
const exitUsage = 2

// options are a download's command-line settings after GOFLAGS is
// applied: the project's, and main's own.
type options struct {
	project.Settings
	trace, quiet bool
	report       string // -report FILE (report.go)
}

// errUsageShown is a usage error whose lines are printed already.
var errUsageShown = errors.New("usage error shown")

func run(args []string, stdout, stderr io.Writer) int {
	// Everything printed on stderr may quote a server or a child process;
	// only the progress display writes its own control sequences.
	rawStderr := stderr
	stderr = termsafe.Writer(stderr)
	var (
		opts   options
		penv   *project.Env
		parsed bool
	)
	cc := &cmdContext{stdout: stdout, stderr: stderr, rawStderr: rawStderr}
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
			"   gomodfetch -j 64 -retries 12            # more parallel downloads, more patience\n" +
			"   gomodfetch version                      # version, Go version, commit\n" +
			"   source <(gomodfetch completion bash)    # shell completion (bash or zsh)\n\n" +
			"Progress goes to stderr: a status line on a terminal, a line every 10s otherwise.",
		HideHelpCommand:      true,
		Writer:               stderr,
		ErrWriter:            stderr,
		EnableBashCompletion: true,
		Commands:             commands(cc), // commands.go
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print a JSON object per module on stdout, like go mod download -json"},
			&cli.BoolFlag{Name: "x", Usage: "print each request (# get URL) and its outcome on stderr, like go mod download -x"},
			chdirFlag,
			modCacheRWFlag,
			modFileFlag,
			&cli.StringFlag{Name: "reuse", Usage: "read `file`, a previous -json output (outside a module): as go mod download -reuse, a module only version control supplies is checked at its repository and reported \"Reuse\": true instead of downloaded"},
			&cli.IntFlag{Name: "j", Value: project.DefaultJobs, Usage: "download up to `N` modules at a time"},
			&cli.BoolFlag{Name: "q", Usage: "no progress display and no summary line"},
			&cli.DurationFlag{Name: "timeout", Value: project.Defaults().Timeout, Usage: "give up on the whole run after `d` (0: no limit)"},
			&cli.StringFlag{Name: "report", Usage: "write a JSON report of the run to `file`: per module its source, bytes, attempts and time; per proxy its requests, failures, retries, hedges and demotions"},
		}, append(append(engineFlags(), fleetFlags()...), policyFlags(false)...)...), // cmdpolicy.go
		Action: func(c *cli.Context) error {
			parsed = true
			env, err := project.NewEnv(os.Getenv)
			if err != nil {
				return &goFlagsError{err}
			}
			opts = options{
				Settings: readSettings(c, cc.chdir, env.Flags),
				trace:    flagOrGoFlag(c, "x", env.Flags.Trace),
				quiet:    c.Bool("q"),
				report:   c.String("report"),
			}
			opts.Reuse = c.String("reuse")
			opts.Timeout = c.Duration("timeout")
			if opts.Policy, opts.VulnDB, err = readPolicyFlags(c); err != nil {
				return err
			}
			penv = env
			return nil
		},
		ExitErrHandler: func(*cli.Context, error) {},
	}
	// A bad flag: go's three lines (the error, the usage line, where to
	// read more), not the whole help.
	app.OnUsageError = func(c *cli.Context, err error, _ bool) error {
		usage, name := app.UsageText, "gomodfetch"
		if cmd := c.Command; cmd != nil && cmd.Name != "" && cmd.Name != app.Name && cmd.UsageText != "" {
			usage, name = cmd.UsageText, "gomodfetch "+cmd.Name
		}
		usage, _, _ = strings.Cut(usage, "\n")
		fmt.Fprintf(stderr, "%v\nusage: %s\nRun '%s -h' for details.\n", err, usage, name)
		return errUsageShown
	}
	for _, cmd := range app.Commands {
		cmd.OnUsageError = app.OnUsageError
		for _, sub := range cmd.Subcommands {
			sub.OnUsageError = app.OnUsageError
		}
	}
	if isCompletion(args) {
		app.Writer = stdout
	}
	var names []string
	for _, c := range app.Commands {
		names = append(names, c.Name)
	}
	args, msg := cc.takeChdir(args, names)
	if msg != "" {
		fmt.Fprintf(stderr, "gomodfetch: %s\n", msg)
		return exitUsage
	}
	if err := app.Run(args); err != nil {
		if errors.Is(err, errUsageShown) {
			return exitUsage
		}
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
		return cc.code // a subcommand's, or 0 for -h / --help
	}
	if err := opts.Check(); err != nil {
		fmt.Fprintf(stderr, "gomodfetch: %v\n", err)
		return exitUsage
	}
	return runDownload(opts, penv, stdout, stderr, rawStderr)
}

// goFlagsError is a GOFLAGS value the go command would refuse.
type goFlagsError struct{ err error }

func (e *goFlagsError) Error() string { return e.err.Error() }

// runDownload is the whole run after the flags are parsed: the project
// opened, its download, then output and exit status.
//
// stderr escapes control characters (termsafe); rawStderr is the same
// stream unfiltered, for the progress display alone.
func runDownload(opts options, env *project.Env, stdout, stderr, rawStderr io.Writer) int {
	gctune.Start() // a one-shot command: see internal/gctune
	start := time.Now()
	ctx, intr := notifyInterrupts(context.Background())
	defer intr.stop()
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	fail := failTo(stderr)

	prog := newProgress(rawStderr, opts.quiet) // progress.go
	defer prog.stop()
	h := hooksFor(prog.writer(stderr))
	if opts.trace {
		h.Trace = prog.writer(stderr)
	}
	p, err := project.Open(ctx, opts.Settings, env, h)
	if err != nil {
		return openFailed(stderr, err)
	}
	warnExpired(p, stderr)
	defer func() { // an early end: the fleet cache's dropped writes, if any
		for _, line := range p.Close(intr.signal() != nil, true) {
			fmt.Fprintf(stderr, "gomodfetch: %s\n", line)
		}
	}()
	res, err := p.Download(ctx, project.RunHooks{
		Interrupted: func() bool { return intr.signal() != nil },
		Notes: func(notes []string) {
			for _, n := range notes {
				fmt.Fprintf(stderr, "gomodfetch: %s\n", n)
			}
		},
		Start:   prog.run,
		Stop:    prog.stop,
		OnTotal: prog.setTotal,
	})
	if err != nil {
		return fail("%v", err)
	}
	if res.NothingToDo {
		fmt.Fprintf(stderr, "gomodfetch: no module dependencies to download\n")
		return 0
	}
	rep, interrupted := res.Report, intr.signal() != nil
	for _, w := range rep.Warnings {
		fmt.Fprintln(stderr, w) // go's words, as go prints them
	}
	findings := p.PolicyFindings(res)
	printPolicyWarnings(stderr, findings)
	if opts.JSON {
		for _, m := range rep.Modules {
			b, err := json.MarshalIndent(m, "", "\t")
			if err != nil {
				return fail("%v", err)
			}
			stdout.Write(append(termsafe.JSON(b), '\n'))
		}
	}
	for _, line := range res.Errors(opts.JSON, interrupted) {
		fmt.Fprintf(stderr, "gomodfetch: %s\n", line)
	}
	for _, line := range p.Close(interrupted, opts.quiet) {
		fmt.Fprintf(stderr, "gomodfetch: %s\n", line)
	}
	// The summary only after a run that went well: a failed run's stderr
	// is go's lines alone.
	summary := newRunReport(rep, res.Fetcher, time.Since(start))
	summary.Policy = newPolicyReport(p, findings) // cmdpolicy.go
	if !opts.quiet && !res.Failed() && !interrupted {
		t, st := summary.Totals, res.Fetcher.Stats()
		fmt.Fprintf(stderr, "gomodfetch: %d modules (%d downloaded, %d from the cache, %d failed), %d requests, %s, %d retries, %.2fs%s\n",
			t.Modules, t.Downloaded, t.Cached, t.Failed, t.Requests, humanBytes(t.Bytes), t.Retries, t.Seconds, servedBy(st.Served))
	}
	reported := writeReports(opts.report, summary, stderr)
	if interrupted {
		reportInterrupt(stderr, intr, len(rep.Modules), res.Unfinished())
		return intr.exitCode()
	}
	if !reported {
		return 1
	}
	return res.ExitStatus()
}

// hooksFor sends a project's warnings and notes to w, as
// "gomodfetch:" lines.
func hooksFor(w io.Writer) project.Hooks {
	return project.Hooks{
		Warn: func(msg string) { fmt.Fprintf(w, "gomodfetch: warning: %s\n", msg) },
		Note: func(msg string) { fmt.Fprintf(w, "gomodfetch: %s\n", msg) },
	}
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

// failTo returns a function that prints a "gomodfetch:" line on w and
// returns exit status 1, for a command's fatal errors.
func failTo(w io.Writer) func(format string, args ...any) int {
	return func(format string, args ...any) int {
		fmt.Fprintf(w, "gomodfetch: "+format+"\n", args...)
		return 1
	}
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
