package verify

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"gomodfetch/internal/modtest"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
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
	want, err := modtest.HashZip(t, good)
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
		if h, err := modtest.HashZip(t, bad); err != nil || h != want {
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

// The module in testdata/zips (see make.sh there).
var fixtureFiles = map[string]string{
	"example.com/m@v1.0.0/go.mod": "module example.com/m\n\ngo 1.21\n",
	"example.com/m@v1.0.0/m.go":   "package m\n\n// X is one.\nconst X = 1\n\nfunc F() string { return \"hello hello hello hello hello hello\" }\n",
}

// writerZips returns zips of the fixture module written by other tools
// (testdata/zips) and by archive/zip, which writes data descriptors.
func writerZips(t *testing.T) map[string][]byte {
	t.Helper()
	zips := map[string][]byte{}
	paths, err := filepath.Glob("testdata/zips/*.zip")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		zips[filepath.Base(p)] = b
	}
	names := []string{"example.com/m@v1.0.0/go.mod", "example.com/m@v1.0.0/m.go"}
	for _, kind := range []string{"create", "createheader-store", "createheader-deflate"} {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, name := range names {
			var w io.Writer
			var err error
			switch kind {
			case "create":
				w, err = zw.Create(name)
			default:
				h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: time.Date(2024, 1, 2, 3, 4, 6, 0, time.UTC)}
				if kind == "createheader-store" {
					h.Method = zip.Store
				}
				w, err = zw.CreateHeader(h)
			}
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(w, fixtureFiles[name])
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		zips["archive-zip-"+kind+".zip"] = buf.Bytes()
	}
	return zips
}

// TestCheckZipLayoutWriters checks that zips from common writers, streamed
// or not, pass the structure check and checkZip with the content's hash.
func TestCheckZipLayoutWriters(t *testing.T) {
	mod := module.Version{Path: "example.com/m", Version: "v1.0.0"}
	for name, b := range writerZips(t) {
		t.Run(name, func(t *testing.T) {
			z, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			var streamed bool
			var files []string
			for _, f := range z.File {
				streamed = streamed || f.Flags&0x8 != 0
				files = append(files, f.Name)
				rc, err := f.Open()
				if err != nil {
					t.Fatal(err)
				}
				data, err := io.ReadAll(rc)
				if err != nil {
					t.Fatalf("archive/zip reading %s: %v", f.Name, err)
				}
				if want, ok := fixtureFiles[f.Name]; ok && string(data) != want {
					t.Fatalf("%s holds %q", f.Name, data)
				}
			}
			t.Logf("data descriptors: %v", streamed)
			if err := checkZipLayout(bytes.NewReader(b), int64(len(b)), z); err != nil {
				t.Fatalf("refused: %v", err)
			}
			if name == "infozip-stdin.zip" {
				return // its entry is "-", not a module file
			}
			want, err := dirhash.Hash1(files, func(name string) (io.ReadCloser, error) {
				return io.NopCloser(strings.NewReader(fixtureFiles[name])), nil
			})
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(t.TempDir(), name)
			if err := os.WriteFile(file, b, 0o666); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			h, err := CheckZip(mod, f)
			if err != nil {
				t.Fatalf("checkZip: %v", err)
			}
			if h != want {
				t.Fatalf("hash %s, want %s", h, want)
			}
		})
	}
}

