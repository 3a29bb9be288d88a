package modcache

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"gomodfetch/internal/beneath"
	"gomodfetch/retry"
)

// WriteError is a failure to write to the module cache. It is permanent:
// a full or read-only disk does not heal between attempts.
type WriteError struct {
	Path string
	Err  error
}

func (e *WriteError) Error() string           { return fmt.Sprintf("writing %s: %v", e.Path, e.Err) }
func (e *WriteError) Unwrap() error           { return e.Err }
func (e *WriteError) RetryClass() retry.Class { return retry.Permanent }

// Unusable reports whether err says the module cache cannot be written at
// all (read-only, not ours, full), rather than that one file could not be:
// no other module will fare better.
func Unusable(err error) bool {
	var we *WriteError
	return errors.As(err, &we) && unusableErrno(we.Err)
}

func unusableErrno(err error) bool {
	for _, e := range []error{syscall.EACCES, syscall.EPERM, syscall.EROFS, syscall.ENOSPC, syscall.EDQUOT} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// writeErr wraps a failure to write path.
func writeErr(path string, err error) error {
	return &WriteError{Path: path, Err: unwrapPathError(err)}
}

// writeFile writes data to a temporary file beside file and renames it
// into place, so file is never seen partly written. The temp file is
// flocked for as long as it exists under its temp name, so that a later run
// can tell a temp file whose writer died (unlocked) from one being written
// now, and remove it (sweepTemps).
func (c *Cache) writeFile(file string, data []byte) (err error) {
	if c.ReadOnly {
		return readOnly(file)
	}
	dir := filepath.Dir(file)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return &WriteError{Path: dir, Err: unwrapPathError(err)}
	}
	sweepTemps(dir, filepath.Base(file)+ownTempMark)
	f, err := createLockedTemp(dir, filepath.Base(file)+ownTempMark)
	if err != nil {
		return &WriteError{Path: dir, Err: unwrapPathError(err)}
	}
	defer func() {
		if err != nil {
			os.Remove(f.Name())
		}
		f.Close() // after the rename or removal: releases the flock
	}()
	if _, err := f.Write(data); err != nil {
		return &WriteError{Path: file, Err: unwrapPathError(err)}
	}
	if err := os.Rename(f.Name(), file); err != nil {
		return &WriteError{Path: file, Err: unwrapPathError(err)}
	}
	return nil
}

// ownTempMark is in the names of the temp files writeFile creates
// (<v>.mod.gmf<random>.tmp). The go command writes .info and .mod files
// without any lock, so only temp files gomodfetch created, and flocked,
// can be told dead or alive; the go command's own are left alone.
const ownTempMark = ".gmf"

// sweepTemps removes dir/<prefix>*.tmp files whose writer is gone: files
// nobody holds a flock on. It removes them while holding their flock, so a
// writer that has created a temp file but not yet locked it finds the name
// gone once it has the lock, and starts again (createLockedTemp).
func sweepTemps(dir, prefix string) {
	old, err := filepath.Glob(filepath.Join(globQuote(dir), globQuote(prefix)+"*.tmp"))
	if err != nil {
		return
	}
	for _, p := range old {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		if tryLockTemp(f) {
			os.Remove(p)
		}
		f.Close()
	}
}

// createLockedTemp creates a temp file as createTemp does and holds an
// exclusive flock on it, making sure the name still refers to it once the
// lock is held (a sweeper may have removed it in between).
func createLockedTemp(dir, prefix string) (*os.File, error) {
	var err error
	for range 10 {
		var f *os.File
		if f, err = createTemp(dir, prefix); err != nil {
			return nil, err
		}
		lockTemp(f)
		fi, err1 := f.Stat()
		ni, err2 := os.Stat(f.Name())
		if err1 == nil && err2 == nil && os.SameFile(fi, ni) {
			return f, nil
		}
		f.Close()
		err = fmt.Errorf("temp file %s removed while being created", f.Name())
	}
	return nil, err
}

// createTemp creates dir/<prefix><random>.tmp, the go command's temp-file
// naming, so that either program cleans up what the other left.
func createTemp(dir, prefix string) (*os.File, error) {
	var err error
	for range 10000 {
		name := filepath.Join(dir, prefix+strconv.Itoa(rand.IntN(1000000000))+".tmp")
		var f *os.File
		f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
	}
	return nil, err
}

