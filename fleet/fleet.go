// Package fleet is the fleet cache: one object-storage bucket shared by
// every runner and every serve replica, asked before the GOPROXY list.
//
// Objects are laid out as a GOPROXY serves them, <escaped path>/@v/<escaped
// version>.{info,mod,zip} under the bucket URL's optional prefix
// (modcache.RelPath), so the bucket is also a static GOPROXY for exact
// versions behind a CDN or a file:// mount. There is no @v/list: a list
// changes, and a shared list would need a lock.
//
// The bucket is not trusted. A Cache only moves bytes: its caller checks
// every answer exactly as it checks a proxy's, and writes back only what it
// fetched upstream and verified. Those writes are idempotent (one key, the
// same verified bytes from any writer), so replicas need no lock.
//
// The bucket never fails a run: a read that errs, stalls or is slow ends
// within ReadTimeout, is reported once through Warn, and sets the bucket
// aside for Cooldown (its reads then answer "not found" at once); a write
// runs in the background and its failure is only counted and reported.
//
// URLs are gocloud.dev/blob's: s3://bucket?region=…, gs://bucket,
// azblob://container, file:///dir, each with its cloud's usual credentials.
// file:// is read and written by the Cache itself, below the directory
// without following a symlink (internal/beneath), not by gocloud.dev's
// fileblob, which follows them.
// gs:// is served by fleet/gcs, not gocloud.dev/blob/gcsblob (whose
// client's package initialisation would cost every run ~10 ms).
package fleet

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
	"sync/atomic"
	"time"

	"gocloud.dev/blob"
	// s3://, gs://, azblob:// in drivers_*.go; file:// is the Cache's own
	// (openDir).
	"gocloud.dev/gcerrors"

	"gomodfetch/internal/beneath"
)

// Config is what a Cache needs. URL is required; the rest have usable zero
// values.
type Config struct {
	// URL is the bucket, as gocloud.dev/blob opens it.
	URL string
	// Private reports whether path is private (GOPRIVATE, GONOPROXY,
	// GONOSUMDB); nil means no path is. Private paths are neither read
	// from nor written to the bucket unless IncludePrivate is set.
	Private        func(path string) bool
	IncludePrivate bool
	// ReadTimeout bounds the wait for an object's first byte and any
	// stall while reading it (zero: 5s). A bucket is near; a slow one is
	// worse than none.
	ReadTimeout time.Duration
	// WriteTimeout bounds one object's write (zero: 2m).
	WriteTimeout time.Duration
	// Writers is how many writes run at a time (zero: 4); Queue is how many
	// more may wait, beyond which a write is dropped (zero: 256).
	Writers int
	Queue   int
	// Cooldown is how long the bucket is set aside after a failure
	// (zero: 30s).
	Cooldown time.Duration
	// Warn receives the first read failure and the first write failure
	// (the text includes what the bucket said: untrusted). Nil: silent.
	Warn func(msg string)
}

// Stats counts what a Cache did.
type Stats struct {
	Hits        int64 // objects read whole
	Misses      int64 // objects not in the bucket
	ReadErrors  int64 // reads that failed, stalled or timed out
	Skipped     int64 // reads and writes not tried: the bucket was set aside
	Damaged     int64 // objects read whole that failed verification
	Writes      int64 // objects written
	WriteErrors int64 // writes that failed
	Dropped     int64 // writes dropped: queue full, or still pending at Close
}

// Cache is an open fleet-cache bucket. It is safe for concurrent use.
type Cache struct {
	cfg Config
	b   *blob.Bucket // nil for a file:// bucket
	// dir is a file:// bucket's directory (with the URL's prefix):
	// objects are read and written there without following a symlink
	// below it, where gocloud.dev/blob's fileblob follows them (a
	// symlinked module directory had objects written outside the bucket).
	dir    *beneath.Root
	prefix string
	name   string // the URL, redacted, for messages
	queue  chan write
	wg     sync.WaitGroup // writers
	cancel context.CancelFunc
	wctx   context.Context // writes' context: cancelled by Close

	mu        sync.Mutex
	downUntil time.Time
	warnedR   bool
	warnedW   bool
	warnedD   bool
	closed    bool // no more writes are queued

	hits, misses, readErrs, skipped, damaged atomic.Int64
	writes, writeErrs, dropped               atomic.Int64
}

