package serve

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/mod/module"
)

// Credentials are the clients a server knows, read from a file its
// operator manages, one credential a line:
//
//	# name:bcrypt-hash   scopes (module path patterns, comma-separated)
//	ci:$2y$10$…           *
//	team-a:$2y$10$…       corp.example/a/*,corp.example/shared
//
// The first field is what `htpasswd -nbB name secret` prints (bcrypt
// only: the secret is never stored). A client sends the name and the
// secret with HTTP Basic authentication, which the go command does from
// .netrc or a GOAUTH command. A scope is a pattern list as GOPRIVATE
// takes it (a path matches if a prefix of its elements matches a
// pattern); "*" covers every path; a credential without scopes covers
// only what needs no credential.
//
// The file is read again when it changes (checked at most once a second,
// on use); a file that does not parse keeps the credentials in force and
// is reported through the server's log. Verifying a bcrypt hash takes
// tens of milliseconds on purpose, so a verified name and secret are
// remembered (by a keyed hash, never the secret) for a few minutes, at
// most 2 verifications run at once, and a wrong secret is remembered as
// wrong for as long: a client cannot make the server spend more than that.
type Credentials struct {
	file string
	warn func(msg string, err error)

	mu      sync.Mutex
	creds   map[string]credential // by name
	stamp   fileStamp
	checked onceASecond // looks at the file

	key     []byte // for the keys of known
	dummy   []byte // a bcrypt hash compared for unknown names
	known   memory[authResult]
	hashing chan struct{} // bcrypt verifications at once
}

type credential struct {
	name   string
	hash   []byte
	scopes string // comma-separated patterns; "*" is every path
}

type authResult struct {
	name string
	ok   bool
}

type fileStamp struct {
	size    int64
	modTime time.Time
}

// authTTL is how long a verified (or refused) name and secret are
// remembered; authMax bounds how many are.
const (
	authTTL = 5 * time.Minute
	authMax = 10000
)

