package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"gomodfetch/project"
)

// Flags every command that works on a module defines, as go's commands
// define them.
var (
	chdirFlag      = &cli.StringFlag{Name: "C", Usage: "change to `dir` before doing anything (only as the first flag, as for go)"}
	modFileFlag    = &cli.StringFlag{Name: "modfile", Usage: "read `file` instead of go.mod (and the .sum beside it)"}
	modCacheRWFlag = &cli.BoolFlag{Name: "modcacherw", Usage: "leave extracted module directories writable"}
)

// engineFlags are the flags that tune the download engine, shared by the
// download command and serve; their defaults are project.Defaults'.
func engineFlags() []cli.Flag {
	d := project.Defaults()
	return []cli.Flag{
		&cli.IntFlag{Name: "conns", Value: d.Conns, Usage: "send at most `N` requests at a time to one proxy host, over at most N connections"},
		&cli.DurationFlag{Name: "stall-timeout", Value: d.StallTimeout, Usage: "cut a response that sends no byte for `d`"},
		&cli.Int64Flag{Name: "min-rate", Value: d.MinRate, Usage: "cut a response that brings fewer than `N` bytes/s over a whole -stall-timeout window (0: no minimum)"},
		&cli.DurationFlag{Name: "connect-timeout", Value: d.ConnectTimeout, Usage: "bound each connection and TLS handshake to `d`"},
		&cli.DurationFlag{Name: "header-timeout", Value: d.HeaderTimeout, Usage: "bound the wait for response headers to `d`"},
		&cli.IntFlag{Name: "retries", Value: d.Retries, Usage: "retry a transient failure (5xx, 429, reset, timeout, truncated or corrupt body) up to `N` times per proxy (0: no retry)"},
		&cli.DurationFlag{Name: "retry-initial", Value: d.RetryInitial, Usage: "first backoff wait `d` (doubling, with jitter; a server's Retry-After is honoured)"},
		&cli.DurationFlag{Name: "retry-max", Value: d.RetryMax, Usage: "longest backoff wait `d`"},
		&cli.DurationFlag{Name: "hedge-delay", Value: d.HedgeDelay, Usage: "also ask the next proxy of a GOPROXY run joined by '|' when one has not answered in `d`, and a proxy alone in its run again, on a second connection, when an attempt has waited twice as long as its recent answers took (never longer than d) (0: only after a failure)"},
		&cli.BoolFlag{Name: "hedge-across-comma", Usage: "treat ',' in GOPROXY like '|' (hedge and fall through on any error); later proxies then see requests for every module, which a ',' list keeps from them"},
	}
}

// fleetFlags are the fleet cache's flags.
func fleetFlags() []cli.Flag {
	d := project.Defaults().Fleet
	return []cli.Flag{
		&cli.StringFlag{Name: "cache-url", EnvVars: []string{"GOMODFETCH_CACHE_URL"}, Usage: "fleet cache: ask the bucket at `url` (s3://, gs://, azblob://, file://) before GOPROXY and write back what GOPROXY served"},
		&cli.BoolFlag{Name: "cache-private", Usage: "the -cache-url bucket is private too: let GOPRIVATE, GONOPROXY and GONOSUMDB paths into it"},
		&cli.BoolFlag{Name: "cache-read-only", EnvVars: []string{"GOMODFETCH_CACHE_READ_ONLY"}, Usage: "read the -cache-url bucket, never write it (fork and pull request runners); a bucket that refuses a write is read-only from then on anyway"},
		&cli.DurationFlag{Name: "cache-wait", Value: d.Wait, Usage: "at the end, wait for write-backs to the fleet cache while they progress; drop the rest with a warning once none has progressed for `d` (0: no wait)"},
		&cli.DurationFlag{Name: "cache-timeout", Value: d.ReadTimeout, Usage: "give up a fleet cache read that sends no byte for `d`, or under 64 KiB/s on average after d (the bucket is then set aside for 30s)"},
	}
}

