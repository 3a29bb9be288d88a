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
//
// It follows symlinks: it reads files outside the cache (a replacement
// directory's go.mod). The cache's own files are read with Cache.Files.
func ReadFile(name string) ([]byte, error) {
	var fd int
	err := retryEINTR(func() (err error) {
		fd, err = syscall.Open(name, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	defer syscall.Close(fd)
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
