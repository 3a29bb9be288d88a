package beneath

import "golang.org/x/sys/unix"

// oPath opens a directory on the way for lookups only, needing no read
// permission.
const oPath = unix.O_PATH

// openat2 opens rel below dirfd in one system call, refusing a symlink in
// any component and any way out of dirfd.
func openat2(dirfd int, rel string, flags int, perm uint32) (int, error) {
	how := unix.OpenHow{
		Flags:   uint64(flags | unix.O_NOFOLLOW | unix.O_CLOEXEC),
		Mode:    uint64(perm),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	return retry(func() (int, error) { return unix.Openat2(dirfd, rel, &how) })
}
