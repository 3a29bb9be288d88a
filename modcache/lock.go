package modcache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/rogpeppe/go-internal/lockedfile"
	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// Locked is a module version whose lock (the go command's <v>.lock) this
// process holds. The writes that the go command makes under that lock are
// its methods, so they cannot be made without it. Unlock releases it; a
// Locked must not be used after that.
type Locked struct {
	c       *Cache
	mod     module.Version
	unlock  func()
	file    string
	created bool // the lock file did not exist before Lock
}

// Lock takes mod's version lock, giving up when ctx is done: another
// process (the go command, another gomodfetch) may hold it for as long as a
// large download takes, and an interrupted run must not wait for it. A lock
// granted after giving up is released at once.
func (c *Cache) Lock(ctx context.Context, mod module.Version) (*Locked, error) {
	file, err := c.File(mod, "lock")
	if err != nil {
		return nil, err
	}
	if c.ReadOnly {
		return nil, readOnly(file)
	}
	_, statErr := os.Lstat(file)
	created := errors.Is(statErr, fs.ErrNotExist)
	if err := os.MkdirAll(filepath.Dir(file), 0o777); err != nil {
		return nil, writeErr(filepath.Dir(file), err)
	}
	type result struct {
		unlock func()
		err    error
	}
	ch := make(chan result, 1)
	go func() {
		unlock, err := lockedfile.MutexAt(file).Lock()
		ch <- result{unlock, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, writeErr(file, r.err)
		}
		return &Locked{c: c, mod: mod, unlock: r.unlock, file: file, created: created}, nil
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.err == nil {
				r.unlock()
			}
		}()
		return nil, ctx.Err()
	}
}

// Unlock releases the version lock. It may be called more than once.
func (l *Locked) Unlock() {
	if l.unlock != nil {
		l.unlock()
		l.unlock = nil
	}
}

// Abandon releases the lock of a version that turned out to have nothing
// to write (its .info or go.mod could not be had) and, if Lock created the
// lock file, removes it, leaving its directories to RemoveEmptyDirs: the go
// command takes the lock only for the zip, so it leaves nothing for such a
// version. (A process waiting on the removed file gets a lock no one else
// contends for, on a version that has nothing to write.)
func (l *Locked) Abandon() {
	if l.unlock == nil {
		return
	}
	if l.created && os.Remove(l.file) == nil {
		l.c.mu.Lock()
		l.c.forgotten = append(l.c.forgotten, filepath.Dir(l.file))
		l.c.mu.Unlock()
	}
	l.Unlock()
}

// SideLock takes $GOMODCACHE/cache/lock, which the go command holds while
// it edits go.sum (older versions guarded go.mod edits with it too), and
// returns the function that releases it.
func (c *Cache) SideLock() (func(), error) {
	dir := filepath.Join(c.Root, "cache")
	if c.ReadOnly {
		return nil, readOnly(filepath.Join(dir, "lock"))
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, writeErr(dir, err)
	}
	unlock, err := lockedfile.MutexAt(filepath.Join(dir, "lock")).Lock()
	if err != nil {
		return nil, writeErr(filepath.Join(dir, "lock"), err)
	}
	return unlock, nil
}

// CleanZipTemps removes temp files an earlier, interrupted download left
// beside the zip: with the lock held, their writers are gone.
func (l *Locked) CleanZipTemps() error {
	zipfile, err := l.c.File(l.mod, "zip")
	if err != nil {
		return err
	}
	dir := filepath.Dir(zipfile)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return writeErr(dir, err)
	}
	if old, err := filepath.Glob(filepath.Join(globQuote(dir), globQuote(filepath.Base(zipfile))+"*.tmp")); err == nil {
		for _, p := range old {
			os.Remove(p)
		}
	}
	return nil
}

// CreateZipTemp creates a fresh temp file beside the zip, named as the go
// command names its own (<v>.zip<random>.tmp), so either program removes
// what the other left.
func (l *Locked) CreateZipTemp() (*os.File, error) {
	zipfile, err := l.c.File(l.mod, "zip")
	if err != nil {
		return nil, err
	}
	f, err := createTemp(filepath.Dir(zipfile), filepath.Base(zipfile))
	if err != nil {
		return nil, writeErr(filepath.Dir(zipfile), err)
	}
	return f, nil
}

