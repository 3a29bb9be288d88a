package verify

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"

	"github.com/klauspost/compress/flate"
	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"

	"gomodfetch/retry"
)

// CheckZip runs the go command's checks on a downloaded zip before it may
// take its final name, and returns its hash. First the structure: a zip
// that does not parse, or whose local records disagree with its central
// directory (checkZipLayout), is a *DamagedZipError, which may be damage on
// the way. Then x/mod/zip's rules: every entry under path@version/, no ".."
// or absolute names, no names that differ only in case, no invalid file
// names, the size limits (zip and content 500 MiB, go.mod 16 MiB); a zip
// that breaks them is an *UnsafeZipError, refused for good.
func CheckZip(mod module.Version, f *os.File) (string, error) {
	if err := CheckZipStructure(mod, f); err != nil {
		return "", err
	}
	h, err := HashZipFile(f)
	if err != nil {
		return "", &DamagedZipError{Err: fmt.Errorf("hashing downloaded zip: %v", err), digest: FileDigest(f.Name())}
	}
	return h, nil
}

// CheckZipStructure is CheckZip without the hash, for a caller that hashes
// the zip as it extracts it (modcache.Locked.Unpack): its records and
// x/mod/zip's rules are checked from the directory alone, without
// inflating anything.
func CheckZipStructure(mod module.Version, f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	damaged := func(format string, err error) error {
		return &DamagedZipError{Err: fmt.Errorf(format, err), digest: FileDigest(f.Name())}
	}
	z, err := zip.NewReader(f, fi.Size())
	if err != nil {
		return damaged("downloaded zip is not valid: %v", err)
	}
	if err := checkZipLayout(f, fi.Size(), z); err != nil {
		return damaged("downloaded zip is damaged: %v", err)
	}
	cf, err := modzip.CheckZip(mod, f.Name())
	if cerr := cf.Err(); cerr != nil {
		return &UnsafeZipError{Err: cerr}
	}
	if err != nil {
		return damaged("downloaded zip is not valid: %v", err)
	}
	return nil
}

// DamagedZipError is a zip that does not hold together: bytes damaged on
// the way, or a proxy that serves something broken. It is transient; the
// caller can tell a repeat of the same bytes by Digest.
type DamagedZipError struct {
	Err    error
	digest string
}

func (e *DamagedZipError) Error() string           { return e.Err.Error() }
func (e *DamagedZipError) Unwrap() error           { return e.Err }
func (e *DamagedZipError) RetryClass() retry.Class { return retry.Transient }

// Digest is the sha256 of the zip's bytes ("" if they could not be read).
func (e *DamagedZipError) Digest() string { return e.digest }

// UnsafeZipError is a zip whose entries could escape or corrupt the module
// directory; it is refused before extraction and never retried. It does
// not name the module: the caller's module.ModuleError does.
type UnsafeZipError struct{ Err error }

func (e *UnsafeZipError) Error() string           { return "refusing zip: " + e.Err.Error() }
func (e *UnsafeZipError) Unwrap() error           { return e.Err }
func (e *UnsafeZipError) RetryClass() retry.Class { return retry.Permanent }

// FileDigest is the sha256 of a file's content, or "" if it cannot be
// read: it tells two damaged downloads apart.
func FileDigest(name string) string {
	f, err := os.Open(name)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

// checkZipLayout checks the parts of a zip that neither its go.sum hash
// (file names and contents) nor the zip reader (central directory, CRCs)
// look at: every local file header must repeat its central directory entry
// (name, flags, method, time, and sizes and CRC where it states them), the
// data descriptors must agree too, and local headers, data, descriptors and
// the central directory must follow each other with no gap. A zip damaged
// on the way in any of those bytes would verify and extract, but the cached
// file would not be the one the proxy serves; this finds it so the download
// is retried.
func checkZipLayout(r io.ReaderAt, size int64, z *zip.Reader) error {
	// DataOffset reads the entry's local header each time it is called:
	// once per entry here, not in the sort's comparisons (for a zip of
	// 4,000 files that was some 100,000 reads).
	type entry struct {
		f    *zip.File
		data int64
	}
	entries := make([]entry, len(z.File))
	for i, f := range z.File {
		data, err := f.DataOffset()
		if err != nil {
			return err
		}
		entries[i] = entry{f, data}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].data < entries[j].data })
	var pos int64
	for _, e := range entries {
		next, err := checkLocal(r, pos, e.f, e.data)
		if err != nil {
			return fmt.Errorf("zip entry %s: %w", e.f.Name, err)
		}
		pos = next
	}
	cd, eocd, err := centralDir(r, size)
	if err != nil {
		return err
	}
	if pos != cd {
		return fmt.Errorf("%d unexplained bytes before the central directory", cd-pos)
	}
	return checkCentralDir(r, cd, eocd, len(entries))
}

