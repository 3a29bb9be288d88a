package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"gomodfetch/internal/gctune"
	"gomodfetch/pack"
	"gomodfetch/project"
)

func packCommand(cc *cmdContext) *cli.Command {
	return &cli.Command{
		Name:  "pack",
		Usage: "write a project's modules, in the GOPROXY layout, to a directory or a tar file for offline builds",
		UsageText: "gomodfetch pack -o modules.tar[.gz|.zst] | -dir DIR [-C dir] [modules]\n\n" +
			"Downloads what is missing (as gomodfetch does), then writes the .info, .mod and .zip files a\n" +
			"download with the same arguments needs, a @v/list per module, and the checksum database's\n" +
			"records for them. Use it with GOPROXY=file:///path/to/dir (gomodfetch or go mod download).",
		Flags: []cli.Flag{
			chdirFlag,
			modFileFlag,
			modCacheRWFlag,
			&cli.StringFlag{Name: "o", Usage: "write a tar stream to `file` (.tar, .tar.gz, .tgz, .tar.zst; - for stdout)"},
			&cli.StringFlag{Name: "dir", Usage: "write the files below `dir` instead"},
		},
		Action: func(c *cli.Context) error {
			if (c.String("o") == "") == (c.String("dir") == "") {
				return fmt.Errorf("pack: give one of -o file or -dir dir")
			}
			cc.code = runPack(cc, c, c.String("o"), c.String("dir"))
			return nil
		},
	}
}

func runPack(cc *cmdContext, c *cli.Context, out, dir string) int {
	gctune.Start() // a one-shot command: see internal/gctune
	ctx, intr := notifyInterrupts(context.Background())
	defer intr.stop()
	stdout, stderr, fail := cc.stdout, cc.stderr, failTo(cc.stderr)
	p, code := cc.open(ctx, c, nil)
	if p == nil {
		return code
	}
	defer p.Close(true, true)

	// First what is missing is fetched, as a download fetches it.
	dl, err := p.Download(ctx, project.RunHooks{Interrupted: func() bool { return intr.signal() != nil }})
	if err != nil {
		return fail("%v", err)
	}
	if dl.Failed() {
		for _, line := range dl.Errors(false, intr.signal() != nil) {
			fmt.Fprintf(stderr, "gomodfetch: %s\n", line)
		}
		return fail("not packing: the download failed")
	}

	// Then the pack is written from the cache alone.
	res, err := p.Resolve(ctx, false)
	if err != nil {
		return fail("%v", err)
	}
	if res.GraphErr != nil {
		return fail("%v", res.GraphErr)
	}
	// Every .mod and .zip packed is checked as the download checked it.
	pcfg := pack.Config{Cache: p.Cache(false), SumDBConfigDir: p.SumDBConfigDir(), Verifier: p.Verifier(ctx), SumDB: p.SumDB()}
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
