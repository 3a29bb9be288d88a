//go:build unix && !linux

package beneath

import "golang.org/x/sys/unix"

const oPath = 0

// openat2 is Linux's; elsewhere the walk does its work.
func openat2(dirfd int, rel string, flags int, perm uint32) (int, error) { return -1, unix.ENOSYS }
