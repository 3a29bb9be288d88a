//go:build unix

package beneath

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

func openRoot(dir string) (*os.File, error) {
	fd, err := retry(func() (int, error) { return unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|oPath, 0) })
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	return os.NewFile(uintptr(fd), dir), nil
}

// openFd opens rel below dirfd with flags (O_NOFOLLOW and O_CLOEXEC are
// added), with openat2 where the kernel has it, else by the walk.
func (r *Root) openFd(dirfd int, rel string, flags int, perm uint32) (int, error) {
	if !r.noOpenat2.Load() {
		fd, err := openat2(dirfd, rel, flags, perm)
		switch {
		case err == unix.ENOSYS:
			r.noOpenat2.Store(true)
		case err == unix.EPERM:
			// A seccomp filter that refuses what it does not know:
			// walk, and try openat2 again next time (EPERM may also be
			// the file's own answer, which the walk gives again).
		default:
			return fd, err
		}
	}
	return walkOpen(dirfd, rel, flags, perm)
}

// walkOpen opens each directory component of rel with O_NOFOLLOW, then the
// last one with flags.
func walkOpen(dirfd int, rel string, flags int, perm uint32) (int, error) {
	dir, name := split(rel)
	pfd, err := walkDir(dirfd, dir)
	if err != nil {
		return -1, err
	}
	if pfd != dirfd {
		defer unix.Close(pfd)
	}
	return retry(func() (int, error) { return unix.Openat(pfd, name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm) })
}

// walkDir opens the directory rel below dirfd ("" is dirfd itself), one
// component at a time, following no symlink.
func walkDir(dirfd int, rel string) (int, error) {
	fd := dirfd
	if rel == "" {
		return fd, nil
	}
	for _, c := range strings.Split(rel, "/") {
		nfd, err := retry(func() (int, error) {
			return unix.Openat(fd, c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC|oPath, 0)
		})
		if fd != dirfd {
			unix.Close(fd)
		}
		if err != nil {
			return -1, err
		}
		fd = nfd
	}
	return fd, nil
}

// mapErr turns the errors a symlink or special file causes into
// ErrNotRegular.
func mapErr(err error) error {
	if err == unix.ELOOP || err == unix.EMLINK || err == unix.EXDEV || err == unix.ENOTDIR {
		// ELOOP: a symlink (EMLINK on some BSDs for O_NOFOLLOW); EXDEV:
		// openat2 refused to leave the root; ENOTDIR: a symlink (opened
		// as itself with O_PATH|O_NOFOLLOW) or a file where a directory
		// belongs.
		return ErrNotRegular
	}
	return err
}

// openRegular opens rel for reading (non-blocking, so a FIFO cannot hang
// the open) and checks it is a regular file.
func (r *Root) openRegular(rel string) (int, *unix.Stat_t, error) {
	return r.openRegularFlags(rel, unix.O_RDONLY, 0)
}

func (r *Root) openRegularFlags(rel string, flags int, perm uint32) (int, *unix.Stat_t, error) {
	if err := checkRel(rel); err != nil {
		return -1, nil, r.pathErr("open", rel, err)
	}
	var fd int
	var st unix.Stat_t
	err := r.with(func(dirfd int) error {
		var err error
		fd, err = r.openFd(dirfd, rel, flags|unix.O_NONBLOCK|unix.O_NOCTTY, perm)
		if err != nil {
			return mapErr(err)
		}
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			unix.Close(fd)
			return ErrNotRegular
		}
		return nil
	})
	if err != nil {
		return -1, nil, r.pathErr("open", rel, err)
	}
	return fd, &st, nil
}

// Open opens the regular file rel for reading.
func (r *Root) Open(rel string) (*os.File, error) {
	fd, _, err := r.openRegular(rel)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), r.Join(rel)), nil
}

// OpenWrite opens the regular file rel for reading and writing, creating
// it (with perm, before the umask) if it is missing; its directory must
// exist.
func (r *Root) OpenWrite(rel string, perm os.FileMode) (*os.File, error) {
	fd, _, err := r.openRegularFlags(rel, unix.O_RDWR|unix.O_CREAT, uint32(perm.Perm()))
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), r.Join(rel)), nil
}

