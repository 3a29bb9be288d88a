// Package modtest builds module zips for tests.
package modtest

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
)

// Zip returns a module zip for mod holding files (name → content, names
// relative to the module root), in name order.
func Zip(t testing.TB, mod module.Version, files map[string]string) []byte {
	t.Helper()
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range names {
		w, err := zw.Create(mod.Path + "@" + mod.Version + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(files[name]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// HashZip returns the go.sum hash of zip content, or the error hashing it.
func HashZip(t testing.TB, data []byte) (string, error) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "m.zip")
	if err := os.WriteFile(file, data, 0o666); err != nil {
		t.Fatal(err)
	}
	return dirhash.HashZip(file, dirhash.DefaultHash)
}

// MustHashZip is HashZip that fails the test on error.
func MustHashZip(t testing.TB, data []byte) string {
	t.Helper()
	h, err := HashZip(t, data)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