// rewriteVersionList rewrites dir/list (dir relative to Root; the list
// names the versions that have a .mod file, in semver order).
//
// The list is written to a temp file and renamed into place, never
// written through: a list that is a symlink (to a file outside the cache,
// say) is replaced, not followed, and a reader never sees a torn list.
// The go command instead rewrites the list in place under a flock on the
// list itself, so, to stay out of its way, this holds that same flock on
// the file it replaces while it reads the directory and renames. One
// interleaving remains: a go command that opened the old file while this
// held its lock writes, once it has the lock, into the file no longer
// named list. What it writes is the directory as it saw it, and it wrote
// its .mod before it opened the list, so before the rename; the directory
// is therefore read again after the rename, and the list rewritten (on
// the new file, under its lock) until the two agree. A list that is not a
// regular file cannot be locked as go locks it (go would lock what it
// points to) and is replaced without a lock.
func (c *Cache) rewriteVersionList(dir string) error {
	if c.ReadOnly {
		return readOnly(c.Files().Join(dir + "/list"))
	}
	root := c.Files()
	listRel := dir + "/list"
	var err error
	for range 5 {
		var done bool
		if done, err = c.rewriteListOnce(root, dir, listRel); done || err != nil {
			return err
		}
	}
	return err
}

// rewriteListOnce is one try of rewriteVersionList: it reports whether the
// list it leaves agrees with the directory read after the rename.
func (c *Cache) rewriteListOnce(root *beneath.Root, dir, listRel string) (bool, error) {
	f, err := root.OpenWrite(listRel, 0o666)
	switch {
	case errors.Is(err, beneath.ErrNotRegular):
		f = nil // replaced below, without a lock
	case err != nil:
		return false, err
	default:
		defer f.Close() // releases the lock, after the rename
		if err := lockExclusive(f); err != nil {
			return false, err
		}
		// The name may have been given to a new file while this waited
		// for the lock: then that file is the list to lock.
		if !sameFile(root, listRel, f) {
			return false, nil
		}
		// A temp list is written only under this lock: one there now was
		// left by a writer that died.
		sweepListTemps(root, dir)
	}
	want, err := versionList(root, dir)
	if err != nil {
		return false, err
	}
	if f != nil {
		if fi, err := f.Stat(); err == nil && fi.Size() == int64(len(want)) {
			old := make([]byte, len(want)+1)
			if n, err := f.ReadAt(old, 0); err == io.EOF && n == len(want) && bytes.Equal(old[:n], want) {
				return true, nil
			}
		}
	}
	tmp, tmpRel, err := root.CreateTemp(dir, "list"+ownTempMark, 0o666)
	if err != nil {
		return false, err
	}
	_, err = tmp.Write(want)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(tmpRel, listRel)
	}
	if err != nil {
		root.Remove(tmpRel)
		return false, err
	}
	after, err := versionList(root, dir)
	return err == nil && bytes.Equal(after, want), err
}

// sweepListTemps removes the temp lists (list.gmf<random>.tmp) in dir.
func sweepListTemps(root *beneath.Root, dir string) {
	entries, err := root.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if n := e.Name(); strings.HasPrefix(n, "list"+ownTempMark) && strings.HasSuffix(n, ".tmp") {
			root.Remove(dir + "/" + n)
		}
	}
}

// versionList is the list file's content for the .mod files in dir, as
// the go command writes it: each canonical version that has a .mod, in
// semver order, one per line (a version escaped for upper case is not
// canonical and is left out, as go leaves it out).
func versionList(root *beneath.Root, dir string) ([]byte, error) {
	entries, err := root.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var list []string
	for _, e := range entries {
		if v, ok := strings.CutSuffix(e.Name(), ".mod"); ok && v != "" && module.CanonicalVersion(v) == v {
			list = append(list, v)
		}
	}
	semver.Sort(list)
	var buf bytes.Buffer
	for _, v := range list {
		buf.WriteString(v)
		buf.WriteByte('\n')
	}
	return buf.Bytes(), nil
}

// sameFile reports whether rel below root still names the open file f.
func sameFile(root *beneath.Root, rel string, f *os.File) bool {
	g, err := root.Open(rel)
	if err != nil {
		return false
	}
	defer g.Close()
	fi, err1 := f.Stat()
	gi, err2 := g.Stat()
	return err1 == nil && err2 == nil && os.SameFile(fi, gi)
}

// readOnly is the error of a write to a ReadOnly cache.
func readOnly(path string) error {
	return &WriteError{Path: path, Err: fmt.Errorf("the cache is opened read-only: %w", syscall.EROFS)}
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// globQuote escapes glob metacharacters in s.
func globQuote(s string) string {
	if !strings.ContainsAny(s, `*?[\`) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
