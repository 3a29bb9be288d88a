package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/rogpeppe/go-internal/lockedfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	"golang.org/x/sync/singleflight"

	"gomodfetch/internal/beneath"
	"gomodfetch/internal/errline"
	"gomodfetch/proxy"
	"gomodfetch/retry"
)

// knownSumDBKeys are the verifier keys the go command knows by name.
var knownSumDBKeys = map[string]string{
	"sum.golang.org": "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8",
}

// maxSumDBResponse bounds a lookup or tile response.
const maxSumDBResponse = 10 << 20

// SumDBSpec is a parsed GOSUMDB value.
type SumDBSpec struct {
	// Name is the database's name (host[/path]), from its key.
	Name string
	// Key is the verifier key (note.NewVerifier syntax).
	Key string
	// URL is the explicit URL given after the key, or nil: the database is
	// then reached through the proxies, else at https://<Name>.
	URL *url.URL
}

// ParseGOSUMDB parses a GOSUMDB value as the go command does: "off", a
// known database name ("sum.golang.org", "sum.golang.google.cn"), a
// verifier key "name+hash+key", each optionally followed by a URL. It
// returns nil, nil for "off". An empty value means "sum.golang.org".
func ParseGOSUMDB(value string) (*SumDBSpec, error) {
	value = strings.TrimSpace(value)
	switch value {
	case "":
		value = "sum.golang.org"
	case "off":
		return nil, nil
	case "sum.golang.google.cn":
		// An alias for sum.golang.org, reachable inside mainland China.
		value = "sum.golang.org https://sum.golang.google.cn"
	}
	f := strings.Fields(value)
	if len(f) > 2 {
		return nil, errors.New("invalid GOSUMDB: too many fields")
	}
	if k := knownSumDBKeys[f[0]]; k != "" {
		f[0] = k
	}
	v, err := note.NewVerifier(f[0])
	if err != nil {
		return nil, fmt.Errorf("invalid GOSUMDB: %w", err)
	}
	spec := &SumDBSpec{Name: v.Name(), Key: f[0]}
	direct, err := url.Parse("https://" + spec.Name)
	if err != nil || direct.Host == "" || strings.HasSuffix(spec.Name, "/") ||
		direct.RawPath != "" || direct.User != nil || direct.RawQuery != "" || direct.Fragment != "" ||
		direct.String() != "https://"+spec.Name {
		return nil, fmt.Errorf("invalid sumdb name (must be host[/path]): %s", spec.Name)
	}
	if len(f) == 2 {
		u, err := url.Parse(f[1])
		if err != nil {
			return nil, fmt.Errorf("invalid GOSUMDB URL: %w", err)
		}
		spec.URL = u
	}
	return spec, nil
}

// SumDBConfig is what a checksum database client needs.
type SumDBConfig struct {
	Spec *SumDBSpec
	// Proxies is the GOPROXY list, through which the database is reached
	// unless Spec.URL is set.
	Proxies []proxy.Proxy
	// Client issues the requests (timeouts, -x trace, credentials).
	Client *proxy.Client
	// Policy governs retries of each request.
	Policy retry.Policy
	// CacheDir is $GOMODCACHE/cache/download/sumdb: lookups and tiles.
	CacheDir string
	// ConfigDir is $GOPATH/pkg/sumdb: the latest signed tree head.
	ConfigDir string
	// Context bounds every request the database makes (x/mod/sumdb's
	// client has no per-call context); nil means context.Background().
	Context context.Context
	// OnRetry is called before each retry (nil: a "# retry" line in the
	// client's -x trace).
	OnRetry func(retry.Attempt)
}

// SumDBSecurityError is the checksum database misbehaving: a signed tree
// that is not consistent with an earlier one, or a record that is not in
// the tree. It is never retried and stops every later lookup.
type SumDBSecurityError struct {
	Name string
	Msg  string
}

func (e *SumDBSecurityError) Error() string {
	return fmt.Sprintf("checksum database %s: SECURITY ERROR\n%s", e.Name, strings.TrimSpace(e.Msg))
}

