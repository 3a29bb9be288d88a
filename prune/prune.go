// Package prune shrinks a module cache to what some projects need.
//
// Module caches only grow: every go.sum change adds versions and none
// goes, so a CI cache saved per go.sum snowballs and a laptop's GOMODCACHE
// reaches tens of gigabytes, while go offers only `go clean -modcache`,
// which removes everything. Prune keeps what a download of the named
// projects leaves (their pipeline.Resolution, worked out from the cache
// alone: the zips, .ziphash, extracted trees, .info and .mod of the
// modules downloaded whole, the .mod and .info of those whose go.mod only
// the module graph reads), optionally every version fetched into the cache
// recently, and removes the rest.
//
// Removal is the cache's own (modcache.Locked.Remove): one version at a
// time, under the go command's per-version lock, taken without waiting: a
// version whose lock another process holds is being downloaded or
// extracted and is left alone, reported as in use. Nothing is followed
// through a symlink: the cache is walked with internal/beneath, a symlink
// where a directory belongs is an error and stays, and a tree removed is
// made writable (go extracts read-only) directory by directory, each
// opened without following a symlink.
//
// What is never touched: the checksum database's cache (cache/download/
// sumdb: tiles and lookups, small and shared by every module), the VCS
// clones of direct fetches (cache/vcs), the lock files that guard go.sum
// edits (cache/lock) and any file whose name is not one of a module
// version's.
package prune

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"gomodfetch/internal/beneath"
	"gomodfetch/modcache"
	"gomodfetch/pipeline"
)

// Need is what a project needs of a module version.
type Need int

const (
	// GoMod: the module graph reads its go.mod; its .mod and .info stay.
	GoMod Need = iota + 1
	// Whole: it is downloaded whole; everything stays.
	Whole
)

// Keep is what stays: the versions some projects need.
type Keep map[module.Version]Need

// Add adds what a run with the resolution res needs.
func (k Keep) Add(res *pipeline.Resolution) {
	for _, m := range res.GoMods {
		k.need(m, GoMod)
	}
	for _, m := range res.Zips {
		k.need(m, Whole)
	}
}

// AddWhole keeps mod whole (a toolchain a project runs on).
func (k Keep) AddWhole(mod module.Version) { k.need(mod, Whole) }

func (k Keep) need(m module.Version, n Need) {
	if k[m] < n {
		k[m] = n
	}
}

// Config says what to prune.
type Config struct {
	// Cache is the module cache.
	Cache *modcache.Cache
	// Keep are the versions that stay.
	Keep Keep
	// KeepSince, if not zero, keeps every version whose .info, .mod or
	// .zip was written at or after it: fetched into this cache since
	// (the go command writes those files once, when it downloads, and
	// touches nothing when it reads; access times are not kept on most
	// mounts). A cache restored by actions/cache keeps its files' times.
	KeepSince time.Time
	// Apply removes; without it nothing is changed (a dry run) and the
	// report says what would go.
	Apply bool
}

// Version is one module version prune removes, or would remove, or had to
// leave.
type Version struct {
	Path    string
	Version string
	// GoModKept: the module graph reads its go.mod, so its .mod and .info
	// stay; the rest goes.
	GoModKept bool `json:",omitempty"`
	// Files and Bytes are what went (or would go); files include
	// symlinks and empty files (lock files) and bytes count regular files.
	Files int64
	Bytes int64
	// Removed is set once it is gone (never in a dry run).
	Removed bool `json:",omitempty"`
	// InUse: another process holds its lock (a download or an extraction
	// under way), so it was left alone.
	InUse bool `json:",omitempty"`
	// Error is why it could not be removed (whole).
	Error string `json:",omitempty"`
}

// Mod is v's module version.
func (v *Version) Mod() module.Version { return module.Version{Path: v.Path, Version: v.Version} }

// Report is what a prune did, or would do.
type Report struct {
	// Versions are the versions removed (or that would be), in path and
	// version order, with those left in use or on an error.
	Versions []*Version
	// Freed is what went (or would go) in all.
	Freed beneath.Sizes
	// Kept counts the versions found in the cache that stay.
	Kept int
	// Errors are places the walk of the cache refused (a symlink where a
	// directory belongs, an unreadable directory): nothing below them is
	// pruned.
	Errors []error
}

