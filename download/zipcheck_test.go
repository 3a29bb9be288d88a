package download

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// moduleZip builds a module zip the way proxies do (golang.org/x/mod/zip).
func moduleZip(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/m\n\ngo 1.21\n"), 0o666)
	os.WriteFile(filepath.Join(dir, "m.go"), []byte("package m\n\nconst X = 1\n"), 0o666)
	var buf bytes.Buffer
	if err := modzip.CreateFromDir(&buf, module.Version{Path: "example.com/m", Version: "v1.0.0"}, dir); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCheckZipLayout(t *testing.T) {
	good := moduleZip(t)
	check := func(b []byte) error {
		z, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return err
		}
		return checkZipLayout(bytes.NewReader(b), int64(len(b)), z)
	}
	if err := check(good); err != nil {
		t.Fatalf("a well-formed module zip is refused: %v", err)
	}
	// Also a zip written by archive/zip with data descriptors (streamed).
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("example.com/m@v1.0.0/go.mod")
	w.Write([]byte("module example.com/m\n"))
	zw.Close()
	if err := check(buf.Bytes()); err != nil {
		t.Fatalf("a streamed zip is refused: %v", err)
	}

	// Flip each byte in turn: every flip must be caught by the reader, by
	// the content hash, or by the layout check — none may go unnoticed.
	want, err := hashZipData(t, good)
	if err != nil {
		t.Fatal(err)
	}
	var unnoticed []int
	for i := range good {
		bad := append([]byte(nil), good...)
		bad[i] ^= 0x20
		if err := check(bad); err != nil {
			continue
		}
		if h, err := hashZipData(t, bad); err != nil || h != want {
			continue
		}
		unnoticed = append(unnoticed, i)
	}
	// The bytes no copy or hash covers: the central directory's "version
	// made by", internal and external attributes, and the end record's
	// disk numbers and comment length low bits that the reader tolerates.
	if len(unnoticed) > len(good)/10 {
		t.Errorf("%d of %d single-byte flips go unnoticed (at %v)", len(unnoticed), len(good), unnoticed)
	}
	t.Logf("%d of %d single-byte flips unnoticed", len(unnoticed), len(good))
}