// checkCentralDir walks the central directory's entries from cd: each must
// be on disk 0 (a module zip is one file) and the last must end where the
// end record begins, which must count the same entries on every disk.
func checkCentralDir(r io.ReaderAt, cd, eocd int64, n int) error {
	le := binary.LittleEndian
	pos := cd
	for i := 0; i < n; i++ {
		var h [46]byte
		if _, err := r.ReadAt(h[:], pos); err != nil {
			return err
		}
		if le.Uint32(h[0:]) != 0x02014b50 || le.Uint16(h[34:]) != 0 {
			return errors.New("damaged central directory entry")
		}
		pos += 46 + int64(le.Uint16(h[28:])) + int64(le.Uint16(h[30:])) + int64(le.Uint16(h[32:]))
	}
	var e [22]byte
	if _, err := r.ReadAt(e[:], eocd); err != nil {
		return err
	}
	if le.Uint32(e[0:]) == 0x06054b50 && pos != eocd {
		// A zip64 end record and locator may stand between them.
		if le.Uint32(e[16:]) != 0xffffffff {
			return errors.New("central directory does not end where the end record begins")
		}
	}
	if le.Uint16(e[4:]) != 0 || le.Uint16(e[6:]) != 0 || le.Uint16(e[8:]) != le.Uint16(e[10:]) {
		return errors.New("damaged end of central directory record")
	}
	return nil
}

var errLayout = errors.New("local header does not match the central directory")

// checkLocal checks the local header, data and data descriptor of f that
// start at pos (its data at data, as f.DataOffset says) and returns where
// the next entry starts.
func checkLocal(r io.ReaderAt, pos int64, f *zip.File, data int64) (int64, error) {
	var h [30]byte
	if _, err := r.ReadAt(h[:], pos); err != nil {
		return 0, err
	}
	le := binary.LittleEndian
	if le.Uint32(h[0:]) != 0x04034b50 {
		return 0, errors.New("no local header where one belongs")
	}
	flags := le.Uint16(h[6:])
	nameLen, extraLen := int64(le.Uint16(h[26:])), int64(le.Uint16(h[28:]))
	if le.Uint16(h[4:]) != f.ReaderVersion || flags != f.Flags || le.Uint16(h[8:]) != f.Method ||
		le.Uint16(h[10:]) != f.ModifiedTime || le.Uint16(h[12:]) != f.ModifiedDate {
		return 0, errLayout
	}
	buf := make([]byte, nameLen+extraLen)
	if _, err := r.ReadAt(buf, pos+30); err != nil {
		return 0, err
	}
	if string(buf[:nameLen]) != f.Name {
		return 0, errLayout
	}
	if data != pos+30+nameLen+extraLen {
		return 0, errLayout
	}
	crc := le.Uint32(h[14:])
	cs, us, zip64, ok := localSizes(uint64(le.Uint32(h[18:])), uint64(le.Uint32(h[22:])), buf[nameLen:])
	if !ok {
		return 0, errLayout
	}
	streamed := flags&0x8 != 0
	// Without a data descriptor the header states the CRC and sizes; with
	// one, each may also be zero (not known yet when it was written).
	agrees := func(local, central uint64) bool {
		return local == central || streamed && local == 0
	}
	// A size of 0xffffffff with no zip64 field to say more leaves it to
	// the central directory, which must then be zip64 too.
	size := func(local, central uint64) bool {
		return agrees(local, central) || local == 0xffffffff && central >= 0xffffffff
	}
	if !agrees(uint64(crc), uint64(f.CRC32)) || !size(cs, f.CompressedSize64) || !size(us, f.UncompressedSize64) {
		return 0, errLayout
	}
	end := data + int64(f.CompressedSize64)
	if !streamed {
		return end, nil
	}
	next, ok, err := checkDescriptor(r, end, f, zip64 || f.CompressedSize64 >= 0xffffffff || f.UncompressedSize64 >= 0xffffffff)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, errors.New("data descriptor does not match the central directory")
	}
	return next, nil
}

// localSizes returns a local header's compressed and uncompressed sizes,
// taking those stored as 0xffffffff from its zip64 extra field, and whether
// it has that field. It reports !ok if a size the field must hold is
// missing from it.
func localSizes(cs, us uint64, extra []byte) (csize, usize uint64, zip64, ok bool) {
	le := binary.LittleEndian
	for len(extra) >= 4 {
		id, n := le.Uint16(extra), int(le.Uint16(extra[2:]))
		if n > len(extra)-4 {
			break
		}
		if id == 0x0001 {
			zip64 = true
			b := extra[4 : 4+n]
			// The fields are in this order, each there only if its
			// header field is 0xffffffff.
			for _, v := range []*uint64{&us, &cs} {
				if *v != 0xffffffff {
					continue
				}
				if len(b) < 8 {
					return 0, 0, zip64, false
				}
				*v, b = le.Uint64(b), b[8:]
			}
			break
		}
		extra = extra[4+n:]
	}
	return cs, us, zip64, true
}

