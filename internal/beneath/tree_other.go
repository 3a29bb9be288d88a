//go:build !unix

package beneath

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// Usage counts the regular files in the tree rel and their bytes,
// following no symlink. A missing rel counts nothing.
func (r *Root) Usage(rel string) (Sizes, error) { return r.tree(rel, false) }

// RemoveAll removes the tree rel and returns what it removed, following
// no symlink (checked by path here: there is no openat on this system).
func (r *Root) RemoveAll(rel string) (Sizes, error) { return r.tree(rel, true) }

func (r *Root) tree(rel string, remove bool) (Sizes, error) {
	var n Sizes
	if err := checkRel(rel); err != nil {
		return n, r.pathErr("remove", rel, err)
	}
	if dir, _ := split(rel); dir != "" {
		if err := r.check(dir, false); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return n, nil
			}
			return n, r.pathErr("remove", rel, err)
		}
	}
	top := r.Join(rel)
	var dirs []string
	err := filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if remove {
				os.Chmod(p, 0o777)
			}
			dirs = append(dirs, p)
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if remove {
			if err := os.Remove(p); err != nil {
				return err
			}
		}
		n.Files++
		if fi.Mode().IsRegular() {
			n.Bytes += fi.Size()
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) && n == (Sizes{}) {
		return n, nil
	}
	if err == nil && remove {
		for i := len(dirs) - 1; i >= 0 && err == nil; i-- {
			err = os.Remove(dirs[i])
		}
	}
	return n, err
}
