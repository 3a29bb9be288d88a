package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v2"

	"gomodfetch/project"
)

// Subcommands. Any other first argument is a module query, so
// `gomodfetch all` and `gomodfetch golang.org/x/mod@v0.20.0` still download;
// none of "verify", "pack", "serve", "policy", "prune", "version" or
// "completion" can be a module path to download (its first element has no
// dot).

// completionFlag is the argument urfave/cli's shell completion appends.
const completionFlag = "--generate-bash-completion"

// cmdContext is what run gives its commands: the streams, the -C that
// run took from the command line, and where a subcommand leaves its exit
// status.
type cmdContext struct {
	stdout, stderr io.Writer
	rawStderr      io.Writer // stderr unfiltered, for the progress display
	chdir          string
	code           int
}

// takeChdir takes -C out of args (see takeChdir) and keeps its directory
// for the command; it returns the other arguments and go's complaint.
func (cc *cmdContext) takeChdir(args, subcommands []string) ([]string, string) {
	dir, rest, msg := takeChdir(args, subcommands)
	cc.chdir = dir
	return rest, msg
}

// open reads the Go environment and c's settings, and opens the project
// for a subcommand; on failure it prints why and returns nil and the exit
// status (1, as go's for a bad GOFLAGS or a project it cannot load).
func (cc *cmdContext) open(ctx context.Context, c *cli.Context, adjust func(*project.Settings)) (*project.Project, int) {
	env, err := project.NewEnv(os.Getenv)
	if err != nil {
		return nil, failTo(cc.stderr)("%v", err)
	}
	s := readSettings(c, cc.chdir, env.Flags)
	if adjust != nil {
		adjust(&s)
	}
	if err := s.Check(); err != nil {
		fmt.Fprintf(cc.stderr, "gomodfetch: %v\n", err)
		return nil, exitUsage
	}
	p, err := project.Open(ctx, s, env, hooksFor(cc.stderr))
	if err != nil {
		return nil, failEach(cc.stderr, err)
	}
	return p, 0
}

func commands(cc *cmdContext) []*cli.Command {
	stdout := cc.stdout
	return []*cli.Command{
		verifyCommand(cc), // cmdverify.go
		packCommand(cc),   // cmdpack.go
		serveCommand(cc),  // serve.go
		policyCommand(cc), // cmdpolicy.go
		pruneCommand(cc),  // cmdprune.go
		{
			Name:      "version",
			Usage:     "print gomodfetch's version, the Go version it was built with and its commit",
			UsageText: "gomodfetch version",
			Action: func(*cli.Context) error {
				info, _ := debug.ReadBuildInfo()
				fmt.Fprintln(stdout, versionText(info))
				return nil
			},
		},
		{
			Name:      "completion",
			Usage:     "print a shell completion script for bash or zsh",
			UsageText: "source <(gomodfetch completion bash)   # or: zsh",
			Action: func(c *cli.Context) error {
				script, ok := completionScripts[c.Args().First()]
				if !ok || c.NArg() != 1 {
					return errors.New("usage: gomodfetch completion bash|zsh")
				}
				io.WriteString(stdout, script)
				return nil
			},
		},
	}
}

// versionText describes the binary from its build information: the module
// version ("(devel)" when the build recorded none), the Go version and
// platform, and the commit when the build recorded one.
func versionText(info *debug.BuildInfo) string {
	if info == nil {
		return fmt.Sprintf("gomodfetch (unknown version) %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	s := fmt.Sprintf("gomodfetch %s %s %s/%s", v, info.GoVersion, runtime.GOOS, runtime.GOARCH)
	settings := map[string]string{}
	for _, kv := range info.Settings {
		settings[kv.Key] = kv.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		s += "\ncommit " + rev
		if t := settings["vcs.time"]; t != "" {
			s += " (" + t + ")"
		}
		if settings["vcs.modified"] == "true" {
			s += ", modified"
		}
	}
	return s
}

// completionScripts ask the binary itself for candidates, through
// urfave/cli's --generate-bash-completion.
var completionScripts = map[string]string{
	"bash": bashCompletion,
	"zsh":  "autoload -U +X bashcompinit && bashcompinit\n" + bashCompletion,
}

const bashCompletion = `# gomodfetch completion (bash): source <(gomodfetch completion bash)
_gomodfetch_complete() {
  local cur="${COMP_WORDS[COMP_CWORD]}" candidates
  if [[ "$cur" == -* ]]; then
    candidates=$("${COMP_WORDS[@]:0:$COMP_CWORD}" "$cur" ` + completionFlag + ` 2>/dev/null)
  else
    candidates=$("${COMP_WORDS[@]:0:$COMP_CWORD}" ` + completionFlag + ` 2>/dev/null)
  fi
  COMPREPLY=($(compgen -W "$candidates" -- "$cur"))
}
complete -o bashdefault -o default -F _gomodfetch_complete gomodfetch
`

// isCompletion reports whether args ask for completion candidates, which
// go to stdout for the shell to read (help and errors go to stderr).
func isCompletion(args []string) bool {
	return len(args) > 0 && strings.TrimSpace(args[len(args)-1]) == completionFlag
}