// TestCheckZipLayoutDamage checks that damage to the zips of
// TestCheckZipLayoutWriters is still found: a local header's name, a data
// descriptor's CRC or size, bytes between entries.
func TestCheckZipLayoutDamage(t *testing.T) {
	le := binary.LittleEndian
	for name, good := range writerZips(t) {
		z, err := zip.NewReader(bytes.NewReader(good), int64(len(good)))
		if err != nil {
			t.Fatal(err)
		}
		first := z.File[0]
		data, err := first.DataOffset()
		if err != nil {
			t.Fatal(err)
		}
		damage := map[string][]byte{}
		flip := func(what string, i int64) {
			b := append([]byte(nil), good...)
			b[i] ^= 0x20
			damage[what] = b
		}
		// The local header's name ends where its extra field begins.
		extraLen := int64(le.Uint16(good[28:]))
		flip("name", data-extraLen-1)
		if first.Flags&0x8 != 0 {
			d := data + int64(first.CompressedSize64)
			if le.Uint32(good[d:]) == 0x08074b50 {
				d += 4
			}
			flip("descriptor crc", d)
			flip("descriptor size", d+4)
		}
		if len(z.File) > 1 {
			damage["gap"] = insertGap(t, good, z, 1)
		}
		t.Logf("%s: %d damaged copies", name, len(damage))
		for what, bad := range damage {
			bz, err := zip.NewReader(bytes.NewReader(bad), int64(len(bad)))
			if err != nil {
				t.Errorf("%s, %s: the reader refuses it (%v); the test damaged the wrong bytes", name, what, err)
				continue
			}
			if err := checkZipLayout(bytes.NewReader(bad), int64(len(bad)), bz); err == nil {
				t.Errorf("%s with damaged %s: accepted", name, what)
			}
		}
	}
}

// insertGap inserts 4 bytes before the local header of z's entry i and
// moves the central directory's offsets to match, so that only the layout
// check sees it.
func insertGap(t *testing.T, b []byte, z *zip.Reader, i int) []byte {
	t.Helper()
	le := binary.LittleEndian
	data, err := z.File[i].DataOffset()
	if err != nil {
		t.Fatal(err)
	}
	local := int64(bytes.LastIndex(b[:data], []byte{0x50, 0x4b, 0x03, 0x04}))
	cd, eocd, err := centralDir(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	out := append(append(append([]byte(nil), b[:local]...), 0, 0, 0, 0), b[local:]...)
	cd, eocd = cd+4, eocd+4
	if le.Uint32(out[eocd+16:]) == 0xffffffff {
		// zip64: the locator points at the zip64 end record, which has
		// the central directory's offset.
		rec := int64(le.Uint64(out[eocd-20+8:])) + 4
		le.PutUint64(out[eocd-20+8:], uint64(rec))
		le.PutUint64(out[rec+48:], uint64(cd))
	} else {
		le.PutUint32(out[eocd+16:], uint32(cd))
	}
	p := cd
	for range z.File {
		if off := le.Uint32(out[p+42:]); int64(off) >= local {
			if off == 0xffffffff {
				t.Fatal("zip64 entry offsets not handled")
			}
			le.PutUint32(out[p+42:], off+4)
		}
		p += 46 + int64(le.Uint16(out[p+28:])) + int64(le.Uint16(out[p+30:])) + int64(le.Uint16(out[p+32:]))
	}
	return out
}

// TestHashZipMatchesDirhash checks that HashZip (klauspost/compress's
// flate) gives dirhash.HashZip's hash on the writers' zips and on a zip of
// larger files at every compression level, and that a flipped byte in a
// deflated stream is an error, not some other hash.
func TestHashZipMatchesDirhash(t *testing.T) {
	dir := t.TempDir()
	zips := map[string][]byte{}
	for name, b := range writerZips(t) {
		zips[name] = b
	}
	// Text that compresses, bytes that do not, and both in blocks of
	// every kind (stored, fixed and dynamic Huffman).
	var text, noise bytes.Buffer
	for i := 0; text.Len() < 1<<20; i++ {
		fmt.Fprintf(&text, "func f%d(x int) int { return x * %d } // line %d\n", i, i*7919, i)
	}
	seed := uint64(1)
	for noise.Len() < 256<<10 {
		seed = seed*6364136223846793005 + 1442695040888963407
		noise.WriteByte(byte(seed >> 56))
	}
	for _, level := range []int{-100, flate.BestSpeed, flate.DefaultCompression, flate.BestCompression, flate.HuffmanOnly} {
		var buf bytes.Buffer
		w := zip.NewWriter(&buf)
		w.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) { return flate.NewWriter(out, level) })
		for i, data := range [][]byte{text.Bytes(), noise.Bytes(), nil, []byte("x"), append(noise.Bytes()[:1000:1000], text.Bytes()[:5000]...)} {
			method := zip.Deflate
			if level == -100 { // stored
				method = zip.Store
			}
			fw, err := w.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("example.com/m@v1.0.0/f%d.go", i), Method: method})
			if err != nil {
				t.Fatal(err)
			}
			fw.Write(data)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		zips[fmt.Sprintf("level%d.zip", level)] = buf.Bytes()
	}
	for name, b := range zips {
		file := filepath.Join(dir, name)
		if err := os.WriteFile(file, b, 0o666); err != nil {
			t.Fatal(err)
		}
		want, err := dirhash.HashZip(file, dirhash.DefaultHash)
		if err != nil {
			t.Fatalf("%s: dirhash.HashZip: %v", name, err)
		}
		got, err := HashZip(file)
		if err != nil || got != want {
			t.Errorf("%s: HashZip = %s, %v; dirhash.HashZip = %s", name, got, err, want)
		}
	}
	// A flipped byte inside the first file's deflated data (level 6).
	b := bytes.Clone(zips[fmt.Sprintf("level%d.zip", flate.DefaultCompression)])
	z, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	off, err := z.File[0].DataOffset()
	if err != nil {
		t.Fatal(err)
	}
	b[off+int64(z.File[0].CompressedSize64/2)] ^= 0x40
	file := filepath.Join(dir, "flipped.zip")
	os.WriteFile(file, b, 0o666)
	if h, err := HashZip(file); err == nil {
		t.Fatalf("HashZip of a damaged zip = %s, no error", h)
	}
}

