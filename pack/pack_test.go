package pack

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// TestTarFormats: each compression is written so that its standard reader
// gets the same files back.
func TestTarFormats(t *testing.T) {
	files := map[string]string{"example.com/a/@v/list": "v1.0.0\n", "example.com/a/@v/v1.0.0.mod": "module example.com/a\n", "sumdb/x/supported": ""}
	for _, name := range []string{"m.tar", "m.tar.gz", "m.tgz", "m.tar.zst"} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			tw, err := NewTar(&buf, name)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for n := range files {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				if err := tw.Add(n, int64(len(files[n])), strings.NewReader(files[n])); err != nil {
					t.Fatal(err)
				}
			}
			if err := tw.Close(); err != nil {
				t.Fatal(err)
			}
			var r io.Reader = &buf
			switch {
			case strings.HasSuffix(name, "gz"):
				if r, err = gzip.NewReader(r); err != nil {
					t.Fatal(err)
				}
			case strings.HasSuffix(name, "zst"):
				zr, err := zstd.NewReader(r)
				if err != nil {
					t.Fatal(err)
				}
				defer zr.Close()
				r = zr
			}
			got := map[string]string{}
			tr := tar.NewReader(r)
			for {
				hdr, err := tr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				data, _ := io.ReadAll(tr)
				got[hdr.Name] = string(data)
			}
			if len(got) != len(files) {
				t.Fatalf("read back %v, want %v", got, files)
			}
			for n, d := range files {
				if got[n] != d {
					t.Errorf("%s = %q, want %q", n, got[n], d)
				}
			}
		})
	}
	if _, err := NewTar(io.Discard, "m.zip"); err == nil {
		t.Error("a .zip name was accepted")
	}
}

// TestDirWritesInside checks that a Dir sink never writes outside its
// directory: a planted <file>.tmp symlink is not written through, and a
// subdirectory that is a symlink is refused.
func TestDirWritesInside(t *testing.T) {
	base := t.TempDir()
	target := filepath.Join(base, "pack")
	outside := filepath.Join(base, "outside")
	outDir := filepath.Join(base, "outdir")
	os.MkdirAll(filepath.Join(target, "example.com", "a", "@v"), 0o777)
	os.MkdirAll(outDir, 0o777)
	os.WriteFile(outside, []byte("keep me"), 0o666)
	os.Symlink(outside, filepath.Join(target, "example.com", "a", "@v", "v1.0.0.mod.tmp"))
	os.Symlink(outDir, filepath.Join(target, "evil.com"))

	d := newDir(t, target)
	if err := d.Add("example.com/a/@v/v1.0.0.mod", 21, strings.NewReader("module example.com/a\n")); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(outside); string(data) != "keep me" {
		t.Errorf("the planted .tmp symlink was written through: the outside file has %q", data)
	}
	if data, _ := os.ReadFile(filepath.Join(target, "example.com", "a", "@v", "v1.0.0.mod")); string(data) != "module example.com/a\n" {
		t.Errorf("the file = %q", data)
	}
	if err := d.Add("evil.com/x/@v/list", 7, strings.NewReader("v1.0.0\n")); err == nil {
		t.Error("writing below a symlinked directory succeeded")
	}
	if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
		t.Errorf("files were written outside the directory: %v", ents)
	}
}

func newDir(t *testing.T, dir string) Sink {
	d, err := NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