// CommitZip records hash in the .ziphash and renames the verified temp
// file tmp to the final .zip name, in that order (the go command's order: a
// .zip without .ziphash is rehashed, never trusted). It returns the zip's
// path.
func (l *Locked) CommitZip(tmp, hash string) (string, error) {
	zipfile, err := l.c.File(l.mod, "zip")
	if err != nil {
		return "", err
	}
	if err := l.WriteZipHash(hash); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, zipfile); err != nil {
		return "", writeErr(zipfile, err)
	}
	return zipfile, nil
}

// RemoveZip removes a cached zip shown to be damaged.
func (l *Locked) RemoveZip() error {
	zipfile, err := l.c.File(l.mod, "zip")
	if err != nil {
		return err
	}
	if err := os.Remove(zipfile); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return writeErr(zipfile, err)
	}
	return nil
}

// WriteZipHash records hash in the .ziphash of a zip already in place (one
// rehashed after a crash lost its .ziphash). The go command writes .ziphash
// in place (truncate, then write), so a crash can leave it empty beside a
// good zip, which go then reports as "unexpected ziphash"; it is written
// here to a temp file named <v>.ziphash<random>.tmp (which both programs
// remove under the lock, as it matches <v>.zip*.tmp) and renamed into
// place, so it is always whole.
func (l *Locked) WriteZipHash(hash string) (err error) {
	zipfile, err := l.c.File(l.mod, "zip")
	if err != nil {
		return err
	}
	target := zipfile + "hash"
	f, err := createTemp(filepath.Dir(zipfile), filepath.Base(target))
	if err != nil {
		return writeErr(filepath.Dir(zipfile), err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.WriteString(hash); err != nil {
		return writeErr(target, err)
	}
	if err := f.Close(); err != nil {
		return writeErr(target, err)
	}
	if err := os.Rename(f.Name(), target); err != nil {
		return writeErr(target, err)
	}
	return nil
}

// Extract unpacks a committed zip into the module's source directory (a
// tree lost or cut short while the zip stayed), after x/mod/zip's checks.
// A .partial marker exists for as long as the directory is incomplete.
// Files are 0444 and directories 0555 unless ReadWrite.
func (l *Locked) Extract(zipfile string) (string, error) {
	if dir, ok := l.c.Extracted(l.mod); ok {
		return dir, nil
	}
	if _, err := modzip.CheckZip(l.mod, zipfile); err != nil {
		return "", fmt.Errorf("extracting: %w", err)
	}
	u, err := l.Unpack(zipfile)
	if err != nil {
		return "", err
	}
	if err := u.Seal(); err != nil {
		return "", err
	}
	return u.Dir, nil
}

// makeReadOnly removes write permission from dir and the directories
// below it (children first); files are already 0444.
func makeReadOnly(dir string) {
	var dirs []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if fi, err := os.Stat(dirs[i]); err == nil && fi.Mode()&0o222 != 0 {
			os.Chmod(dirs[i], fi.Mode()&^0o222)
		}
	}
}

// removeAll removes a tree that may have been made read-only.
func removeAll(dir string) error {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o777)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// Part names a piece of a module version in the cache, for Forget.
type Part string

// The parts of a module version a repair may remove.
const (
	PartInfo Part = "info"
	PartMod  Part = "mod"
	PartZip  Part = "zip" // the zip and its .ziphash
	PartDir  Part = "dir" // the extracted tree (and a .partial marker)
	PartHash Part = "ziphash"
)

// Forget removes the given parts of the module version, so that the next
// download writes them again: the repair of a damaged cache. The version
// list is left as it is (a .mod written again lists its version anew).
func (l *Locked) Forget(parts ...Part) error {
	for _, p := range parts {
		switch p {
		case PartDir:
			dir, err := l.c.Dir(l.mod)
			if err != nil {
				return err
			}
			if err := removeAll(dir); err != nil {
				return writeErr(dir, err)
			}
			if partial, err := l.c.File(l.mod, "partial"); err == nil {
				os.Remove(partial)
			}
		case PartZip:
			if err := l.RemoveZip(); err != nil {
				return err
			}
			if err := l.forgetFile("ziphash"); err != nil {
				return err
			}
		default:
			if err := l.forgetFile(string(p)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (l *Locked) forgetFile(suffix string) error {
	file, err := l.c.File(l.mod, suffix)
	if err != nil {
		return err
	}
	if err := os.Remove(file); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return writeErr(file, err)
	}
	return nil
}
