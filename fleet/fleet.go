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
	// Writes go in two lanes, so that small objects (.info, .mod,
	// checksum database tiles and lookups: Put) never wait behind zips
	// (PutFile, read back from their file when written). Writers is how
	// many writes of each lane run at a time (zero: 4); Queue is how many
	// more may wait in each lane (zero: 8192). The bytes waiting Puts
	// hold are bounded by QueueBytes (zero: 64 MiB). A write beyond these
	// bounds is dropped, counted and warned about.
	Writers    int
	Queue      int
	QueueBytes int64
	// ReadOnly: never write. A bucket that refuses a write (403
	// AccessDenied, or permission denied for file://) is read-only from
	// then on too, with one warning.
	ReadOnly bool
	// Cooldown is how long the bucket is set aside after a failure
	// (zero: 30s).
	Cooldown time.Duration
	// Warn receives the first read failure, the first write failure, the
	// first dropped write and the switch to read-only (the text includes
	// what the bucket said: untrusted). Nil: silent.
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
	Denied      int64 // reads refused (403 AccessDenied), counted as misses too
	ReadOnly    bool  // no writes: set so, or a write was refused
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
	name   string         // the URL, redacted, for messages
	small  chan write     // Put: bytes in memory
	large  chan write     // PutFile: a file's name
	wg     sync.WaitGroup // writers
	cancel context.CancelFunc
	wctx   context.Context // writes' context: cancelled by Close

	mu        sync.Mutex
	downUntil time.Time
	warnedR   bool
	warnedW   bool
	warnedD   bool
	warnedQ   bool
	closed    bool  // no more writes are queued
	queued    int64 // bytes held by the small lane

	readOnly                                 atomic.Bool
	progress                                 atomic.Int64 // UnixNano of the last byte written
	hits, misses, readErrs, skipped, damaged atomic.Int64
	writes, writeErrs, dropped, denied       atomic.Int64
}

type write struct {
	key  string
	data []byte // the object, or
	file string // a file holding it
}

