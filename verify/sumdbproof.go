package verify

// Proofs against the checksum database's log.
//
// The database is a Merkle tree (a transparency log) cut into tiles: a
// tile holds up to 256 hashes of one level of the tree, its hashes combine
// into one hash of the tile above it, and the tiles at the right edge
// combine into the tree's hash, which the database signs (a tree head). A
// tile is proven when the tiles above it, up to a signed hash, agree with
// it (tlog.TileHashReader); a record is proven when a proven tile holds its
// hash. The client proves what it uses before it uses it, here rather than
// inside x/mod/sumdb's client: an answer that does not prove out (a tile
// of the wrong size, bytes damaged on the way, a record the tree does not
// hold) is asked again, under the retry policy and of the next proxy of a
// '|' run, as a damaged module file is; x/mod's client, which remembers a
// failed tile for as long as it lives, only ever gets proven bytes (and
// checks them again). What serve passes on to its own clients is proven
// the same way.
//
// Tiles never change: a proven tile is kept in the go command's cache
// layout (CacheDir/<name>/tile/...) and never asked for again, a narrower
// tile of an older tree head is cut from a wider one kept, and tiles and
// lookups (records in a signed tree head) are shared with the fleet cache
// (SumDBConfig.Fleet), which every replica reads before the database and
// whose answers are proven like the database's: a replica with an empty
// cache needs no more of the database than its latest tree head.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	"golang.org/x/sync/singleflight"

	"gomodfetch/proxy"
	"gomodfetch/retry"
)

// tileHeight is the height of the database's tiles: sum.golang.org's, and
// the only one the go command reads.
const tileHeight = 8

// SumDBFleet is the fleet cache as the checksum database's client uses it:
// tiles and lookups are read from it before the database is asked, and
// written to it once proven (fleet.Cache is one). Its answers are proven
// like the database's.
type SumDBFleet interface {
	// Read copies the object at key into w, at most limit bytes; a missing
	// object matches fs.ErrNotExist.
	Read(ctx context.Context, key string, w io.Writer, limit int64) error
	// Put writes data at key in the background.
	Put(key string, data []byte)
}

// badAnswerError is an answer of the database (or of a proxy in front of
// it) that is not what was asked: a tile of the wrong size, a lookup that
// is not a signed record, tiles or a record that their tree does not
// prove. Another attempt may be answered right: it is transient.
type badAnswerError struct {
	what string
	err  error
}

func (e *badAnswerError) Error() string {
	return fmt.Sprintf("checksum database: bad %s: %v", e.what, e.err)
}
func (e *badAnswerError) Unwrap() error           { return e.err }
func (e *badAnswerError) RetryClass() retry.Class { return retry.Transient }

// settled is an error whose retries are spent already: an operation that
// wraps the one that failed with it does not retry it again (unsettle
// gives back the error itself, with its own class, to the caller).
type settled struct{ err error }

func (e settled) Error() string           { return e.err.Error() }
func (e settled) Unwrap() error           { return e.err }
func (e settled) RetryClass() retry.Class { return retry.Permanent }

func unsettle(err error) error {
	var s settled
	if errors.As(err, &s) {
		return s.err
	}
	return err
}

// signedTree is a tree head whose signature was checked: the tree, and the
// signed note it came in.
type signedTree struct {
	tlog.Tree
	msg []byte
}

// openTree checks a signed tree head against the database's key.
func (c *SumDBClient) openTree(msg []byte) (signedTree, error) {
	if c.verifierErr != nil {
		return signedTree{}, c.verifierErr
	}
	n, err := note.Open(msg, c.verifiers)
	if err != nil {
		return signedTree{}, fmt.Errorf("verifying tree note: %w", err)
	}
	t, err := tlog.ParseTree([]byte(n.Text))
	if err != nil {
		return signedTree{}, fmt.Errorf("reading tree note: %w", err)
	}
	return signedTree{Tree: t, msg: msg}, nil
}