// TestHashZipDuplicateNames checks that HashZip gives dirhash.HashZip's
// hash for a zip that names a file twice: dirhash.HashZip keeps the
// *last* entry of a name (its map of names is written in order), so the
// hash covers the last entry's bytes, twice. A zip like that never passes
// CheckZipStructure (x/mod/zip refuses it), but HashZipFile also hashes
// zips nothing else looked at (a cached zip without its .ziphash, serve's
// openZip, pack, audit), and its hash is the go command's.
func TestHashZipDuplicateNames(t *testing.T) {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, f := range []struct{ name, data string }{
		{"example.com/m@v1.0.0/go.mod", "module example.com/m\n"},
		{"example.com/m@v1.0.0/m.go", "package m\n\nconst X = 1\n"},
		{"example.com/m@v1.0.0/m.go", "package m\n\nconst X = 2 // swapped\n"},
	} {
		fw, err := w.Create(f.name)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(fw, f.data)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "dup.zip")
	if err := os.WriteFile(file, buf.Bytes(), 0o666); err != nil {
		t.Fatal(err)
	}
	want, err := dirhash.HashZip(file, dirhash.DefaultHash)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := HashZip(file); err != nil || got != want {
		t.Errorf("HashZip = %s, %v; dirhash.HashZip = %s", got, err, want)
	}
}

