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

	"github.com/rogpeppe/go-internal/lockedfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

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

// rewriteVersionList rewrites dir/list (the versions that have a .mod file,
// in semver order) under the list's lock, as the go command does.
func rewriteVersionList(dir string) (err error) {
	f, err := lockedfile.Edit(filepath.Join(dir, "list"))
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var list []string
	for _, e := range entries {
		if v, ok := strings.CutSuffix(e.Name(), ".mod"); ok && v != "" {
			// The go command lists the file names as they are (a version
			// escaped for upper case is not canonical and is left out).
			if module.CanonicalVersion(v) == v {
				list = append(list, v)
			}
		}
	}
	semver.Sort(list)
	var buf bytes.Buffer
	for _, v := range list {
		buf.WriteString(v)
		buf.WriteByte('\n')
	}
	if fi, err := f.Stat(); err == nil && fi.Size() == int64(buf.Len()) {
		old := make([]byte, buf.Len()+1)
		if n, err := f.ReadAt(old, 0); err == io.EOF && n == buf.Len() && bytes.Equal(old[:n], buf.Bytes()) {
			return nil
		}
	}
	// Zero-fill to the final size first, so that a torn write shows up as
	// trailing NULs rather than as a plausible shorter list.
	if err := f.Truncate(0); err != nil {
		return err
	}
	if err := f.Truncate(int64(buf.Len())); err != nil {
		return err
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Truncate(0)
		return err
	}
	return nil
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
