//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package modcache

import (
	"os"
	"syscall"
)

// lockTemp takes an exclusive flock on a temp file being written; it is
// released when f is closed (or its writer dies).
func lockTemp(f *os.File) {
	syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
}

// tryLockTemp reports whether nobody else holds a flock on f (its writer
// is gone); the lock it takes is released when f is closed.
func tryLockTemp(f *os.File) bool {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil
}

// lockExclusive takes the exclusive flock the go command takes on a file
// it edits in place (lockedfile.Edit), waiting for it; it is released
// when f is closed.
func lockExclusive(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			return err
		}
	}
}