// TestHashZipInflateAgrees checks HashZip (klauspost/compress's flate)
// against dirhash.HashZip (compress/flate) on deflated entries whose
// streams are damaged or lie about their sizes: both fail, or both give
// the same hash, and never a hang or a panic. Entries are written raw
// with no CRC-32 (0: archive/zip then checks none), so that a stream one
// decoder reads differently from the other shows as another hash, not as
// a checksum error that hides it.
func TestHashZipInflateAgrees(t *testing.T) {
	dir := t.TempDir()
	var text bytes.Buffer
	for i := 0; text.Len() < 3000; i++ {
		fmt.Fprintf(&text, "line %d: %d\n", i, i*i*7919%1000)
	}
	content := text.Bytes()
	deflate := func(data []byte, level int, final bool) []byte {
		var b bytes.Buffer
		fw, _ := flate.NewWriter(&b, level)
		fw.Write(data)
		if final {
			fw.Close()
		} else {
			fw.Flush() // a sync flush: no final block
		}
		return b.Bytes()
	}
	type entry struct {
		raw       []byte
		size      uint64
		crc       uint32
		directory bool
	}
	mkzip := func(entries ...entry) []byte {
		var buf bytes.Buffer
		w := zip.NewWriter(&buf)
		for i, e := range entries {
			name := fmt.Sprintf("example.com/m@v1.0.0/f%d.go", i)
			if e.directory {
				name = fmt.Sprintf("example.com/m@v1.0.0/d%d/", i)
			}
			fw, err := w.CreateRaw(&zip.FileHeader{Name: name, Method: zip.Deflate, CRC32: e.crc, CompressedSize64: uint64(len(e.raw)), UncompressedSize64: e.size})
			if err != nil {
				t.Fatal(err)
			}
			fw.Write(e.raw)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	full := deflate(content, flate.DefaultCompression, true)
	n := uint64(len(content))
	cases := map[string]struct {
		zip     []byte
		mustErr bool
	}{
		"whole":            {mkzip(entry{raw: full, size: n}), false},
		"truncated":        {mkzip(entry{raw: full[:len(full)/2], size: n}), true},
		"truncated by one": {mkzip(entry{raw: full[:len(full)-1], size: n}), true},
		"no data":          {mkzip(entry{size: 0}), false},
		"no data, size 1":  {mkzip(entry{size: 1}), true},
		"empty stream":     {mkzip(entry{raw: deflate(nil, flate.DefaultCompression, true), size: 0}), false},
		"inflates to more": {mkzip(entry{raw: full, size: n - 1}), true},
		"inflates to less": {mkzip(entry{raw: full, size: n + 1}), true},
		"trailing bytes":   {mkzip(entry{raw: append(bytes.Clone(full), "trailing garbage"...), size: n}), false},
		"no final block":   {mkzip(entry{raw: deflate(content, flate.DefaultCompression, false), size: n}), true},
		"stored blocks":    {mkzip(entry{raw: deflate(content, flate.NoCompression, true), size: n}), false},
		"huffman only":     {mkzip(entry{raw: deflate(content, flate.HuffmanOnly, true), size: n}), false},
		"garbage":          {mkzip(entry{raw: bytes.Repeat([]byte{0xff}, 64), size: n}), true},
		"zeros":            {mkzip(entry{raw: make([]byte, 64), size: n}), true},
		"directory":        {mkzip(entry{size: 0, directory: true}), false},
	}
	// Every byte of a stream of each kind of block flipped, three ways.
	for _, level := range []int{flate.NoCompression, flate.BestSpeed, flate.DefaultCompression, flate.HuffmanOnly} {
		raw := deflate(content[:600], level, true)
		for i := range raw {
			for _, mask := range []byte{0x01, 0x20, 0xff} {
				b := bytes.Clone(raw)
				b[i] ^= mask
				cases[fmt.Sprintf("level %d, byte %d ^ %#x", level, i, mask)] = struct {
					zip     []byte
					mustErr bool
				}{mkzip(entry{raw: b, size: 600}), false}
			}
		}
	}
	for name, tc := range cases {
		file := filepath.Join(dir, "z.zip")
		if err := os.WriteFile(file, tc.zip, 0o666); err != nil {
			t.Fatal(err)
		}
		want, werr := dirhash.HashZip(file, dirhash.DefaultHash)
		got, err := HashZip(file)
		switch {
		case (err == nil) != (werr == nil) || got != want:
			t.Errorf("%s: HashZip = %q, %v; dirhash.HashZip = %q, %v", name, got, err, want, werr)
		case tc.mustErr && err == nil:
			t.Errorf("%s: HashZip = %s, no error", name, got)
		}
	}
}
