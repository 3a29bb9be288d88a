package toolchain

import (
	"io/fs"
	"os"
	"path/filepath"
)

// Prepare makes an extracted toolchain module directory runnable, as go
// does after downloading one and before running it: module zips carry no
// execute bits, so the programs get them, and the go.mod files a module
// zip cannot hold (stored as _go.mod) are copied to their names.
// writeBits are the write permissions the umask allows (0o222 &^ umask).
// A directory already prepared is left as it is.
func Prepare(dir string, writeBits fs.FileMode) error {
	if info, err := os.Stat(filepath.Join(dir, "bin", "go")); err != nil {
		return err
	} else if info.Mode()&0o111 == 0 {
		for _, p := range []struct{ dir, pattern string }{
			{filepath.Join(dir, "pkg", "tool"), ""},
			{filepath.Join(dir, "lib"), "go_?*_?*_exec"},
			{filepath.Join(dir, "bin", "gofmt"), ""},
			{filepath.Join(dir, "bin"), ""},
		} {
			if err := allowExec(p.dir, p.pattern); err != nil {
				return err
			}
		}
	}
	src := filepath.Join(dir, "src")
	if size(filepath.Join(src, "go.mod")) == size(filepath.Join(src, "_go.mod")) {
		return nil
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Name() == "_go.mod" && path != filepath.Join(src, "_go.mod") {
			return copyGoMod(path, filepath.Join(filepath.Dir(path), "go.mod"), writeBits)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return copyGoMod(filepath.Join(src, "_go.mod"), filepath.Join(src, "go.mod"), writeBits)
}

// allowExec adds execute bits to the files under root whose names match
// pattern ("" matches all).
func allowExec(root, pattern string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if pattern != "" {
			if ok, _ := filepath.Match(pattern, d.Name()); !ok {
				return nil
			}
		}
		info, err := os.Stat(path)
		if err != nil {
			return err
		}
		return os.Chmod(path, info.Mode()&0o777|0o111)
	})
}

// copyGoMod copies old to new unless new has old's size already, opening
// old's read-only directory for the write and restoring its mode after.
func copyGoMod(old, new string, writeBits fs.FileMode) error {
	oldInfo, err := os.Stat(old)
	if err != nil {
		return err
	}
	if size(new) == oldInfo.Size() {
		return nil
	}
	data, err := os.ReadFile(old)
	if err != nil {
		return err
	}
	dir := filepath.Dir(old)
	dirInfo, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if err := os.Chmod(dir, dirInfo.Mode()|writeBits); err != nil {
		return err
	}
	defer os.Chmod(dir, dirInfo.Mode())
	f, err := os.OpenFile(new, os.O_CREATE|os.O_WRONLY, writeBits&^0o111)
	if err != nil {
		if size(old) == size(new) {
			return nil
		}
		return err
	}
	defer os.Chmod(new, oldInfo.Mode())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func size(path string) int64 {
	info, err := os.Stat(path)
	if err != nil {
		return -1
	}
	return info.Size()
}
