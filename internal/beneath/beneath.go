// Package beneath opens and creates files below a directory that is
// trusted as it is named (GOMODCACHE, a fleet cache's directory, a pack's
// target) while nothing below it is: another user, a restored CI cache or
// a careless script may have put a symlink, a FIFO or a device where a
// file of ours belongs.
//
// Every path below a Root is relative, slash-separated and clean, and is
// reached without following a symlink in any of its components: on Linux
// with one openat2 call (RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS) on a
// descriptor of the root held open; where openat2 is missing (ENOSYS, or
// refused by a seccomp filter) and on other Unix systems by walking the
// components with openat(O_NOFOLLOW). A file is opened non-blocking, so a
// FIFO cannot stall the caller, and then kept only if fstat says it is a
// regular file. Anything else, a symlink included, is ErrNotRegular.
//
// Writes go the same way: directories are made one component at a time
// without following symlinks, temp files are created with O_EXCL (which
// never follows a symlink), and renames stay within their directory's
// descriptor. Nothing is written outside the root.
//
// The root itself may be a symlink. Its descriptor is opened on first use;
// if the root is later removed and made again (go clean -modcache), a
// lookup that finds nothing opens it anew and tries once more.
package beneath

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
)

// ErrNotRegular is a path below a root that is a symlink, or has one among
// its components, or names something other than a regular file (or, for a
// directory operation, a directory).
var ErrNotRegular = errors.New("not a regular file below its root (a symlink, or a special file)")

// ErrTooLarge is a file read whole (ReadFile, ReadFileMax) that is larger
// than the bound: a planted file, maybe sparse, must not take the reader's
// memory.
var ErrTooLarge = errors.New("file too large to read whole")

// MaxRead bounds what ReadFile and ReadFileShared read: 64 MiB, far more
// than any file they are used for (a version list, a go.mod, a checksum
// database answer); ReadFileMax sets a tighter bound.
const MaxRead = 64 << 20

// Root is a trusted directory. It is safe for concurrent use.
type Root struct {
	path string

	mu  sync.Mutex
	dir *os.File // nil until first use

	// noOpenat2 is set once openat2 answered ENOSYS: the walk is used
	// from then on.
	noOpenat2 atomic.Bool
}

// New returns the root at dir; nothing is opened until it is used.
func New(dir string) *Root { return &Root{path: dir} }

// Path is the root's directory, as given to New.
func (r *Root) Path() string { return r.path }

// Join is the path of rel below the root, for messages and for callers
// that must name the file to others.
func (r *Root) Join(rel string) string { return r.path + string(os.PathSeparator) + fromSlash(rel) }

// Rel returns file's path relative to the root if file is below it
// (lexically), else false.
func (r *Root) Rel(file string) (string, bool) {
	prefix := strings.TrimSuffix(r.path, string(os.PathSeparator)) + string(os.PathSeparator)
	rel, ok := strings.CutPrefix(file, prefix)
	if !ok {
		return "", false
	}
	rel = toSlash(rel)
	if checkRel(rel) != nil {
		return "", false
	}
	return rel, true
}

// checkRel refuses anything but a clean, relative, slash-separated path
// with no "." or ".." component.
func checkRel(rel string) error {
	if rel == "" || path.Clean(rel) != rel || strings.HasPrefix(rel, "/") || rel == "." {
		return fmt.Errorf("%q is not a clean relative path", rel)
	}
	for _, c := range strings.Split(rel, "/") {
		if c == ".." || c == "." {
			return fmt.Errorf("%q is not a clean relative path", rel)
		}
	}
	return nil
}

// dirFile returns the root's open directory.
func (r *Root) dirFile() (*os.File, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dir == nil {
		d, err := openRoot(r.path)
		if err != nil {
			return nil, err
		}
		r.dir = d
	}
	return r.dir, nil
}

// refresh opens the root anew if its name now refers to another directory
// than d, and reports whether it did.
func (r *Root) refresh(d *os.File) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dir != d {
		return true // another caller did
	}
	nd, err := openRoot(r.path)
	if err != nil {
		return false
	}
	fi, err1 := d.Stat()
	ni, err2 := nd.Stat()
	if err1 == nil && err2 == nil && os.SameFile(fi, ni) {
		nd.Close()
		return false
	}
	// The old descriptor may be in use by another call: its finalizer
	// closes it.
	r.dir = nd
	return true
}

// with runs fn on the root's descriptor; when fn finds nothing (the root
// may have been replaced), it runs once more on a fresh descriptor.
func (r *Root) with(fn func(dirfd int) error) error {
	d, err := r.dirFile()
	if err != nil {
		return err
	}
	err = control(d, fn)
	if errors.Is(err, fs.ErrNotExist) && r.refresh(d) {
		if d, err = r.dirFile(); err == nil {
			err = control(d, fn)
		}
	}
	return err
}

func control(d *os.File, fn func(dirfd int) error) error {
	rc, err := d.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

func (r *Root) pathErr(op, rel string, err error) error {
	return &fs.PathError{Op: op, Path: r.Join(rel), Err: err}
}

func fromSlash(rel string) string {
	if os.PathSeparator == '/' {
		return rel
	}
	return strings.ReplaceAll(rel, "/", string(os.PathSeparator))
}

func toSlash(p string) string {
	if os.PathSeparator == '/' {
		return p
	}
	return strings.ReplaceAll(p, string(os.PathSeparator), "/")
}

// split returns rel's directory ("" for the root) and last component.
func split(rel string) (dir, name string) {
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		return rel[:i], rel[i+1:]
	}
	return "", rel
}
