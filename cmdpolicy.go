package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"gomodfetch/internal/gctune"
	"gomodfetch/internal/termsafe"
	"gomodfetch/policy"
	"gomodfetch/project"
)

// The supply-chain policy in the CLI (docs/policy.md): the download's
// -policy and -vulndb flags, what a run prints and reports about its
// decisions, and `gomodfetch policy check`, the audit that blocks nothing.

// policyFlags are the download's and the audit's policy flags (serve
// defines its own, with the same names and environment variable).
func policyFlags(audit bool) []cli.Flag {
	usage := "apply the supply-chain policy in `file` (docs/policy.md): a denied module version fails its module and lands nothing; warnings are printed"
	if audit {
		usage = "check against the supply-chain policy in `file` (docs/policy.md)"
	}
	return []cli.Flag{
		&cli.StringFlag{Name: "policy", EnvVars: []string{"GOMODFETCH_POLICY"}, Usage: usage},
		&cli.StringFlag{Name: "vulndb", Usage: "read the Go vulnerability database from `source` (https URL, directory or zip; default: the policy's vulndb line, else https://vuln.go.dev), once per run"},
	}
}

// readPolicyFlags returns -policy and -vulndb; -vulndb alone is a usage
// error.
func readPolicyFlags(c *cli.Context) (file, vulndb string, err error) {
	file, vulndb = c.String("policy"), c.String("vulndb")
	if vulndb != "" && file == "" {
		return "", "", errors.New("-vulndb needs -policy")
	}
	return file, vulndb, nil
}

// openFailed reports why a project did not open: a policy file that cannot
// be used is bad input (exit status 2, as a bad flag); anything else is
// go's error (1).
func openFailed(stderr io.Writer, err error) int {
	var pe *project.PolicyError
	if errors.As(err, &pe) {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "gomodfetch: %s\n", line)
		}
		return exitUsage
	}
	return failEach(stderr, err)
}

// warnExpired warns about the policy's expired exceptions.
func warnExpired(p *project.Project, stderr io.Writer) {
	if g := p.Policy(); g != nil {
		for _, line := range g.Expired(time.Now()) {
			fmt.Fprintf(stderr, "gomodfetch: warning: %s\n", line)
		}
	}
}

// printPolicyWarnings prints a warning line for each version the policy
// lets through with a warning (a denial is its module's error).
func printPolicyWarnings(stderr io.Writer, findings []policy.Decision) {
	for _, d := range findings {
		if d.Action == policy.Warn {
			fmt.Fprintf(stderr, "gomodfetch: warning: %s\n", d.Message())
		}
		for _, w := range d.Warnings {
			fmt.Fprintf(stderr, "gomodfetch: warning: %s\n", termsafe.String(w))
		}
	}
}

// policyReport is the policy's part of -report and the step summary.
type policyReport struct {
	File string
	// VulnDB is the vulnerability database read, and its own last
	// modification time ("" and zero when none was read).
	VulnDB         string    `json:",omitempty"`
	VulnDBModified time.Time `json:",omitzero"`
	// Checked counts the module versions decided; Denied and Warned those
	// denied and warned about; ByKind the denials and warnings by what
	// decided them (rule, default, vuln, vulndb, cooldown).
	Checked, Denied, Warned int
	ByKind                  map[string]int `json:",omitempty"`
	// Decisions are the denials and warnings, each with its message.
	Decisions []reportDecision `json:",omitempty"`
}

type reportDecision struct {
	policy.Decision
	Message string
}

// newPolicyReport summarises a run's policy decisions; nil without a
// policy.
func newPolicyReport(p *project.Project, findings []policy.Decision) *policyReport {
	g := p.Policy()
	if g == nil {
		return nil
	}
	r := &policyReport{File: g.File(), Checked: g.Checked()}
	if st, ok := g.VulnStatus(); ok {
		r.VulnDB, r.VulnDBModified = st.Source, st.Modified
	}
	for _, d := range findings {
		switch d.Action {
		case policy.Deny:
			r.Denied++
		case policy.Warn:
			r.Warned++
		}
		if d.Action != policy.Allow {
			if r.ByKind == nil {
				r.ByKind = map[string]int{}
			}
			r.ByKind[d.Kind]++
		}
		r.Decisions = append(r.Decisions, reportDecision{d, d.Message()})
	}
	return r
}

// markdown is the policy's section of the step summary ("" without a
// policy): the counts, and each denial and warning with its message.
func (r *policyReport) markdown() string {
	if r == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**Policy** `%s`: %d module versions checked, %d denied, %d warnings", mdCode(filepath.Base(r.File)), r.Checked, r.Denied, r.Warned)
	if r.VulnDB != "" {
		fmt.Fprintf(&b, " · vulnerability database %s (modified %s)", mdCell(r.VulnDB), r.VulnDBModified.UTC().Format(time.RFC3339))
	}
	b.WriteString("\n\n")
	for _, d := range r.Decisions {
		mark := "⚠️"
		if d.Action == policy.Deny {
			mark = "⛔"
		}
		fmt.Fprintf(&b, "- %s `%s@%s`: %s\n", mark, mdCode(d.Path), mdCode(d.Version), mdCell(d.Message))
	}
	if len(r.Decisions) > 0 {
		b.WriteString("\n")
	}
	return b.String()
}