// latest returns the latest tree head the client (or a go command sharing
// its GOPATH) has checked, or the empty tree before the first.
func (c *SumDBClient) latest() (signedTree, error) {
	msg, err := (&sumdbOps{c: c}).ReadConfig(c.Name() + "/latest")
	if err != nil {
		return signedTree{}, err
	}
	if len(msg) == 0 {
		return signedTree{}, nil
	}
	c.latestMu.Lock()
	defer c.latestMu.Unlock()
	if bytes.Equal(msg, c.latestTree.msg) {
		return c.latestTree, nil
	}
	t, err := c.openTree(msg)
	if err != nil {
		return signedTree{}, fmt.Errorf("the latest checksum database tree head: %w", err)
	}
	c.latestTree = t
	return t, nil
}

// refreshLatest asks the database for its latest tree head, checks it
// against the latest one the client has seen (one must contain the other,
// else the database is lying: a security error) and keeps the newer; it
// returns the tree head the database answered. It asks at most once every
// refreshEvery: until then the last answer is given again, so that
// requests for tiles beyond the tree cost the database little.
func (c *SumDBClient) refreshLatest(ctx context.Context) (signedTree, error) {
	c.latestMu.Lock()
	last, at := c.refreshed, c.refreshedAt
	c.latestMu.Unlock()
	if last.N > 0 && time.Since(at) < refreshEvery {
		return last, nil
	}
	return share(c, &c.latestFlight, ctx, "latest", func(ctx context.Context) (signedTree, error) {
		check := func(data []byte) error {
			if _, err := c.openTree(data); err != nil {
				return &badAnswerError{what: "latest tree head", err: err}
			}
			return nil
		}
		data, _, err := c.get(ctx, "/latest", check)
		if err != nil {
			return signedTree{}, err
		}
		got, err := c.openTree(data)
		if err != nil {
			return signedTree{}, err
		}
		if err := c.mergeLatest(ctx, got); err != nil {
			return signedTree{}, err
		}
		c.latestMu.Lock()
		c.refreshed, c.refreshedAt = got, time.Now()
		c.latestMu.Unlock()
		return got, nil
	})
}

// refreshEvery is how often refreshLatest may ask the database.
const refreshEvery = time.Second

// mergeLatest checks that t and the latest tree head the client has seen
// are one log at two sizes, and keeps the larger as the latest (written
// as x/mod's client writes it: compare and swap).
func (c *SumDBClient) mergeLatest(ctx context.Context, t signedTree) error {
	ops := &sumdbOps{c: c, ctx: ctx}
	for {
		cur, err := c.latest()
		if err != nil {
			return err
		}
		older, newer := t, cur
		if t.N > cur.N {
			older, newer = cur, t
		}
		if older.N > 0 {
			h, err := tlog.TreeHash(older.N, c.hashReader(ctx, newer))
			if err != nil {
				return err
			}
			if h != older.Hash {
				msg := fmt.Sprintf("SECURITY ERROR\ngo.sum database server misbehavior detected!\n\nold database:\n\t%s\nnew database:\n\t%s\n",
					bytes.ReplaceAll(older.msg, []byte("\n"), []byte("\n\t")), bytes.ReplaceAll(newer.msg, []byte("\n"), []byte("\n\t")))
				ops.SecurityError(msg)
				return &SumDBSecurityError{Name: c.Name(), Msg: msg}
			}
		}
		if t.N <= cur.N {
			return nil
		}
		err = ops.WriteConfig(c.Name()+"/latest", cur.msg, t.msg)
		if !errors.Is(err, sumdb.ErrWriteConflict) {
			return err
		}
	}
}

// hashReader reads hashes of tree, proven (see readHashes).
func (c *SumDBClient) hashReader(ctx context.Context, tree signedTree) tlog.HashReader {
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		return c.readHashes(ctx, tree, indexes)
	})
}

