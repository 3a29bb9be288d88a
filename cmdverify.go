package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"gomodfetch/audit"
	"gomodfetch/internal/gctune"
	"gomodfetch/internal/termsafe"
)

// defaultOptions are the engine settings a subcommand uses for what its
// own flags do not set: the download command's defaults.
func defaultOptions() options {
	return options{
		jobs:           defaultJobs,
		conns:          defaultConns,
		stallTimeout:   30 * time.Second,
		minRate:        100,
		connectTimeout: 15 * time.Second,
		headerTimeout:  30 * time.Second,
		retries:        8,
		retryInitial:   200 * time.Millisecond,
		retryMax:       5 * time.Second,
		hedgeDelay:     time.Second,
		quiet:          true,
	}
}

// moduleFlags are the flags that say which module and which arguments a
// subcommand works for, as for a download.
func moduleFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "C", Usage: "change to `dir` before doing anything"},
		&cli.StringFlag{Name: "modfile", Usage: "read `file` instead of go.mod (and the .sum beside it)"},
		&cli.BoolFlag{Name: "json", Usage: "print a JSON object per module on stdout"},
	}
}

func verifyCommand(stdout, stderr io.Writer, code *int) *cli.Command {
	return &cli.Command{
		Name:  "verify",
		Usage: "check that the module cache holds, intact, everything a download with the same arguments leaves",
		UsageText: "gomodfetch verify [-json] [-repair] [-C dir] [modules]\n\n" +
			"Checks, for the modules `gomodfetch` would download with the same arguments, that the\n" +
			".info, .mod, .zip, .ziphash and extracted tree are present (so GOPROXY=off builds work),\n" +
			"that every .mod and .ziphash matches go.sum, and that every extracted tree hashes as go.sum\n" +
			"says. Prints nothing and exits 0 when all is well; one line per bad module otherwise (exit 1).\n" +
			"-repair downloads again what is missing or damaged, as a normal run does.",
		Flags: append(moduleFlags(),
			&cli.BoolFlag{Name: "repair", Usage: "fetch again what is missing or damaged"},
			&cli.BoolFlag{Name: "modcacherw", Usage: "leave directories a repair extracts writable"},
		),
		Action: func(c *cli.Context) error {
			opts := defaultOptions()
			opts.chdir, opts.modFile, opts.json = c.String("C"), c.String("modfile"), c.Bool("json")
			opts.modCacheRW = c.Bool("modcacherw")
			opts.args = c.Args().Slice()
			// GOFLAGS supplies what the command line did not set.
			flags, err := parseGoFlags(newGoEnv(os.Getenv).Get("GOFLAGS"))
			if err != nil {
				return err
			}
			if !c.IsSet("modcacherw") && flags.bool("modcacherw") {
				opts.modCacheRW = true
			}
			if !c.IsSet("modfile") && flags["modfile"] != "" {
				opts.modFile = flags["modfile"]
			}
			*code = runVerify(opts, c.Bool("repair"), stdout, stderr)
			return nil
		},
	}
}

// runVerify audits the cache for the run opts describe and, with repair,
// fetches again what is missing or damaged.
func runVerify(opts options, repair bool, stdout, stderr io.Writer) int {
	gctune.Start() // a one-shot command: see internal/gctune
	c, code := startCommand(opts, stderr)
	if c == nil {
		return code
	}
	defer c.intr.stop()
	ctx, p, fail := c.ctx, c.p, c.fail
	sums := p.sums

	// What the run needs, worked out from the cache alone.
	run, cache, err := p.newRun(ctx, opts, true, nil)
	if err != nil {
		return fail("%v", err)
	}
	// Without -repair nothing is written, not even a version list the
	// run would otherwise mend.
	cache.ReadOnly = !repair
	res := run.Resolve(ctx)
	acfg := audit.Config{Cache: cache, Sums: sums}
	found, graphErrs := audit.Check(ctx, acfg, res)

	if repair && (len(found) > 0 || len(graphErrs) > 0) {
		for _, f := range found {
			held, err := cache.Lock(ctx, f.Mod())
			if err != nil {
				return fail("%s: %v", f.Mod(), err)
			}
			err = held.Forget(f.Parts()...)
			held.Unlock()
			if err != nil {
				return fail("%s: %v", f.Mod(), err)
			}
		}
		// A normal run fetches what is now missing, and only that.
		run, _, err := p.newRun(ctx, opts, false, c.interrupted)
		if err != nil {
			return fail("%v", err)
		}
		rep := run.Download(ctx)
		left := map[string]bool{}
		for _, m := range rep.Modules {
			if m.Error != "" {
				left[m.Path+"@"+m.Version] = true
				fmt.Fprintf(stderr, "gomodfetch: %s\n", m.Error)
			}
		}
		if rep.Fatal != nil {
			fmt.Fprintf(stderr, "gomodfetch: %v\n", rep.Fatal)
		}
		for _, f := range found {
			f.Repaired = !left[f.Mod().String()] && rep.Fatal == nil
		}
		// Whatever is still wrong is reported as such.
		after, afterErrs := audit.Check(ctx, acfg, run.Resolve(ctx))
		still := map[string]*audit.Finding{}
		for _, f := range after {
			still[f.Mod().String()] = f
		}
		for _, f := range found {
			if still[f.Mod().String()] != nil {
				f.Repaired = false
			}
		}
		for _, f := range after {
			if !contains(found, f) {
				found = append(found, f)
			}
		}
		graphErrs = afterErrs
	}

	bad := len(graphErrs) > 0
	for _, f := range found {
		bad = bad || !f.Repaired
		if opts.json {
			b, err := json.MarshalIndent(f, "", "\t")
			if err != nil {
				return fail("%v", err)
			}
			stdout.Write(append(termsafe.JSON(b), '\n'))
			continue
		}
		fmt.Fprintf(stderr, "gomodfetch: %s\n", f.Line())
	}
	for _, err := range graphErrs {
		fmt.Fprintf(stderr, "gomodfetch: the module graph cannot be read from the cache: %v\n", err)
	}
	if bad {
		return 1
	}
	return 0
}

func contains(list []*audit.Finding, f *audit.Finding) bool {
	for _, g := range list {
		if g.Mod() == f.Mod() {
			return true
		}
	}
	return false
}