func (e *SumDBSecurityError) Unwrap() error           { return sumdb.ErrSecurity }
func (e *SumDBSecurityError) RetryClass() retry.Class { return retry.Permanent }

// SumDBClient is a SumDB backed by golang.org/x/mod/sumdb that shares the go
// command's cache layout, so either program can use what the other fetched
// and verified. It is safe for concurrent use.
type SumDBClient struct {
	cfg       SumDBConfig
	direct    *url.URL
	cacheRoot *beneath.Root // CacheDir

	baseMu sync.Mutex // held while deciding where the database is reached
	base   *url.URL   // nil until decided

	// remote runs one request per remote path at a time; concurrent
	// lookups needing the same tile share it.
	remote singleflight.Group

	mu       sync.Mutex
	security []string
}

// NewSumDB returns a client for the database cfg.Spec names.
func NewSumDB(cfg SumDBConfig) *SumDBClient {
	if cfg.Context == nil {
		cfg.Context = context.Background()
	}
	if cfg.OnRetry == nil {
		cfg.OnRetry = func(a retry.Attempt) {
			cfg.Client.Tracef("# retry checksum database %s in %.3fs (attempt %d failed: %s)\n", cfg.Spec.Name, a.Wait.Seconds(), a.N, errline.First(a.Err))
		}
	}
	return &SumDBClient{cfg: cfg, cacheRoot: beneath.New(cfg.CacheDir), direct: &url.URL{Scheme: "https", Host: hostOf(cfg.Spec.Name), Path: pathOf(cfg.Spec.Name)}}
}

func hostOf(name string) string { h, _, _ := strings.Cut(name, "/"); return h }

func pathOf(name string) string {
	if _, p, ok := strings.Cut(name, "/"); ok {
		return "/" + p
	}
	return ""
}

// Name implements SumDB.
func (c *SumDBClient) Name() string { return c.cfg.Spec.Name }

// Lookup implements SumDB. ctx ends the wait for the answer; the requests
// themselves run under the client's context.
//
// Each lookup has its own x/mod/sumdb client: its requests' errors are its
// own, and a failure is not kept in memory (x/mod keeps a failed record or
// tile for good, so a database that recovers would never be asked again).
// What was verified is shared through the disk cache.
func (c *SumDBClient) Lookup(ctx context.Context, path, version string) ([]string, error) {
	if err := c.securityErr(); err != nil {
		return nil, err
	}
	type result struct {
		lines []string
		err   error
	}
	done := make(chan result, 1)
	ops := &sumdbOps{c: c}
	db := sumdb.NewClient(ops)
	go func() {
		// x/mod/sumdb answers for one go.sum line kind at a time; both come
		// from the same (cached) record.
		lines, err := db.Lookup(path, version)
		if err == nil {
			var mod []string
			mod, err = db.Lookup(path, version+"/go.mod")
			lines = append(lines, mod...)
		}
		done <- result{lines, err}
	}()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case r := <-done:
		if r.err == nil {
			return r.lines, nil
		}
		if err := c.securityErr(); err != nil {
			return nil, err
		}
		if errors.Is(r.err, sumdb.ErrSecurity) {
			return nil, &SumDBSecurityError{Name: c.Name(), Msg: r.err.Error()}
		}
		// x/mod passes on only the text of a request's error; the typed
		// one says whether it is worth retrying.
		if remote := ops.lastRemote(); remote != nil {
			return nil, remote
		}
		return nil, r.err
	}
}

func (c *SumDBClient) securityErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.security) == 0 {
		return nil
	}
	return &SumDBSecurityError{Name: c.Name(), Msg: strings.Join(c.security, "\n")}
}