// checkDescriptor looks for the data descriptor of f at end: an optional
// signature, the CRC and the two sizes, 8 bytes each if wide (the entry was
// written as zip64), else 4. Writers differ on the width, so the other one
// is tried too; the descriptor must agree with the central directory. It
// returns where the descriptor ends.
func checkDescriptor(r io.ReaderAt, end int64, f *zip.File, wide bool) (int64, bool, error) {
	le := binary.LittleEndian
	var d [24]byte
	n, err := r.ReadAt(d[:], end)
	if err != nil && err != io.EOF {
		return 0, false, err
	}
	b := d[:n]
	starts := []int{0}
	if len(b) >= 4 && le.Uint32(b) == 0x08074b50 {
		// A CRC could look like the signature: try both readings.
		starts = []int{4, 0}
	}
	widths := []int{4, 8}
	if wide {
		widths = []int{8, 4}
	}
	for _, s := range starts {
		for _, w := range widths {
			if len(b) < s+4+2*w {
				continue
			}
			crc := le.Uint32(b[s:])
			var cs, us uint64
			if w == 8 {
				cs, us = le.Uint64(b[s+4:]), le.Uint64(b[s+12:])
			} else {
				cs, us = uint64(le.Uint32(b[s+4:])), uint64(le.Uint32(b[s+8:]))
			}
			if crc == f.CRC32 && cs == f.CompressedSize64 && us == f.UncompressedSize64 {
				return end + int64(s+4+2*w), true, nil
			}
		}
	}
	return 0, false, nil
}

// centralDir finds the end-of-central-directory record and returns where
// the central directory starts and where the record is.
func centralDir(r io.ReaderAt, size int64) (cd, eocd int64, err error) {
	const eocdLen = 22
	le := binary.LittleEndian
	for back := int64(eocdLen); back <= size && back <= eocdLen+0xffff; back++ {
		var b [eocdLen]byte
		if _, err := r.ReadAt(b[:], size-back); err != nil {
			return 0, 0, err
		}
		if le.Uint32(b[0:]) != 0x06054b50 || int64(le.Uint16(b[20:])) != back-eocdLen {
			continue
		}
		off := int64(le.Uint32(b[16:]))
		if off == 0xffffffff {
			// zip64: the zip64 end record, found through its locator, has it.
			var loc [20]byte
			if _, err := r.ReadAt(loc[:], size-back-20); err != nil || le.Uint32(loc[0:]) != 0x07064b50 {
				return 0, 0, errors.New("zip64 locator missing")
			}
			var rec [56]byte
			if _, err := r.ReadAt(rec[:], int64(le.Uint64(loc[8:]))); err != nil || le.Uint32(rec[0:]) != 0x06064b50 {
				return 0, 0, errors.New("zip64 end record missing")
			}
			off = int64(le.Uint64(rec[48:]))
		}
		return off, size - back, nil
	}
	return 0, 0, errors.New("no end of central directory record")
}

// HashZip is dirhash.HashZip (h1:) of the zip file named file
// (HashZipFile).
func HashZip(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return HashZipFile(f)
}

// HashZipFile is dirhash.HashZip (h1:) of an open zip: the bytes of the
// file the caller opened, not of whatever its name names by the time it
// is hashed. It inflates with klauspost/compress's flate, which decodes
// the same bytes about 10-15% faster than compress/flate (hashing is most
// of a server's CPU); archive/zip still checks every file's CRC-32.
func HashZipFile(f *os.File) (string, error) {
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	z, err := zip.NewReader(f, fi.Size())
	if err != nil {
		return "", err
	}
	z.RegisterDecompressor(zip.Deflate, inflate)
	files := make([]string, 0, len(z.File))
	byName := make(map[string]*zip.File, len(z.File))
	for _, zf := range z.File {
		files = append(files, zf.Name)
		// The last of a repeated name, as dirhash.HashZip (its map of
		// names is written in order): its bytes are hashed for each.
		byName[zf.Name] = zf
	}
	return dirhash.DefaultHash(files, func(name string) (io.ReadCloser, error) {
		zf := byName[name]
		if zf == nil {
			return nil, fmt.Errorf("file %q not found in zip", name)
		}
		return zf.Open()
	})
}

// inflate is the zip.Decompressor HashZipFile uses for deflated files. Its
// readers are pooled, as archive/zip pools compress/flate's: a new one
// allocates some 40 KiB (its window and tables), and a zip of 5,000 small
// files hashed 30% slower than with compress/flate, allocating 2.2 times
// as much (379 MB against 169 MB).
func inflate(r io.Reader) io.ReadCloser {
	if fr, ok := inflaters.Get().(io.ReadCloser); ok {
		fr.(flate.Resetter).Reset(r, nil)
		return &pooledInflater{fr}
	}
	return &pooledInflater{flate.NewReader(r)}
}

var inflaters sync.Pool

// pooledInflater gives its reader back to inflaters when closed.
type pooledInflater struct{ io.ReadCloser }

func (p *pooledInflater) Close() error {
	if p.ReadCloser == nil {
		return errors.New("flate: reader closed twice")
	}
	err := p.ReadCloser.Close()
	inflaters.Put(p.ReadCloser)
	p.ReadCloser = nil
	return err
}