// Modules counts the distinct module paths of the versions that went (or
// would go).
func (r *Report) Modules() int {
	seen := map[string]bool{}
	for _, v := range r.Versions {
		if v.Error == "" && !v.InUse {
			seen[v.Path] = true
		}
	}
	return len(seen)
}

// Removed counts the versions that went (or would go).
func (r *Report) Removed() int {
	n := 0
	for _, v := range r.Versions {
		if v.Error == "" && !v.InUse {
			n++
		}
	}
	return n
}

// Failed reports whether anything could not be done: a version that
// could not be removed, or a place the walk refused.
func (r *Report) Failed() bool {
	for _, v := range r.Versions {
		if v.Error != "" {
			return true
		}
	}
	return len(r.Errors) > 0
}

// Run prunes the cache as cfg says. Its error is one that stops it
// before anything is removed; what goes wrong later is in the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	s := &scan{root: cfg.Cache.Files(), found: map[module.Version]*found{}}
	if err := s.walkDownload("cache/download"); err != nil {
		return nil, err
	}
	if err := s.walkExtracted(""); err != nil {
		return nil, err
	}
	rep := &Report{Errors: s.errs}
	mods := make([]module.Version, 0, len(s.found))
	for m := range s.found {
		mods = append(mods, m)
	}
	sort.Slice(mods, func(i, j int) bool {
		if mods[i].Path != mods[j].Path {
			return mods[i].Path < mods[j].Path
		}
		return semver.Compare(mods[i].Version, mods[j].Version) < 0
	})
	emptied := map[string]bool{}
	for _, m := range mods {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		need, f := cfg.Keep[m], s.found[m]
		if need == Whole || (!cfg.KeepSince.IsZero() && !f.written.Before(cfg.KeepSince)) {
			rep.Kept++
			continue
		}
		v := &Version{Path: m.Path, Version: m.Version, GoModKept: need == GoMod}
		n, err := cfg.Cache.Usage(m, v.GoModKept)
		switch {
		case err != nil:
			v.Error = err.Error()
		case n.Files == 0:
			rep.Kept++ // a go.mod the graph reads, and nothing else
			continue
		case !cfg.Apply:
			v.InUse = cfg.Cache.InUse(m)
		default:
			held, ok, err := cfg.Cache.TryLock(m)
			switch {
			case err != nil:
				v.Error = err.Error()
			case !ok:
				v.InUse = true
			default:
				n, err = held.Remove(v.GoModKept)
				if err != nil {
					v.Error = err.Error()
				}
				v.Removed = err == nil
				for _, d := range f.dirs {
					emptied[d] = true
				}
				if lock, err := modcache.Rel(m, "lock"); err == nil {
					emptied[path.Dir(lock)] = true // TryLock may have made it
				}
			}
		}
		v.Files, v.Bytes = n.Files, n.Bytes
		if v.Error == "" && !v.InUse {
			rep.Freed.Add(n)
		}
		rep.Versions = append(rep.Versions, v)
	}
	dirs := make([]string, 0, len(emptied))
	for d := range emptied {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		cfg.Cache.RemoveEmpty(d)
	}
	return rep, nil
}

// found is what the walk found of a version.
type found struct {
	// written is the latest modification time of its .info, .mod, .zip.
	written time.Time
	// dirs are the directories its files are in, which may be left
	// empty once it goes.
	dirs []string
}

type scan struct {
	root  *beneath.Root
	found map[module.Version]*found
	errs  []error
}

func (s *scan) add(m module.Version, dir string, t time.Time) {
	f := s.found[m]
	if f == nil {
		f = &found{}
		s.found[m] = f
	}
	if t.After(f.written) {
		f.written = t
	}
	for _, d := range f.dirs {
		if d == dir {
			return
		}
	}
	f.dirs = append(f.dirs, dir)
}

// readDir lists rel; a directory that cannot be read is recorded and
// skipped.
func (s *scan) readDir(rel string) ([]fs.DirEntry, bool) {
	entries, err := s.root.ReadDir(rel)
	if errors.Is(err, fs.ErrNotExist) && (rel == "" || rel == "cache/download") {
		return nil, true
	}
	if err != nil {
		s.errs = append(s.errs, err)
		return nil, false
	}
	return entries, true
}