type write struct {
	key  string
	data []byte // the object, or
	file string // a file holding it
}

// Open opens the bucket at cfg.URL and starts its writers. Opening does
// not reach the bucket; a bucket that cannot be reached shows on first use.
func Open(ctx context.Context, cfg Config) (*Cache, error) {
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 5 * time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 2 * time.Minute
	}
	if cfg.Writers <= 0 {
		cfg.Writers = 4
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 256
	}
	if cfg.Cooldown <= 0 {
		cfg.Cooldown = 30 * time.Second
	}
	name := redact(cfg.URL)
	if tag, ok := leftOut[schemeOf(cfg.URL)]; ok {
		return nil, fmt.Errorf("opening fleet cache %s: this gomodfetch was built with -tags %s, without the %s:// driver; use a build without that tag", name, tag, schemeOf(cfg.URL))
	}
	wctx, cancel := context.WithCancel(context.Background())
	s := &Cache{cfg: cfg, name: name, queue: make(chan write, cfg.Queue), wctx: wctx, cancel: cancel}
	if schemeOf(cfg.URL) == "file" {
		if err := s.openDir(cfg.URL); err != nil {
			cancel()
			return nil, fmt.Errorf("opening fleet cache %s: %w", name, err)
		}
	} else {
		b, err := blob.OpenBucket(ctx, cfg.URL)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("opening fleet cache %s: %w", name, err)
		}
		s.b = b
	}
	for range cfg.Writers {
		s.wg.Add(1)
		go s.writer()
	}
	return s, nil
}

// redact drops a URL's user information and query values, which may hold
// credentials or endpoints nobody needs to see.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "bucket"
	}
	return u.Scheme + "://" + u.Host + u.Path
}

// String returns the bucket's URL without credentials or parameters.
func (s *Cache) String() string { return s.name }

// Holds reports whether path's files may be read from and written to the
// bucket.
func (s *Cache) Holds(path string) bool {
	return s.cfg.IncludePrivate || s.cfg.Private == nil || !s.cfg.Private(path)
}

// ErrSetAside is a read not tried because the bucket failed recently. It
// matches fs.ErrNotExist: to a caller the object is simply not there.
var ErrSetAside = fmt.Errorf("fleet cache set aside after a failure: %w", fs.ErrNotExist)

// errTooLarge is an object larger than the reader's limit.
var errTooLarge = errors.New("larger than the limit")

// Read copies the object at key into w, at most limit bytes. A missing
// object is an error matching fs.ErrNotExist. An object larger than limit
// is damaged: Read reports it (as Damaged does) and fails, after limit
// bytes were written. Any other failure is the bucket's: it is counted,
// warned about once, and sets the bucket aside. The whole read ends within
// ReadTimeout of the last byte received.
func (s *Cache) Read(ctx context.Context, key string, w io.Writer, limit int64) error {
	if s.setAside() {
		s.skipped.Add(1)
		return ErrSetAside
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stalled := fmt.Errorf("no byte for %v", s.cfg.ReadTimeout)
	watch := time.AfterFunc(s.cfg.ReadTimeout, func() { cancel(stalled) })
	defer watch.Stop()

	err := s.read(ctx, key, &progressWriter{w: w, watch: watch, d: s.cfg.ReadTimeout}, limit)
	switch {
	case err == nil:
		s.hits.Add(1)
		return nil
	case gcerrors.Code(err) == gcerrors.NotFound, s.dir != nil && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, beneath.ErrNotRegular)):
		// (A file:// object that is not a regular file is not there: it
		// is fetched upstream and written back in its place.)
		s.misses.Add(1)
		return fmt.Errorf("%s: %w", key, fs.ErrNotExist)
	case errors.Is(err, errTooLarge):
		s.Damaged(key, err)
		return err
	case isWriteErr(err):
		return err // the destination's failure
	case context.Cause(ctx) == stalled:
		err = stalled
	case ctx.Err() != nil:
		return ctx.Err() // the caller gave up: not the bucket's fault
	}
	s.readErrs.Add(1)
	s.fail(&s.warnedR, fmt.Sprintf("fleet cache %s: %v; using the GOPROXY list (the bucket is set aside for %v)", s.name, err, s.cfg.Cooldown))
	return fmt.Errorf("reading %s: %w", key, err)
}

