package gocmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/module"

	"gomodfetch/internal/errline"
	"gomodfetch/retry"
)

// Listed is the go command's `go list -m -json` report of a module: a
// query resolved (Version, Time, Origin), or its tagged versions.
type Listed struct {
	Path, Version string
	Versions      []string
	Time          time.Time
	Origin        json.RawMessage
}

// Versions returns path's tagged versions as its repository has them
// (`go list -m -versions path`, in a scratch module), under the retry
// policy.
func (d *Runner) Versions(ctx context.Context, path string) ([]string, error) {
	l, err := d.list(ctx, module.Version{Path: path}, "-versions", path)
	if err != nil {
		return nil, err
	}
	if l.Path != path {
		return nil, &Error{Mod: module.Version{Path: path}, Msg: fmt.Sprintf("%s: go list -m -versions reported %s", path, l.Path), class: retry.Permanent}
	}
	return l.Versions, nil
}

// Resolve resolves path@query at its repository (`go list -m -json
// path@query`, in a scratch module whose go.sum starts with sums), under
// the retry policy. The go command writes the resolved version's .info
// and .mod (checked against sums) to its module cache; the zip is not
// downloaded.
func (d *Runner) Resolve(ctx context.Context, path, query string, sums []string) (*Listed, error) {
	mod := module.Version{Path: path, Version: query}
	l, err := d.listSums(ctx, mod, sums, path+"@"+query)
	if err != nil {
		return nil, err
	}
	canonical := module.CanonicalVersion(l.Version) == l.Version && module.Check(path, l.Version) == nil
	if l.Path != path || !canonical || (module.CanonicalVersion(query) == query && l.Version != query) {
		return nil, &Error{Mod: mod, Msg: fmt.Sprintf("%s@%s: go list -m reported %s@%s", path, query, l.Path, l.Version), class: retry.Permanent}
	}
	return l, nil
}

func (d *Runner) list(ctx context.Context, mod module.Version, args ...string) (*Listed, error) {
	return d.listSums(ctx, mod, nil, args...)
}

func (d *Runner) listSums(ctx context.Context, mod module.Version, sums []string, args ...string) (*Listed, error) {
	goBin := d.GoBin
	if goBin == "" {
		var err error
		if goBin, err = exec.LookPath("go"); err != nil {
			return nil, &NotFoundError{Mod: mod, Err: err}
		}
	}
	var out *Listed
	err := retry.Do(ctx, d.Policy, func(ctx context.Context) error {
		l, err := d.runList(ctx, goBin, mod, sums, args)
		out = l
		return err
	}, func(a retry.Attempt) {
		if d.Trace != nil {
			fmt.Fprintf(d.Trace, "# retry go list -m %s in %.3fs (attempt %d failed: %s)\n", strings.Join(args, " "), a.Wait.Seconds(), a.N, errline.First(a.Err))
		}
	})
	return out, err
}

func (d *Runner) runList(ctx context.Context, goBin string, mod module.Version, sums, args []string) (*Listed, error) {
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
	dir, err := scratch(sums)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	argv := append([]string{"list", "-m", "-json"}, args...)
	cmd := exec.CommandContext(ctx, goBin, argv...)
	cmd.Dir = dir
	env := directEnv(d.Env, d.GoFlags)
	// -mod=mod: the scratch module's go.mod and go.sum may be written.
	env[len(env)-1] += " -mod=mod"
	cmd.Env = append(env, "GOTOOLCHAIN=local")
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if d.Trace != nil {
		fmt.Fprintf(d.Trace, "cd %s; %s %s\n", dir, goBin, strings.Join(argv, " "))
	}
	runErr := cmd.Run()
	what := "go list -m " + strings.Join(args, " ")
	if ctx.Err() == context.DeadlineExceeded {
		return nil, &retry.AttemptTimeoutError{Timeout: timeout, Err: fmt.Errorf("%s", what)}
	}
	if runErr != nil {
		msg := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(stderr.String()), "go: "))
		if msg == "" {
			msg = runErr.Error()
		}
		if !strings.HasPrefix(msg, mod.Path) {
			msg = mod.Path + ": " + msg
		}
		return nil, &Error{Mod: mod, Msg: msg, Stderr: stderr.String(), class: classifyGoReport(msg)}
	}
	l := new(Listed)
	if err := json.Unmarshal(stdout.Bytes(), l); err != nil {
		return nil, &Error{Mod: mod, Msg: fmt.Sprintf("%s: %s: unreadable report: %v", mod.Path, what, err), class: retry.Permanent}
	}
	return l, nil
}

// scratch makes an empty module directory whose go.sum holds sums.
func scratch(sums []string) (string, error) {
	dir, err := os.MkdirTemp("", "gomodfetch-direct-")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module gomodfetch.invalid/direct\n"), 0o666); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	if len(sums) > 0 {
		if err := os.WriteFile(filepath.Join(dir, "go.sum"), []byte(strings.Join(sums, "\n")+"\n"), 0o666); err != nil {
			os.RemoveAll(dir)
			return "", err
		}
	}
	return dir, nil
}

// enter waits until a run for path may go (Runner.Enter).
func (d *Runner) enter(ctx context.Context, path string) (func(), error) {
	if d.Enter == nil {
		return func() {}, nil
	}
	host, _, _ := strings.Cut(path, "/")
	return d.Enter(ctx, host)
}

// notFoundMarkers are the go command's words for a module or version its
// repository does not have.
// (Not "invalid version" alone: the go command says it of any failure to
// read a version, a git host refusing serve's credentials included.)
var notFoundMarkers = []string{
	"unknown revision", "no matching versions", "not found",
	"module contains a go.mod file, so module path must match major version",
}

// NotFound reports that the repository has no such module or version, as
// a proxy's 404 would say.
func (e *Error) NotFound() bool {
	if e.ChecksumMismatch() {
		return false
	}
	msg := strings.ToLower(e.Msg)
	for _, m := range notFoundMarkers {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

// ChecksumMismatch reports that the go command refused bytes that differ
// from a hash recorded for them (go.sum, or a record passed as its lines).
func (e *Error) ChecksumMismatch() bool {
	return strings.Contains(e.Msg, "checksum mismatch") || strings.Contains(e.Msg, "SECURITY ERROR")
}
