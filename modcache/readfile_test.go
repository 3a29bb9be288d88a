package modcache

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/lockedfile"

	"gomodfetch/internal/beneath"
)

// ReadFile returns what os.ReadFile returns: the bytes of files of every
// size around its first buffer, and errors that say the same.
func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, 1, 1023, 1024, 1025, 4096, 100_000} {
		name := filepath.Join(dir, "f")
		want := bytes.Repeat([]byte("abcdefg"), n/7+1)[:n]
		if err := os.WriteFile(name, want, 0o666); err != nil {
			t.Fatal(err)
		}
		for _, read := range []func(string) ([]byte, error){ReadFile, readLocked} {
			got, err := read(name)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%d bytes: got %d bytes, %v", n, len(got), err)
			}
		}
	}
	_, err := ReadFile(filepath.Join(dir, "missing"))
	var pe *fs.PathError
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) || pe.Path != filepath.Join(dir, "missing") {
		t.Errorf("missing file: %v, want a *fs.PathError for fs.ErrNotExist", err)
	}
	if _, err := ReadFile(dir); err == nil {
		t.Errorf("a directory: no error")
	}
}

// readLocked is how the cache reads a .ziphash (ZipHash).
func readLocked(name string) ([]byte, error) {
	return beneath.New(filepath.Dir(name)).ReadFileShared(filepath.Base(name))
}

// A .ziphash is read after a writer holding the go command's lock is
// done, as lockedfile.Read waits for it, and what it wrote is read.
func TestReadLockedWaitsForWriter(t *testing.T) {
	name := filepath.Join(t.TempDir(), "x.ziphash")
	f, err := lockedfile.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan []byte)
	go func() {
		data, _ := readLocked(name)
		done <- data
	}()
	select {
	case data := <-done:
		t.Fatalf("read %q while the writer held the lock", data)
	case <-time.After(100 * time.Millisecond):
	}
	f.WriteString("h1:abc=\n")
	f.Close()
	select {
	case data := <-done:
		if string(data) != "h1:abc=\n" {
			t.Fatalf("read %q after the writer finished", data)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still waiting 10s after the writer released its lock")
	}
}