func (s *Cache) read(ctx context.Context, key string, w io.Writer, limit int64) error {
	var r io.ReadCloser
	var err error
	if s.dir != nil {
		r, err = s.dir.Open(s.prefix + key)
	} else {
		r, err = s.b.NewReader(ctx, key, nil)
	}
	if err != nil {
		return err
	}
	defer r.Close()
	n, err := io.Copy(w, io.LimitReader(r, limit+1))
	if err != nil {
		return err
	}
	if n > limit {
		return fmt.Errorf("%s: %w (%d bytes)", key, errTooLarge, limit)
	}
	return nil
}

// writeErr marks a failure of the writer a Read copies into.
type writeErr struct{ err error }

func (e *writeErr) Error() string { return e.err.Error() }
func (e *writeErr) Unwrap() error { return e.err }

func isWriteErr(err error) bool {
	var we *writeErr
	return errors.As(err, &we)
}

// progressWriter re-arms the stall watchdog on every byte that arrives.
type progressWriter struct {
	w     io.Writer
	watch *time.Timer
	d     time.Duration
}

func (p *progressWriter) Write(b []byte) (int, error) {
	p.watch.Reset(p.d)
	n, err := p.w.Write(b)
	if err != nil {
		return n, &writeErr{err}
	}
	return n, nil
}

// Damaged records that the object at key was read whole but failed
// verification; the caller fetches it upstream and writes it back.
func (s *Cache) Damaged(key string, err error) {
	s.damaged.Add(1)
	s.mu.Lock()
	first := !s.warnedD
	s.warnedD = true
	s.mu.Unlock()
	if first && s.cfg.Warn != nil {
		s.cfg.Warn(fmt.Sprintf("fleet cache %s: %s did not verify (%v); fetching it upstream to replace it", s.name, key, err))
	}
}

// Put writes data at key in the background. It never blocks: with the
// queue full, or the bucket set aside, the write is dropped.
func (s *Cache) Put(key string, data []byte) { s.enqueue(write{key: key, data: data}) }

// PutFile writes the content of file (which must not change) at key in the
// background, like Put.
func (s *Cache) PutFile(key, file string) { s.enqueue(write{key: key, file: file}) }

func (s *Cache) enqueue(w write) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		s.dropped.Add(1)
		return
	case time.Now().Before(s.downUntil):
		s.skipped.Add(1)
		return
	}
	select {
	case s.queue <- w:
	default:
		s.dropped.Add(1)
	}
}

func (s *Cache) writer() {
	defer s.wg.Done()
	for w := range s.queue {
		if s.wctx.Err() != nil || s.setAside() {
			s.dropped.Add(1)
			continue
		}
		if err := s.put(w); err != nil {
			if s.wctx.Err() != nil {
				s.dropped.Add(1)
				continue
			}
			s.writeErrs.Add(1)
			s.fail(&s.warnedW, fmt.Sprintf("fleet cache %s: writing %s: %v (the bucket is set aside for %v)", s.name, w.key, err, s.cfg.Cooldown))
			continue
		}
		s.writes.Add(1)
	}
}

