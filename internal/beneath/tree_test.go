//go:build unix

package beneath

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestRemoveAll: a read-only tree (as go extracts a module) is counted and
// removed; a symlink inside it is removed, not followed; a symlinked
// directory on the way is refused; a missing tree removes nothing.
func TestRemoveAll(t *testing.T) {
	r, outside := tree(t)
	real := r.Join("")
	mod := filepath.Join(real, "m@v1")
	must(t, os.MkdirAll(filepath.Join(mod, "sub"), 0o777))
	must(t, os.WriteFile(filepath.Join(mod, "a.go"), []byte("package a\n"), 0o444))
	must(t, os.WriteFile(filepath.Join(mod, "sub", "b.go"), []byte("package b\n\n"), 0o444))
	must(t, os.Symlink(outside, filepath.Join(mod, "sub", "evil")))
	must(t, os.Symlink(filepath.Dir(outside)+"/odir", filepath.Join(mod, "evildir")))
	must(t, os.Chmod(filepath.Join(mod, "sub"), 0o555))
	must(t, os.Chmod(mod, 0o555))

	u, err := r.Usage("m@v1")
	if err != nil || u != (Sizes{Files: 4, Bytes: 10 + 11}) {
		t.Fatalf("Usage = %+v, %v; want 4 files, 21 bytes", u, err)
	}
	if _, err := r.RemoveAll("ldir/f"); !errors.Is(err, ErrNotRegular) {
		t.Errorf("RemoveAll through a symlinked directory: %v; want ErrNotRegular", err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(outside), "odir", "f")); err != nil {
		t.Errorf("the file behind a symlinked directory is gone: %v", err)
	}
	got, err := r.RemoveAll("m@v1")
	if err != nil || got != u {
		t.Fatalf("RemoveAll = %+v, %v; want %+v", got, err, u)
	}
	if _, err := os.Lstat(mod); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("tree still there: %v", err)
	}
	for _, f := range []string{outside, filepath.Join(filepath.Dir(outside), "odir", "f")} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("%s, outside the root, is gone: %v", f, err)
		}
	}
	if got, err := r.RemoveAll("m@v1"); err != nil || got != (Sizes{}) {
		t.Errorf("RemoveAll of a missing tree = %+v, %v", got, err)
	}
	// A symlink as the tree itself is removed as a link.
	if got, err := r.RemoveAll("ldir"); err != nil || got.Files != 1 {
		t.Errorf("RemoveAll(symlink) = %+v, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(outside), "odir", "f")); err != nil {
		t.Errorf("removing a symlink removed its target: %v", err)
	}
}

// TestRemoveAllRefused: a file the process may not remove is an error
// naming it, and what was removed before it is counted.
func TestRemoveAllRefused(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root may remove anything")
	}
	r, _ := tree(t)
	dir := filepath.Join(r.Join(""), "locked")
	must(t, os.MkdirAll(filepath.Join(dir, "inner"), 0o777))
	must(t, os.WriteFile(filepath.Join(dir, "inner", "f"), []byte("x"), 0o666))
	// Not ours to make writable: a directory whose mode cannot be changed
	// is simulated by a parent without write permission.
	must(t, os.Chmod(r.Join(""), 0o555))
	t.Cleanup(func() { os.Chmod(r.Join(""), 0o755) })
	_, err := r.RemoveAll("locked")
	var pe *fs.PathError
	if !errors.As(err, &pe) || !errors.Is(err, fs.ErrPermission) || pe.Path != r.Join("locked") {
		t.Errorf("RemoveAll in a read-only parent: %v; want a permission error naming %s", err, r.Join("locked"))
	}
}
