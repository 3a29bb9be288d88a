//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package modcache

import (
	"os"

	"github.com/rogpeppe/go-internal/lockedfile"
)

// ReadFile reads a whole small file (see readfile_unix.go).
func ReadFile(name string) ([]byte, error) { return os.ReadFile(name) }

// readLocked reads a file under a shared lock, as lockedfile.Read does.
func readLocked(name string) ([]byte, error) { return lockedfile.Read(name) }
