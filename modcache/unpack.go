package modcache

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// Unpacked is a source tree extracted, with its .partial marker still
// beside the zip, from a zip that is not yet trusted: Hash is the zip's
// go.sum hash, computed while extracting, for the caller to check. Seal
// makes the tree count; Discard removes it.
type Unpacked struct {
	l    *Locked
	Dir  string
	Hash string
}

// Unpack extracts zipfile (a temp file, checked with x/mod/zip's rules but
// not yet hashed) into the module's source directory and hashes it in the
// same pass: the go command inflates every zip twice, once to hash it and
// once to extract it; here each file is inflated once, written and hashed
// as it goes. The hash is the one dirhash.HashZip gives (h1: over every
// entry's SHA-256, directories included). Until Seal, the .partial marker
// says the tree is not to be used, so a crash or a hash that go.sum
// refuses leaves nothing that counts. Files are inflated on up to
// GOMAXPROCS goroutines.
func (l *Locked) Unpack(zipfile string) (*Unpacked, error) {
	c, mod := l.c, l.mod
	dir, err := c.Dir(mod)
	if err != nil {
		return nil, err
	}
	partial, err := c.File(mod, "partial")
	if err != nil {
		return nil, err
	}
	if err := l.clearDir(dir); err != nil {
		return nil, err
	}
	if err := os.WriteFile(partial, nil, 0o666); err != nil {
		return nil, writeErr(partial, err)
	}
	u := &Unpacked{l: l, Dir: dir}
	if u.Hash, err = unpack(dir, mod.Path+"@"+mod.Version+"/", zipfile); err != nil {
		u.Discard()
		var pe *fs.PathError
		if errors.As(err, &pe) && unusableErrno(pe.Err) {
			return nil, &WriteError{Path: pe.Path, Err: pe.Err}
		}
		return nil, fmt.Errorf("extracting: %w", err)
	}
	return u, nil
}

// clearDir removes what an earlier, interrupted extraction left of dir
// (with the lock held, its writers are gone) and makes its parent.
func (l *Locked) clearDir(dir string) error {
	parent := filepath.Dir(dir)
	if old, err := filepath.Glob(filepath.Join(globQuote(parent), globQuote(filepath.Base(dir))+".tmp-*")); err == nil {
		for _, p := range old {
			removeAll(p)
		}
	}
	if _, err := os.Lstat(dir); err == nil {
		if err := removeAll(dir); err != nil {
			return writeErr(dir, err)
		}
	}
	if err := os.MkdirAll(parent, 0o777); err != nil {
		return writeErr(parent, err)
	}
	return nil
}

// Seal makes the tree count: read-only modes unless ReadWrite, then the
// .partial marker goes. The caller has committed the zip by then, so a
// crash in between leaves a committed zip and a tree that is redone.
func (u *Unpacked) Seal() error {
	if !u.l.c.ReadWrite {
		makeReadOnly(u.Dir)
	}
	partial, err := u.l.c.File(u.l.mod, "partial")
	if err != nil {
		return err
	}
	if err := os.Remove(partial); err != nil {
		return writeErr(partial, err)
	}
	return nil
}

// Discard removes the tree and its marker (the marker only once the tree
// is gone), and the directories above the tree that are left empty, so a
// module refused leaves nothing behind.
func (u *Unpacked) Discard() {
	if removeAll(u.Dir) != nil {
		return
	}
	if partial, err := u.l.c.File(u.l.mod, "partial"); err == nil {
		os.Remove(partial)
	}
	root := filepath.Clean(u.l.c.Root)
	for d := filepath.Dir(u.Dir); d != root && strings.HasPrefix(d, root+string(filepath.Separator)); d = filepath.Dir(d) {
		if os.Remove(d) != nil {
			break // not empty, or not ours to remove
		}
	}
}

// unpack writes the files of zipfile below dir (names without prefix),
// as x/mod/zip's Unzip does (files 0444, sizes enforced as declared), and
// returns the zip's h1 hash.
func unpack(dir, prefix, zipfile string) (string, error) {
	z, err := zip.OpenReader(zipfile)
	if err != nil {
		return "", err
	}
	defer z.Close()
	sums := make([][sha256.Size]byte, len(z.File))
	// Directories first, so the workers only create files.
	for _, zf := range z.File {
		if !strings.HasPrefix(zf.Name, prefix) {
			return "", fmt.Errorf("unexpected file name %s", zf.Name)
		}
		name := zf.Name[len(prefix):]
		if name != "" && !filepath.IsLocal(filepath.FromSlash(strings.TrimSuffix(name, "/"))) {
			return "", fmt.Errorf("unsafe file name %s", zf.Name)
		}
		if name == "" || strings.HasSuffix(name, "/") {
			continue
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(filepath.FromSlash(name))), 0o777); err != nil {
			return "", err
		}
	}
	var (
		wg    sync.WaitGroup
		next  = make(chan int)
		errMu sync.Mutex
		first error
	)
	fail := func(err error) {
		errMu.Lock()
		if first == nil {
			first = err
		}
		errMu.Unlock()
	}
	for range min(runtime.GOMAXPROCS(0), len(z.File)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := unpackFile(dir, prefix, z.File[i], &sums[i]); err != nil {
					fail(err)
				}
			}
		}()
	}
	for i := range z.File {
		errMu.Lock()
		stop := first != nil
		errMu.Unlock()
		if stop {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if first != nil {
		return "", first
	}
	return hash1(z.File, sums)
}

// copyBuffers hold the buffers files are copied through: io.Copy would
// allocate one per file (up to 32 KiB), hundreds of megabytes of garbage
// for the tens of thousands of files of a cold run.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// copyPooled is io.Copy through one of copyBuffers.
func copyPooled(dst io.Writer, src io.Reader) error {
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	_, err := io.CopyBuffer(dst, src, *buf)
	return err
}

// unpackFile writes one entry (a directory entry is only hashed) and puts
// its content's SHA-256 in sum.
func unpackFile(dir, prefix string, zf *zip.File, sum *[sha256.Size]byte) error {
	r, err := zf.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	h := sha256.New()
	name := zf.Name[len(prefix):]
	lr := &io.LimitedReader{R: r, N: int64(zf.UncompressedSize64) + 1}
	if name == "" || strings.HasSuffix(name, "/") {
		if err := copyPooled(h, lr); err != nil {
			return err
		}
	} else {
		w, err := os.OpenFile(filepath.Join(dir, filepath.FromSlash(name)), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
		if err != nil {
			return err
		}
		err = copyPooled(io.MultiWriter(w, h), lr)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	if lr.N <= 0 {
		return fmt.Errorf("uncompressed size of file %s is larger than declared size (%d bytes)", zf.Name, zf.UncompressedSize64)
	}
	h.Sum(sum[:0])
	return nil
}

// hash1 is the go.sum "h1:" hash (golang.org/x/mod/sumdb/dirhash's Hash1)
// of files whose contents' SHA-256 sums are known: the SHA-256 of the
// lines "<hex sum>  <name>\n", sorted by name.
func hash1(files []*zip.File, sums [][sha256.Size]byte) (string, error) {
	idx := make([]int, len(files))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return strings.Compare(files[a].Name, files[b].Name) })
	h := sha256.New()
	for _, i := range idx {
		if strings.Contains(files[i].Name, "\n") {
			return "", errors.New("dirhash: filenames with newlines are not supported")
		}
		fmt.Fprintf(h, "%x  %s\n", sums[i], files[i].Name)
	}
	return "h1:" + base64.StdEncoding.EncodeToString(h.Sum(nil)), nil
}
