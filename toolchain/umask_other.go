//go:build !unix

package toolchain

import "io/fs"

// WriteBits are the write permission bits new files get.
func WriteBits() fs.FileMode { return 0o222 }
