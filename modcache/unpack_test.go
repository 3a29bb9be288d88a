package modcache

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"

	"gomodfetch/internal/modtest"
)

// TestUnpackHash: the hash Unpack computes while extracting is the one
// dirhash.HashZip computes from the zip, and the tree holds the files.
func TestUnpackHash(t *testing.T) {
	mod := module.Version{Path: "example.com/m", Version: "v1.0.0"}
	files := map[string]string{"go.mod": "module example.com/m\n", "m.go": "package m\n"}
	for i := range 40 {
		files[filepath.ToSlash(filepath.Join("pkg", string(rune('a'+i%7)), "f.go"))+string(rune('0'+i%10))] = string(bytes.Repeat([]byte("x"), i*97))
	}
	plain := modtest.Zip(t, mod, files)
	// The same with directory entries, which the hash counts too.
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	zr, _ := zip.NewReader(bytes.NewReader(plain), int64(len(plain)))
	zw.Create(mod.Path + "@" + mod.Version + "/pkg/")
	for _, f := range zr.File {
		w, _ := zw.Create(f.Name)
		r, _ := f.Open()
		buf2 := new(bytes.Buffer)
		buf2.ReadFrom(r)
		w.Write(buf2.Bytes())
	}
	zw.Close()
	for name, data := range map[string][]byte{"plain": plain, "with dirs": buf.Bytes()} {
		t.Run(name, func(t *testing.T) {
			zipfile := filepath.Join(t.TempDir(), "m.zip")
			if err := os.WriteFile(zipfile, data, 0o666); err != nil {
				t.Fatal(err)
			}
			want, err := dirhash.HashZip(zipfile, dirhash.DefaultHash)
			if err != nil {
				t.Fatal(err)
			}
			c := &Cache{Root: t.TempDir()}
			held, err := c.Lock(context.Background(), mod)
			if err != nil {
				t.Fatal(err)
			}
			defer held.Unlock()
			u, err := held.Unpack(zipfile)
			if err != nil {
				t.Fatal(err)
			}
			if u.Hash != want {
				t.Errorf("Unpack hash %s, HashZip %s", u.Hash, want)
			}
			if _, ok := c.Extracted(mod); ok {
				t.Errorf("the tree counts before Seal")
			}
			if err := u.Seal(); err != nil {
				t.Fatal(err)
			}
			if _, ok := c.Extracted(mod); !ok {
				t.Errorf("the tree does not count after Seal")
			}
			got, err := dirhash.HashDir(u.Dir, mod.Path+"@"+mod.Version, dirhash.DefaultHash)
			if err != nil || (name == "plain" && got != want) {
				t.Errorf("HashDir of the tree = %s, %v; want %s", got, err, want)
			}
		})
	}
}

// TestUnpackRefusesEscape: a name that leaves the tree is refused, even
// without x/mod/zip's checks in front.
func TestUnpackRefusesEscape(t *testing.T) {
	mod := module.Version{Path: "example.com/m", Version: "v1.0.0"}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create(mod.Path + "@" + mod.Version + "/../../escape.go")
	w.Write([]byte("package x\n"))
	zw.Close()
	zipfile := filepath.Join(t.TempDir(), "m.zip")
	os.WriteFile(zipfile, buf.Bytes(), 0o666)
	c := &Cache{Root: t.TempDir()}
	held, err := c.Lock(context.Background(), mod)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Unlock()
	if _, err := held.Unpack(zipfile); err == nil {
		t.Fatal("a zip with ../ in a name was unpacked")
	}
	if _, err := os.Stat(filepath.Join(c.Root, "escape.go")); err == nil {
		t.Fatal("a file was written outside the tree")
	}
}
