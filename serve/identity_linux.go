package serve

import (
	"io/fs"
	"syscall"
)

// identity is the file's device, inode, size, modification and change
// times.
func identity(fi fs.FileInfo) (zipIdentity, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return zipIdentity{}, false
	}
	return zipIdentity{
		dev: uint64(st.Dev), ino: uint64(st.Ino), size: fi.Size(),
		mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano(),
	}, true
}