// readHashes returns the hashes of tree at the storage indexes, proven
// against its signed hash. Tiles are read from the disk cache, from
// another proof still running, from the fleet cache or from the database.
// When they do not prove out, they are read again under the retry policy:
// first those that did not come from the disk cache, from the database
// (an answer damaged on its way, a damaged copy in the fleet cache), then
// all of them (a damaged copy on disk); what proves out replaces the
// copies kept.
func (c *SumDBClient) readHashes(ctx context.Context, tree signedTree, indexes []int64) ([]tlog.Hash, error) {
	var hashes []tlog.Hash
	distrust := trustAll
	err := retry.Do(ctx, c.cfg.Policy, func(ctx context.Context) error {
		r := &tileReader{c: c, ctx: ctx, distrust: distrust, sources: map[tlog.Tile]tileSource{}}
		defer r.done()
		h, err := tlog.TileHashReader(tree.Tree, r).ReadHashes(indexes)
		if err == nil {
			hashes = h
			return nil
		}
		if rerr := r.failure(); rerr != nil {
			return settled{rerr} // retried where it was asked
		}
		distrust = min(distrust+1, trustNone)
		return &badAnswerError{what: fmt.Sprintf("tiles for tree %d", tree.N), err: err}
	}, c.cfg.OnRetry)
	return hashes, unsettle(err)
}

// What a tileReader may read tiles from besides the database.
const (
	trustAll  = iota // the disk cache, proofs running, the fleet cache
	trustDisk        // the disk cache
	trustNone        // nothing
)

// tileData returns the data of tile t, proven against tree, which must
// hold it (widthIn(t, tree.N) >= t.W): t's hashes, from whichever of
// tree's tiles holds them.
func (c *SumDBClient) tileData(ctx context.Context, tree signedTree, t tlog.Tile) ([]byte, error) {
	start := t.N << uint(t.H)
	indexes := make([]int64, t.W)
	for i := range indexes {
		indexes[i] = tlog.StoredHashIndex(t.H*t.L, start+int64(i))
	}
	hashes, err := c.readHashes(ctx, tree, indexes)
	if err != nil {
		return nil, err
	}
	data := make([]byte, 0, t.W*tlog.HashSize)
	for _, h := range hashes {
		data = append(data, h[:]...)
	}
	return data, nil
}

// widthIn returns how many of the hashes of tile t's span a tree of size
// n holds, at most the span's 2^H: t is one of that tree's tiles if it is
// t.W, and the tree holds t's hashes if it is at least t.W.
func widthIn(t tlog.Tile, n int64) int {
	if t.H != tileHeight || t.L < 0 || t.L*t.H >= 63 || t.N > math.MaxInt64>>uint(t.H) {
		return 0
	}
	w := n>>uint(t.L*t.H) - t.N<<uint(t.H)
	switch {
	case w <= 0:
		return 0
	case w > 1<<uint(t.H):
		return 1 << uint(t.H)
	}
	return int(w)
}

// treeFor picks, among trees, one that t is a tile of, else one that
// holds t's hashes.
func treeFor(t tlog.Tile, trees ...signedTree) (signedTree, bool) {
	var holds *signedTree
	for i, s := range trees {
		switch w := widthIn(t, s.N); {
		case w == t.W:
			return s, true
		case w > t.W && holds == nil:
			holds = &trees[i]
		}
	}
	if holds == nil {
		return signedTree{}, false
	}
	return *holds, true
}

// proveRecord checks that the record (id, text) is the one tree holds at
// id; a record that is not is a bad answer.
func (c *SumDBClient) proveRecord(ctx context.Context, tree signedTree, id int64, text []byte) error {
	hashes, err := c.readHashes(ctx, tree, []int64{tlog.StoredHashIndex(0, id)})
	if err != nil {
		return err
	}
	if hashes[0] != tlog.RecordHash(text) {
		return &badAnswerError{what: "lookup", err: fmt.Errorf("record %d is not the one tree %d holds", id, tree.N)}
	}
	return nil
}