// OpenAppend is OpenWrite with every write at the end of the file
// (O_APPEND): a record several processes add lines to.
func (r *Root) OpenAppend(rel string, perm os.FileMode) (*os.File, error) {
	fd, _, err := r.openRegularFlags(rel, unix.O_RDWR|unix.O_CREAT|unix.O_APPEND, uint32(perm.Perm()))
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), r.Join(rel)), nil
}

// Regular reports, as an error, whether rel is a regular file: nil if it
// is, else an error matching ErrNotRegular or fs.ErrNotExist (or another
// failure).
func (r *Root) Regular(rel string) error {
	fd, _, err := r.openRegular(rel)
	if err == nil {
		unix.Close(fd)
	}
	return err
}

// ReadFile reads the whole regular file rel, in few system calls: a warm
// run reads several small files per module.
func (r *Root) ReadFile(rel string) ([]byte, error) { return r.readFile(rel, false, MaxRead) }

// ReadFileMax is ReadFile for a file of at most max bytes (else
// ErrTooLarge).
func (r *Root) ReadFileMax(rel string, max int64) ([]byte, error) { return r.readFile(rel, false, max) }

// ReadFileShared is ReadFile holding a shared flock while it reads: the
// lock the go command takes to read a file it writes in place under an
// exclusive one (lockedfile.Read).
func (r *Root) ReadFileShared(rel string) ([]byte, error) { return r.readFile(rel, true, MaxRead) }

func (r *Root) readFile(rel string, lock bool, limit int64) ([]byte, error) {
	fd, st, err := r.openRegular(rel)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	if st.Size > limit {
		return nil, r.pathErr("read", rel, fmt.Errorf("%w (%d bytes; at most %d)", ErrTooLarge, st.Size, limit))
	}
	if lock {
		if _, err := retry(func() (int, error) { return 0, unix.Flock(fd, unix.LOCK_SH) }); err != nil {
			return nil, r.pathErr("flock", rel, err)
		}
	}
	buf := make([]byte, 0, max(st.Size+1, 512))
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := retry(func() (int, error) { return unix.Read(fd, buf[len(buf):cap(buf)]) })
		if err != nil {
			return nil, r.pathErr("read", rel, err)
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit { // it grew while read
			return nil, r.pathErr("read", rel, fmt.Errorf("%w (more than %d bytes)", ErrTooLarge, limit))
		}
	}
}

