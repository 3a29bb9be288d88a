// Package modtest builds module zips, and GOPROXY trees of them, for tests.
package modtest

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
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

// Module is a module version to serve from a GOPROXY tree: its go.mod and
// its other files.
type Module struct {
	Path, Version string
	GoMod         string
	Files         map[string]string
}

// ProxyTree writes mods in the GOPROXY layout below a new directory (a
// .info, .mod and .zip per version, and each path's @v/list) and returns
// its file:// URL, for GOPROXY, and the go.sum lines of every module.
func ProxyTree(t testing.TB, mods ...Module) (url, sums string) {
	t.Helper()
	root := t.TempDir()
	lists := map[string][]string{}
	var lines []string
	for _, m := range mods {
		mod := module.Version{Path: m.Path, Version: m.Version}
		esc, err := module.EscapePath(m.Path)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(root, esc, "@v")
		if err := os.MkdirAll(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		files := map[string]string{"go.mod": m.GoMod}
		for name, data := range m.Files {
			files[name] = data
		}
		zip := Zip(t, mod, files)
		for name, data := range map[string][]byte{
			".info": []byte(`{"Version":"` + m.Version + `","Time":"2023-01-02T03:04:05Z"}`),
			".mod":  []byte(m.GoMod),
			".zip":  zip,
		} {
			if err := os.WriteFile(filepath.Join(dir, m.Version+name), data, 0o666); err != nil {
				t.Fatal(err)
			}
		}
		lists[dir] = append(lists[dir], m.Version)
		modHash, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader(m.GoMod)), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, m.Path+" "+m.Version+" "+MustHashZip(t, zip), m.Path+" "+m.Version+"/go.mod "+modHash)
	}
	for dir, versions := range lists {
		if err := os.WriteFile(filepath.Join(dir, "list"), []byte(strings.Join(versions, "\n")+"\n"), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(lines)
	return "file://" + filepath.ToSlash(root), strings.Join(lines, "\n") + "\n"
}