// fetchRecord asks the database for remotePath (/lookup/<path>@<version>)
// and proves the record it answers against the newer of its own tree head
// and the latest one the client has checked (the tree x/mod's client will
// check it against, once it has checked that the two are one log). It
// returns the answer and its own tree head.
func (c *SumDBClient) fetchRecord(ctx context.Context, remotePath string) ([]byte, signedTree, error) {
	if data, own, ok := c.fleetRecord(ctx, remotePath); ok {
		return data, own, nil
	}
	var (
		out   []byte
		own   signedTree
		avoid *proxy.Proxy
	)
	err := retry.Do(ctx, c.cfg.Policy, func(ctx context.Context) error {
		if avoid != nil {
			ctx = proxy.Avoiding(ctx, *avoid)
		}
		data, from, err := c.get(ctx, remotePath, func(data []byte) error {
			_, _, _, err := c.openRecord(data)
			return err
		})
		if err != nil {
			return settled{err}
		}
		id, text, rec, _ := c.openRecord(data)
		own = rec
		tree := own
		if latest, err := c.latest(); err == nil && latest.N > own.N {
			tree = latest
		}
		if err := c.proveRecord(ctx, tree, id, text); err != nil {
			var bad *badAnswerError
			if errors.As(err, &bad) && bad.what == "lookup" {
				avoid = &from
				return err // this answer was wrong: ask again
			}
			return settled{err}
		}
		out = data
		return nil
	}, c.cfg.OnRetry)
	if err == nil && c.cfg.Fleet != nil {
		c.cfg.Fleet.Put(c.fleetRecordKey(remotePath), bytes.Clone(out))
	}
	return out, own, unsettle(err)
}

// fleetRecordKey is a lookup's key in the fleet cache: where a GOPROXY
// serves it.
func (c *SumDBClient) fleetRecordKey(remotePath string) string {
	return "sumdb/" + c.Name() + remotePath
}

// fleetRecord reads the answer to remotePath (/lookup/<path>@<version>)
// from the fleet cache and proves it as fetchRecord proves the
// database's: a record of this module version, in a tree head the
// database signed, that the tree holds (its tiles proven in turn). An
// answer that is not is not used: the database is asked, and its answer
// replaces it.
func (c *SumDBClient) fleetRecord(ctx context.Context, remotePath string) ([]byte, signedTree, bool) {
	if c.cfg.Fleet == nil {
		return nil, signedTree{}, false
	}
	var buf bytes.Buffer
	if err := c.cfg.Fleet.Read(ctx, c.fleetRecordKey(remotePath), &buf, maxSumDBResponse); err != nil {
		return nil, signedTree{}, false
	}
	data := buf.Bytes()
	id, text, own, err := c.openRecord(data)
	if err != nil || !recordOf(text, remotePath) {
		return nil, signedTree{}, false
	}
	// Proven against the database's latest tree head (one request a
	// second at most, shared): every replica then proves against the same
	// tree, whose tiles the bucket holds once one replica proved against
	// it, rather than against whichever tree head the bucket's copy came
	// with, whose right-edge tiles may be nowhere but the database.
	tree := own
	if latest, err := c.refreshLatest(ctx); err == nil && latest.N > tree.N {
		tree = latest
	} else if latest, err := c.latest(); err == nil && latest.N > tree.N {
		tree = latest
	}
	if err := c.proveRecord(ctx, tree, id, text); err != nil {
		return nil, signedTree{}, false
	}
	if tree.N != own.N {
		// The record with the tree head that proved it (as withTree).
		head := data[:len(data)-len(own.msg)]
		data = append(append(make([]byte, 0, len(head)+len(tree.msg)), head...), tree.msg...)
		own = tree
	}
	return data, own, true
}

// recordOf reports whether the record text holds both go.sum lines of the
// module version remotePath (/lookup/<path>@<version>, escaped) looks up.
func recordOf(text []byte, remotePath string) bool {
	escPath, escVers, ok := strings.Cut(strings.TrimPrefix(remotePath, "/lookup/"), "@")
	path, err1 := module.UnescapePath(escPath)
	vers, err2 := module.UnescapeVersion(escVers)
	if !ok || err1 != nil || err2 != nil {
		return false
	}
	var zip, mod bool
	for _, line := range strings.Split(string(text), "\n") {
		zip = zip || strings.HasPrefix(line, path+" "+vers+" ")
		mod = mod || strings.HasPrefix(line, path+" "+vers+"/go.mod ")
	}
	return zip && mod
}