// findBase decides where the database is reached, as the go command does:
// the URL given in GOSUMDB; else the first proxy whose
// /sumdb/<name>/supported answers 200 (a 404 or 410, or any error from a
// proxy followed by '|', moves on; any other error makes the database
// unavailable); else, at "direct", "off" or the end of the list, the
// database's own https://<name>.
//
// The answer is kept for the run; a failure is not (the next lookup asks
// again).
func (c *SumDBClient) findBase() (*url.URL, error) {
	c.baseMu.Lock()
	defer c.baseMu.Unlock()
	if c.base != nil {
		return c.base, nil
	}
	if c.cfg.Spec.URL != nil {
		c.base = c.cfg.Spec.URL
		return c.base, nil
	}
	for _, p := range c.cfg.Proxies {
		if p.Kind != proxy.KindURL {
			break
		}
		u := proxy.Join(p.URL, "sumdb/"+c.Name())
		err := retry.Do(c.cfg.Context, c.cfg.Policy, func(ctx context.Context) error {
			_, err := c.cfg.Client.GetBytes(ctx, proxy.Join(u, "supported"), maxSumDBResponse)
			return err
		}, c.cfg.OnRetry)
		if err == nil {
			c.base = u
			return c.base, nil
		}
		if !errors.Is(err, fs.ErrNotExist) && !p.FallbackOnError {
			return nil, fmt.Errorf("checking whether proxy %s serves checksum database %s: %w", p, c.Name(), err)
		}
	}
	c.base = c.direct
	return c.base, nil
}

// sumdbOps implements sumdb.ClientOps for one lookup of a SumDBClient.
type sumdbOps struct {
	c *SumDBClient

	mu   sync.Mutex
	last error // this lookup's last request error, with its type
}

func (o *sumdbOps) lastRemote() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last
}

func (o *sumdbOps) ReadRemote(path string) ([]byte, error) {
	v, err, shared := o.c.remote.Do(path, func() (any, error) { return o.c.readRemote(path) })
	if err != nil {
		o.mu.Lock()
		o.last = err
		o.mu.Unlock()
		return nil, err
	}
	data := v.([]byte)
	if shared {
		data = bytes.Clone(data)
	}
	return data, nil
}

// Remote fetches path ("/lookup/...", "/tile/...", "/latest") from the
// database, where the go command would reach it, with retries, sharing the
// request with lookups in flight. The bytes are not verified: a client
// that proxies them to a go command leaves the verifying to it.
func (c *SumDBClient) Remote(path string) ([]byte, error) {
	v, err, shared := c.remote.Do(path, func() (any, error) { return c.readRemote(path) })
	if err != nil {
		return nil, err
	}
	data := v.([]byte)
	if shared {
		data = bytes.Clone(data)
	}
	return data, nil
}

// joinURL appends path to base as the go command joins a checksum
// database URL, so its errors print the URL as go's do: a lookup of
// github.com/!burnt!sushi shows the "!" unescaped when base has no path of
// its own (RawPath is used only while it still spells Path).
func joinURL(base *url.URL, path string) *url.URL {
	u := *base
	rel := "/" + strings.TrimPrefix(path, "/")
	u.Path = strings.TrimSuffix(base.Path, "/") + rel
	u.RawPath = strings.TrimSuffix(base.RawPath, "/") + rel
	return &u
}

// readRemote fetches path from the database, with retries.
func (c *SumDBClient) readRemote(path string) ([]byte, error) {
	base, err := c.findBase()
	if err != nil {
		return nil, err
	}
	u := joinURL(base, path)
	var data []byte
	err = retry.Do(c.cfg.Context, c.cfg.Policy, func(ctx context.Context) error {
		d, err := c.cfg.Client.GetBytes(ctx, u, maxSumDBResponse)
		data = d
		return err
	}, c.cfg.OnRetry)
	if err != nil {
		return nil, err
	}
	return data, nil
}

func (o *sumdbOps) ReadConfig(file string) ([]byte, error) {
	if file == "key" {
		return []byte(o.c.cfg.Spec.Key), nil
	}
	if o.c.cfg.ConfigDir == "" {
		return nil, errors.New("cannot locate the checksum database's latest tree head: GOPATH is not known")
	}
	data, err := lockedfile.Read(filepath.Join(o.c.cfg.ConfigDir, filepath.FromSlash(file)))
	if errors.Is(err, fs.ErrNotExist) {
		return []byte{}, nil // first contact: start from an empty tree
	}
	return data, err
}

