package serve

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/module"

	"gomodfetch/internal/beneath"
	"gomodfetch/proxy"
)

// absentRel is where absent keeps its log, below the module cache's root:
// beside cache/download, not in it, so that directory stays what the go
// command would leave (a GOPROXY tree), and `go clean -modcache` removes it.
const absentRel = "cache/gomodfetch/serve-absent.log"

// absentMax bounds the versions remembered (and so the log, which is
// rewritten with the live entries once it holds twice as many lines).
const absentMax = 100000

// absent remembers upstream's "not found" for exact module versions (the
// .info, .mod or .zip of a canonical version) for Config.AbsentTTL, in
// memory and in a log file below the cache, so that neither the next wave
// of clients nor a restart asks upstream again for what it said it does
// not have. Prefetches of a large graph ask for many go.mod files a proxy
// may lack; a version list or @latest, which change, are never kept here.
//
// The log is read as untrusted input: a line that does not parse, names no
// canonical module version or lies about its time is skipped, and the file
// is opened below the cache's root without following symlinks. Two servers
// sharing a cache may both append to it; a rewrite by one may lose lines
// the other appends meanwhile, which costs only an upstream request.
type absent struct {
	ttl  time.Duration // negative: nothing is kept
	mem  memory[string]
	root *beneath.Root // nil: memory only
	warn func(msg string, err error)

	mu    sync.Mutex
	f     *os.File
	lines int // in the log
}

func newAbsent(ttl time.Duration, root *beneath.Root, warn func(string, error)) *absent {
	a := &absent{ttl: ttl, mem: memory[string]{ttl: ttl, max: absentMax}, root: root, warn: warn}
	if ttl >= 0 && root != nil {
		a.load()
	}
	return a
}

// durable reports whether a flight's "not found" may be kept: one for an
// exact version's file.
func durable(key string) bool {
	kind, mv, ok := strings.Cut(key, " ")
	if !ok || (kind != "info" && kind != "mod" && kind != "zip") {
		return false
	}
	path, v, ok := strings.Cut(mv, "@")
	return ok && module.Check(path, v) == nil && module.CanonicalVersion(v) == v
}

// upstreamNotFound reports whether err is upstream saying it has no such
// thing (not a path that was never asked, as GONOPROXY's).
func upstreamNotFound(err error) bool {
	var vcs *proxy.NeedVCSError
	return errors.Is(err, fs.ErrNotExist) && !errors.As(err, &vcs)
}

// get returns the error to answer for key if upstream said recently that
// it does not have it.
func (a *absent) get(key string) error {
	reason, ok := a.mem.get(key)
	if !ok {
		return nil
	}
	return &absentError{reason: reason}
}

// add remembers that upstream does not have key, for the TTL.
func (a *absent) add(key string, err error) {
	if a.ttl < 0 || !durable(key) {
		return
	}
	reason := oneLine(err.Error(), 300)
	now := time.Now()
	a.mem.addUntil(key, reason, now.Add(a.ttl))
	if a.root == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.f == nil {
		if err := a.open(); err != nil {
			a.warn("cannot keep not-found answers across restarts", err)
			a.root = nil
			return
		}
	}
	line := strconv.FormatInt(now.Unix(), 10) + "\t" + key + "\t" + reason + "\n"
	if _, err := a.f.Seek(0, 2); err == nil {
		_, err = a.f.WriteString(line)
		if err != nil {
			a.warn("cannot keep not-found answers across restarts", err)
		}
	}
	a.lines++
	if a.lines > 2*absentMax {
		a.rewrite()
	}
}

func (a *absent) open() error {
	if err := a.root.MkdirAll("cache/gomodfetch", 0o777); err != nil {
		return err
	}
	f, err := a.root.OpenWrite(absentRel, 0o666)
	if err != nil {
		return err
	}
	a.f = f
	return nil
}

// load reads the log into memory; a log with many stale lines is
// rewritten.
func (a *absent) load() {
	data, err := a.root.ReadFile(absentRel)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			a.warn("ignoring the remembered not-found answers", err)
		}
		return
	}
	now := time.Now()
	lines, live := 0, 0
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte("\n"))
		lines++
		f := strings.SplitN(string(line), "\t", 3)
		if len(f) != 3 || !durable(f[1]) {
			continue
		}
		sec, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		t := time.Unix(sec, 0)
		if t.After(now.Add(time.Minute)) || now.Sub(t) >= a.ttl {
			continue // from the future, or expired
		}
		a.mem.addUntil(f[1], oneLine(f[2], 300), t.Add(a.ttl))
		live++
	}
	a.lines = lines
	if lines > 2*live+1000 {
		a.mu.Lock()
		a.rewrite()
		a.mu.Unlock()
	}
}

// rewrite replaces the log with the live entries. The caller holds a.mu.
func (a *absent) rewrite() {
	tmp, rel, err := a.root.CreateTemp("cache/gomodfetch", "serve-absent.log.", 0o666)
	if err != nil {
		a.warn("cannot rewrite the remembered not-found answers", err)
		return
	}
	var b strings.Builder
	n := 0
	a.mem.each(func(key, reason string, expiry time.Time) {
		fmt.Fprintf(&b, "%d\t%s\t%s\n", expiry.Add(-a.ttl).Unix(), key, reason)
		n++
	})
	_, werr := tmp.WriteString(b.String())
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = a.root.Rename(rel, absentRel)
	}
	if werr != nil {
		a.root.Remove(rel)
		a.warn("cannot rewrite the remembered not-found answers", werr)
		return
	}
	if a.f != nil {
		a.f.Close()
		a.f = nil
	}
	a.lines = n
}

// close closes the log.
func (a *absent) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.f != nil {
		a.f.Close()
		a.f = nil
	}
}

// absentError is a "not found" answered from absent.
type absentError struct{ reason string }

func (e *absentError) Error() string { return e.reason + " (remembered)" }
func (e *absentError) Is(target error) bool {
	return target == fs.ErrNotExist
}
