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
	"time"

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
	// HedgeDelay and HedgeSame are the proxy.Router's, for the proxies
	// that serve the database: when it is reached through a proxy
	// followed by '|', the next proxies of that run that serve it too are
	// asked as well after HedgeDelay without an answer (zero: 1s;
	// negative: only after a failed attempt); HedgeSame asks one alone a
	// second time.
	HedgeDelay time.Duration
	HedgeSame  bool
	// Fleet, if not nil, is the fleet cache: full tiles are read from it
	// before the database is asked, and written to it once proven.
	Fleet SumDBFleet
	// Skip reports paths never looked up (GONOSUMDB, GOPRIVATE); a lookup
	// of one matches fs.ErrNotExist. Nil means none.
	Skip func(path string) bool
	// Context ends every request the database makes, including those
	// still running for callers that stopped waiting (work shared between
	// callers runs on it, not on theirs); nil means context.Background().
	Context context.Context
	// OnRetry is called before each retry of a proof or a check of where
	// the database is (nil: a "# retry" line in the client's -x trace);
	// the requests' own retries are traced by the proxy.Router.
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
// and verified. Everything it reads from the database is proven before it
// is used or kept (sumdbproof.go). It is safe for concurrent use.
type SumDBClient struct {
	cfg         SumDBConfig
	direct      *url.URL
	cacheRoot   *beneath.Root // CacheDir
	verifiers   note.Verifiers
	verifierErr error

	baseMu sync.Mutex    // held while deciding where the database is reached
	router *proxy.Router // nil until decided: asks the proxies (or URL) that serve it

	// One lookup per module version, one request per tile and one for
	// the latest tree head at a time, shared by the callers asking.
	lookups, tileFlights, latestFlight singleflight.Group

	fetchedMu sync.Mutex
	fetched   map[string]*fetchedTile // tiles fetched for proofs still running, by path

	latestMu    sync.Mutex
	latestTree  signedTree // the latest tree head last read, checked
	refreshed   signedTree // the database's answer to the last refreshLatest
	refreshedAt time.Time

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
	c := &SumDBClient{cfg: cfg, cacheRoot: beneath.New(cfg.CacheDir), direct: &url.URL{Scheme: "https", Host: hostOf(cfg.Spec.Name), Path: pathOf(cfg.Spec.Name)}}
	v, err := note.NewVerifier(cfg.Spec.Key)
	if err != nil {
		c.verifierErr = fmt.Errorf("invalid GOSUMDB: %w", err)
	} else {
		c.verifiers = note.VerifierList(v)
	}
	return c
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

// Lookup implements SumDB. ctx ends the wait for the answer; the lookup
// itself goes on for the other callers waiting for it (one lookup per
// module version runs at a time), and lands in the cache.
//
// Each lookup has its own x/mod/sumdb client: its requests' errors are its
// own, and a failure is not kept in memory (x/mod keeps a failed record or
// tile for good, so a database that recovers would never be asked again).
// What was verified is shared through the disk cache.
func (c *SumDBClient) Lookup(ctx context.Context, path, version string) ([]string, error) {
	r, err := c.lookup(ctx, path, version)
	if err != nil {
		return nil, err
	}
	return r.lines, nil
}

// Record returns the database's answer to a lookup of path@version,
// proven: the record, followed by the latest tree head the client has
// checked that holds it (so that clients given records at different times
// all check them against one tree, whose tiles are kept).
func (c *SumDBClient) Record(ctx context.Context, path, version string) ([]byte, error) {
	r, err := c.lookup(ctx, path, version)
	if err != nil {
		return nil, err
	}
	if r.record == nil {
		return nil, fmt.Errorf("%s@%s: the checksum database's record was not kept", path, version)
	}
	return c.withTree(r.record), nil
}

// Prefetch starts the lookup of path@version in the background, unless
// the cache holds its record already, so that a Lookup soon after finds
// it done or under way: the caller can start it before it has what the
// lookup will check (a go.mod, a zip), and wait for both at once.
func (c *SumDBClient) Prefetch(ctx context.Context, path, version string) {
	if c.cfg.Skip != nil && c.cfg.Skip(path) {
		return
	}
	if file, err := c.lookupFile(path, version); err != nil || c.cacheRoot.Regular(file) == nil {
		return
	}
	go c.lookup(ctx, path, version)
}

// lookupFile is a lookup's file in the cache: <name>/lookup/<path>@<version>, escaped.
func (c *SumDBClient) lookupFile(path, version string) (string, error) {
	ep, err := module.EscapePath(path)
	if err != nil {
		return "", err
	}
	ev, err := module.EscapeVersion(version)
	if err != nil {
		return "", err
	}
	return c.Name() + "/lookup/" + ep + "@" + ev, nil
}

// lookupResult is what a lookup learned: the go.sum lines for the module
// version and its go.mod, and the answer they came from (see Record).
type lookupResult struct {
	lines  []string
	record []byte
}

// lookup runs the lookup of path@version, or joins the one running.
func (c *SumDBClient) lookup(ctx context.Context, path, version string) (*lookupResult, error) {
	if err := c.securityErr(); err != nil {
		return nil, err
	}
	if c.cfg.Skip != nil && c.cfg.Skip(path) {
		return nil, fmt.Errorf("%s: not looked up in the checksum database (GONOSUMDB, GOPRIVATE): %w", path, fs.ErrNotExist)
	}
	return share(c, &c.lookups, ctx, path+"@"+version, func(ctx context.Context) (*lookupResult, error) {
		return c.runLookup(ctx, path, version)
	})
}

// runLookup looks path@version up with an x/mod/sumdb client of its own.
// A record kept in the cache that does not prove out (a damaged copy) is
// asked of the database again, and replaced.
func (c *SumDBClient) runLookup(ctx context.Context, path, version string) (*lookupResult, error) {
	r, ops, err := c.runLookupOnce(ctx, path, version, false)
	if err != nil && ops.recordCached() && ops.lastRemote() == nil && c.securityErr() == nil && !errors.Is(err, sumdb.ErrSecurity) {
		r, ops, err = c.runLookupOnce(ctx, path, version, true)
	}
	if err == nil {
		return r, nil
	}
	if err := c.securityErr(); err != nil {
		return nil, err
	}
	if errors.Is(err, sumdb.ErrSecurity) {
		return nil, &SumDBSecurityError{Name: c.Name(), Msg: err.Error()}
	}
	// x/mod passes on only the text of a request's error; the typed one
	// says whether it is worth retrying.
	if remote := ops.lastRemote(); remote != nil {
		return nil, remote
	}
	return nil, err
}

func (c *SumDBClient) runLookupOnce(ctx context.Context, path, version string, uncached bool) (*lookupResult, *sumdbOps, error) {
	ops := &sumdbOps{c: c, ctx: ctx, uncached: uncached}
	ops.recordFile, _ = c.lookupFile(path, version)
	db := sumdb.NewClient(ops)
	// x/mod/sumdb answers for one go.sum line kind at a time; both come
	// from the same (cached) record.
	lines, err := db.Lookup(path, version)
	if err == nil {
		var mod []string
		mod, err = db.Lookup(path, version+"/go.mod")
		lines = append(lines, mod...)
	}
	if err != nil {
		return nil, ops, err
	}
	return &lookupResult{lines: lines, record: ops.verifiedRecord()}, ops, nil
}

func (c *SumDBClient) securityErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.security) == 0 {
		return nil
	}
	return &SumDBSecurityError{Name: c.Name(), Msg: strings.Join(c.security, "\n")}
}

