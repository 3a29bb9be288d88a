package download

import (
	"context"
	"gomodfetch/modcache"

	"golang.org/x/mod/module"
)

// Toolchain downloads a toolchain module (golang.org/toolchain@…) as go
// does before it switches to that toolchain: the zip alone (no .info, no
// .mod), through the same proxies, retries and verification as any zip,
// committed with its .ziphash and extracted. Its directories are left
// writable only if readWrite: go extracts a toolchain it switches to at
// startup read-only whatever -modcacherw says (it has not read its flags
// yet), and one it switches to during a run as the flags say. It returns
// the extracted directory. A toolchain already in the cache is verified,
// not fetched; announce, if not nil, is called before a download starts.
func (f *Fetcher) Toolchain(ctx context.Context, mod module.Version, readWrite bool, announce func()) (string, error) {
	if err := module.Check(mod.Path, mod.Version); err != nil {
		return "", err
	}
	ro := &modcache.Cache{Root: f.cfg.Cache.Root}
	ro.ReadWrite = readWrite
	if dir, ok := ro.Extracted(mod); ok {
		if _, hash, ok := ro.ZipHash(mod); ok {
			if err := f.cfg.Verifier.Check(ctx, mod, hash); err != nil {
				return "", err
			}
			return dir, nil
		}
	}
	held, err := ro.Lock(ctx, mod)
	if err != nil {
		return "", module.VersionError(mod, err)
	}
	defer held.Unlock()
	if _, _, ok := ro.ZipHash(mod); !ok && announce != nil {
		announce()
	}
	x := &fetch{f: f, mod: mod, m: &Module{Path: mod.Path, Version: mod.Version}, wanted: func() bool { return true }}
	z, err := x.zip(ctx, held)
	if err != nil {
		return "", err
	}
	zipfile, err := x.commitZip(held, z)
	if err != nil {
		return "", err
	}
	dir, err := x.tree(ctx, held, z, zipfile)
	if err != nil {
		return "", err
	}
	return dir, nil
}
