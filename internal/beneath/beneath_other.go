//go:build !unix

package beneath

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Without openat, each component is checked with Lstat before the file is
// opened by name and the open file compared with what Lstat saw: a swap
// between the two is caught only at the last component.

func openRoot(dir string) (*os.File, error) { return os.Open(dir) }

func (r *Root) check(rel string, last bool) error {
	p := r.path
	comps := strings.Split(rel, "/")
	for i, c := range comps {
		p = filepath.Join(p, c)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 || (i < len(comps)-1 || !last) && !fi.IsDir() {
			return ErrNotRegular
		}
	}
	return nil
}

// Open opens the regular file rel for reading.
func (r *Root) Open(rel string) (*os.File, error) {
	if err := checkRel(rel); err != nil {
		return nil, r.pathErr("open", rel, err)
	}
	if err := r.check(rel, true); err != nil {
		return nil, r.pathErr("open", rel, err)
	}
	f, err := os.Open(r.Join(rel))
	if err != nil {
		return nil, err
	}
	fi, err1 := f.Stat()
	li, err2 := os.Lstat(r.Join(rel))
	if err1 != nil || err2 != nil || !fi.Mode().IsRegular() || !os.SameFile(fi, li) {
		f.Close()
		return nil, r.pathErr("open", rel, ErrNotRegular)
	}
	return f, nil
}

// OpenWrite opens the regular file rel for reading and writing, creating
// it if it is missing.
func (r *Root) OpenWrite(rel string, perm os.FileMode) (*os.File, error) {
	if err := checkRel(rel); err != nil {
		return nil, r.pathErr("open", rel, err)
	}
	if dir, _ := split(rel); dir != "" {
		if err := r.check(dir, false); err != nil {
			return nil, r.pathErr("open", rel, err)
		}
	}
	if fi, err := os.Lstat(r.Join(rel)); err == nil && !fi.Mode().IsRegular() {
		return nil, r.pathErr("open", rel, ErrNotRegular)
	}
	return os.OpenFile(r.Join(rel), os.O_RDWR|os.O_CREATE, perm)
}

// OpenAppend is OpenWrite with every write at the end of the file.
func (r *Root) OpenAppend(rel string, perm os.FileMode) (*os.File, error) {
	f, err := r.OpenWrite(rel, perm)
	if err != nil {
		return nil, err
	}
	f.Close()
	return os.OpenFile(r.Join(rel), os.O_RDWR|os.O_APPEND, perm)
}

// Regular reports, as an error, whether rel is a regular file.
func (r *Root) Regular(rel string) error {
	f, err := r.Open(rel)
	if err == nil {
		f.Close()
	}
	return err
}

// ReadFile reads the whole regular file rel.
func (r *Root) ReadFile(rel string) ([]byte, error) { return r.ReadFileMax(rel, MaxRead) }

// ReadFileMax is ReadFile for a file of at most max bytes (else
// ErrTooLarge).
func (r *Root) ReadFileMax(rel string, max int64) ([]byte, error) {
	f, err := r.Open(rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err == nil && int64(len(data)) > max {
		return nil, r.pathErr("read", rel, fmt.Errorf("%w (more than %d bytes)", ErrTooLarge, max))
	}
	return data, err
}

// ReadFileShared is ReadFile (no flock here).
func (r *Root) ReadFileShared(rel string) ([]byte, error) { return r.ReadFile(rel) }

// ReadDir returns the entries of directory rel ("" for the root).
func (r *Root) ReadDir(rel string) ([]fs.DirEntry, error) {
	if rel != "" {
		if err := checkRel(rel); err != nil {
			return nil, r.pathErr("open", rel, err)
		}
		if err := r.check(rel, false); err != nil {
			return nil, r.pathErr("open", rel, err)
		}
	}
	return os.ReadDir(r.Join(rel))
}

// MkdirAll makes directory rel and those above it below the root.
func (r *Root) MkdirAll(rel string, perm os.FileMode) error {
	if rel == "" {
		return nil
	}
	if err := checkRel(rel); err != nil {
		return r.pathErr("mkdir", rel, err)
	}
	p := r.path
	for _, c := range strings.Split(rel, "/") {
		p = filepath.Join(p, c)
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			if err := os.Mkdir(p, perm); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
			fi, err = os.Lstat(p)
		}
		if err != nil {
			return err
		}
		if !fi.IsDir() || fi.Mode()&fs.ModeSymlink != 0 {
			return r.pathErr("mkdir", rel, ErrNotRegular)
		}
	}
	return nil
}

// CreateTemp creates a new file prefix<random>.tmp in dir (made as by
// MkdirAll).
func (r *Root) CreateTemp(dir, prefix string, perm os.FileMode) (*os.File, string, error) {
	if err := r.MkdirAll(dir, 0o777); err != nil {
		return nil, "", err
	}
	var err error
	for range 10000 {
		rel := join(dir, prefix+strconv.Itoa(rand.IntN(1000000000))+".tmp")
		var f *os.File
		f, err = os.OpenFile(r.Join(rel), os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
		if err == nil {
			return f, rel, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	return nil, "", err
}

// Rename renames oldRel to newRel below the root.
func (r *Root) Rename(oldRel, newRel string) error {
	for _, p := range []string{oldRel, newRel} {
		if err := checkRel(p); err != nil {
			return r.pathErr("rename", p, err)
		}
		if dir, _ := split(p); dir != "" {
			if err := r.check(dir, false); err != nil {
				return r.pathErr("rename", p, err)
			}
		}
	}
	return os.Rename(r.Join(oldRel), r.Join(newRel))
}

// Remove removes rel (a symlink itself, not its target).
func (r *Root) Remove(rel string) error {
	if err := checkRel(rel); err != nil {
		return r.pathErr("remove", rel, err)
	}
	if dir, _ := split(rel); dir != "" {
		if err := r.check(dir, false); err != nil {
			return r.pathErr("remove", rel, err)
		}
	}
	return os.Remove(r.Join(rel))
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}