func (o *sumdbOps) WriteConfig(file string, old, new []byte) (err error) {
	if file == "key" {
		return errors.New("the checksum database key is not writable")
	}
	if o.c.cfg.ConfigDir == "" {
		return errors.New("cannot locate the checksum database's latest tree head: GOPATH is not known")
	}
	target := filepath.Join(o.c.cfg.ConfigDir, filepath.FromSlash(file))
	if err := os.MkdirAll(filepath.Dir(target), 0o777); err != nil {
		return err
	}
	f, err := lockedfile.Edit(target)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	data, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	if len(data) > 0 && !bytes.Equal(data, old) {
		return sumdb.ErrWriteConflict
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err = f.Write(new)
	return err
}

// ReadCache reads a lookup or tile the database's client cached, below
// CacheDir without following a symlink, under a shared lock (the go
// command writes them in place under an exclusive one). A file that is
// not a regular file is "not there": it is fetched again and replaced.
func (o *sumdbOps) ReadCache(file string) ([]byte, error) {
	data, err := o.c.cacheRoot.ReadFileShared(file)
	// A file being created is briefly empty: that is "not there yet".
	if (err == nil && len(data) == 0) || errors.Is(err, beneath.ErrNotRegular) {
		return nil, &fs.PathError{Op: "read", Path: o.c.cacheRoot.Join(file), Err: fs.ErrNotExist}
	}
	return data, err
}

// WriteCache keeps a lookup or tile the client verified, except a lookup
// whose record has no line for the module version it was asked about: that
// answer proves nothing about it (Verifier.checkDB refuses it), and a kept
// copy would make every later lookup of the version fail, go's included,
// until the cache is cleaned. It is written to a temp file below CacheDir
// and renamed into place, so it is never written through a symlink, and
// never seen partly written.
func (o *sumdbOps) WriteCache(file string, data []byte) {
	if !answersLookup(o.c.Name(), file, data) {
		return
	}
	dir, base := path.Split(file)
	if err := os.MkdirAll(o.c.cfg.CacheDir, 0o777); err != nil {
		return // the cache is an optimisation; the next run fetches again
	}
	f, tmp, err := o.c.cacheRoot.CreateTemp(strings.TrimSuffix(dir, "/"), base+".", 0o666)
	if err != nil {
		return // the cache is an optimisation; the next run fetches again
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = o.c.cacheRoot.Rename(tmp, file)
	}
	if err != nil {
		o.c.cacheRoot.Remove(tmp)
	}
}

// answersLookup reports whether data, the database's answer to file (a
// cache file name: "<db>/lookup/<path>@<version>", escaped), is a record
// with a line for that path and version; a file that is not a lookup is
// let through.
func answersLookup(db, file string, data []byte) bool {
	mod, ok := strings.CutPrefix(file, db+"/lookup/")
	if !ok {
		return true
	}
	i := strings.LastIndex(mod, "@")
	if i < 0 {
		return false
	}
	path, err1 := module.UnescapePath(mod[:i])
	vers, err2 := module.UnescapeVersion(mod[i+1:])
	_, text, _, err3 := tlog.ParseRecord(data)
	if err1 != nil || err2 != nil || err3 != nil {
		return false
	}
	for line := range strings.SplitSeq(string(text), "\n") {
		if strings.HasPrefix(line, path+" "+vers+" ") || strings.HasPrefix(line, path+" "+vers+"/go.mod ") {
			return true
		}
	}
	return false
}

func (o *sumdbOps) Log(msg string) {}

func (o *sumdbOps) SecurityError(msg string) {
	o.c.mu.Lock()
	defer o.c.mu.Unlock()
	o.c.security = append(o.c.security, msg)
}
