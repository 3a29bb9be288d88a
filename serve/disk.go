package serve

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"golang.org/x/mod/module"
	"golang.org/x/sync/singleflight"

	"gomodfetch/internal/beneath"
	"gomodfetch/modcache"
	"gomodfetch/verify"
)

// Nothing below the cache's root is trusted (the cache may be shared,
// restored or tampered with): every file served is opened below one of
// the server's roots without following a symlink, and only if it is a
// regular file (internal/beneath), and a zip is served only once its
// bytes match the hash recorded when it was verified.

// roots are the directories files are served from: the module cache,
// then the checksum database's cache and configuration directories where
// they are not below it.
func (s *Server) roots() []*beneath.Root {
	return s.disk.roots
}

// open opens a file the server serves, below the first root it lies
// under.
func (s *Server) open(file string) (*os.File, error) {
	for _, r := range s.roots() {
		if rel, ok := r.Rel(file); ok {
			return r.Open(rel)
		}
	}
	return nil, fmt.Errorf("%s is outside the cache", file)
}

// damaged logs and counts a cache file that is not what it must be.
func (s *Server) damaged(what, file string, err error) {
	s.metrics.damaged.WithLabelValues(what).Inc()
	s.log.Warn("damaged cache file not served", "what", what, "file", file, "error", oneLine(err.Error(), 500))
}

// kindOf names a cache file's kind for the damage metric: its extension
// (info, mod, zip), else its name (list, latest), else "sumdb".
func kindOf(file string) string {
	base := filepath.Base(file)
	switch ext := filepath.Ext(base); {
	case ext == ".info" || ext == ".mod" || ext == ".zip":
		return ext[1:]
	case base == "list" || base == "latest":
		return base
	}
	return "sumdb"
}

// disk is the server's state for checking what it serves.
type disk struct {
	roots []*beneath.Root

	// zipsChecked maps the identity of a zip file whose bytes matched its
	// hash to that hash, so that a zip is hashed once per process while
	// the file stays the same (bounded by maxChecked).
	mu          sync.Mutex
	zipsChecked map[zipIdentity]string
	hashing     singleflight.Group
	hashed      atomic.Int64 // cached zips hashed by openZip (a test reads it)
}

func newDisk(cfg Config) *disk {
	d := &disk{zipsChecked: map[zipIdentity]string{}}
	if cfg.Cache != nil {
		d.roots = append(d.roots, cfg.Cache.Files())
	}
	for _, dir := range []string{cfg.SumDBCacheDir, cfg.SumDBConfigDir} {
		if dir == "" {
			continue
		}
		if cfg.Cache != nil {
			if _, ok := cfg.Cache.Files().Rel(dir); ok {
				continue
			}
		}
		d.roots = append(d.roots, beneath.New(dir))
	}
	return d
}

// maxChecked bounds the zips remembered as checked; past it the record
// starts again (each zip is then hashed once more).
const maxChecked = 1 << 16

// zipIdentity is what identifies a file's bytes without reading them: a
// write changes the size, the modification time or, where those are put
// back (touch -m), the change time, which no one can set back.
type zipIdentity struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64 // nanoseconds
}

// errZipMismatch is a cached zip whose bytes do not match its .ziphash.
var errZipMismatch = errors.New("the zip's bytes do not match the hash recorded for it")

// openZip opens mod's cached zip and checks it against hash (its
// .ziphash, or what the engine just verified): the first time a given
// file is served in this process, by hashing its content
// (verify.HashZipFile: inflate and SHA-256 every file, about 350 MiB of
// inflated content a second on one core of the 2-core dev machine: 1.1 s
// for google.golang.org/api v0.297.0, 47 MiB zipped, 382 MiB inflated;
// see docs/security-disk.md); after that, by its identity alone (the
// fstat serving makes anyway, and a map look-up).
func (s *Server) openZip(mod module.Version, hash string) (*os.File, error) {
	f, err := s.cfg.Cache.Open(mod, "zip")
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	id, ok := identity(fi)
	if ok {
		s.disk.mu.Lock()
		known := s.disk.zipsChecked[id]
		s.disk.mu.Unlock()
		if known == hash {
			return f, nil
		}
	}
	// One hash per file at a time, however many ask for it.
	key := f.Name() + "\x00" + hash
	if ok {
		key = fmt.Sprint(id) + "\x00" + hash
	}
	v, err, _ := s.disk.hashing.Do(key, func() (any, error) {
		s.disk.hashed.Add(1)
		return verify.HashZipFile(f)
	})
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("hashing cached zip: %w", err)
	}
	if v.(string) != hash {
		f.Close()
		return nil, fmt.Errorf("%w (%s; recorded %s)", errZipMismatch, v.(string), hash)
	}
	if ok {
		s.disk.mu.Lock()
		if len(s.disk.zipsChecked) >= maxChecked {
			clear(s.disk.zipsChecked)
		}
		s.disk.zipsChecked[id] = hash
		s.disk.mu.Unlock()
	}
	return f, nil
}

