package main

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v2"
)

// Subcommands. Any other first argument is a module query, so
// `gomodfetch all` and `gomodfetch golang.org/x/mod@v0.20.0` still download;
// none of "version", "completion" or "serve" can be a module path (its
// first element has no dot).

// completionFlag is the argument urfave/cli's shell completion appends.
const completionFlag = "--generate-bash-completion"

func commands(stdout, stderr io.Writer, code *int) []*cli.Command {
	return []*cli.Command{
		verifyCommand(stdout, stderr, code), // cmdverify.go
		packCommand(stdout, stderr, code),   // cmdpack.go
		serveCommand(),                      // serve.go
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
// version ("(devel)" when built from a checkout), the Go version and
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
