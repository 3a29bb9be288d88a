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
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"gomodfetch/modcache"
	"gomodfetch/pipeline"
)

// Config is what a pack needs. Cache is required.
type Config struct {
	Cache *modcache.Cache
	// SumDB is the checksum database's name ("" for none: GOSUMDB=off).
	SumDB string
	// SumDBConfigDir is $GOPATH/pkg/sumdb, which holds the database's
	// latest signed tree head.
	SumDBConfigDir string
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

// Write puts res's modules from the cache into sink. Every file must be in
// the cache: pack after a download.
func Write(cfg Config, res *pipeline.Resolution, sink Sink) (Stats, error) {
	var st Stats
	add := func(name, file string) error {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		st.Files++
		st.Bytes += fi.Size()
		return sink.Add(name, fi.Size(), f)
	}
	versions := map[string][]string{} // escaped path → versions packed
	var mods []module.Version
	put := func(mod module.Version, suffixes ...string) error {
		for _, suffix := range suffixes {
			file, err := cfg.Cache.File(mod, suffix)
			if err != nil {
				return err
			}
			rel, err := modcache.RelPath(mod, suffix)
			if err != nil {
				return err
			}
			if err := add(rel, file); err != nil {
				return fmt.Errorf("%s: %w (run gomodfetch first to fill the cache)", mod, err)
			}
		}
		st.Modules++
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
		if err := put(mod, "info", "mod", "zip"); err != nil {
			return st, err
		}
	}
	for _, mod := range res.GoMods {
		if !whole[mod] {
			if err := put(mod, "mod"); err != nil {
				return st, err
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
		list := strings.Join(vs, "\n") + "\n"
		st.Files++
		st.Bytes += int64(len(list))
		if err := sink.Add(p+"/@v/list", int64(len(list)), strings.NewReader(list)); err != nil {
			return st, err
		}
	}
	if cfg.SumDB != "" {
		if err := writeSumDB(cfg, mods, sink, add, &st); err != nil {
			return st, err
		}
	}
	return st, sink.Close()
}

// writeSumDB adds the checksum database's files a client needs to verify
// mods: what it fetched for them (the cache keeps the database's own file
// names), its tiles, and the latest signed tree head they lead to.
func writeSumDB(cfg Config, mods []module.Version, sink Sink, add func(name, file string) error, st *Stats) error {
	name := cfg.SumDB
	root := filepath.Join(cfg.Cache.Root, "cache", "download", "sumdb", filepath.FromSlash(name))
	prefix := "sumdb/" + name + "/"
	if err := sink.Add(prefix+"supported", 0, strings.NewReader("")); err != nil {
		return err
	}
	st.Files++
	if cfg.SumDBConfigDir != "" {
		latest := filepath.Join(cfg.SumDBConfigDir, filepath.FromSlash(name), "latest")
		if err := add(prefix+"latest", latest); err != nil && !errors.Is(err, fs.ErrNotExist) {
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
		if err := add(prefix+rel, filepath.Join(root, filepath.FromSlash(rel))); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	tiles := filepath.Join(root, "tile")
	return filepath.WalkDir(tiles, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == tiles {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		return add(prefix+filepath.ToSlash(rel), p)
	})
}

// Dir is a Sink that writes the files below a directory.
type Dir string

func (d Dir) Add(name string, size int64, r io.Reader) error {
	target := filepath.Join(string(d), filepath.FromSlash(path.Clean("/"+name)))
	if err := os.MkdirAll(filepath.Dir(target), 0o777); err != nil {
		return err
	}
	tmp := target + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, target)
}

func (d Dir) Close() error { return nil }

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
