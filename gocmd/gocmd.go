// Package gocmd hands a module that only its version control system can
// supply to the go command, rather than re-implementing git, hg, svn,
// bzr and fossil.
//
// Such a module is one whose path matches GONOPROXY, or one that every
// proxy said "not found" for with "direct" next in GOPROXY. The go command
// runs `go mod download -json path@version` in an empty scratch module
// whose go.sum holds what the project's go.sum knows about that module, so
// it verifies the bytes against go.sum (and the checksum database) before
// anything lands, with the user's environment (GOINSECURE, GOPRIVATE,
// GOAUTH, GOFLAGS...). A server that answers the whole GOPROXY protocol
// for such modules also asks it for version lists (`go list -m -versions`)
// and queries (`go list -m -json path@query`), in the same scratch way.
// Runs are retried on network errors under a retry policy, each is
// bounded by a timeout, and each may wait for its turn (Runner.Enter).
// Everything the go command says is untrusted text: callers print it
// escaped.
package gocmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/module"

	"gomodfetch/internal/errline"
	"gomodfetch/retry"
)

// Runner runs the go command for modules. It is safe for concurrent use.
type Runner struct {
	// GoBin is the go command; "" means "go" looked up on $PATH.
	GoBin string
	// Env is the go command's environment (the user's, with GOMODCACHE
	// set). GOWORK=off is added.
	Env []string
	// GoFlags is the effective GOFLAGS (from the environment or the go env
	// file); it is passed on without -modfile and -mod, which name the
	// user's module, not the scratch one.
	GoFlags string
	// Timeout bounds one run of the go command (zero: 10 minutes).
	Timeout time.Duration
	// Policy governs retries of a run that failed transiently.
	Policy retry.Policy
	// Trace, if not nil, receives the command line, as go's -x prints it.
	Trace io.Writer
	// Reuse, if set, is a previous -json output (an absolute file name)
	// passed on as go mod download -reuse: the go command then checks, at
	// the repository, whether what it recorded still holds, and reports
	// Reuse instead of downloading. -reuse is refused inside a module, so
	// such runs have no scratch module and run in ReuseDir (the user's
	// directory, outside any module).
	Reuse, ReuseDir string
	// Enter, if not nil, is called before each run of the go command for
	// a module path, with the path's first element (the host its go-get
	// page is asked of); the run goes when it returns and calls leave
	// when it is over. A server bounds its upstream work with it.
	Enter func(ctx context.Context, host string) (leave func(), err error)
}

// NotFoundError reports that the go command was needed and could not be
// found.
type NotFoundError struct {
	Mod module.Version
	Err error
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("%s@%s: fetching from version control needs the go command, and it was not found: %v", e.Mod.Path, e.Mod.Version, e.Err)
}

func (e *NotFoundError) Unwrap() error           { return e.Err }
func (e *NotFoundError) RetryClass() retry.Class { return retry.Permanent }

// Error is the go command's report of a failed download. Its message is the
// go command's own, as `go mod download -json` reports it.
type Error struct {
	Mod    module.Version
	Msg    string
	Stderr string // what the go command printed, for -x
	class  retry.Class
}

func (e *Error) Error() string           { return e.Msg }
func (e *Error) RetryClass() retry.Class { return e.class }

// NamesModule reports that the message already starts with path@query,
// as the go command's reports do.
func (e *Error) NamesModule() bool { return true }

// transientMarkers are signs, in the go command's report, of a network
// fault that another attempt may not meet.
var transientMarkers = []string{
	"connection reset", "connection refused", "i/o timeout", "timeout",
	"temporary failure", "unexpected EOF", "TLS handshake", "502 Bad Gateway",
	"503 Service Unavailable", "504 Gateway Timeout", "429 Too Many Requests",
	"early EOF", "the remote end hung up",
}

func classifyGoReport(msg string) retry.Class {
	if strings.Contains(msg, "SECURITY ERROR") || strings.Contains(msg, "checksum mismatch") {
		return retry.Permanent
	}
	for _, m := range transientMarkers {
		if strings.Contains(msg, m) {
			return retry.Transient
		}
	}
	return retry.Permanent
}