// readSettings reads the project settings from the flags c's command
// defines, starting from project.Defaults; gf (GOFLAGS) supplies those of
// -json, -modcacherw and -modfile the command line did not set, as in go,
// and chdir is the -C that takeChdir took.
func readSettings(c *cli.Context, chdir string, gf project.GoFlags) project.Settings {
	s := project.Defaults()
	s.Dir = chdir
	s.Args = c.Args().Slice()
	s.JSON = flagOrGoFlag(c, "json", gf.JSON)
	s.ModCacheRW = flagOrGoFlag(c, "modcacherw", gf.ModCacheRW)
	if defines(c, "modfile") {
		s.ModFile = c.String("modfile")
		if !c.IsSet("modfile") && gf.ModFile != "" {
			s.ModFile = gf.ModFile
		}
	}
	if defines(c, "j") {
		s.Jobs = c.Int("j")
	}
	if defines(c, "conns") {
		s.Conns = c.Int("conns")
		s.StallTimeout, s.MinRate = c.Duration("stall-timeout"), c.Int64("min-rate")
		s.ConnectTimeout, s.HeaderTimeout = c.Duration("connect-timeout"), c.Duration("header-timeout")
		s.Retries, s.RetryInitial, s.RetryMax = c.Int("retries"), c.Duration("retry-initial"), c.Duration("retry-max")
		s.HedgeDelay, s.HedgeAcrossComma = c.Duration("hedge-delay"), c.Bool("hedge-across-comma")
	}
	if defines(c, "cache-url") {
		s.Fleet = project.FleetSettings{
			URL:         c.String("cache-url"),
			Private:     c.Bool("cache-private"),
			Wait:        c.Duration("cache-wait"),
			ReadTimeout: c.Duration("cache-timeout"),
			ReadOnly:    c.Bool("cache-read-only"),
		}
	}
	return s
}

// flagOrGoFlag is a boolean flag of c's command: its command-line value,
// else GOFLAGS' (gf); false if the command does not define it.
func flagOrGoFlag(c *cli.Context, name string, gf bool) bool {
	if c.IsSet(name) {
		return c.Bool(name)
	}
	return defines(c, name) && gf
}

// defines reports whether c's command defines the flag name.
func defines(c *cli.Context, name string) bool {
	flags := c.App.Flags
	if c.Command != nil && c.Command.Name != "" {
		flags = c.Command.Flags
	}
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			return true
		}
	}
	return false
}

// takeChdir takes -C dir out of args where go takes it, as the first flag
// after the program's name or after a subcommand's, and returns the
// directory ("" if none), the other arguments, and go's complaint about any
// other -C ("" if there is none). The process's working directory is
// never changed, so run can be called more than once in one process.
func takeChdir(args, subcommands []string) (dir string, rest []string, complaint string) {
	rest = slices.Clone(args)
	i := 1
	if len(rest) > 1 && slices.Contains(subcommands, rest[1]) {
		i = 2
	}
	if i < len(rest) {
		switch a := rest[i]; {
		case (a == "-C" || a == "--C") && i+1 < len(rest):
			dir = rest[i+1]
			rest = slices.Delete(rest, i, i+2)
		case strings.HasPrefix(a, "-C=") || strings.HasPrefix(a, "--C="):
			_, dir, _ = strings.Cut(a, "=")
			rest = slices.Delete(rest, i, i+1)
		case a == "-C" || a == "--C":
			return "", rest, "" // the flag parser says it needs a value
		}
	}
	for j := 1; j < len(rest); j++ {
		a := rest[j]
		if a == "--" {
			break
		}
		name, val, hasVal := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "C" {
			continue
		}
		if !hasVal && j+1 < len(rest) {
			val = rest[j+1]
		}
		return "", nil, fmt.Sprintf("invalid value %q for flag -C: -C flag must be first flag on command line", val)
	}
	return dir, rest, ""
}
