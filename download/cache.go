package download

import (
	"bytes"
	"context"
	"encoding/json"
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
	"time"

	"github.com/rogpeppe/go-internal/lockedfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	modzip "golang.org/x/mod/zip"
)

// Cache writes the module cache ($GOMODCACHE) in the go command's layout and
// order. It is the only code that writes there. Every file reaches its final
// name by rename (or, for .ziphash and list, under the go command's lock),
// so a reader never sees a partial file, and the per-version .lock file is
// the same flock the go command takes, so both can share one cache.
type Cache struct {
	// Root is $GOMODCACHE.
	Root string
	// ReadWrite leaves extracted directories writable (-modcacherw).
	ReadWrite bool
}

// Info is the content of a .info file.
type Info struct {
	Version string
	Time    time.Time
	Origin  *Origin `json:",omitempty"`
}

// Origin is where a module version came from, as a proxy reports it.
type Origin struct {
	VCS       string `json:",omitempty"`
	URL       string `json:",omitempty"`
	Subdir    string `json:",omitempty"`
	Hash      string `json:",omitempty"`
	TagPrefix string `json:",omitempty"`
	TagSum    string `json:",omitempty"`
	Ref       string `json:",omitempty"`
	RepoSum   string `json:",omitempty"`
}

// downloadDir is $GOMODCACHE/cache/download/<escaped path>/@v.
func (c *Cache) downloadDir(modPath string) (string, error) {
	enc, err := module.EscapePath(modPath)
	if err != nil {
		return "", err
	}
	return filepath.Join(c.Root, "cache", "download", filepath.FromSlash(enc), "@v"), nil
}

// File returns the path of mod's cache file with the given suffix
// ("info", "mod", "zip", "ziphash", "lock", "partial").
func (c *Cache) File(mod module.Version, suffix string) (string, error) {
	dir, err := c.downloadDir(mod.Path)
	if err != nil {
		return "", err
	}
	if !semver.IsValid(mod.Version) {
		return "", fmt.Errorf("non-semver version %q", mod.Version)
	}
	enc, err := module.EscapeVersion(mod.Version)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, enc+"."+suffix), nil
}

// Dir returns the directory mod's source is extracted to.
func (c *Cache) Dir(mod module.Version) (string, error) {
	encPath, err := module.EscapePath(mod.Path)
	if err != nil {
		return "", err
	}
	encVer, err := module.EscapeVersion(mod.Version)
	if err != nil {
		return "", err
	}
	return filepath.Join(c.Root, filepath.FromSlash(encPath)+"@"+encVer), nil
}

// ReadInfo returns mod's cached .info, or an error if it is absent or
// unreadable (the caller then fetches it again).
func (c *Cache) ReadInfo(mod module.Version) (*Info, string, error) {
	file, err := c.File(mod, "info")
	if err != nil {
		return nil, "", err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, file, err
	}
	info := new(Info)
	if err := json.Unmarshal(data, info); err != nil {
		return nil, file, fmt.Errorf("%s: %v", file, err)
	}
	if info.Version != mod.Version {
		// Damaged or planted: the go command fetches such a file again.
		return nil, file, fmt.Errorf("%s: names version %q", file, info.Version)
	}
	return info, file, nil
}

// WriteInfo writes mod's .info, re-marshalled as the go command does:
// only Version, Time and a cleaned Origin.
func (c *Cache) WriteInfo(mod module.Version, info *Info) (string, error) {
	file, err := c.File(mod, "info")
	if err != nil {
		return "", err
	}
	clean := *info
	if info.Origin != nil {
		o := *info.Origin
		// Tags and repository sums never matter once a version is known;
		// a ref does not matter for a pseudo-version.
		o.TagSum, o.TagPrefix, o.RepoSum = "", "", ""
		if module.IsPseudoVersion(info.Version) {
			o.Ref = ""
		}
		clean.Origin = &o
	}
	js, err := json.Marshal(&clean)
	if err != nil {
		return "", err
	}
	return file, c.writeFile(file, js)
}

// ReadGoMod returns mod's cached .mod file.
func (c *Cache) ReadGoMod(mod module.Version) ([]byte, string, error) {
	file, err := c.File(mod, "mod")
	if err != nil {
		return nil, "", err
	}
	data, err := os.ReadFile(file)
	return data, file, err
}