// Download runs the go command for mod, under the retry policy, and
// returns its -json report. sums are go.sum lines the scratch module's
// go.sum starts with.
func (d *Runner) Download(ctx context.Context, mod module.Version, sums []string) (*Result, error) {
	return d.Query(ctx, mod.Path, mod.Version, sums)
}

// Query runs the go command for path@query (a version or any version query
// the go command accepts), under the retry policy, and returns its -json
// report, whose Version is what query resolved to.
func (d *Runner) Query(ctx context.Context, path, query string, sums []string) (*Result, error) {
	mod := module.Version{Path: path, Version: query}
	goBin := d.GoBin
	if goBin == "" {
		var err error
		if goBin, err = exec.LookPath("go"); err != nil {
			return nil, &NotFoundError{Mod: mod, Err: err}
		}
	}
	var out *Result
	err := retry.Do(ctx, d.Policy, func(ctx context.Context) error {
		m, err := d.run(ctx, goBin, mod, sums)
		out = m
		return err
	}, func(a retry.Attempt) {
		if d.Trace != nil {
			fmt.Fprintf(d.Trace, "# retry go mod download %s in %.3fs (attempt %d failed: %s)\n", mod, a.Wait.Seconds(), a.N, errline.First(a.Err))
		}
	})
	return out, err
}

func (d *Runner) run(ctx context.Context, goBin string, mod module.Version, sums []string) (*Result, error) {
	leave, err := d.enter(ctx, mod.Path)
	if err != nil {
		return nil, err
	}
	defer leave()
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	args := []string{"mod", "download", "-json"}
	var dir string
	if d.Reuse != "" {
		// Outside a module (where -reuse is allowed): the run has no
		// go.sum, as the user's has none.
		dir = d.ReuseDir
		args = append(args, "-reuse="+d.Reuse)
	} else {
		var err error
		if dir, err = os.MkdirTemp("", "gomodfetch-direct-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module gomodfetch.invalid/direct\n"), 0o666); err != nil {
			return nil, err
		}
		if len(sums) > 0 {
			if err := os.WriteFile(filepath.Join(dir, "go.sum"), []byte(strings.Join(sums, "\n")+"\n"), 0o666); err != nil {
				return nil, err
			}
		}
	}

	arg := mod.Path + "@" + mod.Version
	args = append(args, arg)
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = dir
	cmd.Env = directEnv(d.Env, d.GoFlags)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if d.Trace != nil {
		fmt.Fprintf(d.Trace, "cd %s; %s %s\n", dir, goBin, strings.Join(args, " "))
	}
	runErr := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return nil, &retry.AttemptTimeoutError{Timeout: timeout, Err: fmt.Errorf("go mod download %s", arg)}
	}
	m := new(Result)
	if err := json.Unmarshal(stdout.Bytes(), m); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = fmt.Sprint(runErr)
		}
		return nil, &Error{Mod: mod, Msg: fmt.Sprintf("%s: go mod download: %s", arg, msg), Stderr: stderr.String(), class: classifyGoReport(msg)}
	}
	if m.Error != "" {
		return m, &Error{Mod: mod, Msg: m.Error, Stderr: stderr.String(), class: classifyGoReport(m.Error)}
	}
	if runErr != nil {
		return m, &Error{Mod: mod, Msg: fmt.Sprintf("%s: go mod download: %v\n%s", arg, runErr, strings.TrimSpace(stderr.String())), Stderr: stderr.String(), class: retry.Permanent}
	}
	if m.Path != mod.Path || !answers(mod.Version, m) {
		return m, &Error{Mod: mod, Msg: fmt.Sprintf("%s: go mod download reported %s@%s", arg, m.Path, m.Version), class: retry.Permanent}
	}
	return m, nil
}

// answers reports whether m is a report for query: the version itself, or
// for a query, a canonical version reported with that query.
func answers(query string, m *Result) bool {
	if m.Version == query {
		return m.Query == ""
	}
	return module.CanonicalVersion(m.Version) == m.Version && module.Check(m.Path, m.Version) == nil && m.Query == query
}

