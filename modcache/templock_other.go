//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package modcache

import "os"

// lockTemp does nothing where flock is not available.
func lockTemp(*os.File) {}

// tryLockTemp never reports a temp file's writer as gone where flock is
// not available, so such temp files are left in place.
func tryLockTemp(*os.File) bool { return false }

// lockExclusive takes no lock where flock is not available: a version
// list is then replaced by rename alone, which still keeps it whole.
func lockExclusive(*os.File) error { return nil }
