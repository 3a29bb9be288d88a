//go:build unix

package beneath

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// Usage counts the regular files in the tree rel (a file or a directory)
// and their bytes, following no symlink (a symlink is counted as a file
// of no bytes). A missing rel counts nothing.
func (r *Root) Usage(rel string) (Sizes, error) {
	return r.tree("stat", rel, false)
}

// RemoveAll removes the tree rel (a file, a symlink or a directory) and
// returns what it removed. Nothing outside the root is touched: no
// symlink is followed, each directory is opened with O_NOFOLLOW before it
// is made writable (a read-only tree, as the go command extracts one, can
// then be emptied) and before its entries are removed. A missing rel
// removes nothing. On an error it stops, having removed what it counted.
func (r *Root) RemoveAll(rel string) (Sizes, error) {
	return r.tree("remove", rel, true)
}

func (r *Root) tree(op, rel string, remove bool) (Sizes, error) {
	var n Sizes
	if err := checkRel(rel); err != nil {
		return n, r.pathErr(op, rel, err)
	}
	err := r.with(func(dirfd int) error {
		dir, name := split(rel)
		pfd, err := walkDir(dirfd, dir)
		if err != nil {
			return mapErr(err)
		}
		if pfd != dirfd {
			defer unix.Close(pfd)
		}
		return walkTree(pfd, rel, name, remove, &n)
	})
	if errors.Is(err, os.ErrNotExist) && n == (Sizes{}) {
		return n, nil
	}
	var at *treeError
	if errors.As(err, &at) {
		return n, r.pathErr(op, at.rel, at.err)
	}
	if err != nil {
		return n, r.pathErr(op, rel, err)
	}
	return n, nil
}

// treeError is a failure inside a tree, at rel.
type treeError struct {
	rel string
	err error
}

func (e *treeError) Error() string { return e.rel + ": " + e.err.Error() }
func (e *treeError) Unwrap() error { return e.err }

// walkTree counts (and with remove, removes) name below the directory
// dirfd, depth first; rel is its path below the root, for errors.
func walkTree(dirfd int, rel, name string, remove bool, n *Sizes) error {
	if err := walkTree1(dirfd, rel, name, remove, n); err != nil {
		var at *treeError
		if !errors.As(err, &at) {
			err = &treeError{rel: rel, err: mapErr(err)}
		}
		return err
	}
	return nil
}

func walkTree1(dirfd int, rel, name string, remove bool, n *Sizes) error {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		if remove {
			if err := unix.Unlinkat(dirfd, name, 0); err != nil {
				return err
			}
		}
		n.Files++
		if st.Mode&unix.S_IFMT == unix.S_IFREG {
			n.Bytes += st.Size
		}
		return nil
	}
	// Opened without following a symlink: what is made writable and
	// emptied is this directory, even if name has been swapped since.
	fd, err := retry(func() (int, error) {
		return unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	if remove {
		var fst unix.Stat_t
		if err := unix.Fstat(fd, &fst); err != nil {
			return err
		}
		if fst.Mode&0o700 != 0o700 {
			if err := unix.Fchmod(fd, uint32(fst.Mode&0o7777|0o700)); err != nil {
				return err
			}
		}
	}
	for {
		names, err := f.Readdirnames(256)
		for _, c := range names {
			if err := walkTree(fd, rel+"/"+c, c, remove, n); err != nil {
				return err
			}
		}
		if err == io.EOF || len(names) == 0 {
			break
		}
		if err != nil {
			return err
		}
		if remove {
			// Entries were removed: read the directory from the start.
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return err
			}
		}
	}
	if remove {
		return unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
	}
	return nil
}