// symlink records a symlink met where a directory may be: it is not
// followed and nothing is removed through it.
func (s *scan) symlink(rel string) {
	s.errs = append(s.errs, fmt.Errorf("%s: a symlink in the module cache; not followed, left in place", s.root.Join(rel)))
}

// walkDownload finds the module versions in cache/download: every @v
// directory, below the escaped module path, except the checksum
// database's cache.
func (s *scan) walkDownload(rel string) error {
	entries, ok := s.readDir(rel)
	if !ok {
		return nil
	}
	for _, e := range entries {
		child := rel + "/" + e.Name()
		switch {
		case child == "cache/download/sumdb":
		case e.Type()&fs.ModeSymlink != 0:
			s.symlink(child)
		case !e.IsDir():
		case e.Name() == "@v":
			s.versions(child)
		default:
			if err := s.walkDownload(child); err != nil {
				return err
			}
		}
	}
	return nil
}

// versions records the versions that have files in the @v directory rel.
func (s *scan) versions(rel string) {
	escPath := strings.TrimSuffix(strings.TrimPrefix(rel, "cache/download/"), "/@v")
	p, err := module.UnescapePath(escPath)
	if err != nil {
		return // not a module's directory
	}
	entries, ok := s.readDir(rel)
	if !ok {
		return
	}
	for _, e := range entries {
		v, suffix, ok := versionFile(e.Name())
		if !ok {
			continue
		}
		var t time.Time
		if suffix == "info" || suffix == "mod" || suffix == "zip" {
			if fi, err := e.Info(); err == nil {
				t = fi.ModTime()
			}
		}
		s.add(module.Version{Path: p, Version: v}, rel, t)
	}
}

// versionSuffixes are the files the cache keeps per version.
var versionSuffixes = []string{"info", "mod", "zip", "ziphash", "lock", "partial"}

// versionFile parses the name of a version's file in an @v directory:
// <escaped version>.<suffix>, or a temp file of one (<name><digits>.tmp,
// <name>.gmf<digits>.tmp). Of several readings the one with the longest
// version wins ("v1.0.0-a.zip.zip" is v1.0.0-a.zip's zip).
func versionFile(name string) (version, suffix string, ok bool) {
	best := -1
	for _, suf := range versionSuffixes {
		for i := strings.LastIndex(name, "."+suf); i > 0; i = strings.LastIndex(name[:i], "."+suf) {
			rest := name[i+1+len(suf):]
			if rest != "" && !isTempTail(rest) {
				continue
			}
			if i <= best {
				break
			}
			v, err := module.UnescapeVersion(name[:i])
			if err != nil || !semver.IsValid(v) {
				continue
			}
			best, version, suffix = i, v, suf
			break
		}
	}
	return version, suffix, best > 0
}

// isTempTail reports whether rest is what a temp file adds to a name:
// [.gmf]<digits>.tmp.
func isTempTail(rest string) bool {
	rest, ok := strings.CutSuffix(rest, ".tmp")
	if !ok {
		return false
	}
	rest = strings.TrimPrefix(rest, ".gmf")
	return rest == "" || strings.Trim(rest, "0123456789") == ""
}

// walkExtracted finds the extracted module trees below GOMODCACHE
// (outside cache/): every directory whose name has an @, below the
// escaped module path; it does not enter them.
func (s *scan) walkExtracted(rel string) error {
	entries, ok := s.readDir(rel)
	if !ok {
		return nil
	}
	for _, e := range entries {
		child := path.Join(rel, e.Name())
		escPath, escVersion, isVersion := strings.Cut(child, "@")
		switch {
		case child == "cache":
		case isVersion:
			p, err1 := module.UnescapePath(escPath)
			v, err2 := module.UnescapeVersion(escVersion)
			if err1 == nil && err2 == nil && semver.IsValid(v) && (e.IsDir() || e.Type()&fs.ModeSymlink != 0) {
				s.add(module.Version{Path: p, Version: v}, rel, time.Time{})
			}
		case e.Type()&fs.ModeSymlink != 0:
			s.symlink(child)
		case e.IsDir():
			if err := s.walkExtracted(child); err != nil {
				return err
			}
		}
	}
	return nil
}
