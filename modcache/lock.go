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

// Forget releases the lock of a version that turned out to have nothing
// to write (its .info or go.mod could not be had) and, if Lock created the
// lock file, removes it, leaving its directories to RemoveEmptyDirs: the go
// command takes the lock only for the zip, so it leaves nothing for such a
// version. (A process waiting on the removed file gets a lock no one else
// contends for, on a version that has nothing to write.)
func (l *Locked) Forget() {
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

// Extract unpacks the verified zip into the module's source directory. A
// .partial marker exists for as long as the directory is incomplete;
// leftovers of an earlier interrupted extraction are removed first. Files
// are 0444 and directories 0555 unless ReadWrite.
func (l *Locked) Extract(zipfile string) (string, error) {
	c, mod := l.c, l.mod
	if dir, ok := c.Extracted(mod); ok {
		return dir, nil
	}
	dir, err := c.Dir(mod)
	if err != nil {
		return "", err
	}
	partial, err := c.File(mod, "partial")
	if err != nil {
		return "", err
	}
	parent := filepath.Dir(dir)
	// Old-style temporary directories and a partial extraction are safe
	// to remove: we hold the lock, so their writers are gone.
	if old, err := filepath.Glob(filepath.Join(globQuote(parent), globQuote(filepath.Base(dir))+".tmp-*")); err == nil {
		for _, p := range old {
			removeAll(p)
		}
	}
	if _, err := os.Lstat(dir); err == nil {
		if err := removeAll(dir); err != nil {
			return "", &WriteError{Path: dir, Err: unwrapPathError(err)}
		}
	}
	if err := os.MkdirAll(parent, 0o777); err != nil {
		return "", &WriteError{Path: parent, Err: unwrapPathError(err)}
	}
	if err := os.WriteFile(partial, nil, 0o666); err != nil {
		return "", &WriteError{Path: partial, Err: unwrapPathError(err)}
	}
	if err := modzip.Unzip(dir, mod, zipfile); err != nil {
		if rmErr := removeAll(dir); rmErr == nil {
			os.Remove(partial)
		}
		var pe *fs.PathError
		if errors.As(err, &pe) && unusableErrno(pe.Err) {
			return "", &WriteError{Path: pe.Path, Err: pe.Err}
		}
		return "", fmt.Errorf("extracting: %w", err)
	}
	// Unlike the go command, permissions are set before .partial goes,
	// so a crash while setting them leaves a tree that is redone rather
	// than one with go's modes on only part of it.
	if !c.ReadWrite {
		makeReadOnly(dir)
	}
	if err := os.Remove(partial); err != nil {
		return "", &WriteError{Path: partial, Err: unwrapPathError(err)}
	}
	return dir, nil
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