// fetchedZip records as checked the zip of mod that the engine has just
// downloaded, hashed to hash, verified and written to the cache (it was
// not there before): openZip then serves that file without hashing it
// again. The engine hashed the bytes it wrote, so a second hash of the
// same file (it inflates every entry: 40% of a cold server's CPU) proves
// nothing more, unless the file was changed in between, by someone with
// write access to the cache, in the instant between the engine's hash
// and this stat. What changes it later changes its identity (its
// change time, at least) and is hashed again.
func (s *Server) fetchedZip(mod module.Version, hash string) {
	f, err := s.cfg.Cache.Open(mod, "zip")
	if err != nil {
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return
	}
	id, ok := identity(fi)
	if !ok {
		return
	}
	s.disk.mu.Lock()
	defer s.disk.mu.Unlock()
	if len(s.disk.zipsChecked) >= maxChecked {
		clear(s.disk.zipsChecked)
	}
	s.disk.zipsChecked[id] = hash
}

// confirmedSet remembers, for this process, the hash the engine verified
// for a module version's zip ("zip <mod>@<v>") or go.mod ("mod <mod>@<v>"):
// a cached file whose bytes have that hash (a zip: checked once per file
// identity, openZip) is served again without asking the engine, which
// would read the .info, go.mod, .ziphash and checksum-database answers again.
// Bounded by maxChecked (cleared when full).
type confirmedSet struct {
	mu sync.Mutex
	m  map[string]string
}

func (c *confirmedSet) is(key, hash string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return hash != "" && c.m[key] == hash
}

func (c *confirmedSet) add(key, hash string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxChecked {
		c.m = map[string]string{}
	}
	c.m[key] = hash
}

// openKnownZip opens mod's cached zip if this process has hashed that very
// file before (same identity: device, inode, size, times) and returns it
// with the hash its bytes had; else nil. One open and one fstat: the
// .ziphash is not read again for a file whose bytes are known.
func (s *Server) openKnownZip(mod module.Version) (*os.File, string) {
	f, err := s.cfg.Cache.Open(mod, "zip")
	if err != nil {
		return nil, ""
	}
	fi, err := f.Stat()
	if err == nil {
		if id, ok := identity(fi); ok {
			s.disk.mu.Lock()
			h := s.disk.zipsChecked[id]
			s.disk.mu.Unlock()
			if h != "" {
				return f, h
			}
		}
	}
	f.Close()
	return nil, ""
}

// checkCachedZip makes sure the engine does not take a damaged cached zip
// for a good one (it trusts a zip that has a .ziphash): a zip that is not
// a regular file, or whose bytes do not match its .ziphash, is counted,
// logged and removed, with its .ziphash, under the version lock, so that
// the engine fetches it again. It returns the zip, open, if it is good.
func (s *Server) checkCachedZip(ctx context.Context, mod module.Version) (*os.File, string) {
	zipfile, hash, ok := s.cfg.Cache.ZipHash(mod)
	var err error
	if ok {
		var f *os.File
		if f, err = s.openZip(mod, hash); err == nil {
			return f, hash
		}
	} else {
		rel, rerr := modcache.Rel(mod, "zip")
		if rerr != nil {
			return nil, ""
		}
		if err = s.cfg.Cache.Files().Regular(rel); !errors.Is(err, beneath.ErrNotRegular) {
			return nil, "" // missing, or a zip without .ziphash: the engine rehashes that
		}
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ""
	}
	s.damaged("zip", zipfile, err)
	s.forgetZip(ctx, mod, zipfile)
	return nil, ""
}

// forgetZip removes mod's cached zip and .ziphash, under the version lock,
// so that the engine fetches it again.
func (s *Server) forgetZip(ctx context.Context, mod module.Version, zipfile string) {
	held, err := s.cfg.Cache.Lock(ctx, mod)
	if err != nil {
		return
	}
	defer held.Unlock()
	if err := held.Forget(modcache.PartZip); err != nil {
		s.log.Warn("removing a damaged zip failed", "file", zipfile, "error", err.Error())
	}
}
