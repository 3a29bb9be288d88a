//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package modcache

import "os"

// ReadFile reads a whole small file (see readfile_unix.go).
func ReadFile(name string) ([]byte, error) { return os.ReadFile(name) }