// WriteGoMod writes mod's .mod file (already verified) and rewrites the
// version list beside it.
func (c *Cache) WriteGoMod(mod module.Version, data []byte) (string, error) {
	file, err := c.File(mod, "mod")
	if err != nil {
		return "", err
	}
	if err := c.writeFile(file, data); err != nil {
		return "", err
	}
	if err := rewriteVersionList(filepath.Dir(file)); err != nil {
		return "", &WriteError{Path: filepath.Join(filepath.Dir(file), "list"), Err: unwrapPathError(err)}
	}
	return file, nil
}

// RepairList rewrites the version list beside mod's cached .mod if the
// list does not name mod's version or is torn (a run was killed between
// writing the .mod and rewriting the list, or while rewriting it). It is
// best effort: a read-only cache that is otherwise complete still serves.
func (c *Cache) RepairList(mod module.Version) {
	file, err := c.File(mod, "mod")
	if err != nil || module.CanonicalVersion(mod.Version) != mod.Version {
		return
	}
	dir := filepath.Dir(file)
	data, err := os.ReadFile(filepath.Join(dir, "list"))
	if err == nil && !bytes.ContainsRune(data, 0) && (len(data) == 0 || data[len(data)-1] == '\n') {
		for _, l := range strings.Split(string(data), "\n") {
			if l == mod.Version {
				return
			}
		}
	}
	rewriteVersionList(dir)
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

// CacheUnusable reports whether err says the module cache cannot be
// written at all (read-only, not ours, full), rather than that one file
// could not be: no other module will fare better.
func CacheUnusable(err error) bool {
	for _, e := range []error{syscall.EACCES, syscall.EPERM, syscall.EROFS, syscall.ENOSPC, syscall.EDQUOT} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
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

// Lock takes mod's version lock (the go command's .lock file) and returns
// the function that releases it.
func (c *Cache) Lock(mod module.Version) (func(), error) {
	file, err := c.File(mod, "lock")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o777); err != nil {
		return nil, &WriteError{Path: filepath.Dir(file), Err: unwrapPathError(err)}
	}
	unlock, err := lockedfile.MutexAt(file).Lock()
	if err != nil {
		return nil, &WriteError{Path: file, Err: unwrapPathError(err)}
	}
	return unlock, nil
}

// LockContext is Lock, giving up when ctx is done: another process (the
// go command, another gomodfetch) may hold the lock for as long as a large
// download takes, and an interrupted run must not wait for it. A lock
// granted after giving up is released at once.
func (c *Cache) LockContext(ctx context.Context, mod module.Version) (func(), error) {
	type result struct {
		unlock func()
		err    error
	}
	ch := make(chan result, 1)
	go func() {
		unlock, err := c.Lock(mod)
		ch <- result{unlock, err}
	}()
	select {
	case r := <-ch:
		return r.unlock, r.err
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.err == nil {
				r.unlock()
			}
		}()
		return nil, ctx.Err()
	}
}

// SideLock takes $GOMODCACHE/cache/lock, which the go command holds while
// it edits go.sum (older versions guarded go.mod edits with it too), and
// returns the function that releases it.
func (c *Cache) SideLock() (func(), error) {
	dir := filepath.Join(c.Root, "cache")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, &WriteError{Path: dir, Err: unwrapPathError(err)}
	}
	unlock, err := lockedfile.MutexAt(filepath.Join(dir, "lock")).Lock()
	if err != nil {
		return nil, &WriteError{Path: filepath.Join(dir, "lock"), Err: unwrapPathError(err)}
	}
	return unlock, nil
}

// ZipHash returns the recorded hash of mod's zip if both the .zip and a
// valid .ziphash are present.
func (c *Cache) ZipHash(mod module.Version) (zipfile, hash string, ok bool) {
	zipfile, err := c.File(mod, "zip")
	if err != nil {
		return "", "", false
	}
	if _, err := os.Stat(zipfile); err != nil {
		return zipfile, "", false
	}
	data, err := lockedfile.Read(zipfile + "hash")
	if err != nil {
		return zipfile, "", false
	}
	h := string(bytes.TrimSpace(data))
	if !validSum(h) {
		return zipfile, "", false
	}
	return zipfile, h, true
}