// findBases decides where the database is reached, as the go command
// does: the URL given in GOSUMDB; else the first proxy whose
// /sumdb/<name>/supported answers 200 (a 404 or 410, or any error from a
// proxy followed by '|', moves on; any other error makes the database
// unavailable); else, at "direct", "off" or the end of the list, the
// database's own https://<name>. Requests then go there only, except that
// the proxies after the chosen one in its run of '|'-joined entries that
// serve the database too are asked as well when it fails or is slow, as
// for module files (never the database itself: go never falls back from
// a proxy to it).
func (c *SumDBClient) findBases(ctx context.Context) ([]proxy.Proxy, error) {
	if c.cfg.Spec.URL != nil {
		return []proxy.Proxy{{Kind: proxy.KindURL, URL: c.cfg.Spec.URL}}, nil
	}
	list := c.cfg.Proxies
	for i, p := range list {
		if p.Kind != proxy.KindURL {
			break
		}
		u := proxy.Join(p.URL, "sumdb/"+c.Name())
		err := c.supported(ctx, u, c.cfg.Policy)
		if err == nil {
			bases := []proxy.Proxy{{Kind: proxy.KindURL, URL: u}}
			for j := i; list[j].FallbackOnError && j+1 < len(list) && list[j+1].Kind == proxy.KindURL; j++ {
				v := proxy.Join(list[j+1].URL, "sumdb/"+c.Name())
				if c.supported(ctx, v, retry.Policy{MaxAttempts: -1}) == nil {
					bases[len(bases)-1].FallbackOnError = true
					bases = append(bases, proxy.Proxy{Kind: proxy.KindURL, URL: v})
				}
			}
			return bases, nil
		}
		if !errors.Is(err, fs.ErrNotExist) && !p.FallbackOnError {
			return nil, fmt.Errorf("checking whether proxy %s serves checksum database %s: %w", p, c.Name(), err)
		}
	}
	return []proxy.Proxy{{Kind: proxy.KindURL, URL: c.direct}}, nil
}

