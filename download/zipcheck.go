package download

import (
	"archive/zip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
)

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
	files := append([]*zip.File(nil), z.File...)
	for _, f := range files {
		if _, err := f.DataOffset(); err != nil {
			return err
		}
	}
	sort.Slice(files, func(i, j int) bool {
		a, _ := files[i].DataOffset()
		b, _ := files[j].DataOffset()
		return a < b
	})
	var pos int64
	for _, f := range files {
		next, err := checkLocal(r, pos, f)
		if err != nil {
			return fmt.Errorf("zip entry %s: %w", f.Name, err)
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
	return checkCentralDir(r, cd, eocd, len(files))
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
// start at pos and returns where the next entry starts.
func checkLocal(r io.ReaderAt, pos int64, f *zip.File) (int64, error) {
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
	name := make([]byte, nameLen)
	if _, err := r.ReadAt(name, pos+30); err != nil {
		return 0, err
	}
	if string(name) != f.Name {
		return 0, errLayout
	}
	data, err := f.DataOffset()
	if err != nil {
		return 0, err
	}
	if data != pos+30+nameLen+extraLen {
		return 0, errLayout
	}
	zip64 := f.CompressedSize64 >= 0xffffffff || f.UncompressedSize64 >= 0xffffffff
	if flags&0x8 != 0 {
		// The CRC and sizes follow the data; here they are zero, or the
		// real values.
		crc, cs, us := le.Uint32(h[14:]), uint64(le.Uint32(h[18:])), uint64(le.Uint32(h[22:]))
		if (crc != 0 || cs != 0 || us != 0) && (crc != f.CRC32 || cs != f.CompressedSize64 || us != f.UncompressedSize64) {
			return 0, errLayout
		}
	}
	if flags&0x8 == 0 {
		if le.Uint32(h[14:]) != f.CRC32 {
			return 0, errLayout
		}
		if !zip64 && (uint64(le.Uint32(h[18:])) != f.CompressedSize64 || uint64(le.Uint32(h[22:])) != f.UncompressedSize64) {
			return 0, errLayout
		}
		return data + int64(f.CompressedSize64), nil
	}
	// A data descriptor follows the data: an optional signature, the CRC
	// and the sizes (8 bytes each in zip64).
	end := data + int64(f.CompressedSize64)
	var d [24]byte
	n := 12
	if zip64 {
		n = 20
	}
	if _, err := r.ReadAt(d[:4], end); err != nil {
		return 0, err
	}
	off := end
	if le.Uint32(d[:4]) == 0x08074b50 {
		off += 4
	}
	if _, err := r.ReadAt(d[:n], off); err != nil {
		return 0, err
	}
	var csize, usize uint64
	if zip64 {
		csize, usize = le.Uint64(d[4:]), le.Uint64(d[12:])
	} else {
		csize, usize = uint64(le.Uint32(d[4:])), uint64(le.Uint32(d[8:]))
	}
	if le.Uint32(d[0:]) != f.CRC32 || csize != f.CompressedSize64 || usize != f.UncompressedSize64 {
		return 0, errors.New("data descriptor does not match the central directory")
	}
	return off + int64(n), nil
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
