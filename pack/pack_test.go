package pack

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
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
