// Package goauth supplies credentials for requests to private module
// proxies, as the go command's GOAUTH does: .netrc entries, and commands
// that print headers for URL prefixes. Credentials are only ever sent over
// https, never printed, and a command runs once per host at a time however
// many requests want it.
package goauth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Auth supplies credentials for HTTPS requests the way the go command's
// GOAUTH does. GOAUTH is a ';'-separated list of methods: "off" (no
// credentials; alone), "netrc" (the default: $NETRC, else ~/.netrc), and
// any other command, run with no argument before the first request and
// with the URL (and the response on its stdin) after a 4xx, whose output
// is blocks of URL prefixes, a blank line, header lines and a blank line.
// Earlier methods win. Credentials are kept by URL prefix (host[:port][/path])
// and sent only over https. "git dir" asks 'git credential fill' in dir
// for each URL that needs credentials and, as go does, checks the answer
// with a HEAD request and tells git whether it worked.
//
// After a 4xx the methods run once per host at a time: requests to one
// host that fail together share one run (see Refresh).
//
// Auth never prints credentials; errors name commands, not their output.
// It is safe for concurrent use.
type Auth struct {
	methods   []string
	netrcFile string

	once    sync.Once
	mu      sync.Mutex
	creds   map[string]http.Header // prefix → headers
	lastErr error
	gen     map[string]uint64        // host → refreshes run for it
	running map[string]chan struct{} // host → held while a refresh runs

	// ValidateClient sends the HEAD requests that check credentials from
	// 'git credential fill' (nil: a client with a 10s timeout).
	ValidateClient *http.Client
	bg             sync.WaitGroup
}

// ParseGOAUTH checks a GOAUTH value and returns an Auth for it; netrcFile
// is the .netrc path ("" means none). An empty value means "netrc".
func ParseGOAUTH(goauth, netrcFile string) (*Auth, error) {
	if strings.TrimSpace(goauth) == "" {
		goauth = "netrc"
	}
	a := &Auth{netrcFile: netrcFile, creds: map[string]http.Header{}}
	for _, m := range strings.Split(goauth, ";") {
		m = strings.TrimSpace(m)
		f := strings.Fields(m)
		switch {
		case len(f) == 0:
			return nil, fmt.Errorf("GOAUTH=%s: empty authentication command", goauth)
		case f[0] == "off":
			if strings.Count(goauth, ";") > 0 {
				return nil, fmt.Errorf("GOAUTH=%s: off cannot be combined with other authentication commands", goauth)
			}
			return &Auth{creds: map[string]http.Header{}}, nil
		case f[0] == "git":
			// As go checks it: an explicit, absolute working directory
			// (git reads its configuration from there).
			if len(f) != 2 {
				return nil, errors.New("GOAUTH=git dir method requires an absolute path to the git working directory")
			}
			if !filepath.IsAbs(f[1]) {
				return nil, errors.New("GOAUTH=git dir method requires an absolute path to the git working directory, dir is not absolute")
			}
			fi, err := os.Stat(f[1])
			if err != nil {
				return nil, fmt.Errorf("GOAUTH=git encountered an error; cannot stat %s: %v", f[1], err)
			}
			if !fi.IsDir() {
				return nil, errors.New("GOAUTH=git dir method requires an absolute path to the git working directory, dir is not a directory")
			}
		}
		a.methods = append(a.methods, m)
	}
	return a, nil
}

// NetrcPath returns $NETRC, else ~/.netrc, as the go command finds it.
func NetrcPath(getenv func(string) string) string {
	if p := getenv("NETRC"); p != "" {
		return p
	}
	if home := getenv("HOME"); home != "" {
		return filepath.Join(home, ".netrc")
	}
	return ""
}

// netrcLine is one complete machine entry.
type netrcLine struct{ machine, login, password string }

// parseNetrc reads .netrc content: "machine", "login", "password" tokens
// (in any line layout), "macdef" bodies skipped up to a blank line, and
// nothing after "default".
func parseNetrc(data string) []netrcLine {
	var (
		out     []netrcLine
		cur     netrcLine
		inMacro bool
	)
	for _, line := range strings.Split(data, "\n") {
		if inMacro {
			inMacro = strings.TrimSpace(line) != ""
			continue
		}
		f := strings.Fields(line)
		for i := 0; i < len(f); i++ {
			if f[i] == "default" {
				return out
			}
			if i+1 >= len(f) {
				break
			}
			switch f[i] {
			case "machine":
				cur = netrcLine{machine: f[i+1]}
			case "login":
				cur.login = f[i+1]
			case "password":
				cur.password = f[i+1]
			case "macdef":
				inMacro = true
			}
			i++
			if cur.machine != "" && cur.login != "" && cur.password != "" {
				out = append(out, cur)
				cur = netrcLine{}
			}
		}
	}
	return out
}