// Open opens the bucket at cfg.URL and starts its writers. Opening does
// not reach the bucket; a bucket that cannot be reached shows on first use.
// A URL that CheckURL refuses is an error.
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
		cfg.Queue = 8192
	}
	if cfg.QueueBytes <= 0 {
		cfg.QueueBytes = 64 << 20
	}
	if cfg.Cooldown <= 0 {
		cfg.Cooldown = 30 * time.Second
	}
	name := redact(cfg.URL)
	if err := CheckURL(cfg.URL); err != nil {
		return nil, fmt.Errorf("opening fleet cache: %w", err)
	}
	wctx, cancel := context.WithCancel(context.Background())
	s := &Cache{cfg: cfg, name: name, small: make(chan write, cfg.Queue), large: make(chan write, cfg.Queue), wctx: wctx, cancel: cancel}
	s.readOnly.Store(cfg.ReadOnly)
	var err error
	switch schemeOf(cfg.URL) {
	case "file":
		err = s.openDir(cfg.URL)
	case "s3":
		s.b, err = openS3(ctx, cfg.URL)
	default:
		s.b, err = blob.OpenBucket(ctx, cfg.URL)
	}
	if err != nil {
		cancel()
		return nil, fmt.Errorf("opening fleet cache %s: %w", name, err)
	}
	for range cfg.Writers {
		s.wg.Add(2)
		go s.writer(s.small)
		go s.writer(s.large)
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
	if u.Scheme == "" {
		return u.Path
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
// ReadTimeout of the last byte received, or of falling under minReadRate.
func (s *Cache) Read(ctx context.Context, key string, w io.Writer, limit int64) error {
	if s.setAside() {
		s.skipped.Add(1)
		return ErrSetAside
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stalled := fmt.Errorf("no byte for %v (or under %d KiB/s)", s.cfg.ReadTimeout, minReadRate>>10)
	watch := time.AfterFunc(s.cfg.ReadTimeout, func() { cancel(stalled) })
	defer watch.Stop()

	err := s.read(ctx, key, &progressWriter{w: w, watch: watch, d: s.cfg.ReadTimeout, start: time.Now()}, limit)
	switch {
	case err == nil:
		s.hits.Add(1)
		return nil
	case gcerrors.Code(err) == gcerrors.NotFound, s.dir != nil && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, beneath.ErrNotRegular)):
		// (A file:// object that is not a regular file is not there: it
		// is fetched upstream and written back in its place.)
		s.misses.Add(1)
		return fmt.Errorf("%s: %w", key, fs.ErrNotExist)
	case accessDenied(err) || s.dir != nil && errors.Is(err, fs.ErrPermission):
		// AWS answers 403 AccessDenied, not 404, for a key that does not
		// exist when the credential may not list the bucket
		// (s3:ListBucket): "If you don't have the s3:ListBucket
		// permission, Amazon S3 returns an HTTP status code 403" (GetObject,
		// Permissions). The key is missing, as far as this credential
		// can tell; the bucket is not set aside. A credential refused
		// everything shows in the counts (Denied, and no Hits). Other
		// 403s (a bad signature, an unknown key id, an expired token)
		// are faults of the configuration, below.
		s.misses.Add(1)
		s.denied.Add(1)
		return fmt.Errorf("%s: refused, counted as missing: %w", key, fs.ErrNotExist)
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

// progressWriter re-arms the stall watchdog on every byte that arrives,
// as long as the bytes come at minReadRate or more on average once the
// first ReadTimeout has passed: a bucket that trickles a few bytes now and
// then is a stalled one.
type progressWriter struct {
	w     io.Writer
	watch *time.Timer
	d     time.Duration
	start time.Time
	n     int64
}

// minReadRate is the slowest a bucket may send an object, on average.
const minReadRate = 64 << 10 // bytes per second

func (p *progressWriter) Write(b []byte) (int, error) {
	p.n += int64(len(b))
	if el := time.Since(p.start); el < p.d || float64(p.n) >= minReadRate*el.Seconds() {
		p.watch.Reset(p.d)
	}
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

// Put writes data at key in the background. It never blocks: with its
// lane full, or the bucket set aside, the write is dropped (and warned
// about), and a read-only bucket writes nothing.
func (s *Cache) Put(key string, data []byte) { s.enqueue(write{key: key, data: data}) }

// PutFile writes the content of file (which must not change) at key in the
// background, like Put: only its name waits in memory, and the write reads
// the file.
func (s *Cache) PutFile(key, file string) { s.enqueue(write{key: key, file: file}) }

func (s *Cache) enqueue(w write) {
	if s.readOnly.Load() {
		return
	}
	if msg := s.enqueueLocked(w); msg != "" && s.cfg.Warn != nil {
		s.cfg.Warn(msg)
	}
}

// enqueueLocked queues w, or drops it; it returns the warning to give
// about the first write dropped.
func (s *Cache) enqueueLocked(w write) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		s.dropped.Add(1)
		return ""
	case time.Now().Before(s.downUntil):
		s.skipped.Add(1)
		return ""
	}
	lane, size := s.large, int64(0)
	if w.file == "" {
		lane, size = s.small, int64(len(w.data))
		if s.queued+size > s.cfg.QueueBytes {
			return s.dropLocked(w.key, "the bytes waiting to be written reached the bound")
		}
	}
	select {
	case lane <- w:
		s.queued += size
		return ""
	default:
		return s.dropLocked(w.key, "its queue is full")
	}
}

// dropLocked counts a dropped write and returns the warning to give if it
// is the first.
func (s *Cache) dropLocked(key, why string) string {
	s.dropped.Add(1)
	if s.warnedQ {
		return ""
	}
	s.warnedQ = true
	return fmt.Sprintf("fleet cache %s: write-back of %s dropped: %s (the next runner fetches what was dropped upstream again)", s.name, key, why)
}

func (s *Cache) writer(lane chan write) {
	defer s.wg.Done()
	for w := range lane {
		s.write(w)
		if w.file == "" {
			s.mu.Lock()
			s.queued -= int64(len(w.data))
			s.mu.Unlock()
		}
	}
}

func (s *Cache) write(w write) {
	switch {
	case s.readOnly.Load():
		return
	case s.wctx.Err() != nil || s.setAside():
		s.dropped.Add(1)
		return
	}
	err := s.put(w)
	switch {
	case err == nil:
		s.writes.Add(1)
	case s.wctx.Err() != nil:
		s.dropped.Add(1)
	case accessDenied(err) || s.dir != nil && errors.Is(err, fs.ErrPermission):
		// A credential that may read but not write (fork and pull
		// request runners): read-only from now on, reads go on.
		if !s.readOnly.Swap(true) && s.cfg.Warn != nil {
			s.cfg.Warn(fmt.Sprintf("fleet cache %s: writing %s was refused (%v); reading only from now on (say so with -cache-read-only)", s.name, w.key, err))
		}
	default:
		s.writeErrs.Add(1)
		s.fail(&s.warnedW, fmt.Sprintf("fleet cache %s: writing %s: %v (the bucket is set aside for %v)", s.name, w.key, err, s.cfg.Cooldown))
	}
}

func (s *Cache) put(w write) error {
	ctx, cancel := context.WithTimeout(s.wctx, s.cfg.WriteTimeout)
	defer cancel()
	var r io.Reader = bytes.NewReader(w.data)
	if w.file != "" {
		// The module cache is a disk others may write: a zip replaced by
		// a symlink (to a credentials file, say) must not be uploaded.
		// The file is opened without following a symlink, and must be
		// regular.
		f, err := beneath.New(filepath.Dir(w.file)).Open(filepath.Base(w.file))
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	r = &progressReader{r: r, at: &s.progress}
	if s.dir != nil {
		return s.putFile(w.key, r)
	}
	return s.b.Upload(ctx, w.key, r, &blob.WriterOptions{ContentType: contentType(w.key)})
}

// progressReader notes when an upload last took bytes.
type progressReader struct {
	r  io.Reader
	at *atomic.Int64
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 || err == io.EOF {
		p.at.Store(time.Now().UnixNano())
	}
	return n, err
}

// accessDenied reports whether err is a bucket's 403 AccessDenied (S3's
// code for a credential without the permission, and for a missing key
// without s3:ListBucket), as opposed to a credential the bucket does not
// accept at all (SignatureDoesNotMatch, InvalidAccessKeyId, ...).
func accessDenied(err error) bool {
	var coded interface{ ErrorCode() string }
	return errors.As(err, &coded) && coded.ErrorCode() == "AccessDenied"
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

// Close waits for the pending writes while they make progress: it gives
// up when ctx is done or when no write has taken a byte for idle (zero:
// no such bound), drops the writes still pending then (counted in
// Stats.Dropped), and closes the bucket. It returns how many writes were
// dropped at Close.
func (s *Cache) Close(ctx context.Context, idle time.Duration) int64 {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0
	}
	s.closed = true
	close(s.small)
	close(s.large)
	s.mu.Unlock()
	before := s.dropped.Load()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	s.progress.Store(time.Now().UnixNano())
	var tick <-chan time.Time
	if idle > 0 {
		t := time.NewTicker(min(idle/4+time.Millisecond, time.Second))
		defer t.Stop()
		tick = t.C
	}
wait:
	for {
		select {
		case <-done:
			break wait
		case <-ctx.Done():
			break wait
		case <-tick:
			if time.Since(time.Unix(0, s.progress.Load())) >= idle {
				break wait
			}
		}
	}
	s.cancel() // cuts writes under way; the writers drain the queues
	<-done
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
		Denied:      s.denied.Load(),
		ReadOnly:    s.readOnly.Load(),
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
