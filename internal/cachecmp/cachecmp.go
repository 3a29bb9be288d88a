// Package cachecmp compares two module caches the way gomodfetch is held to
// `go mod download`: the same files, the same bytes, the same permission
// bits. Lock files and temporary files are left out: they are not part of
// what a later go command reads.
package cachecmp

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// smallFile is the size up to which Read keeps a file's content, for
// messages and for callers that look inside (version lists).
const smallFile = 64 << 10

// Entry is one file or directory of a cache.
type Entry struct {
	Mode fs.FileMode
	Size int64
	Sum  [sha256.Size]byte
	Data []byte // the content of regular files up to 64 KiB
}

// Read returns every entry below root by relative path. A root that does
// not exist is an empty cache (nothing was written).
func Read(root string) (map[string]Entry, error) {
	m := map[string]Entry{}
	if _, err := os.Stat(root); os.IsNotExist(err) {
		return m, nil
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if strings.HasSuffix(name, ".lock") || strings.HasSuffix(name, ".tmp") || strings.Contains(name, ".tmp-") {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		e := Entry{Mode: fi.Mode(), Size: fi.Size()}
		if fi.Mode().IsRegular() {
			if e.Sum, e.Data, err = hashFile(p, fi.Size()); err != nil {
				return err
			}
		}
		rel, _ := filepath.Rel(root, p)
		m[rel] = e
		return nil
	})
	return m, err
}

func hashFile(name string, size int64) (sum [sha256.Size]byte, data []byte, err error) {
	f, err := os.Open(name)
	if err != nil {
		return sum, nil, err
	}
	defer f.Close()
	h := sha256.New()
	var w io.Writer = h
	var buf bytes.Buffer
	if size <= smallFile {
		w = io.MultiWriter(h, &buf)
	}
	if _, err := io.Copy(w, f); err != nil {
		return sum, nil, err
	}
	copy(sum[:], h.Sum(nil))
	if size <= smallFile {
		data = buf.Bytes()
	}
	return sum, data, nil
}

// Compare lists the differences between the caches at a and b, sorted; an
// empty list means they are the same.
func Compare(a, b string) []string {
	ma, err := Read(a)
	if err != nil {
		return []string{err.Error()}
	}
	mb, err := Read(b)
	if err != nil {
		return []string{err.Error()}
	}
	var diffs []string
	for p, ea := range ma {
		eb, ok := mb[p]
		switch {
		case !ok:
			diffs = append(diffs, "only in "+a+": "+p)
		case ea.Mode != eb.Mode:
			diffs = append(diffs, fmt.Sprintf("%s: mode %v vs %v", p, ea.Mode, eb.Mode))
		case ea.Sum != eb.Sum:
			diffs = append(diffs, fmt.Sprintf("%s: content differs (%d vs %d bytes):\n\t%q\n\t%q", p, ea.Size, eb.Size, head(ea.Data), head(eb.Data)))
		}
	}
	for p := range mb {
		if _, ok := ma[p]; !ok {
			diffs = append(diffs, "only in "+b+": "+p)
		}
	}
	sort.Strings(diffs)
	return diffs
}

func head(b []byte) []byte {
	if len(b) > 200 {
		return b[:200]
	}
	return b
}
