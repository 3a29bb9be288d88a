package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// Bounds of a database's disk cache (VulnOptions.CacheDir): entries
// beyond either are removed, least recently used first, at each Refresh.
const (
	maxCachedEntryFiles = 8192
	maxCachedEntryBytes = 256 << 20
)

// diskCache keeps what an https:// database served in a directory, so
// that a run that finds the database unchanged reads index/db.json alone
// from the network: index/modules.json is taken from the cache when the
// cached index/db.json is byte for byte the one just read, and an entry
// when the cached copy is at least as recent as the index says it is.
// index/db.json itself is always read from the network (it is what says
// whether anything changed), so a run never decides on a database older
// than the one published.
//
// Files are written by rename, so a reader (another run sharing the
// cache) never sees one half written.
type diskCache struct {
	src *httpSource
	dir string

	mu    sync.Mutex
	fresh []byte // the index/db.json just read from the network
}

func (c *diskCache) String() string { return c.src.String() }

// reopen trims the cached entries to their bounds.
func (c *diskCache) reopen() error {
	c.prune()
	return nil
}

func (c *diskCache) read(ctx context.Context, name string, limit int64) ([]byte, error) {
	switch name {
	case "index/db.json":
		b, err := c.src.read(ctx, name, limit)
		if err == nil {
			c.mu.Lock()
			c.fresh = b
			c.mu.Unlock()
		}
		return b, err
	case "index/modules.json":
		c.mu.Lock()
		fresh := c.fresh
		c.mu.Unlock()
		if fresh != nil {
			if old, err := c.load("index/db.json", maxDBMetaBytes); err == nil && bytes.Equal(old, fresh) {
				if b, err := c.load(name, limit); err == nil {
					return b, nil
				}
			}
		}
		b, err := c.src.read(ctx, name, limit)
		if err != nil {
			return nil, err
		}
		// db.json last, and only once the index it describes is in
		// place: a cache cut short between the two is read again.
		os.Remove(c.file("index/db.json"))
		if c.store(name, b) == nil && fresh != nil {
			c.store("index/db.json", fresh)
		}
		return b, nil
	}
	return c.src.read(ctx, name, limit)
}

// readEntry returns entry id, from the cache if the copy there was
// modified no earlier than modified (the index's time for it).
func (c *diskCache) readEntry(ctx context.Context, id string, modified time.Time, limit int64) ([]byte, error) {
	name := "ID/" + id + ".json"
	if b, err := c.load(name, limit); err == nil {
		var e struct {
			ID       string    `json:"id"`
			Modified time.Time `json:"modified"`
		}
		if json.Unmarshal(b, &e) == nil && e.ID == id && !e.Modified.Before(modified) {
			now := time.Now()
			os.Chtimes(c.file(name), now, now) // recently used
			return b, nil
		}
	}
	b, err := c.src.read(ctx, name, limit)
	if err != nil {
		return nil, err
	}
	c.store(name, b)
	return b, nil
}

func (c *diskCache) file(name string) string { return filepath.Join(c.dir, filepath.FromSlash(name)) }

// load reads a cached file, a regular file of at most limit bytes.
func (c *diskCache) load(name string, limit int64) ([]byte, error) {
	f, err := os.Open(c.file(name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	return readLimited(f, name, limit)
}

// store writes a cached file by rename. A cache that cannot be written
// costs only the network reads it would have saved.
func (c *diskCache) store(name string, data []byte) error {
	file := c.file(name)
	if err := os.MkdirAll(filepath.Dir(file), 0o777); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".tmp-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("caching %s: %w", name, err)
	}
	return nil
}

// prune removes cached entries, least recently used first, until at
// most maxCachedEntryFiles of them and maxCachedEntryBytes remain, and
// temporary files left by a run that was cut short.
func (c *diskCache) prune() {
	dir := c.file("ID")
	des, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	type cached struct {
		name string
		size int64
		used time.Time
	}
	var files []cached
	var total int64
	for _, de := range des {
		info, err := de.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		if name := de.Name(); len(name) > 5 && name[:5] == ".tmp-" {
			if time.Since(info.ModTime()) > time.Hour {
				os.Remove(filepath.Join(dir, name))
			}
			continue
		}
		files = append(files, cached{de.Name(), info.Size(), info.ModTime()})
		total += info.Size()
	}
	sort.Slice(files, func(i, j int) bool { return files[i].used.After(files[j].used) })
	for len(files) > maxCachedEntryFiles || (total > maxCachedEntryBytes && len(files) > 0) {
		last := files[len(files)-1]
		if err := os.Remove(filepath.Join(dir, last.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return
		}
		files, total = files[:len(files)-1], total-last.size
	}
}

// entryReader is a source that can answer an entry from a cache when it
// is as recent as the index says.
type entryReader interface {
	readEntry(ctx context.Context, id string, modified time.Time, limit int64) ([]byte, error)
}

var _ entryReader = (*diskCache)(nil)