func (s *Cache) put(w write) error {
	ctx, cancel := context.WithTimeout(s.wctx, s.cfg.WriteTimeout)
	defer cancel()
	var r io.Reader = bytes.NewReader(w.data)
	if w.file != "" {
		f, err := os.Open(w.file)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	if s.dir != nil {
		return s.putFile(w.key, r)
	}
	return s.b.Upload(ctx, w.key, r, &blob.WriterOptions{ContentType: contentType(w.key)})
}

// openDir opens a file:// bucket: file:///dir, with fileblob's query
// parameters (create_dir makes the directory; the rest concern fileblob's
// own files and are of no use here) and blob's prefix.
func (s *Cache) openDir(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	q := u.Query()
	for k := range q {
		switch k {
		case "create_dir", "dir_file_mode", "metadata", "no_tmp_dir", "prefix":
		default:
			return fmt.Errorf("unknown query parameter %q", k)
		}
	}
	dir := filepath.FromSlash(u.Host + u.Path)
	if q.Get("create_dir") != "" {
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return err
		}
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	s.dir, s.prefix = beneath.New(dir), q.Get("prefix")
	return nil
}

// putFile writes an object of a file:// bucket: to a temp file below the
// bucket's directory (O_EXCL, never through a symlink or an existing name)
// renamed into place; a symlink on the way is refused.
func (s *Cache) putFile(key string, r io.Reader) error {
	dir, base := path.Split(s.prefix + key)
	f, tmp, err := s.dir.CreateTemp(strings.TrimSuffix(dir, "/"), base+".", 0o666)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = s.dir.Rename(tmp, s.prefix+key)
	}
	if err != nil {
		s.dir.Remove(tmp)
	}
	return err
}

// contentType is what a GOPROXY serves the file at key as.
func contentType(key string) string {
	if strings.Contains(key, "sumdb/") && strings.Contains(key, "/tile/") {
		return "application/octet-stream" // a checksum database tile
	}
	switch path.Ext(key) {
	case ".zip":
		return "application/zip"
	case ".info":
		return "application/json"
	}
	return "text/plain; charset=utf-8"
}

// setAside reports whether the bucket is set aside after a failure.
func (s *Cache) setAside() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Now().Before(s.downUntil)
}

// fail sets the bucket aside and reports msg if *warned says it is the
// first of its kind.
func (s *Cache) fail(warned *bool, msg string) {
	s.mu.Lock()
	s.downUntil = time.Now().Add(s.cfg.Cooldown)
	first := !*warned
	*warned = true
	s.mu.Unlock()
	if first && s.cfg.Warn != nil {
		s.cfg.Warn(msg)
	}
}

// Close waits for the pending writes until ctx is done, drops those still
// pending then (counted in Stats.Dropped), and closes the bucket. It
// returns how many writes were dropped at Close.
func (s *Cache) Close(ctx context.Context) int64 {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0
	}
	s.closed = true
	close(s.queue)
	s.mu.Unlock()
	before := s.dropped.Load()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.cancel() // cuts writes under way; the writers drain the queue
		<-done
	}
	s.cancel()
	if s.b != nil {
		s.b.Close()
	}
	return s.dropped.Load() - before
}

// Stats returns the counters so far.
func (s *Cache) Stats() Stats {
	return Stats{
		Hits:        s.hits.Load(),
		Misses:      s.misses.Load(),
		ReadErrors:  s.readErrs.Load(),
		Skipped:     s.skipped.Load(),
		Damaged:     s.damaged.Load(),
		Writes:      s.writes.Load(),
		WriteErrors: s.writeErrs.Load(),
		Dropped:     s.dropped.Load(),
	}
}

// leftOut names the bucket schemes whose drivers a build tag left out
// (drivers_*.go), with the tag: each cloud SDK costs every run its package
// initialisation and memory, linked or not used.
var leftOut = map[string]string{}

func schemeOf(rawURL string) string {
	scheme, _, _ := strings.Cut(rawURL, "://")
	return scheme
}
