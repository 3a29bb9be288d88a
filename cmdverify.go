package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/urfave/cli/v2"

	"gomodfetch/internal/gctune"
	"gomodfetch/internal/termsafe"
	"gomodfetch/project"
)

func verifyCommand(cc *cmdContext) *cli.Command {
	return &cli.Command{
		Name:  "verify",
		Usage: "check that the module cache holds, intact, everything a download with the same arguments leaves",
		UsageText: "gomodfetch verify [-json] [-repair] [-C dir] [modules]\n\n" +
			"Checks, for the modules `gomodfetch` would download with the same arguments, that the\n" +
			".info, .mod, .zip, .ziphash and extracted tree are present (so GOPROXY=off builds work),\n" +
			"that every .mod and .ziphash matches go.sum, and that every extracted tree hashes as go.sum\n" +
			"says. Prints nothing and exits 0 when all is well; one line per bad module otherwise (exit 1).\n" +
			"-repair downloads again what is missing or damaged, as a normal run does.",
		Flags: []cli.Flag{
			chdirFlag,
			modFileFlag,
			&cli.BoolFlag{Name: "json", Usage: "print a JSON object per module on stdout"},
			&cli.BoolFlag{Name: "repair", Usage: "fetch again what is missing or damaged"},
			modCacheRWFlag,
		},
		Action: func(c *cli.Context) error {
			cc.code = runVerify(cc, c, c.Bool("repair"))
			return nil
		},
	}
}

// runVerify audits the cache for the download c's flags describe and, with repair,
// fetches again what is missing or damaged.
func runVerify(cc *cmdContext, c *cli.Context, repair bool) int {
	gctune.Start() // a one-shot command: see internal/gctune
	ctx, intr := notifyInterrupts(context.Background())
	defer intr.stop()
	stdout, stderr, fail := cc.stdout, cc.stderr, failTo(cc.stderr)
	// go mod verify has no -json: GOFLAGS=-json is not verify's, and a
	// repair's download writes go.sum as one without -json.
	p, code := cc.open(ctx, c, func(s *project.Settings) { s.JSON = false })
	if p == nil {
		return code
	}
	defer p.Close(true, true)
	asJSON := c.Bool("json")

	a, err := p.Verify(ctx, repair, project.RunHooks{Interrupted: func() bool { return intr.signal() != nil }})
	if err != nil {
		return fail("%v", err)
	}
	if a.Repair != nil {
		for _, line := range a.Repair.Errors(false, intr.signal() != nil) {
			fmt.Fprintf(stderr, "gomodfetch: %s\n", line)
		}
	}
	for _, f := range a.Findings {
		if asJSON {
			b, err := json.MarshalIndent(f, "", "\t")
			if err != nil {
				return fail("%v", err)
			}
			stdout.Write(append(termsafe.JSON(b), '\n'))
			continue
		}
		fmt.Fprintf(stderr, "gomodfetch: %s\n", f.Line())
	}
	for _, err := range a.GraphErrs {
		fmt.Fprintf(stderr, "gomodfetch: the module graph cannot be read from the cache: %v\n", err)
	}
	if a.Bad() {
		return 1
	}
	return 0
}