// supported asks base (a proxy's /sumdb/<name>) whether it serves the
// database.
func (c *SumDBClient) supported(ctx context.Context, base *url.URL, policy retry.Policy) error {
	return retry.Do(ctx, policy, func(ctx context.Context) error {
		_, err := c.cfg.Client.GetBytes(ctx, proxy.Join(base, "supported"), maxSumDBResponse)
		return err
	}, c.cfg.OnRetry)
}

// routerFor returns the router that asks the database where findBases
// says it is. The answer is kept for the client's life; a failure is not
// (the next request asks again).
func (c *SumDBClient) routerFor(ctx context.Context) (*proxy.Router, error) {
	c.baseMu.Lock()
	defer c.baseMu.Unlock()
	if c.router != nil {
		return c.router, nil
	}
	bases, err := c.findBases(ctx)
	if err != nil {
		return nil, err
	}
	c.router = &proxy.Router{Proxies: bases, Client: c.cfg.Client, Policy: c.cfg.Policy, HedgeDelay: c.cfg.HedgeDelay, HedgeSame: c.cfg.HedgeSame}
	return c.router, nil
}

// get fetches remotePath ("/lookup/...", "/tile/...", "/latest") from the
// database, with the retries and hedging module files get; check, if not
// nil, refuses an answer (with a transient error, so that it is asked
// again, of another proxy of the run if there is one). It returns the
// answer and the base that gave it.
func (c *SumDBClient) get(ctx context.Context, remotePath string, check func([]byte) error) ([]byte, proxy.Proxy, error) {
	r, err := c.routerFor(ctx)
	if err != nil {
		return nil, proxy.Proxy{}, err
	}
	return proxy.Ask(ctx, r, c.Name(), func(ctx context.Context, base *url.URL) ([]byte, error) {
		data, err := c.cfg.Client.GetBytes(ctx, joinURL(base, remotePath), maxSumDBResponse)
		if err == nil && check != nil {
			err = check(data)
		}
		return data, err
	}, nil)
}

// sumdbOps implements sumdb.ClientOps for one lookup of a SumDBClient.
type sumdbOps struct {
	c   *SumDBClient
	ctx context.Context // the lookup's: its requests run on it
	// recordFile is the cache file of the record the lookup is about;
	// uncached reads it from the database, not from the cache.
	recordFile string
	uncached   bool

	mu       sync.Mutex
	last     error      // this lookup's last request error, with its type
	tree     signedTree // the tree head the lookup's record came with
	record   []byte     // the lookup's answer, as x/mod's client read it
	fromDisk bool       // record came from the cache
}

