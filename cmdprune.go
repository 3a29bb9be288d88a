package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"gomodfetch/internal/termsafe"
	"gomodfetch/modcache"
	"gomodfetch/project"
	"gomodfetch/prune"
	"gomodfetch/toolchain"
)

func pruneCommand(cc *cmdContext) *cli.Command {
	return &cli.Command{
		Name:  "prune",
		Usage: "remove from the module cache what the named projects do not need (a dry run unless -apply)",
		UsageText: "gomodfetch prune [-apply] [-keep-recent 30d] [-json] [-v] [dir | go.mod | go.work]...\n\n" +
			"Keeps what `gomodfetch` (with no module arguments) downloads for each project named (a\n" +
			"directory, a go.mod or a go.work; the current module by default), worked out from the cache\n" +
			"alone, and removes every other module version: its extracted tree, .zip, .ziphash, .info,\n" +
			".mod and lock file; a version the module graph reads only the go.mod of keeps its .mod and\n" +
			".info. Without -apply nothing is removed: it prints what would go. Each version is removed\n" +
			"under the go command's lock, taken without waiting: one another process is downloading is\n" +
			"left. The checksum database's cache and cache/vcs are kept. See docs/prune.md.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "apply", Aliases: []string{"f"}, Usage: "remove (without it, only say what would be removed)"},
			&cli.StringFlag{Name: "keep-recent", Usage: "also keep every version fetched into the cache in the last `duration` (30d, 12h)"},
			&cli.BoolFlag{Name: "json", Usage: "print a JSON object per version removed (or that would be) on stdout"},
			&cli.BoolFlag{Name: "v", Usage: "list every version removed (a dry run always lists them)"},
		},
		Action: func(c *cli.Context) error {
			var since time.Time
			if s := c.String("keep-recent"); s != "" {
				d, err := parseAge(s)
				if err != nil {
					return fmt.Errorf("prune: -keep-recent: %v", err)
				}
				since = time.Now().Add(-d)
			}
			cc.code = runPrune(cc, c.Args().Slice(), since, c.Bool("apply"), c.Bool("json"), c.Bool("v"))
			return nil
		},
	}
}

// parseAge parses a duration, with d for days (30d).
func parseAge(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return time.Duration(n * 24 * float64(time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	return d, nil
}

func runPrune(cc *cmdContext, args []string, since time.Time, apply, asJSON, verbose bool) int {
	ctx, intr := notifyInterrupts(context.Background())
	defer intr.stop()
	stdout, stderr, fail := cc.stdout, cc.stderr, failTo(cc.stderr)
	if len(args) == 0 {
		args = []string{"."}
	}
	keep := prune.Keep{}
	var cache *modcache.Cache
	for _, arg := range args {
		p, err := openToPrune(ctx, cc, arg)
		if err != nil {
			return failEach(stderr, fmt.Errorf("prune %s: %w (nothing removed)", arg, err))
		}
		if p.Main == nil {
			p.Close(true, true)
			return fail("prune %s: no go.mod or go.work there (nothing removed)", arg)
		}
		if cache == nil {
			cache = p.Cache(false)
		}
		res, err := p.Resolve(ctx, true)
		p.Close(true, true)
		switch {
		case err != nil:
		case res.GraphErr != nil:
			err = fmt.Errorf("the module graph cannot be read: %w", res.GraphErr)
		case len(res.Failed) > 0:
			err = fmt.Errorf("%s: %s", res.Failed[0].Path, res.Failed[0].Error)
		}
		if err != nil {
			return fail("prune %s: what it needs cannot be worked out from the cache: %v\n"+
				"gomodfetch: run gomodfetch there first (nothing removed)", arg, err)
		}
		keep.Add(res)
		if p.Running.Name != "" {
			keep.AddWhole(toolchain.Module(p.Running.Name, runtime.GOOS, runtime.GOARCH))
		}
	}
	rep, runErr := prune.Run(ctx, prune.Config{Cache: cache, Keep: keep, KeepSince: since, Apply: apply})
	if rep == nil {
		return fail("prune: %v", runErr)
	}
	verb := "would remove"
	if apply {
		verb = "removed"
	}
	for _, v := range rep.Versions {
		if asJSON {
			b, err := json.MarshalIndent(v, "", "\t")
			if err != nil {
				return fail("%v", err)
			}
			stdout.Write(append(termsafe.JSON(b), '\n'))
		}
		what := ""
		if v.GoModKept {
			what = ", go.mod kept"
		}
		switch {
		case v.Error != "":
			fmt.Fprintf(stderr, "gomodfetch: %s: %s\n", v.Mod(), termsafe.String(v.Error))
		case v.InUse:
			fmt.Fprintf(stderr, "gomodfetch: %s: in use by another process (its lock is held); left in place\n", v.Mod())
		case !apply || verbose:
			fmt.Fprintf(stderr, "gomodfetch: %s %s (%d files, %s%s)\n", verb, v.Mod(), v.Files, humanBytes(v.Bytes), what)
		}
	}
	for _, err := range rep.Errors {
		fmt.Fprintf(stderr, "gomodfetch: %s\n", termsafe.String(err.Error()))
	}
	fmt.Fprintf(stderr, "gomodfetch: %s %s of %s (%d files, %s); kept %s\n",
		verb, count(rep.Removed(), "version"), count(rep.Modules(), "module"), rep.Freed.Files, humanBytes(rep.Freed.Bytes), count(rep.Kept, "version"))
	if !apply && rep.Removed() > 0 {
		fmt.Fprintf(stderr, "gomodfetch: nothing removed: run 'gomodfetch prune -apply' to remove them\n")
	}
	if runErr != nil { // interrupted: the report says what was done
		return fail("prune: stopped: %v", runErr)
	}
	if rep.Failed() {
		return 1
	}
	return 0
}

// openToPrune opens the project arg names: a directory (its module or
// workspace, as go finds it there), a go.work file, or a go.mod (or
// another .mod file, as -modfile) outside any workspace.
func openToPrune(ctx context.Context, cc *cmdContext, arg string) (*project.Project, error) {
	name := arg
	if !filepath.IsAbs(name) {
		name = filepath.Join(cc.chdir, name)
	}
	abs, err := filepath.Abs(name)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, err
	}
	getenv, dir, modFile := os.Getenv, abs, ""
	if !fi.IsDir() {
		dir = filepath.Dir(abs)
		var gowork string
		switch {
		case strings.HasSuffix(abs, ".work"):
			gowork = abs
		case strings.HasSuffix(abs, ".mod"):
			gowork = "off"
			if filepath.Base(abs) != "go.mod" {
				modFile = abs
			}
		default:
			return nil, errors.New("not a directory, a go.mod or a go.work")
		}
		getenv = func(key string) string {
			if key == "GOWORK" {
				return gowork
			}
			return os.Getenv(key)
		}
	}
	env, err := project.NewEnv(getenv)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		modFile = env.Flags.ModFile // GOFLAGS=-modfile, as a download there reads it
	}
	s := project.Defaults()
	s.Dir, s.ModFile, s.ModCacheRW = dir, modFile, env.Flags.ModCacheRW
	if err := s.Check(); err != nil {
		return nil, err
	}
	return project.Open(ctx, s, env, hooksFor(cc.stderr))
}

// count is "1 version", "2 versions".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