// directEnv is env with GOWORK=off and GOFLAGS set to goflags without the
// flags that name the user's module.
func directEnv(env []string, goflags string) []string {
	out := make([]string, 0, len(env)+2)
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if k != "GOWORK" && k != "GOFLAGS" {
			out = append(out, kv)
		}
	}
	var keep []string
	for _, f := range strings.Fields(goflags) {
		name, _, _ := strings.Cut(strings.TrimLeft(f, "-"), "=")
		if name != "modfile" && name != "mod" {
			keep = append(keep, f)
		}
	}
	if len(keep) == 0 && goflags != "" {
		// An empty GOFLAGS would let the go env file's value back in.
		keep = []string{"-modcacherw=false"}
	}
	return append(out, "GOWORK=off", "GOFLAGS="+strings.Join(keep, " "))
}

// Result is the go command's -json object for one module.
type Result struct {
	Path, Version, Query, Error, Info, GoMod, Zip, Dir, Sum, GoModSum string
	Origin                                                            json.RawMessage
	// Reuse says that -reuse's record still holds: nothing was
	// downloaded, and only Path, Version, Query and Origin are set.
	Reuse bool
}

// GoMod has the go command fetch only mod's go.mod into the module cache,
// as it does when a module graph needs that file alone: a scratch module
// requires mod and `go mod graph` loads it (the go command checks it
// against sums, the scratch go.sum, and the checksum database). It runs
// under the retry policy; the caller reads the file from the cache.
func (d *Runner) GoMod(ctx context.Context, mod module.Version, sums []string) error {
	goBin := d.GoBin
	if goBin == "" {
		var err error
		if goBin, err = exec.LookPath("go"); err != nil {
			return &NotFoundError{Mod: mod, Err: err}
		}
	}
	return retry.Do(ctx, d.Policy, func(ctx context.Context) error {
		return d.runGoMod(ctx, goBin, mod, sums)
	}, func(a retry.Attempt) {
		if d.Trace != nil {
			fmt.Fprintf(d.Trace, "# retry go mod graph for %s in %.3fs (attempt %d failed: %s)\n", mod, a.Wait.Seconds(), a.N, errline.First(a.Err))
		}
	})
}

func (d *Runner) runGoMod(ctx context.Context, goBin string, mod module.Version, sums []string) error {
	leave, err := d.enter(ctx, mod.Path)
	if err != nil {
		return err
	}
	defer leave()
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "gomodfetch-direct-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// A pruned scratch module: only mod's own go.mod is read.
	gomod := fmt.Sprintf("module gomodfetch.invalid/direct\n\ngo 1.17\n\nrequire %s %s\n", mod.Path, mod.Version)
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o666); err != nil {
		return err
	}
	if len(sums) > 0 {
		if err := os.WriteFile(filepath.Join(dir, "go.sum"), []byte(strings.Join(sums, "\n")+"\n"), 0o666); err != nil {
			return err
		}
	}
	cmd := exec.CommandContext(ctx, goBin, "mod", "graph")
	cmd.Dir = dir
	env := directEnv(d.Env, d.GoFlags)
	// -mod=mod lets the scratch go.sum grow; GOTOOLCHAIN=local keeps a
	// newer go line from switching toolchains here (the caller decides).
	env[len(env)-1] += " -mod=mod"
	cmd.Env = append(env, "GOTOOLCHAIN=local")
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if d.Trace != nil {
		fmt.Fprintf(d.Trace, "cd %s; %s mod graph # for %s's go.mod\n", dir, goBin, mod)
	}
	runErr := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return &retry.AttemptTimeoutError{Timeout: timeout, Err: fmt.Errorf("go mod graph for %s", mod)}
	}
	if runErr != nil {
		msg := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(stderr.String()), "go: "))
		if msg == "" {
			msg = runErr.Error()
		}
		if !strings.HasPrefix(msg, mod.Path+"@") {
			msg = mod.Path + "@" + mod.Version + ": " + msg
		}
		return &Error{Mod: mod, Msg: msg, Stderr: stderr.String(), class: classifyGoReport(msg)}
	}
	return nil
}