func validSum(h string) bool {
	return strings.HasPrefix(h, "h1:") && len(h) > 3 && !strings.ContainsAny(h, "\x00 \n")
}

// CleanZipTemps removes temp files an earlier, interrupted download left
// beside mod's zip. The caller holds mod's lock, so their writers are gone.
func (c *Cache) CleanZipTemps(mod module.Version) error {
	zipfile, err := c.File(mod, "zip")
	if err != nil {
		return err
	}
	dir := filepath.Dir(zipfile)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return &WriteError{Path: dir, Err: unwrapPathError(err)}
	}
	if old, err := filepath.Glob(filepath.Join(globQuote(dir), globQuote(filepath.Base(zipfile))+"*.tmp")); err == nil {
		for _, p := range old {
			os.Remove(p)
		}
	}
	return nil
}

// CreateZipTemp creates a fresh temp file beside mod's zip.
func (c *Cache) CreateZipTemp(mod module.Version) (*os.File, error) {
	zipfile, err := c.File(mod, "zip")
	if err != nil {
		return nil, err
	}
	f, err := createTemp(filepath.Dir(zipfile), filepath.Base(zipfile))
	if err != nil {
		return nil, &WriteError{Path: filepath.Dir(zipfile), Err: unwrapPathError(err)}
	}
	return f, nil
}

// CommitZip records hash in mod's .ziphash and renames the verified temp
// file to its final .zip name, in that order (the go command's order: a
// .zip without .ziphash is rehashed, never trusted). The caller holds
// mod's lock.
func (c *Cache) CommitZip(tmp, zipfile, hash string) error {
	if err := c.WriteZipHash(zipfile, hash); err != nil {
		return err
	}
	if err := os.Rename(tmp, zipfile); err != nil {
		return &WriteError{Path: zipfile, Err: unwrapPathError(err)}
	}
	return nil
}

// WriteZipHash records hash in zipfile's .ziphash. The caller holds mod's
// lock. The go command writes .ziphash in place (truncate, then write), so
// a crash can leave it empty beside a good zip, which go then reports as
// "unexpected ziphash"; it is written here to a temp file named
// <v>.ziphash<random>.tmp (which both programs remove under the lock, as
// it matches <v>.zip*.tmp) and renamed into place, so it is always whole.
func (c *Cache) WriteZipHash(zipfile, hash string) (err error) {
	target := zipfile + "hash"
	f, err := createTemp(filepath.Dir(zipfile), filepath.Base(target))
	if err != nil {
		return &WriteError{Path: filepath.Dir(zipfile), Err: unwrapPathError(err)}
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.WriteString(hash); err != nil {
		return &WriteError{Path: target, Err: unwrapPathError(err)}
	}
	if err := f.Close(); err != nil {
		return &WriteError{Path: target, Err: unwrapPathError(err)}
	}
	if err := os.Rename(f.Name(), target); err != nil {
		return &WriteError{Path: target, Err: unwrapPathError(err)}
	}
	return nil
}

// Complete reports whether mod's .info, .mod, zip, .ziphash and source
// tree are all in place.
func (c *Cache) Complete(mod module.Version) bool {
	for _, suffix := range []string{"info", "mod"} {
		file, err := c.File(mod, suffix)
		if err != nil {
			return false
		}
		if _, err := os.Stat(file); err != nil {
			return false
		}
	}
	_, _, ok := c.ZipHash(mod)
	if ok {
		_, ok = c.Extracted(mod)
	}
	return ok
}

// Extracted returns mod's source directory if it is completely extracted:
// it exists and no .partial marker is beside its zip.
func (c *Cache) Extracted(mod module.Version) (string, bool) {
	dir, err := c.Dir(mod)
	if err != nil {
		return "", false
	}
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return dir, false
	}
	partial, err := c.File(mod, "partial")
	if err != nil {
		return dir, false
	}
	if _, err := os.Stat(partial); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return dir, false
	}
	return dir, true
}

// Extract unpacks mod's verified zip into its source directory. A .partial
// marker exists for as long as the directory is incomplete; leftovers of an
// earlier interrupted extraction are removed first. Files are 0444 and
// directories 0555 unless ReadWrite. The caller holds mod's lock.
func (c *Cache) Extract(mod module.Version, zipfile string) (string, error) {
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
		if errors.As(err, &pe) && CacheUnusable(pe.Err) {
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
