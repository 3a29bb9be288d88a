//go:build unix

package beneath

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// tree makes a root with a file, a directory, and an outside file with
// symlinks to it and to the directory; the root itself is reached through
// a symlink (a trusted root may be one).
func tree(t *testing.T) (r *Root, outside string) {
	t.Helper()
	base := t.TempDir()
	real := filepath.Join(base, "real")
	outside = filepath.Join(base, "secret")
	must(t, os.MkdirAll(filepath.Join(real, "d"), 0o777))
	must(t, os.WriteFile(filepath.Join(real, "d", "f"), []byte("inside"), 0o666))
	must(t, os.WriteFile(outside, []byte("outside"), 0o666))
	must(t, os.MkdirAll(filepath.Join(base, "odir"), 0o777))
	must(t, os.WriteFile(filepath.Join(base, "odir", "f"), []byte("outside"), 0o666))
	must(t, os.Symlink(outside, filepath.Join(real, "d", "link")))
	must(t, os.Symlink(filepath.Join(base, "odir"), filepath.Join(real, "ldir")))
	must(t, os.Symlink("f", filepath.Join(real, "d", "rel")))
	must(t, syscall.Mkfifo(filepath.Join(real, "d", "fifo"), 0o666))
	must(t, os.Symlink(real, filepath.Join(base, "root")))
	return New(filepath.Join(base, "root")), outside
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// both runs f with openat2 (where the kernel has it) and with the walk.
func both(t *testing.T, f func(t *testing.T, r *Root, outside string)) {
	for _, walk := range []bool{false, true} {
		name := "openat2"
		if walk {
			name = "walk"
		}
		t.Run(name, func(t *testing.T) {
			r, outside := tree(t)
			r.noOpenat2.Store(walk)
			f(t, r, outside)
		})
	}
}

// TestOpen: a regular file is read; a symlink in any component, a FIFO
// (without blocking), a directory and a path leaving the root are refused.
func TestOpen(t *testing.T) {
	both(t, func(t *testing.T, r *Root, outside string) {
		if data, err := r.ReadFile("d/f"); err != nil || string(data) != "inside" {
			t.Fatalf("ReadFile(d/f) = %q, %v", data, err)
		}
		for _, rel := range []string{"d/link", "d/rel", "ldir/f", "d/fifo", "d"} {
			if _, err := r.Open(rel); !errors.Is(err, ErrNotRegular) {
				t.Errorf("Open(%s) = %v; want ErrNotRegular", rel, err)
			}
			if _, err := r.ReadFile(rel); !errors.Is(err, ErrNotRegular) {
				t.Errorf("ReadFile(%s) = %v; want ErrNotRegular", rel, err)
			}
		}
		for _, rel := range []string{"../secret", "d/../../secret", "/etc/passwd", "", "./d/f"} {
			if _, err := r.Open(rel); err == nil {
				t.Errorf("Open(%q) succeeded", rel)
			}
		}
		if _, err := r.Open("d/missing"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open(d/missing) = %v; want fs.ErrNotExist", err)
		}
		if err := r.Regular("d/f"); err != nil {
			t.Errorf("Regular(d/f) = %v", err)
		}
		if _, err := r.ReadDir("ldir"); !errors.Is(err, ErrNotRegular) {
			t.Errorf("ReadDir(ldir) = %v; want ErrNotRegular", err)
		}
		if ents, err := r.ReadDir("d"); err != nil || len(ents) != 4 {
			t.Errorf("ReadDir(d) = %d entries, %v; want 4", len(ents), err)
		}
	})
}

// TestWrite: writes stay below the root: a symlinked directory on the way
// is refused, a temp file never reuses a name, and a rename replaces a
// symlink rather than writing through it.
func TestWrite(t *testing.T) {
	both(t, func(t *testing.T, r *Root, outside string) {
		if err := r.MkdirAll("ldir/sub", 0o777); !errors.Is(err, ErrNotRegular) {
			t.Errorf("MkdirAll through a symlink = %v; want ErrNotRegular", err)
		}
		if _, _, err := r.CreateTemp("ldir", "x", 0o666); !errors.Is(err, ErrNotRegular) {
			t.Errorf("CreateTemp through a symlink = %v; want ErrNotRegular", err)
		}
		f, rel, err := r.CreateTemp("a/b", "list", 0o666)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("new")
		f.Close()
		must(t, os.Symlink(outside, r.Join("a/b/list")))
		must(t, r.Rename(rel, "a/b/list"))
		if data, _ := os.ReadFile(outside); string(data) != "outside" {
			t.Errorf("the outside file became %q", data)
		}
		if data, err := r.ReadFile("a/b/list"); err != nil || string(data) != "new" {
			t.Errorf("renamed file = %q, %v", data, err)
		}
		must(t, r.Remove("d/link"))
		if _, err := os.Stat(outside); err != nil {
			t.Errorf("Remove of a symlink removed its target: %v", err)
		}
		if ents, _ := os.ReadDir(filepath.Join(filepath.Dir(outside), "odir")); len(ents) != 1 {
			t.Errorf("something was written outside the root: %v", ents)
		}
	})
}

// TestRootReplaced: a root removed and made again is opened anew.
func TestRootReplaced(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "root")
	must(t, os.MkdirAll(dir, 0o777))
	r := New(dir)
	if _, err := r.ReadFile("f"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadFile = %v", err)
	}
	must(t, os.RemoveAll(dir))
	must(t, os.MkdirAll(dir, 0o777))
	must(t, os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o666))
	if data, err := r.ReadFile("f"); err != nil || string(data) != "x" {
		t.Fatalf("after the root was made again: ReadFile = %q, %v", data, err)
	}
}

