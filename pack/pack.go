// Package pack carries one project's modules to where there is no
// network: it writes them, from the module cache, in the GOPROXY layout,
// as a directory or a tar stream (plain, gzip or zstd).
//
// What is written is what a download with the same arguments needs and
// nothing else: for each module downloaded whole its .info, .mod and .zip;
// for each module whose go.mod the module graph reads, its .mod; a
// @v/list per module path; and, when a checksum database is in use, its
// records for those versions and the tiles that prove them (the
// database's own files: supported, latest, lookup/, tile/), so a client
// without go.sum lines can still verify what it reads. On the other side
//
//	GOPROXY=file:///path/to/dir gomodfetch          # or go mod download
//
// fills a cache with no network, and the directory can be served as it is.
package pack

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/sumdb/tlog"

	"gomodfetch/internal/beneath"
	"gomodfetch/modcache"
	"gomodfetch/pipeline"
	"gomodfetch/verify"
)

// Config is what a pack needs. Cache is required.
type Config struct {
	Cache *modcache.Cache
	// SumDB is the checksum database's name ("" for none: GOSUMDB=off).
	SumDB string
	// SumDBConfigDir is $GOPATH/pkg/sumdb, which holds the database's
	// latest signed tree head.
	SumDBConfigDir string
	// Verifier checks the hash of every .mod and .zip packed against
	// go.sum or the checksum database (after the download that precedes a
	// pack, its answers are cached). Nil checks zips against their
	// .ziphash alone.
	Verifier *verify.Verifier
}

// Stats says what a pack holds.
type Stats struct {
	Modules int // module versions
	Files   int
	Bytes   int64
}

// Sink receives the pack's files, each named by its slash-separated path
// below the GOPROXY root.
type Sink interface {
	Add(name string, size int64, r io.Reader) error
	Close() error
}

// RefusedError is a cache file a pack will not carry: not a regular file
// below the cache (a symlink, a special file), bytes that do not match
// their recorded hash, go.sum or the checksum database, or a file where
// only tiles belong.
type RefusedError struct {
	File string
	Why  string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("refusing %s: %s; run 'gomodfetch verify -repair' (or remove it), then pack again", e.File, e.Why)
}

// Write puts res's modules from the cache into sink. Every file must be in
// the cache (pack after a download) and is read below the cache's root
// without following a symlink; every .mod and .zip is checked (Config's
// Verifier, and each zip's bytes against its .ziphash) before it is
// copied, and the bytes copied are the bytes checked. A file that fails is
// a *RefusedError: nothing is skipped in silence.
func Write(ctx context.Context, cfg Config, res *pipeline.Resolution, sink Sink) (Stats, error) {
	w := &writer{ctx: ctx, cfg: cfg, sink: sink, root: cfg.Cache.Files()}
	versions := map[string][]string{} // escaped path → versions packed
	var mods []module.Version
	put := func(mod module.Version, whole bool) error {
		if whole {
			if err := w.info(mod); err != nil {
				return err
			}
		}
		if err := w.goMod(mod); err != nil {
			return err
		}
		if whole {
			if err := w.zip(mod); err != nil {
				return err
			}
		}
		w.st.Modules++
		mods = append(mods, mod)
		if module.CanonicalVersion(mod.Version) == mod.Version {
			p, _ := module.EscapePath(mod.Path)
			versions[p] = append(versions[p], mod.Version)
		}
		return nil
	}
	whole := map[module.Version]bool{}
	for _, mod := range res.Zips {
		whole[mod] = true
		if err := put(mod, true); err != nil {
			return w.st, err
		}
	}
	for _, mod := range res.GoMods {
		if !whole[mod] {
			if err := put(mod, false); err != nil {
				return w.st, err
			}
		}
	}
	paths := make([]string, 0, len(versions))
	for p := range versions {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		vs := versions[p]
		semver.Sort(vs)
		if err := w.add(p+"/@v/list", []byte(strings.Join(vs, "\n")+"\n")); err != nil {
			return w.st, err
		}
	}
	if cfg.SumDB != "" {
		if err := w.sumDB(mods); err != nil {
			return w.st, err
		}
	}
	return w.st, sink.Close()
}

type writer struct {
	ctx  context.Context
	cfg  Config
	sink Sink
	root *beneath.Root
	st   Stats
}