// policyCommand is `gomodfetch policy check`.
func policyCommand(cc *cmdContext) *cli.Command {
	check := &cli.Command{
		Name:  "check",
		Usage: "print what the policy would deny or warn about in the build of go.mod or go.work; block nothing",
		UsageText: "gomodfetch policy check [-json] [-policy file] [-vulndb source] [-modfile file] [dir ...]\n\n" +
			"For the go.mod or go.work in each dir (default: the current directory), works out the module\n" +
			"versions `gomodfetch` (or `go mod download`) would download, as a download works them out (it may\n" +
			"fetch go.mod files, never a zip), and decides each with the policy: one line per denial or\n" +
			"warning, with its reason, on stderr; with -json, one object per decision on stdout.\n" +
			"Exit status: 0 nothing denied, 1 something denied, 2 the check could not be made (bad flag,\n" +
			"policy file or go.mod, unreadable module graph or vulnerability database).",
		Flags: append([]cli.Flag{
			modFileFlag,
			&cli.BoolFlag{Name: "json", Usage: "print a JSON object per denial or warning on stdout"},
		}, policyFlags(true)...),
		Action: func(c *cli.Context) error {
			cc.code = runPolicyCheck(cc, c)
			return nil
		},
	}
	return &cli.Command{
		Name:            "policy",
		HideHelpCommand: true,
		Usage:           "audit a module's build against the supply-chain policy (docs/policy.md)",
		UsageText:       "gomodfetch policy check [-json] [-policy file] [-vulndb source] [dir ...]",
		Subcommands:     []*cli.Command{check},
		Action: func(c *cli.Context) error {
			cc.code = exitUsage
			fmt.Fprintf(cc.stderr, "gomodfetch policy: unknown or missing subcommand %q\nusage: %s\n", c.Args().First(), c.Command.UsageText)
			return nil
		},
	}
}

// checkedDecision is one -json object of `policy check`.
type checkedDecision struct {
	Dir string
	policy.Decision
	Message string
}

// runPolicyCheck audits each directory c names.
func runPolicyCheck(cc *cmdContext, c *cli.Context) int {
	gctune.Start()
	ctx, intr := notifyInterrupts(context.Background())
	defer intr.stop()
	stdout, stderr := cc.stdout, cc.stderr
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "gomodfetch policy check: "+format+"\n", args...)
		return exitUsage
	}
	file, vulndb, err := readPolicyFlags(c)
	if err != nil {
		return fail("%v", err)
	}
	if file == "" {
		return fail("no policy: use -policy file (or GOMODFETCH_POLICY)")
	}
	env, err := project.NewEnv(os.Getenv)
	if err != nil {
		return fail("%v", err)
	}
	dirs := c.Args().Slice()
	if len(dirs) == 0 {
		dirs = []string{"."}
	}
	denied, code := false, 0
	for _, dir := range dirs {
		s := readSettings(c, cc.chdir, env.Flags)
		s.Args, s.JSON = nil, false
		s.Policy, s.VulnDB = file, vulndb
		switch {
		case filepath.IsAbs(dir) || cc.chdir == "":
			s.Dir = dir
		default:
			s.Dir = filepath.Join(cc.chdir, dir)
		}
		p, err := project.Open(ctx, s, env, hooksFor(stderr))
		if err != nil {
			errs := []error{err}
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				errs = j.Unwrap()
			}
			for _, e := range errs {
				fail("%s: %v", dir, e)
			}
			code = exitUsage
			continue
		}
		if dir == dirs[0] {
			warnExpired(p, stderr)
		}
		a, err := p.CheckPolicy(ctx)
		p.Close(true, true)
		if err != nil {
			fail("%s: %v", dir, err)
			code = exitUsage
			continue
		}
		if len(dirs) > 1 && !c.Bool("json") && len(a.Findings) > 0 {
			fmt.Fprintf(stderr, "# %s\n", termsafe.String(dir))
		}
		for _, d := range a.Findings {
			denied = denied || d.Action == policy.Deny
			if c.Bool("json") {
				b, err := json.MarshalIndent(checkedDecision{Dir: p.Dir, Decision: d, Message: d.Message()}, "", "\t")
				if err != nil {
					return fail("%v", err)
				}
				stdout.Write(append(termsafe.JSON(b), '\n'))
				continue
			}
			fmt.Fprintln(stderr, d.Message())
		}
		for _, m := range a.Failed {
			fail("%s: %s", dir, m.Error)
			code = exitUsage
		}
		if a.GraphErr != nil {
			fail("%s: the module graph cannot be read, so the build list may be incomplete: %v", dir, a.GraphErr)
			code = exitUsage
		}
		if intr.signal() != nil {
			return intr.exitCode()
		}
	}
	if code != 0 {
		return code
	}
	if denied {
		return 1
	}
	return 0
}
