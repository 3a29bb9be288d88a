package policy

import (
	"archive/zip"
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/semver"
	"golang.org/x/sync/singleflight"

	"gomodfetch/internal/beneath"

	"gomodfetch/internal/termsafe"
)

// Bounds on what the vulnerability database may make a process read.
const (
	maxDBMetaBytes   = 64 << 10 // index/db.json
	maxIndexBytes    = 64 << 20 // index/modules.json (about 1 MiB in 2026)
	maxEntryBytes    = 4 << 20  // one ID/<id>.json
	defaultMaxCached = 4096     // parsed entries kept in memory
	entryTimeout     = time.Minute
)

// VulnOptions configures OpenVulnDB. The zero value is ready to use.
type VulnOptions struct {
	// Client fetches an https:// database (nil: a client whose requests
	// each end within two minutes).
	Client *http.Client
	// MaxEntries bounds the parsed entries kept in memory, least recently
	// used dropped first (0: 4096, about the whole Go database).
	MaxEntries int
}

// Nothing read from a database is kept on disk: a copy below a module
// cache (which CI restores from elsewhere) could not be checked, since
// the database's format signs nothing, and a planted one would switch a
// vulnerability gate off. A process reads the database from its source
// (index/db.json, index/modules.json, and only the entries of the modules
// it asks about) and keeps it in memory, refreshed by Refresh.

// VulnDB reads the Go vulnerability database in its published format
// (go.dev/security/vuln/database): index/db.json (when it last changed),
// index/modules.json (each module path with its entry IDs, their
// modification times and newest fixed version) and ID/<id>.json (one OSV
// entry). The source is an https:// URL (http:// only on a loopback
// address), a directory holding that tree, or a zip file of it (as
// vuln.go.dev/vulndb.zip is published).
//
// Refresh reads the index; entries are read when a version of a module
// they name is checked and is below the entry's newest fix, and are kept
// (bounded, least recently used dropped) until the index says they
// changed. A failed Refresh keeps the data already loaded. Before the
// first successful Refresh every check fails, so that a gate that cannot
// check does not pass.
type VulnDB struct {
	src        vulnSource
	maxEntries int
	flight     singleflight.Group

	mu      sync.Mutex
	state   *vulnState
	status  VulnStatus
	lru     *list.List // of *cachedEntry, most recent first
	entries map[string]*list.Element
}

type vulnState struct {
	modified time.Time
	modules  map[string][]indexVuln
}

type cachedEntry struct {
	id       string
	modified time.Time
	entry    *osvEntry
}

// VulnStatus is what a VulnDB holds, for logs and metrics.
type VulnStatus struct {
	Source string
	// Modified is the database's own last-modified time of the data in
	// use; Fetched when that data was last confirmed current.
	Modified time.Time
	Fetched  time.Time
	// Tried is the last Refresh, Err its error (nil after a success).
	Tried   time.Time
	Err     error
	Modules int // module paths in the index
	Cached  int // entries held in memory
}

type vulnSource interface {
	// reopen is called at each Refresh, before the index is read.
	reopen() error
	// read returns the file name (slash-separated, relative to the
	// database root), at most limit bytes; a missing file is fs.ErrNotExist.
	read(ctx context.Context, name string, limit int64) ([]byte, error)
	String() string
}

// OpenVulnDB prepares to read the vulnerability database at source; it
// reads nothing until Refresh.
func OpenVulnDB(source string, opts VulnOptions) (*VulnDB, error) {
	src, err := openSource(source, opts.Client)
	if err != nil {
		return nil, fmt.Errorf("vulnerability database %s: %w", source, err)
	}
	n := opts.MaxEntries
	if n <= 0 {
		n = defaultMaxCached
	}
	return &VulnDB{src: src, maxEntries: n, lru: list.New(), entries: map[string]*list.Element{},
		status: VulnStatus{Source: src.String()}}, nil
}

func openSource(source string, client *http.Client) (vulnSource, error) {
	if strings.Contains(source, "://") {
		u, err := url.Parse(source)
		if err != nil {
			return nil, err
		}
		switch u.Scheme {
		case "https":
		case "http":
			if !loopback(u.Hostname()) {
				return nil, errors.New("use https:// (http:// only for a loopback address)")
			}
		case "file":
			if u.Host != "" && u.Host != "localhost" {
				return nil, errors.New("file:// URL with a host")
			}
			return openSource(filepath.FromSlash(u.Path), client)
		default:
			return nil, fmt.Errorf("scheme %q: want https://, a directory or a .zip file", u.Scheme)
		}
		if client == nil {
			client = &http.Client{Timeout: 2 * time.Minute}
		}
		u.Path = strings.TrimSuffix(u.Path, "/")
		return &httpSource{base: u, client: client}, nil
	}
	st, err := os.Stat(source)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return &dirSource{dir: source}, nil
	}
	return &zipSource{file: source}, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Refresh reads the index again and, when the database changed, takes
