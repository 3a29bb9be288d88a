//go:build unix

package toolchain

import (
	"io/fs"
	"syscall"
)

// WriteBits are the write permission bits the process's umask allows.
func WriteBits() fs.FileMode {
	// Umask can only be read by setting it; it is set back at once.
	m := syscall.Umask(0o022)
	syscall.Umask(m)
	return 0o222 &^ fs.FileMode(m)
}
