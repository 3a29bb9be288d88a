package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"gomodfetch/internal/gctune"
	"gomodfetch/pack"
)

func packCommand(stdout, stderr io.Writer, code *int) *cli.Command {
	return &cli.Command{
		Name:  "pack",
		Usage: "write a project's modules, in the GOPROXY layout, to a directory or a tar file for offline builds",
		UsageText: "gomodfetch pack -o modules.tar[.gz|.zst] | -dir DIR [-C dir] [modules]\n\n" +
			"Downloads what is missing (as gomodfetch does), then writes the .info, .mod and .zip files a\n" +
			"download with the same arguments needs, a @v/list per module, and the checksum database's\n" +
			"records for them. Use it with GOPROXY=file:///path/to/dir (gomodfetch or go mod download).",
		Flags: append(moduleFlags()[:2],
			&cli.StringFlag{Name: "o", Usage: "write a tar stream to `file` (.tar, .tar.gz, .tgz, .tar.zst; - for stdout)"},
			&cli.StringFlag{Name: "dir", Usage: "write the files below `dir` instead"},
		),
		Action: func(c *cli.Context) error {
			if (c.String("o") == "") == (c.String("dir") == "") {
				return fmt.Errorf("pack: give one of -o file or -dir dir")
			}
			opts := defaultOptions()
			opts.chdir, opts.modFile = c.String("C"), c.String("modfile")
			opts.args = c.Args().Slice()
			*code = runPack(opts, c.String("o"), c.String("dir"), stdout, stderr)
			return nil
		},
	}
}

func runPack(opts options, out, dir string, stdout, stderr io.Writer) int {
	gctune.Start() // a one-shot command: see internal/gctune
	c, code := startCommand(opts, stderr)
	if c == nil {
		return code
	}
	defer c.intr.stop()
	ctx, p, fail := c.ctx, c.p, c.fail
	cfg := p.cfg

	// First what is missing is fetched, as a download run fetches it.
	run, cache, err := p.newRun(ctx, opts, false, c.interrupted)
	if err != nil {
		return fail("%v", err)
	}
	rep := run.Download(ctx)
	if rep.Fatal != nil {
		return fail("%v", rep.Fatal)
	}
	if rep.Failed() {
		for _, m := range rep.Modules {
			if m.Error != "" {
				fmt.Fprintf(stderr, "gomodfetch: %s\n", m.Error)
			}
		}
		return fail("not packing: some modules could not be downloaded")
	}

	// Then the pack is written from the cache alone.
	run2, _, err := p.newRun(ctx, opts, true, nil)
	if err != nil {
		return fail("%v", err)
	}
	res := run2.Resolve(ctx)
	if res.GraphErr != nil {
		return fail("%v", res.GraphErr)
	}
	// Every .mod and .zip packed is checked as the download checked it.
	verifier := cfg.engineFor(ctx, opts, p.sums, nil).Verifier
	pcfg := pack.Config{Cache: cache, SumDBConfigDir: cfg.sumdbConfigDir, Verifier: verifier}
	if cfg.sumdb != nil {
		pcfg.SumDB = cfg.sumdb.Name
	}
	var sink pack.Sink
	var tmp string
	switch {
	case dir != "":
		d, err := pack.NewDir(dir)
		if err != nil {
			return fail("pack: %v", err)
		}
		sink = d
	case out == "-":
		t, err := pack.NewTar(stdout, ".tar")
		if err != nil {
			return fail("%v", err)
		}
		sink = t
	default:
		// Written beside its name and renamed: a pack is whole or absent.
		f, err := os.CreateTemp(filepath.Dir(out), filepath.Base(out)+".*.tmp")
		if err != nil {
			return fail("%v", err)
		}
		tmp = f.Name()
		defer os.Remove(tmp)
		defer f.Close()
		t, err := pack.NewTar(f, out)
		if err != nil {
			return fail("%v", err)
		}
		sink = t
	}
	st, err := pack.Write(ctx, pcfg, res, sink)
	if err != nil {
		return fail("pack: %v", err)
	}
	if tmp != "" {
		if err := os.Rename(tmp, out); err != nil {
			return fail("pack: %v", err)
		}
	}
	fmt.Fprintf(stderr, "gomodfetch: packed %d modules (%d files, %s)\n", st.Modules, st.Files, humanBytes(st.Bytes))
	return 0
}