func (o *sumdbOps) recordCached() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.fromDisk
}

func (o *sumdbOps) lastRemote() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last
}

func (o *sumdbOps) verifiedRecord() []byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.record
}

// ReadRemote gives x/mod's client proven answers only (sumdbproof.go): a
// record, with the tree head it was proven against, and tiles proven
// against the tree head of the record or the latest one the client has
// checked (the trees x/mod checks).
func (o *sumdbOps) ReadRemote(path string) ([]byte, error) {
	data, err := o.readRemote(path)
	if err != nil {
		// x/mod asks for a full tile when a partial one failed, and
		// reports the partial one's error: the full one, beyond every
		// tree head, is not asked for and is not this lookup's error.
		if !errors.Is(err, errNoTree) {
			o.mu.Lock()
			o.last = err
			o.mu.Unlock()
		}
		return nil, err
	}
	return data, nil
}

// errNoTree is a tile that no tree head the client has checked holds.
var errNoTree = errors.New("in no tree head the checksum database client has checked")

func (o *sumdbOps) readRemote(remotePath string) ([]byte, error) {
	c := o.c
	if strings.HasPrefix(remotePath, "/lookup/") {
		data, tree, err := c.fetchRecord(o.ctx, remotePath)
		if err != nil {
			return nil, err
		}
		o.mu.Lock()
		o.tree, o.record = tree, data
		o.mu.Unlock()
		return data, nil
	}
	t, err := tlog.ParseTilePath(strings.TrimPrefix(remotePath, "/"))
	if err != nil {
		return nil, err
	}
	latest, err := c.latest()
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	own := o.tree
	o.mu.Unlock()
	tree, ok := treeFor(t, own, latest)
	if !ok {
		return nil, fmt.Errorf("tile %s: %w", t.Path(), errNoTree)
	}
	return c.tileData(o.ctx, tree, t)
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
//
// A tile is never there: x/mod's client then asks ReadRemote for it, which
// proves it (reading the disk cache first), so that a damaged copy kept is
// noticed and replaced rather than failing every lookup.
func (o *sumdbOps) ReadCache(file string) ([]byte, error) {
	notThere := &fs.PathError{Op: "read", Path: o.c.cacheRoot.Join(file), Err: fs.ErrNotExist}
	if strings.HasPrefix(file, o.c.Name()+"/tile/") || (o.uncached && file == o.recordFile) {
		return nil, notThere
	}
	data, err := o.c.cacheRoot.ReadFileShared(file)
	// A file being created is briefly empty: that is "not there yet".
	if (err == nil && len(data) == 0) || errors.Is(err, beneath.ErrNotRegular) {
		return nil, notThere
	}
	if err == nil && file == o.recordFile {
		o.mu.Lock()
		o.record, o.fromDisk = data, true
		o.mu.Unlock()
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
//
// A tile is kept by the proof that read it already (tileReader.SaveTiles).
func (o *sumdbOps) WriteCache(file string, data []byte) {
	if !answersLookup(o.c.Name(), file, data) {
		return
	}
	if strings.HasPrefix(file, o.c.Name()+"/tile/") && o.c.cacheRoot.Regular(file) == nil {
		return
	}
	o.c.writeCacheFile(file, data)
}

// writeCacheFile writes a cache file (see WriteCache).
func (c *SumDBClient) writeCacheFile(file string, data []byte) {
	if c.cfg.CacheDir == "" {
		return
	}
	dir, base := path.Split(file)
	if err := os.MkdirAll(c.cfg.CacheDir, 0o777); err != nil {
		return // the cache is an optimisation; the next run fetches again
	}
	f, tmp, err := c.cacheRoot.CreateTemp(strings.TrimSuffix(dir, "/"), base+".", 0o666)
	if err != nil {
		return // the cache is an optimisation; the next run fetches again
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = c.cacheRoot.Rename(tmp, file)
	}
	if err != nil {
		c.cacheRoot.Remove(tmp)
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