// add puts data at name.
func (w *writer) add(name string, data []byte) error {
	w.st.Files++
	w.st.Bytes += int64(len(data))
	return w.sink.Add(name, int64(len(data)), bytes.NewReader(data))
}

// addFile puts the open file f, from its start, at name.
func (w *writer) addFile(name string, f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	w.st.Files++
	w.st.Bytes += fi.Size()
	return w.sink.Add(name, fi.Size(), f)
}

// opened turns a failure to open a cache file into what pack says of it.
func opened(mod module.Version, file string, err error) error {
	if errors.Is(err, beneath.ErrNotRegular) {
		return &RefusedError{File: file, Why: "not a regular file (a symlink, or a special file)"}
	}
	return fmt.Errorf("%s: %w (run gomodfetch first to fill the cache)", mod, err)
}

// check runs the Verifier on hash h of key (a module, or its go.mod).
func (w *writer) check(key module.Version, file, h string) error {
	if w.cfg.Verifier == nil {
		return nil
	}
	if err := w.cfg.Verifier.Check(w.ctx, key, h); err != nil {
		why, _, _ := strings.Cut(err.Error(), "\n")
		return &RefusedError{File: file, Why: why}
	}
	return nil
}

func (w *writer) info(mod module.Version) error {
	rel, err := modcache.RelPath(mod, "info")
	if err != nil {
		return err
	}
	f, err := w.cfg.Cache.Open(mod, "info")
	if err != nil {
		file, _ := w.cfg.Cache.File(mod, "info")
		return opened(mod, file, err)
	}
	defer f.Close()
	return w.addFile(rel, f)
}

func (w *writer) goMod(mod module.Version) error {
	rel, err := modcache.RelPath(mod, "mod")
	if err != nil {
		return err
	}
	data, file, err := w.cfg.Cache.ReadGoMod(mod)
	if err != nil {
		return opened(mod, file, err)
	}
	h, err := verify.HashGoMod(data)
	if err != nil {
		return &RefusedError{File: file, Why: err.Error()}
	}
	if err := w.check(verify.GoModKey(mod), file, h); err != nil {
		return err
	}
	return w.add(rel, data)
}

// zip packs mod's zip once its bytes match its .ziphash and that hash
// passes the Verifier.
func (w *writer) zip(mod module.Version) error {
	rel, err := modcache.RelPath(mod, "zip")
	if err != nil {
		return err
	}
	file, hash, ok := w.cfg.Cache.ZipHash(mod)
	f, err := w.cfg.Cache.Open(mod, "zip")
	if err != nil {
		return opened(mod, file, err)
	}
	defer f.Close()
	if !ok {
		return &RefusedError{File: file, Why: "its .ziphash is missing or damaged"}
	}
	switch h, err := verify.HashZipFile(f); {
	case err != nil:
		return &RefusedError{File: file, Why: "unreadable zip: " + err.Error()}
	case h != hash:
		return &RefusedError{File: file, Why: fmt.Sprintf("its bytes hash to %s, its .ziphash says %s", h, hash)}
	}
	if err := w.check(mod, file, hash); err != nil {
		return err
	}
	return w.addFile(rel, f)
}

// sumDB adds the checksum database's files a client needs to verify mods:
// what it fetched for them (the cache keeps the database's own file
// names), its tiles (only files whose paths are tile paths), and the
// latest signed tree head they lead to.
func (w *writer) sumDB(mods []module.Version) error {
	name := w.cfg.SumDB
	dir := "cache/download/sumdb/" + name
	prefix := "sumdb/" + name + "/"
	if err := w.add(prefix+"supported", nil); err != nil {
		return err
	}
	if w.cfg.SumDBConfigDir != "" {
		root := beneath.New(w.cfg.SumDBConfigDir)
		if err := w.optional(root, name+"/latest", prefix+"latest"); err != nil {
			return err
		}
	}
	for _, mod := range mods {
		p, err1 := module.EscapePath(mod.Path)
		v, err2 := module.EscapeVersion(mod.Version)
		if err1 != nil || err2 != nil {
			continue
		}
		rel := "lookup/" + p + "@" + v
		if err := w.optional(w.root, dir+"/"+rel, prefix+rel); err != nil {
			return err
		}
	}
	return w.tiles(dir, "tile", prefix)
}