// parseAuthOutput parses a GOAUTH command's output: one or more blocks of
// URL lines, a blank line, "Name: value" header lines, a blank line.
func parseAuthOutput(data string) (map[string]http.Header, error) {
	creds := map[string]http.Header{}
	lines := strings.Split(data, "\n")
	i := 0
	next := func() (string, bool) {
		if i >= len(lines) {
			return "", false
		}
		i++
		return strings.TrimSuffix(lines[i-1], "\r"), true
	}
	for {
		var prefixes []string
		for {
			l, ok := next()
			if !ok {
				if len(prefixes) == 0 {
					return creds, nil
				}
				return nil, errors.New("invalid format: missing blank line after URLs")
			}
			if l == "" {
				if len(prefixes) == 0 && i >= len(lines) {
					return creds, nil
				}
				break
			}
			u, err := url.ParseRequestURI(l)
			if err != nil {
				return nil, fmt.Errorf("invalid URL line %d (not printed: it may hold credentials)", i)
			}
			prefixes = append(prefixes, credentialPrefix(u.String()))
		}
		h := http.Header{}
		for {
			l, ok := next()
			if !ok {
				return nil, errors.New("invalid format: missing blank line after headers")
			}
			if l == "" {
				break
			}
			name, value, ok := strings.Cut(l, ": ")
			if !ok || name == "" || strings.ContainsAny(name, " \t") {
				return nil, errors.New("invalid format: bad header line")
			}
			h.Add(name, strings.TrimSpace(value))
		}
		for _, p := range prefixes {
			creds[p] = h.Clone()
		}
	}
}

// credentialPrefix is a URL without "https://" and trailing "/".
func credentialPrefix(u string) string {
	return strings.TrimSuffix(strings.TrimPrefix(u, "https://"), "/")
}

// collect runs every method (in reverse, so earlier ones win) and stores
// what they supply. url is "" on the first run.
func (a *Auth) collect(ctx context.Context, target string, res *http.Response) {
	var errs []error
	for _, m := range slices.Backward(a.methods) {
		if m == "netrc" {
			if a.netrcFile == "" {
				continue
			}
			data, err := os.ReadFile(a.netrcFile)
			if err != nil {
				if !errors.Is(err, os.ErrNotExist) {
					errs = append(errs, fmt.Errorf("GOAUTH=netrc: %w", err))
				}
				continue
			}
			lines := parseNetrc(string(data))
			a.mu.Lock()
			for _, l := range slices.Backward(lines) {
				r := http.Request{Header: http.Header{}}
				r.SetBasicAuth(l.login, l.password)
				a.creds[l.machine] = r.Header
			}
			a.mu.Unlock()
			continue
		}
		var (
			creds map[string]http.Header
			err   error
		)
		if dir, ok := strings.CutPrefix(m, "git "); ok {
			if target == "" {
				continue // git credential needs a URL: none on the first run
			}
			var fill []byte
			creds, fill, err = gitCredential(ctx, strings.TrimSpace(dir), target)
			if err == nil {
				a.validateGit(strings.TrimSpace(dir), creds, fill)
			}
		} else {
			creds, err = a.runCommand(ctx, m, target, res)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		a.mu.Lock()
		for p, h := range creds {
			if len(h) == 0 {
				delete(a.creds, p)
			} else {
				a.creds[p] = h
			}
		}
		a.mu.Unlock()
	}
	a.mu.Lock()
	a.lastErr = errors.Join(errs...)
	a.mu.Unlock()
}

// gitCredential asks `git credential fill`, run in dir, for target's
// credentials, as GOAUTH=git dir does: the answer must be for a prefix of
// target, and becomes basic authentication for that prefix.
func gitCredential(ctx context.Context, dir, target string) (map[string]http.Header, []byte, error) {
	cmd := exec.CommandContext(ctx, "git", "credential", "fill")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader("url=" + target + "\n")
	out, err := cmd.Output()
	if err != nil {
		return nil, nil, fmt.Errorf("GOAUTH=git %s: 'git credential fill' failed: %v", dir, err)
	}
	prefix := new(url.URL)
	var user, password string
	for _, line := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		switch k {
		case "protocol":
			prefix.Scheme = v
		case "host":
			prefix.Host = v
		case "path":
			prefix.Path = v
		case "username":
			user = v
		case "password":
			password = v
		case "url":
			if u, err := url.ParseRequestURI(v); err == nil {
				prefix = u
			}
		}
	}
	p := prefix.String()
	if prefix.Host == "" || !strings.HasPrefix(target, p) {
		return nil, nil, fmt.Errorf("GOAUTH=git %s: 'git credential fill' gave credentials for another URL than %s", dir, target)
	}
	r := http.Request{Header: http.Header{}}
	r.SetBasicAuth(user, password)
	return map[string]http.Header{credentialPrefix(p): r.Header}, out, nil
}