// LoadCredentials reads the credentials file. warn receives later reload
// failures (nil: ignored).
func LoadCredentials(file string, warn func(msg string, err error)) (*Credentials, error) {
	if warn == nil {
		warn = func(string, error) {}
	}
	key := make([]byte, 32)
	rand.Read(key)
	dummy, err := bcrypt.GenerateFromPassword(key, bcrypt.DefaultCost)
	if err != nil {
		return nil, err
	}
	c := &Credentials{file: file, warn: warn, key: key, dummy: dummy,
		known: memory[authResult]{ttl: authTTL, max: authMax}, hashing: make(chan struct{}, 2)}
	if err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// reload reads the file if it changed since it was last read.
func (c *Credentials) reload() error {
	fi, err := os.Stat(c.file)
	if err != nil {
		return err
	}
	stamp := fileStamp{fi.Size(), fi.ModTime()}
	c.mu.Lock()
	same := c.creds != nil && stamp == c.stamp
	c.mu.Unlock()
	if same {
		return nil
	}
	data, err := os.ReadFile(c.file)
	if err != nil {
		return err
	}
	creds, err := parseCredentials(c.file, data)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.creds, c.stamp = creds, stamp
	c.mu.Unlock()
	c.known.clear() // a removed or changed credential stops working now
	return nil
}

// maybeReload looks at the file at most once a second.
func (c *Credentials) maybeReload() {
	if c.checked.due() {
		if err := c.reload(); err != nil {
			c.warn("credentials file not reloaded; the previous credentials stay in force", err)
		}
	}
}

func parseCredentials(file string, data []byte) (map[string]credential, error) {
	creds := map[string]credential{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		bad := func(what string) error {
			return fmt.Errorf("%s:%d: %s (want name:bcrypt-hash [scope,...], as `htpasswd -nbB name secret` prints the first part)", file, n, what)
		}
		if len(f) > 2 {
			return nil, bad("too many fields")
		}
		name, hash, ok := strings.Cut(f[0], ":")
		if !ok || name == "" {
			return nil, bad("no name:hash")
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, bad("the hash of " + name + " is not a bcrypt hash")
		}
		if _, dup := creds[name]; dup {
			return nil, bad("a second credential named " + name)
		}
		cr := credential{name: name, hash: []byte(hash)}
		if len(f) == 2 {
			for _, p := range strings.Split(f[1], ",") {
				if p == "" {
					return nil, bad("an empty scope")
				}
			}
			cr.scopes = f[1]
		}
		creds[name] = cr
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return creds, nil
}

// errBadCredential is a name and secret that do not match.
var errBadCredential = errors.New("wrong name or secret")

// identify returns the credential r presents: none ("", nil), a valid one
// (its name), or errBadCredential.
func (c *Credentials) identify(r *http.Request) (*credential, error) {
	name, secret, ok := r.BasicAuth()
	if !ok {
		if r.Header.Get("Authorization") != "" {
			return nil, errBadCredential // a scheme other than Basic
		}
		return nil, nil
	}
	c.maybeReload()
	mac := hmac.New(sha256.New, c.key)
	mac.Write([]byte(name))
	mac.Write([]byte{0})
	mac.Write([]byte(secret))
	key := string(mac.Sum(nil))
	c.mu.Lock()
	cr, exists := c.creds[name]
	c.mu.Unlock()
	if res, ok := c.known.get(key); ok {
		if res.ok && exists {
			return &cr, nil
		}
		return nil, errBadCredential
	}
	if !exists {
		// Spend the same time as a wrong secret: names do not leak.
		c.compare(c.dummy, secret)
		c.known.add(key, authResult{})
		return nil, errBadCredential
	}
	ok = c.compare(cr.hash, secret)
	c.known.add(key, authResult{name: name, ok: ok})
	if !ok {
		return nil, errBadCredential
	}
	return &cr, nil
}

// compare checks secret against hash, at most 2 at once.
func (c *Credentials) compare(hash []byte, secret string) bool {
	c.hashing <- struct{}{}
	defer func() { <-c.hashing }()
	return bcrypt.CompareHashAndPassword(hash, []byte(secret)) == nil
}

// covers reports whether the credential's scopes cover path.
func (cr *credential) covers(path string) bool {
	if cr == nil || cr.scopes == "" {
		return false
	}
	return strings.Contains(","+cr.scopes+",", ",*,") || module.MatchPrefixPatterns(cr.scopes, path)
}

// authorize lets r through to path (a module path; "" for what is public
// by nature: the checksum database) or answers it: 401 with a Basic
// challenge when a credential is needed and none (or a wrong one) was
// sent, so that .netrc and GOAUTH come into play; 404 when the credential
// does not cover a restricted path, so that its existence does not leak
// and the client's own ",direct" still works.
func (s *Server) authorize(w *recorder, r *http.Request, path string) bool {
	c := s.cfg.Credentials
	if c == nil {
		return true
	}
	cr, err := c.identify(r)
	if cr != nil {
		w.user = cr.name
	}
	restricted := path != "" && s.cfg.Restricted(path)
	switch {
	case err != nil:
		s.challenge(w, "wrong name or secret")
		return false
	case restricted && cr == nil, !restricted && cr == nil && s.cfg.PublicNeedsAuth:
		s.challenge(w, "authentication required")
		return false
	case restricted && !cr.covers(path):
		s.metrics.authRefused.WithLabelValues("scope").Inc()
		w.fail(http.StatusNotFound, "not found: "+path)
		return false
	}
	return true
}

func (s *Server) challenge(w *recorder, msg string) {
	reason := "missing"
	if strings.HasPrefix(msg, "wrong") {
		reason = "wrong"
	}
	s.metrics.authRefused.WithLabelValues(reason).Inc()
	w.Header().Set("WWW-Authenticate", `Basic realm="gomodfetch", charset="UTF-8"`)
	w.fail(http.StatusUnauthorized, msg)
}

// onceASecond says when it is time to look at a file again: at most once
// a second, however many requests ask.
type onceASecond struct {
	mu   sync.Mutex
	last time.Time
}

func (o *onceASecond) due() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if time.Since(o.last) < time.Second {
		return false
	}
	o.last = time.Now()
	return true
}