// optional packs the file rel below root at name if it is there.
func (w *writer) optional(root *beneath.Root, rel, name string) error {
	f, err := root.Open(rel)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case errors.Is(err, beneath.ErrNotRegular):
		return &RefusedError{File: root.Join(rel), Why: "not a regular file (a symlink, or a special file)"}
	case err != nil:
		return err
	}
	defer f.Close()
	return w.addFile(name, f)
}

// tiles packs the tiles below dir/sub (sub slash-separated, starting
// "tile"), refusing anything whose path is not a tile's.
func (w *writer) tiles(dir, sub, prefix string) error {
	entries, err := w.root.ReadDir(dir + "/" + sub)
	if errors.Is(err, fs.ErrNotExist) && sub == "tile" {
		return nil
	}
	if errors.Is(err, beneath.ErrNotRegular) {
		return &RefusedError{File: w.root.Join(dir + "/" + sub), Why: "not a directory (a symlink?)"}
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		rel := sub + "/" + e.Name()
		if e.IsDir() {
			if err := w.tiles(dir, rel, prefix); err != nil {
				return err
			}
			continue
		}
		if _, err := tlog.ParseTilePath(rel); err != nil {
			return &RefusedError{File: w.root.Join(dir + "/" + rel), Why: "not a checksum database tile"}
		}
		f, err := w.root.Open(dir + "/" + rel)
		if err != nil {
			return opened(module.Version{}, w.root.Join(dir+"/"+rel), err)
		}
		err = w.addFile(prefix+rel, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// Dir is a Sink that writes the files below a directory, and never
// outside it: each file is written to a temp file created there (never
// through an existing name or a symlink) and renamed into place, and a
// symlink on the way to it is refused.
type Dir struct{ root *beneath.Root }

// NewDir returns a Dir writing below dir, which it makes if it is missing
// (dir itself is trusted as it is named: it may be a symlink).
func NewDir(dir string) (*Dir, error) {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, err
	}
	return &Dir{root: beneath.New(dir)}, nil
}

func (d *Dir) Add(name string, size int64, r io.Reader) error {
	rel := path.Clean("/" + name)[1:]
	parent, base := path.Split(rel)
	parent = strings.TrimSuffix(parent, "/")
	f, tmp, err := d.root.CreateTemp(parent, base+".", 0o666)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		d.root.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		d.root.Remove(tmp)
		return err
	}
	if err := d.root.Rename(tmp, rel); err != nil {
		d.root.Remove(tmp)
		return err
	}
	return nil
}

func (d *Dir) Close() error { return nil }

// Tar is a Sink that writes a tar stream, compressed as its name says:
// .tar, .tar.gz (or .tgz), .tar.zst.
type Tar struct {
	tw    *tar.Writer
	close []func() error
}

// NewTar returns a Tar writing to w, compressed as name's extension says.
func NewTar(w io.Writer, name string) (*Tar, error) {
	t := &Tar{}
	switch {
	case strings.HasSuffix(name, ".tar.gz"), strings.HasSuffix(name, ".tgz"):
		gz := gzip.NewWriter(w)
		w, t.close = gz, append(t.close, gz.Close)
	case strings.HasSuffix(name, ".tar.zst"):
		zw, err := zstd.NewWriter(w)
		if err != nil {
			return nil, err
		}
		w, t.close = zw, append(t.close, zw.Close)
	case strings.HasSuffix(name, ".tar"):
	default:
		return nil, fmt.Errorf("%s: want a .tar, .tar.gz, .tgz or .tar.zst name, or -dir", name)
	}
	t.tw = tar.NewWriter(w)
	return t, nil
}

func (t *Tar) Add(name string, size int64, r io.Reader) error {
	hdr := &tar.Header{Name: name, Mode: 0o644, Size: size, ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
	if err := t.tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err := io.CopyN(t.tw, r, size)
	return err
}

// Close ends the stream (the tar, then its compression).
func (t *Tar) Close() error {
	err := t.tw.Close()
	for i := len(t.close) - 1; i >= 0; i-- {
		if cerr := t.close[i](); err == nil {
			err = cerr
		}
	}
	return err
}