// the new one; cached entries are read again when the index says they
// changed. On error the data already loaded stays in use, and Status
// reports the error.
func (db *VulnDB) Refresh(ctx context.Context) error {
	err := db.refresh(ctx)
	db.mu.Lock()
	defer db.mu.Unlock()
	db.status.Tried = time.Now()
	db.status.Err = err
	if err == nil {
		db.status.Fetched = db.status.Tried
	}
	return err
}

func (db *VulnDB) refresh(ctx context.Context) error {
	if err := db.src.reopen(); err != nil {
		return fmt.Errorf("vulnerability database %s: %w", db.src, err)
	}
	raw, err := db.src.read(ctx, "index/db.json", maxDBMetaBytes)
	if err != nil {
		return fmt.Errorf("vulnerability database %s: %w", db.src, err)
	}
	var meta struct {
		Modified time.Time `json:"modified"`
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		return fmt.Errorf("vulnerability database %s: index/db.json: %w", db.src, err)
	}
	db.mu.Lock()
	same := db.state != nil && db.state.modified.Equal(meta.Modified)
	db.mu.Unlock()
	if same {
		return nil
	}
	raw, err = db.src.read(ctx, "index/modules.json", maxIndexBytes)
	if err != nil {
		return fmt.Errorf("vulnerability database %s: %w", db.src, err)
	}
	var mods []indexModule
	if err := json.Unmarshal(raw, &mods); err != nil {
		return fmt.Errorf("vulnerability database %s: index/modules.json: %w", db.src, err)
	}
	st := &vulnState{modified: meta.Modified, modules: make(map[string][]indexVuln, len(mods))}
	for _, m := range mods {
		for _, v := range m.Vulns {
			if !idPattern.MatchString(v.ID) {
				return fmt.Errorf("vulnerability database %s: index/modules.json: %s: bad entry ID %q", db.src, termsafe.String(m.Path), termsafe.String(v.ID))
			}
		}
		st.modules[m.Path] = append(st.modules[m.Path], m.Vulns...)
	}
	db.mu.Lock()
	db.state = st
	db.status.Modified = meta.Modified
	db.status.Modules = len(st.modules)
	db.mu.Unlock()
	return nil
}

// Run refreshes the database at every tick until ctx ends, passing each
// Refresh's result to report (which may be nil). serve runs it with a
// time.Ticker's channel; the CLI calls Refresh once instead.
func (db *VulnDB) Run(ctx context.Context, tick <-chan time.Time, report func(error)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			err := db.Refresh(ctx)
			if report != nil {
				report(err)
			}
		}
	}
}

// Status reports what the database holds.
func (db *VulnDB) Status() VulnStatus {
	db.mu.Lock()
	defer db.mu.Unlock()
	s := db.status
	s.Cached = db.lru.Len()
	return s
}

// Affecting lists the entries that affect path at version (withdrawn
// entries left out), in the index's order.
func (db *VulnDB) Affecting(ctx context.Context, modPath, version string) ([]Vuln, error) {
	db.mu.Lock()
	st, lastErr := db.state, db.status.Err
	db.mu.Unlock()
	if st == nil {
		if lastErr == nil {
			lastErr = errors.New("not loaded")
		}
		return nil, lastErr
	}
	if !semver.IsValid(version) {
		return nil, fmt.Errorf("%s: not a semantic version", termsafe.String(version))
	}
	var out []Vuln
	for _, iv := range st.modules[modPath] {
		if fixed := osvVersion(iv.Fixed); fixed != "" && semver.Compare(version, fixed) >= 0 {
			continue // at or above the newest fix, and nothing reintroduced it
		}
		e, err := db.entry(ctx, iv)
		if err != nil {
			return nil, err
		}
		if e.Withdrawn != nil {
			continue
		}
		for _, a := range e.Affected {
			if a.Package.Name != modPath {
				continue
			}
			if ok, fixed := affects(a.Ranges, version); ok {
				out = append(out, Vuln{ID: e.ID, Aliases: safeIDs(e.Aliases), Summary: oneLine(e.Summary), Fixed: fixed})
				break
			}
		}
	}
	return out, nil
}

func safeIDs(ids []string) []string {
	var out []string
	for _, id := range ids {
		if idPattern.MatchString(id) {
			out = append(out, id)
		}
	}
	return out
}

