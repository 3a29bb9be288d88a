//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package modcache

import (
	"io/fs"
	"syscall"
)

// ReadFile reads a whole small file, as os.ReadFile does, in four system
// calls: open, read, the read that finds the end, close. os.ReadFile makes
// about ten for a regular file (an fstat, and os.Open's two fcntl pairs
// and poller registration that a regular file refuses): a warm run reads
// five or six small files per module, so those were most of its system
// calls.
func ReadFile(name string) ([]byte, error) { return readFile(name, false) }

// readLocked is lockedfile.Read in the same few calls: it holds a shared
// flock while it reads, the lock the go command takes to read a file it
// writes under an exclusive one (.ziphash). Closing releases it.
func readLocked(name string) ([]byte, error) { return readFile(name, true) }

func readFile(name string, lock bool) ([]byte, error) {
	var fd int
	err := retryEINTR(func() (err error) {
		fd, err = syscall.Open(name, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	defer syscall.Close(fd)
	if lock {
		if err := retryEINTR(func() error { return syscall.Flock(fd, syscall.LOCK_SH) }); err != nil {
			return nil, &fs.PathError{Op: "flock", Path: name, Err: err}
		}
	}
	buf := make([]byte, 0, 1024)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		var n int
		err := retryEINTR(func() (err error) {
			n, err = syscall.Read(fd, buf[len(buf):cap(buf)])
			return err
		})
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: name, Err: err}
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}

func retryEINTR(f func() error) error {
	for {
		if err := f(); err != syscall.EINTR {
			return err
		}
	}
}