// validateGit checks credentials 'git credential fill' gave, as the go
// command does: in the background, a HEAD request to their URL prefix
// (up to three tries), then 'git credential approve' if it answered 200
// or 'git credential reject' if 401, with fill's answer on stdin, so the
// credential helper keeps good credentials and forgets bad ones. The
// request is bounded by a timeout; Wait waits for it.
func (a *Auth) validateGit(dir string, creds map[string]http.Header, fill []byte) {
	for prefix, h := range creds {
		if len(h) == 0 {
			continue
		}
		a.bg.Add(1)
		go func() {
			defer a.bg.Done()
			client := a.ValidateClient
			if client == nil {
				client = &http.Client{Timeout: 10 * time.Second}
			}
			for range 3 {
				req, err := http.NewRequest(http.MethodHead, "https://"+prefix, nil)
				if err != nil {
					return
				}
				req.Header = h.Clone()
				res, err := client.Do(req)
				if err != nil {
					continue
				}
				res.Body.Close()
				if res.StatusCode == http.StatusOK || res.StatusCode == http.StatusUnauthorized {
					action := "reject"
					if res.StatusCode == http.StatusOK {
						action = "approve"
					}
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					cmd := exec.CommandContext(ctx, "git", "credential", action)
					cmd.Dir = dir
					cmd.Stdin = bytes.NewReader(fill)
					cmd.Run() // best effort, as go's
					cancel()
					return
				}
			}
		}()
	}
}

// Wait waits for the background checks of git credentials to end.
func (a *Auth) Wait() { a.bg.Wait() }

func (a *Auth) runCommand(ctx context.Context, command, target string, res *http.Response) (map[string]http.Header, error) {
	words := strings.Fields(command)
	args := words[1:]
	if target != "" {
		args = append(args, target)
	}
	cmd := exec.CommandContext(ctx, words[0], args...)
	if res != nil {
		var in strings.Builder
		fmt.Fprintf(&in, "%s %s\n", res.Proto, res.Status)
		for k, v := range res.Header {
			fmt.Fprintf(&in, "%s: %s\n", k, strings.Join(v, ", "))
		}
		in.WriteString("\n")
		cmd.Stdin = strings.NewReader(in.String())
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("GOAUTH command %s: %v", words[0], err)
	}
	creds, err := parseAuthOutput(string(out))
	if err != nil {
		return nil, fmt.Errorf("GOAUTH command %s: %w", words[0], err)
	}
	return creds, nil
}

// apply adds the stored credentials for the longest prefix of u's
// host[:port]/path to req, and reports whether there were any. It also
// returns the host's refresh generation the credentials belong to.
func (a *Auth) apply(req *http.Request) (uint64, bool) {
	prefix := credentialPrefix(req.URL.Host + req.URL.EscapedPath())
	a.mu.Lock()
	defer a.mu.Unlock()
	gen := a.gen[req.URL.Host]
	for {
		if h, ok := a.creds[prefix]; ok {
			for k, vs := range h {
				req.Header.Del(k)
				for _, v := range vs {
					req.Header.Add(k, v)
				}
			}
			return gen, true
		}
		i := strings.LastIndexByte(prefix, '/')
		if i < 0 {
			return gen, false
		}
		prefix = prefix[:i]
	}
}

// authCommandTimeout bounds a run of the GOAUTH methods.
const authCommandTimeout = 2 * time.Minute

// Initial adds credentials to an https request before it is sent, running
// the GOAUTH methods the first time. It returns the credentials'
// generation, to pass to Refresh if the request fails, and whether there
// were any.
func (a *Auth) Initial(ctx context.Context, req *http.Request) (uint64, bool) {
	if a == nil || len(a.methods) == 0 || req.URL.Scheme != "https" {
		return 0, false
	}
	a.once.Do(func() {
		// Not the request's own context: if that request is cancelled (a
		// hedge it lost), the credentials are still needed by the others.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), authCommandTimeout)
		defer cancel()
		a.collect(cctx, "", nil)
	})
	return a.apply(req)
}

// Refresh runs the GOAUTH methods again for a request that got a 4xx
// response and adds what they supply to req (a fresh copy of it). It
// reports whether credentials were found. sent is the generation Initial
// returned for the request that failed.
//
// The methods run for one host at a time, and not at all if they ran for
// the host since the failed request got its credentials: requests that
// fail together share one run's answer. A command is asked about one URL
// but may answer for any prefix; in practice it answers for the host.
func (a *Auth) Refresh(ctx context.Context, req *http.Request, res *http.Response, sent uint64) bool {
	if a == nil || len(a.methods) == 0 || req.URL.Scheme != "https" {
		return false
	}
	host := req.URL.Host
	lock := a.hostLock(host)
	select {
	case lock <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	a.mu.Lock()
	stale := a.gen[host] != sent
	a.mu.Unlock()
	if !stale {
		u := *req.URL
		u.User = nil
		// Not the request's own context: the answer is shared.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), authCommandTimeout)
		a.collect(cctx, u.String(), res)
		cancel()
		a.mu.Lock()
		a.gen[host]++
		a.mu.Unlock()
	}
	<-lock
	_, ok := a.apply(req)
	return ok
}

// hostLock returns the lock held while the methods run for host.
func (a *Auth) hostLock(host string) chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.running == nil {
		a.running = map[string]chan struct{}{}
		a.gen = map[string]uint64{}
	}
	l := a.running[host]
	if l == nil {
		l = make(chan struct{}, 1)
		a.running[host] = l
	}
	return l
}