// openRecord parses a lookup's answer and checks its tree head's
// signature; an answer that is not a record in a signed tree is a bad
// answer.
func (c *SumDBClient) openRecord(data []byte) (id int64, text []byte, own signedTree, err error) {
	id, text, msg, err := tlog.ParseRecord(data)
	if err != nil {
		return 0, nil, signedTree{}, &badAnswerError{what: "lookup", err: err}
	}
	if own, err = c.openTree(msg); err != nil {
		return 0, nil, signedTree{}, &badAnswerError{what: "lookup", err: err}
	}
	if id < 0 || id >= own.N {
		return 0, nil, signedTree{}, &badAnswerError{what: "lookup", err: fmt.Errorf("record %d is not in its tree of size %d", id, own.N)}
	}
	return id, text, own, nil
}

// withTree returns the lookup answer rec (a record and a tree head, both
// checked) with its tree head replaced by the latest one the client has
// checked, if that holds the record: every answer then names the same
// tree, whose tiles are kept, and a client checks fewer trees.
func (c *SumDBClient) withTree(rec []byte) []byte {
	id, _, msg, err := tlog.ParseRecord(rec)
	if err != nil {
		return rec
	}
	latest, err := c.latest()
	if err != nil || latest.N <= id || bytes.Equal(latest.msg, msg) {
		return rec
	}
	head := rec[:len(rec)-len(msg)]
	return append(append(make([]byte, 0, len(head)+len(latest.msg)), head...), latest.msg...)
}

// Tile returns the data of the tile at file (tile/8/<L>/<N>[.p/<W>], as
// tlog.Tile.Path spells it), proven against the latest tree head the
// client has checked, or the database's latest if that is older than the
// tile. A tile of data (tile/8/data/...), of another height, or beyond the
// database's tree matches fs.ErrNotExist.
func (c *SumDBClient) Tile(ctx context.Context, file string) ([]byte, error) {
	t, err := tlog.ParseTilePath(file)
	if err != nil {
		return nil, err
	}
	if t.L < 0 || t.H != tileHeight {
		return nil, fmt.Errorf("%s: only hash tiles of height %d are served: %w", file, tileHeight, fs.ErrNotExist)
	}
	if err := c.securityErr(); err != nil {
		return nil, err
	}
	tree, err := c.latest()
	if err != nil {
		return nil, err
	}
	if widthIn(t, tree.N) < t.W {
		if tree, err = c.refreshLatest(ctx); err != nil {
			return nil, err
		}
		if widthIn(t, tree.N) < t.W {
			return nil, fmt.Errorf("%s: beyond the checksum database's tree of size %d: %w", file, tree.N, fs.ErrNotExist)
		}
	}
	return c.tileData(ctx, tree, t)
}

// Latest returns the database's latest signed tree head, checked against
// the latest one the client had seen (see refreshLatest).
func (c *SumDBClient) Latest(ctx context.Context) ([]byte, error) {
	if err := c.securityErr(); err != nil {
		return nil, err
	}
	t, err := c.refreshLatest(ctx)
	if err != nil {
		return nil, err
	}
	return t.msg, nil
}

// tileSource is where a tileReader found a tile.
type tileSource int

const (
	fromDisk tileSource = iota
	fromProof
	fromFleet
	fromDB
)

// tileReader is the tlog.TileReader of one proof (readHashes): it reads
// the tiles a proof asks for and keeps those the proof accepted.
type tileReader struct {
	c   *SumDBClient
	ctx context.Context
	// distrust says what the reader may read besides the database (a
	// proof with copies failed).
	distrust int

	mu      sync.Mutex
	err     error                    // the first read that failed
	sources map[tlog.Tile]tileSource // where each tile came from
	held    []string                 // c.fetched entries this proof holds
}

func (r *tileReader) Height() int { return tileHeight }

func (r *tileReader) failure() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

func (r *tileReader) note(t tlog.Tile, src tileSource, held string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sources[t] = src
	if held != "" {
		r.held = append(r.held, held)
	}
}