// BenchmarkOpen compares Open (and Stat, as serve uses it) with os.Open on
// a path as deep as a module cache's.
func BenchmarkOpen(b *testing.B) {
	dir := b.TempDir()
	rel := "cache/download/github.com/some/module/@v/v1.2.3.zip"
	must2(b, os.MkdirAll(filepath.Join(dir, filepath.Dir(rel)), 0o777))
	must2(b, os.WriteFile(filepath.Join(dir, rel), []byte("zip"), 0o666))
	r := New(dir)
	b.Run("os.Open", func(b *testing.B) {
		for b.Loop() {
			f, err := os.Open(filepath.Join(dir, rel))
			if err != nil {
				b.Fatal(err)
			}
			f.Stat()
			f.Close()
		}
	})
	for _, walk := range []bool{false, true} {
		name := "beneath.openat2"
		if walk {
			name = "beneath.walk"
		}
		b.Run(name, func(b *testing.B) {
			r.noOpenat2.Store(walk)
			for b.Loop() {
				f, err := r.Open(rel)
				if err != nil {
					b.Fatal(err)
				}
				f.Stat()
				f.Close()
			}
		})
	}
}

func must2(b *testing.B, err error) {
	if err != nil {
		b.Fatal(err)
	}
}

// TestReadFileTooLarge: a file read whole is refused past its bound
// before any of it is read (a sparse file costs no disk, but would cost
// the reader its memory).
func TestReadFileTooLarge(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "big"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxRead + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	os.WriteFile(filepath.Join(dir, "small"), []byte("0123456789"), 0o666)
	r := New(dir)
	if _, err := r.ReadFile("big"); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ReadFile of a file past MaxRead: %v; want ErrTooLarge", err)
	}
	if _, err := r.ReadFileMax("small", 9); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ReadFileMax(9) of 10 bytes: %v; want ErrTooLarge", err)
	}
	if data, err := r.ReadFileMax("small", 10); err != nil || string(data) != "0123456789" {
		t.Errorf("ReadFileMax(10) of 10 bytes = %q, %v", data, err)
	}
}