// entry returns the entry iv names, from memory when the copy there is
// as recent as the index says, else read (once for concurrent callers).
func (db *VulnDB) entry(ctx context.Context, iv indexVuln) (*osvEntry, error) {
	db.mu.Lock()
	if el, ok := db.entries[iv.ID]; ok {
		c := el.Value.(*cachedEntry)
		if c.modified.Equal(iv.Modified) {
			db.lru.MoveToFront(el)
			db.mu.Unlock()
			return c.entry, nil
		}
	}
	db.mu.Unlock()
	v, err, _ := db.flight.Do(iv.ID+"@"+iv.Modified.String(), func() (any, error) {
		// Shared by every caller waiting for it: one caller going away
		// must not fail the others.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), entryTimeout)
		defer cancel()
		var raw []byte
		var err error
		raw, err = db.src.read(ctx, "ID/"+iv.ID+".json", maxEntryBytes)
		if err != nil {
			return nil, fmt.Errorf("vulnerability database %s: %w", db.src, err)
		}
		e := new(osvEntry)
		if err := json.Unmarshal(raw, e); err != nil {
			return nil, fmt.Errorf("vulnerability database %s: ID/%s.json: %w", db.src, iv.ID, err)
		}
		if e.ID != iv.ID {
			return nil, fmt.Errorf("vulnerability database %s: ID/%s.json holds entry %q", db.src, iv.ID, termsafe.String(e.ID))
		}
		db.remember(&cachedEntry{id: iv.ID, modified: iv.Modified, entry: e})
		return e, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*osvEntry), nil
}

func (db *VulnDB) remember(c *cachedEntry) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if el, ok := db.entries[c.id]; ok {
		el.Value = c
		db.lru.MoveToFront(el)
		return
	}
	db.entries[c.id] = db.lru.PushFront(c)
	for db.lru.Len() > db.maxEntries {
		old := db.lru.Back()
		db.lru.Remove(old)
		delete(db.entries, old.Value.(*cachedEntry).id)
	}
}

// httpSource reads the database over HTTP(S).
type httpSource struct {
	base   *url.URL
	client *http.Client
}

func (s *httpSource) String() string { return s.base.Redacted() }
func (s *httpSource) reopen() error  { return nil }

func (s *httpSource) read(ctx context.Context, name string, limit int64) ([]byte, error) {
	u := *s.base
	u.Path = s.base.Path + "/" + name
	req, err := http.NewRequestWithContext(ctx, "GET", u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("%s: %s", name, resp.Status)
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone {
			err = fmt.Errorf("%s: %w", name, fs.ErrNotExist)
		}
		return nil, err
	}
	return readLimited(resp.Body, name, limit)
}

func readLimited(r io.Reader, name string, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, limit)
	}
	return b, nil
}

// dirSource reads a directory holding the database's tree, never outside
// it (os.Root).
type dirSource struct {
	dir string
}

func (s *dirSource) String() string { return s.dir }
func (s *dirSource) reopen() error  { return nil }

func (s *dirSource) read(_ context.Context, name string, limit int64) ([]byte, error) {
	// Below the directory, without following a symlink, and only a
	// regular file (a FIFO would block the read for ever).
	f, err := beneath.New(s.dir).Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, name, limit)
}

// zipSource reads a zip of the database's tree, at its root or below one
// top-level directory. Refresh reopens it when the file changed, so a
// mirror job can replace it by rename.
type zipSource struct {
	file string

	mu     sync.RWMutex
	zr     *zip.ReadCloser
	prefix string
	stat   os.FileInfo
}

func (s *zipSource) String() string { return s.file }

func (s *zipSource) reopen() error {
	st, err := os.Stat(s.file)
	if err != nil {
		return err
	}
	s.mu.RLock()
	same := s.stat != nil && os.SameFile(st, s.stat) && st.ModTime().Equal(s.stat.ModTime()) && st.Size() == s.stat.Size()
	s.mu.RUnlock()
	if same {
		return nil
	}
	zr, err := zip.OpenReader(s.file)
	if err != nil {
		return err
	}
	prefix, ok := "", false
	for _, f := range zr.File {
		if dir, found := strings.CutSuffix(f.Name, "index/modules.json"); found && (dir == "" || strings.Count(dir, "/") == 1 && strings.HasSuffix(dir, "/")) {
			prefix, ok = dir, true
			break
		}
	}
	if !ok {
		zr.Close()
		return errors.New("no index/modules.json in the zip (at its root or below one directory)")
	}
	s.mu.Lock()
	old := s.zr
	s.zr, s.prefix, s.stat = zr, prefix, st
	s.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

func (s *zipSource) read(_ context.Context, name string, limit int64) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.zr == nil {
		return nil, errors.New("not opened")
	}
	f, err := s.zr.Open(path.Join(strings.TrimSuffix(s.prefix, "/"), name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, name, limit)
}

var _ Vulns = (*VulnDB)(nil)