// ReadTiles implements tlog.TileReader: the tiles are read in parallel.
func (r *tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	data := make([][]byte, len(tiles))
	errs := make([]error, len(tiles))
	var wg sync.WaitGroup
	for i, t := range tiles {
		wg.Go(func() { data[i], errs[i] = r.read(t) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			r.mu.Lock()
			if r.err == nil {
				r.err = err
			}
			r.mu.Unlock()
			return nil, err
		}
	}
	return data, nil
}

// read reads tile t: from the disk cache, from a proof still running that
// fetched it, from the fleet cache, else from the database,
// as far as r.distrust allows.
func (r *tileReader) read(t tlog.Tile) ([]byte, error) {
	c := r.c
	if r.distrust <= trustDisk {
		if data, ok := c.cachedTile(t); ok {
			r.note(t, fromDisk, "")
			return data, nil
		}
	}
	if r.distrust == trustAll {
		if data, ok := c.holdFetched(t.Path()); ok {
			r.note(t, fromProof, t.Path())
			return data, nil
		}
		if data, ok := c.fleetTile(r.ctx, t); ok {
			r.note(t, fromFleet, "")
			return data, nil
		}
	}
	data, err := c.fetchTile(r.ctx, t)
	if err != nil {
		return nil, err
	}
	c.keepFetched(t.Path(), data)
	r.note(t, fromDB, t.Path())
	return data, nil
}

// SaveTiles implements tlog.TileReader: the tiles of a proof that held
// are kept on disk (unless they came from there) and, those fetched from
// the database, in the fleet cache (a partial tile too: tile/8/L/N.p/W
// never changes either, and a replica proving against the same tree head
// needs it).
func (r *tileReader) SaveTiles(tiles []tlog.Tile, data [][]byte) {
	c := r.c
	for i, t := range tiles {
		r.mu.Lock()
		src := r.sources[t]
		r.mu.Unlock()
		if src == fromDisk {
			continue
		}
		file := c.Name() + "/" + t.Path()
		if r.distrust == trustNone || c.cacheRoot.Regular(file) != nil {
			c.writeCacheFile(file, data[i])
		}
		if src == fromDB && c.cfg.Fleet != nil {
			c.cfg.Fleet.Put(c.fleetKey(t), bytes.Clone(data[i]))
		}
	}
}

// done lets go of the fetched tiles the proof held.
func (r *tileReader) done() {
	r.mu.Lock()
	held := r.held
	r.held = nil
	r.mu.Unlock()
	for _, key := range held {
		r.c.releaseFetched(key)
	}
}

// fetchedTile is a tile fetched from the database for proofs that have not
// ended: another proof that needs it meanwhile reads it from there (it is
// not on disk until a proof accepts it), and proves it itself.
type fetchedTile struct {
	data []byte
	refs int
}

// keepFetched holds data as the tile at key for one more proof.
func (c *SumDBClient) keepFetched(key string, data []byte) {
	c.fetchedMu.Lock()
	defer c.fetchedMu.Unlock()
	if c.fetched == nil {
		c.fetched = map[string]*fetchedTile{}
	}
	f := c.fetched[key]
	if f == nil {
		f = &fetchedTile{data: data}
		c.fetched[key] = f
	}
	f.refs++
}

// holdFetched returns the tile at key if a proof holds it, held for one
// more.
func (c *SumDBClient) holdFetched(key string) ([]byte, bool) {
	c.fetchedMu.Lock()
	defer c.fetchedMu.Unlock()
	f := c.fetched[key]
	if f == nil {
		return nil, false
	}
	f.refs++
	return f.data, true
}

func (c *SumDBClient) releaseFetched(key string) {
	c.fetchedMu.Lock()
	defer c.fetchedMu.Unlock()
	if f := c.fetched[key]; f != nil {
		if f.refs--; f.refs <= 0 {
			delete(c.fetched, key)
		}
	}
}

// fetchTile asks the database for tile t, once for all the proofs that
// need it at the same time. A partial tile the database no longer serves
// (the tile is full now) is cut from the full one.
func (c *SumDBClient) fetchTile(ctx context.Context, t tlog.Tile) ([]byte, error) {
	return share(c, &c.tileFlights, ctx, t.Path(), func(ctx context.Context) ([]byte, error) {
		data, _, err := c.get(ctx, "/"+t.Path(), tileSize(t))
		full := t
		full.W = 1 << uint(t.H)
		if err != nil && t != full && errors.Is(err, fs.ErrNotExist) {
			if d, _, ferr := c.get(ctx, "/"+full.Path(), tileSize(full)); ferr == nil {
				return d[:t.W*tlog.HashSize], nil
			}
		}
		return data, err
	})
}

// tileSize refuses an answer for t that is not t.W hashes long.
func tileSize(t tlog.Tile) func([]byte) error {
	return func(data []byte) error {
		if want := t.W * tlog.HashSize; len(data) != want {
			return &badAnswerError{what: "tile " + t.Path(), err: fmt.Errorf("%d bytes, want %d", len(data), want)}
		}
		return nil
	}
}

// cachedTile reads tile t from the disk cache: the tile itself, or the
// start of the full tile, or of a wider partial one (of a later tree
// head), which were kept only once proven. A file of the wrong size is
// not there.
func (c *SumDBClient) cachedTile(t tlog.Tile) ([]byte, bool) {
	if c.cfg.CacheDir == "" {
		return nil, false
	}
	want := t.W * tlog.HashSize
	read := func(u tlog.Tile) ([]byte, bool) {
		data, err := c.cacheRoot.ReadFileShared(c.Name() + "/" + u.Path())
		if err != nil || len(data) != u.W*tlog.HashSize {
			return nil, false
		}
		return data[:want], true
	}
	if data, ok := read(t); ok {
		return data, true
	}
	full := t
	full.W = 1 << uint(t.H)
	if t == full {
		return nil, false
	}
	if data, ok := read(full); ok {
		return data, true
	}
	// tile/H/L/.../NNN.p/W: the widths kept are the names in NNN.p.
	entries, err := c.cacheRoot.ReadDir(c.Name() + "/" + path.Dir(t.Path()))
	if err != nil {
		return nil, false
	}
	best := 0
	for _, e := range entries {
		w, err := strconv.Atoi(e.Name())
		if err == nil && w > t.W && w < full.W && (best == 0 || w < best) {
			best = w
		}
	}
	if best == 0 {
		return nil, false
	}
	wider := t
	wider.W = best
	return read(wider)
}

// fleetKey is a tile's key in the fleet cache: where a GOPROXY serves it.
func (c *SumDBClient) fleetKey(t tlog.Tile) string {
	return "sumdb/" + c.Name() + "/" + t.Path()
}

// fleetTile reads a tile from the fleet cache (proven by its caller).
func (c *SumDBClient) fleetTile(ctx context.Context, t tlog.Tile) ([]byte, bool) {
	if c.cfg.Fleet == nil || t.W < 1 || t.W > 1<<uint(t.H) {
		return nil, false
	}
	var buf bytes.Buffer
	want := t.W * tlog.HashSize
	if err := c.cfg.Fleet.Read(ctx, c.fleetKey(t), &buf, int64(want)); err != nil || buf.Len() != want {
		return nil, false
	}
	return buf.Bytes(), true
}

// share runs fn once for key among the callers asking at the same time,
// on a context that carries ctx's values but ends only with the client's
// (SumDBConfig.Context): a caller that gives up stops waiting, and stops
// nothing the others wait for. The result is shared: callers must not
// change it.
func share[T any](c *SumDBClient, g *singleflight.Group, ctx context.Context, key string, fn func(ctx context.Context) (T, error)) (T, error) {
	var zero T
	ch := g.DoChan(key, func() (any, error) {
		dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		defer cancel()
		stop := context.AfterFunc(c.cfg.Context, cancel)
		defer stop()
		return fn(dctx)
	})
	select {
	case <-ctx.Done():
		return zero, ctx.Err()
	case res := <-ch:
		if res.Err != nil {
			return zero, res.Err
		}
		return res.Val.(T), nil
	}
}
