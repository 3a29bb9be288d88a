package modcache

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/mod/module"

	"gomodfetch/internal/beneath"
)

// TryLock takes mod's version lock if no other process holds it. It
// returns nil, false when another does: the go command or a gomodfetch
// is downloading or extracting that version. The lock file is created if
// missing and reached without following a symlink. Where flock is not
// available (not Linux, macOS or a BSD), every version counts as held.
func (c *Cache) TryLock(mod module.Version) (*Locked, bool, error) {
	rel, err := Rel(mod, "lock")
	if err != nil {
		return nil, false, err
	}
	root := c.Files()
	if c.ReadOnly {
		return nil, false, readOnly(root.Join(rel))
	}
	_, statErr := os.Lstat(root.Join(rel))
	if err := root.MkdirAll(path.Dir(rel), 0o777); err != nil {
		return nil, false, &WriteError{Path: root.Join(path.Dir(rel)), Err: unwrapPathError(err)}
	}
	f, err := root.OpenWrite(rel, 0o666)
	if err != nil {
		return nil, false, &WriteError{Path: root.Join(rel), Err: unwrapPathError(err)}
	}
	// The name must still be this file once it is locked: another prune
	// may have removed it meanwhile, and a lock on a removed file guards
	// nothing.
	if !tryLockTemp(f) || !sameFile(root, rel, f) {
		f.Close()
		return nil, false, nil
	}
	return &Locked{c: c, mod: mod, unlock: func() { f.Close() }, file: root.Join(rel), created: errors.Is(statErr, fs.ErrNotExist)}, true, nil
}

// InUse reports whether another process holds mod's version lock now,
// creating nothing (for a dry run): a version without a lock file is not
// in use.
func (c *Cache) InUse(mod module.Version) bool {
	rel, err := Rel(mod, "lock")
	if err != nil {
		return false
	}
	f, err := c.Files().Open(rel)
	if err != nil {
		return false
	}
	defer f.Close()
	return !tryLockTemp(f)
}

// Remove removes what the cache holds of the version, under its lock,
// and returns what it freed: first the .ziphash (so that the go command
// takes whatever is left for an unfinished download and redoes it, should
// this stop half way), then the extracted tree (made writable first, no
// symlink followed), the .partial marker, the .zip and the zip's temp
// files, and unless keepGoMod the .info and the .mod, after which the
// version list is written anew (and removed when no version is left in
// it). Last the lock file itself goes, while still held, and the lock is
// released: l must not be used after Remove. (A process that opened the
// lock file before it went and waits on it gets a lock on the removed
// file; so does the go command's own `go clean -modcache`.)
func (l *Locked) Remove(keepGoMod bool) (beneath.Sizes, error) {
	defer l.Unlock()
	var freed beneath.Sizes
	root := l.c.Files()
	rels, err := l.c.versionFiles(l.mod, keepGoMod)
	if err != nil {
		return freed, err
	}
	for _, r := range rels {
		n, err := root.RemoveAll(r)
		if r != rels[len(rels)-1] || !l.created {
			freed.Add(n) // a lock file TryLock created was not there to free
		}
		if err != nil {
			return freed, err
		}
		if strings.HasSuffix(r, ".mod") && n.Files > 0 {
			d, err := l.c.dropFromList(path.Dir(r))
			freed.Add(d)
			if err != nil {
				return freed, err
			}
		}
	}
	return freed, nil
}

// Usage is what Remove would free now, leaving out by how much the
// version list shrinks.
func (c *Cache) Usage(mod module.Version, keepGoMod bool) (beneath.Sizes, error) {
	var sum beneath.Sizes
	rels, err := c.versionFiles(mod, keepGoMod)
	if err != nil {
		return sum, err
	}
	for _, r := range rels {
		n, err := c.Files().Usage(r)
		sum.Add(n)
		if err != nil {
			return sum, err
		}
	}
	return sum, nil
}

// versionFiles are the files and trees, relative to Root, that Remove
// removes, in its order (the lock file last).
func (c *Cache) versionFiles(mod module.Version, keepGoMod bool) ([]string, error) {
	rel := func(suffix string) string {
		r, _ := Rel(mod, suffix)
		return r
	}
	if _, err := Rel(mod, "zip"); err != nil {
		return nil, err
	}
	dir, err := c.Dir(mod)
	if err != nil {
		return nil, err
	}
	dirRel, ok := c.Files().Rel(dir)
	if !ok {
		// A GOMODCACHE given unclean (a trailing slash, "//", "..")
		// names the same directory.
		if r, err := filepath.Rel(filepath.Clean(c.Root), dir); err == nil && filepath.IsLocal(r) {
			dirRel, ok = filepath.ToSlash(r), true
		}
	}
	if !ok {
		return nil, errors.New("module directory outside the cache")
	}
	rels := []string{rel("ziphash"), dirRel, rel("partial"), rel("zip")}
	vdir := path.Dir(rel("zip"))
	entries, err := c.Files().ReadDir(vdir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	// The zip's temp files, <v>.zip*.tmp and <v>.ziphash*.tmp, are written
	// only under the version lock.
	base := path.Base(rel("zip"))
	for _, e := range entries {
		if n := e.Name(); strings.HasPrefix(n, base) && strings.HasSuffix(n, ".tmp") {
			rels = append(rels, vdir+"/"+n)
		}
	}
	if !keepGoMod {
		rels = append(rels, rel("info"), rel("mod"))
	}
	return append(rels, rel("lock")), nil
}

// dropFromList rewrites the version list of the @v directory vdir after
// a .mod went, and removes it when it lists nothing; it returns by how
// much the list shrank.
func (c *Cache) dropFromList(vdir string) (beneath.Sizes, error) {
	root := c.Files()
	list := vdir + "/list"
	before, _ := root.Usage(list)
	defer c.lists.Delete(vdir)
	if want, err := versionList(root, vdir); err == nil && len(want) == 0 {
		return root.RemoveAll(list)
	}
	err := c.rewriteVersionList(vdir)
	after, _ := root.Usage(list)
	shrank := beneath.Sizes{Files: before.Files - after.Files, Bytes: before.Bytes - after.Bytes}
	if err != nil {
		return shrank, &WriteError{Path: root.Join(list), Err: unwrapPathError(err)}
	}
	return shrank, nil
}

// RemoveEmpty removes the directory rel (below Root) and those above it
// that are left empty, up to cache/download and Root, which stay.
func (c *Cache) RemoveEmpty(rel string) {
	root := c.Files()
	for rel != "." && rel != "" && rel != "cache" && rel != "cache/download" {
		if root.Remove(rel) != nil {
			return
		}
		rel = path.Dir(rel)
	}
}