// ReadDir returns the names in directory rel ("" for the root) and
// whether each is a regular file (entries of any other type are listed as
// not regular; a symlink among them is never followed).
func (r *Root) ReadDir(rel string) ([]fs.DirEntry, error) {
	if rel != "" {
		if err := checkRel(rel); err != nil {
			return nil, r.pathErr("open", rel, err)
		}
	}
	var f *os.File
	err := r.with(func(dirfd int) error {
		fd := dirfd
		var err error
		if rel != "" {
			fd, err = r.openFd(dirfd, rel, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		} else {
			fd, err = retry(func() (int, error) { return unix.Openat(dirfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0) })
		}
		if err != nil {
			return mapErr(err)
		}
		f = os.NewFile(uintptr(fd), r.Join(rel))
		return nil
	})
	if err != nil {
		return nil, r.pathErr("open", rel, err)
	}
	defer f.Close()
	return f.ReadDir(-1)
}

// MkdirAll makes directory rel and those above it below the root, with
// perm (before the umask), following no symlink: a symlink or a file in
// the way is ErrNotRegular.
func (r *Root) MkdirAll(rel string, perm os.FileMode) error {
	if rel == "" {
		return nil
	}
	if err := checkRel(rel); err != nil {
		return r.pathErr("mkdir", rel, err)
	}
	err := r.with(func(dirfd int) error {
		fd, err := mkdirAll(dirfd, rel, uint32(perm.Perm()))
		if err == nil && fd != dirfd {
			unix.Close(fd)
		}
		return err
	})
	if err != nil {
		return r.pathErr("mkdir", rel, err)
	}
	return nil
}

// mkdirAll opens directory rel below dirfd, making what is missing, and
// returns its descriptor (dirfd itself for "").
func mkdirAll(dirfd int, rel string, perm uint32) (int, error) {
	fd := dirfd
	if rel == "" {
		return fd, nil
	}
	for _, c := range strings.Split(rel, "/") {
		open := func() (int, error) {
			return retry(func() (int, error) {
				return unix.Openat(fd, c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC|oPath, 0)
			})
		}
		nfd, err := open()
		if err == unix.ENOENT {
			if err = unix.Mkdirat(fd, c, perm); err == nil || err == unix.EEXIST {
				nfd, err = open()
			}
		}
		if fd != dirfd {
			unix.Close(fd)
		}
		if err != nil {
			return -1, mapErr(err)
		}
		fd = nfd
	}
	return fd, nil
}

// CreateTemp makes directory dir (as MkdirAll) and creates a new file in
// it named prefix<random>.tmp, with O_EXCL (so no existing name, symlinks
// included, is reused). It returns the file, open for reading and writing,
// and its path relative to the root.
func (r *Root) CreateTemp(dir, prefix string, perm os.FileMode) (*os.File, string, error) {
	if dir != "" {
		if err := checkRel(dir); err != nil {
			return nil, "", r.pathErr("mkdir", dir, err)
		}
	}
	if strings.Contains(prefix, "/") {
		return nil, "", r.pathErr("create", dir, errors.New("temp file prefix has a slash"))
	}
	var f *os.File
	var rel string
	err := r.with(func(dirfd int) error {
		pfd, err := mkdirAll(dirfd, dir, 0o777)
		if err != nil {
			return err
		}
		if pfd != dirfd {
			defer unix.Close(pfd)
		}
		for range 10000 {
			name := prefix + strconv.Itoa(rand.IntN(1000000000)) + ".tmp"
			fd, err := retry(func() (int, error) {
				return unix.Openat(pfd, name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm.Perm()))
			})
			if err == unix.EEXIST {
				continue
			}
			if err != nil {
				return err
			}
			rel = join(dir, name)
			f = os.NewFile(uintptr(fd), r.Join(rel))
			return nil
		}
		return unix.EEXIST
	})
	if err != nil {
		return nil, "", r.pathErr("create", join(dir, prefix+"*.tmp"), err)
	}
	return f, rel, nil
}

// Rename renames oldRel to newRel, both below the root (their directories
// must exist); a symlink at newRel is replaced, not followed.
func (r *Root) Rename(oldRel, newRel string) error {
	for _, p := range []string{oldRel, newRel} {
		if err := checkRel(p); err != nil {
			return r.pathErr("rename", p, err)
		}
	}
	err := r.with(func(dirfd int) error {
		odir, oname := split(oldRel)
		ndir, nname := split(newRel)
		ofd, err := walkDir(dirfd, odir)
		if err != nil {
			return mapErr(err)
		}
		if ofd != dirfd {
			defer unix.Close(ofd)
		}
		nfd := ofd
		if ndir != odir {
			if nfd, err = walkDir(dirfd, ndir); err != nil {
				return mapErr(err)
			}
			if nfd != dirfd {
				defer unix.Close(nfd)
			}
		}
		return unix.Renameat(ofd, oname, nfd, nname)
	})
	if err != nil {
		return r.pathErr("rename", newRel, err)
	}
	return nil
}

// Remove removes the file (or empty directory) rel; a symlink is removed
// itself, never what it points to.
func (r *Root) Remove(rel string) error {
	if err := checkRel(rel); err != nil {
		return r.pathErr("remove", rel, err)
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
		err = unix.Unlinkat(pfd, name, 0)
		if err == unix.EISDIR || err == unix.EPERM {
			err = unix.Unlinkat(pfd, name, unix.AT_REMOVEDIR)
		}
		return err
	})
	if err != nil {
		return r.pathErr("remove", rel, err)
	}
	return nil
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

func retry(f func() (int, error)) (int, error) {
	for {
		n, err := f()
		if err != syscall.EINTR {
			return n, err
		}
	}
}
