// Package modcache is the module cache ($GOMODCACHE) as the go command lays
// it out and writes it. It writes every module file gomodfetch puts there
// (.info, .mod, .zip, .ziphash, version lists, extracted trees); the
// others that write below the root are the checksum database's cache
// (package verify, cache/download/sumdb), a downloaded toolchain made
// runnable (package toolchain), and the go command on a hand-off.
//
// The cache's protocol is an order of writes. A .info, .mod or .ziphash
// reaches its final name by rename from a temp file, so no reader sees it
// half written. A zip is downloaded to a temp file beside its final name,
// checked and hashed by the caller, then its .ziphash is written, then the
// zip is renamed into place: a .zip without .ziphash is rehashed, never
// trusted. A source tree is extracted with a .partial marker beside the zip,
// which goes only once the tree is whole and its modes are set. The per
// version .lock file is the go command's flock (go-internal's lockedfile is
// the same lock), so gomodfetch, go and other gomodfetch processes can share
// one cache at the same time.
//
// The steps that must hold a version's lock are methods of Locked, which
// only Cache.Lock returns: the zip's temp files, its commit, extraction. The
// rest (reads, .info and .mod writes, the version list) are Cache's and need
// no version lock, as in the go command.
//
// Nothing below Root is trusted (the cache may be shared, restored or
// tampered with): the files the cache reads for others are regular files
// reached without a symlink (Files, internal/beneath), and the version list
// is replaced by rename, never written through.
//
// Errors writing the cache are *WriteError; Unusable tells the ones that
// mean no other module will fare better (read-only, not ours, full).
package modcache

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"gomodfetch/internal/beneath"
)

// Cache is a module cache. It is safe for concurrent use by goroutines and
// processes.
type Cache struct {
	// Root is $GOMODCACHE.
	Root string
	// ReadWrite leaves extracted directories writable (-modcacherw).
	ReadWrite bool
	// ReadOnly writes nothing: RepairList does nothing and every write
	// (a .info, a .mod, a version list, a lock) fails with a *WriteError
	// (EROFS). For reading a cache without touching it (verify).
	ReadOnly bool

	rootOnce sync.Once
	root     *beneath.Root

	mu        sync.Mutex
	forgotten []string // lock directories of versions with nothing written (Locked.Forget)

	// lists holds, per @v directory, the versions its list file named
	// when RepairList first read it in this run (a map[string]bool; nil
	// for a torn or missing list), so a directory's list is read once,
	// not once per cached version.
	lists sync.Map
}

// Files is the cache's root, below which every file the cache reads for
// others (.info, .mod, .zip, .ziphash, the version list, the checksum
// database's files) is opened without following a symlink, and only if it
// is a regular file: the cache may be shared with others, restored from
// elsewhere or tampered with. Root itself is trusted and may be a symlink.
func (c *Cache) Files() *beneath.Root {
	c.rootOnce.Do(func() { c.root = beneath.New(c.Root) })
	return c.root
}

// Rel is the path of mod's file with the given suffix below a cache's Root,
// slash-separated: "cache/download/" + RelPath.
func Rel(mod module.Version, suffix string) (string, error) {
	if !semver.IsValid(mod.Version) {
		return "", fmt.Errorf("non-semver version %q", mod.Version)
	}
	r, err := RelPath(mod, suffix)
	if err != nil {
		return "", err
	}
	return "cache/download/" + r, nil
}

// Open opens mod's cache file with the given suffix for reading, if it is
// a regular file reached without a symlink (else an error matching
// beneath.ErrNotRegular, or fs.ErrNotExist).
func (c *Cache) Open(mod module.Version, suffix string) (*os.File, error) {
	r, err := Rel(mod, suffix)
	if err != nil {
		return nil, err
	}
	return c.Files().Open(r)
}

// readFile reads mod's cache file with the given suffix as Open opens it,
// and returns its content and path.
func (c *Cache) readFile(mod module.Version, suffix string) ([]byte, string, error) {
	r, err := Rel(mod, suffix)
	if err != nil {
		return nil, "", err
	}
	limit, ok := maxRead[suffix]
	if !ok {
		limit = beneath.MaxRead
	}
	data, err := c.Files().ReadFileMax(r, limit)
	return data, c.Files().Join(r), err
}

// maxRead bounds the cache files read whole, by suffix: what the go
// command would accept (a go.mod of at most 16 MiB, as codehost.MaxGoMod)
// and far more than any real one; a larger file is a planted one.
var maxRead = map[string]int64{"info": 1 << 20, "mod": 16 << 20, "ziphash": 4 << 10}

// RemoveEmptyDirs removes the directories that only the lock files of
// forgotten versions needed, if they are still empty, up to Root. Call it
// once the run's downloads are over: a directory removed while another
// download of this run creates a file below it would fail that write.
func (c *Cache) RemoveEmptyDirs() {
	c.mu.Lock()
	dirs := c.forgotten
	c.forgotten = nil
	c.mu.Unlock()
	for _, dir := range dirs {
		for len(dir) > len(c.Root) && os.Remove(dir) == nil {
			dir = filepath.Dir(dir)
		}
	}
}

// Info is the content of a .info file.
type Info struct {
	Version string
	Time    time.Time
	Origin  *Origin `json:",omitempty"`
}

// Origin is where a module version came from, as a proxy reports it.
type Origin struct {
	VCS       string `json:",omitempty"`
	URL       string `json:",omitempty"`
	Subdir    string `json:",omitempty"`
	Hash      string `json:",omitempty"`
	TagPrefix string `json:",omitempty"`
	TagSum    string `json:",omitempty"`
	Ref       string `json:",omitempty"`
	RepoSum   string `json:",omitempty"`
}

// RelPath is where mod's file with the given suffix ("info", "mod", "zip",
// ...) lives below a GOPROXY root: "<escaped path>/@v/<escaped
// version>.<suffix>". The cache's download directory is such a tree, which
// is why a module cache serves as a file:// GOPROXY.
func RelPath(mod module.Version, suffix string) (string, error) {
	p, v, err := escape(mod)
	if err != nil {
		return "", err
	}
	return p + "/@v/" + v + "." + suffix, nil
}

func escape(mod module.Version) (path, version string, err error) {
	if path, err = module.EscapePath(mod.Path); err != nil {
		return "", "", err
	}
	if version, err = module.EscapeVersion(mod.Version); err != nil {
		return "", "", err
	}
	return path, version, nil
}

// File returns the path of mod's cache file with the given suffix
// ("info", "mod", "zip", "ziphash", "lock", "partial"):
// $GOMODCACHE/cache/download/<RelPath>.
func (c *Cache) File(mod module.Version, suffix string) (string, error) {
	if !semver.IsValid(mod.Version) {
		return "", fmt.Errorf("non-semver version %q", mod.Version)
	}
	rel, err := RelPath(mod, suffix)
	if err != nil {
		return "", err
	}
	return filepath.Join(c.Root, "cache", "download", filepath.FromSlash(rel)), nil
}

// Dir returns the directory mod's source is extracted to.
func (c *Cache) Dir(mod module.Version) (string, error) {
	p, v, err := escape(mod)
	if err != nil {
		return "", err
	}
	return filepath.Join(c.Root, filepath.FromSlash(p)+"@"+v), nil
}

// ReadInfo returns mod's cached .info, or an error if it is absent or
// unreadable (the caller then fetches it again).
func (c *Cache) ReadInfo(mod module.Version) (*Info, string, error) {
	info, _, file, err := c.ReadInfoData(mod)
	return info, file, err
}

// ReadInfoData is ReadInfo, with the bytes read (for a caller that serves
// the file as it is).
func (c *Cache) ReadInfoData(mod module.Version) (*Info, []byte, string, error) {
	data, file, err := c.readFile(mod, "info")
	if err != nil {
		return nil, nil, file, err
	}
	info := new(Info)
	if err := json.Unmarshal(data, info); err != nil {
		return nil, nil, file, fmt.Errorf("%s: %v", file, err)
	}
	if info.Version != mod.Version {
		// Damaged or planted: the go command fetches such a file again.
		return nil, nil, file, fmt.Errorf("%s: names version %q", file, info.Version)
	}
	return info, data, file, nil
}

// WriteInfo writes mod's .info, re-marshalled as the go command does:
// only Version, Time and a cleaned Origin.
func (c *Cache) WriteInfo(mod module.Version, info *Info) (string, error) {
	file, err := c.File(mod, "info")
	if err != nil {
		return "", err
	}
	clean := *info
	if info.Origin != nil {
		o := *info.Origin
		// Tags and repository sums never matter once a version is known;
		// a ref does not matter for a pseudo-version.
		o.TagSum, o.TagPrefix, o.RepoSum = "", "", ""
		if module.IsPseudoVersion(info.Version) {
			o.Ref = ""
		}
		clean.Origin = &o
	}
	js, err := json.Marshal(&clean)
	if err != nil {
		return "", err
	}
	return file, c.writeFile(file, js)
}

// ReadGoMod returns mod's cached .mod file (see Open for what is read).
func (c *Cache) ReadGoMod(mod module.Version) ([]byte, string, error) {
	return c.readFile(mod, "mod")
}

// WriteGoMod writes mod's .mod file (already verified) and rewrites the
// version list beside it.
func (c *Cache) WriteGoMod(mod module.Version, data []byte) (string, error) {
	file, err := c.File(mod, "mod")
	if err != nil {
		return "", err
	}
	if err := c.writeFile(file, data); err != nil {
		return "", err
	}
	dir, _ := Rel(mod, "mod")
	dir = path.Dir(dir)
	c.lists.Delete(dir)
	if err := c.rewriteVersionList(dir); err != nil {
		return "", &WriteError{Path: c.Files().Join(dir + "/list"), Err: unwrapPathError(err)}
	}
	return file, nil
}

// RepairList rewrites the version list beside mod's cached .mod if the
// list does not name mod's version or is torn (a run was killed between
// writing the .mod and rewriting the list, or while rewriting it), or is
// not a regular file. It is best effort: a read-only cache that is
// otherwise complete still serves. It does nothing if ReadOnly.
func (c *Cache) RepairList(mod module.Version) {
	r, err := Rel(mod, "mod")
	if err != nil || module.CanonicalVersion(mod.Version) != mod.Version || c.ReadOnly {
		return
	}
	dir := path.Dir(r)
	listed, ok := c.lists.Load(dir)
	if !ok {
		listed, _ = c.lists.LoadOrStore(dir, c.readVersionList(dir))
	}
	if listed.(map[string]bool)[mod.Version] {
		return
	}
	c.lists.Delete(dir)
	c.rewriteVersionList(dir)
}

// readVersionList returns the versions dir/list names (dir relative to
// Root), or nil if the list is missing, unreadable, not a regular file or
// torn (a NUL byte or no final newline).
func (c *Cache) readVersionList(dir string) map[string]bool {
	data, err := c.Files().ReadFile(dir + "/list")
	if err != nil || bytes.ContainsRune(data, 0) || (len(data) > 0 && data[len(data)-1] != '\n') {
		return map[string]bool(nil)
	}
	listed := make(map[string]bool)
	for _, l := range strings.Split(string(data), "\n") {
		if l != "" {
			listed[l] = true
		}
	}
	return listed
}

// ZipHash returns the recorded hash of mod's zip if both the .zip and a
// valid .ziphash are present as regular files (see Open). The hash is
// what was recorded when the zip was verified; the zip's bytes are not
// read (a caller that serves or copies them checks them: HashZipFile).
func (c *Cache) ZipHash(mod module.Version) (zipfile, hash string, ok bool) {
	zipfile, err := c.File(mod, "zip")
	if err != nil {
		return "", "", false
	}
	zrel, _ := Rel(mod, "zip")
	if c.Files().Regular(zrel) != nil {
		return zipfile, "", false
	}
	// Under a shared lock: the go command writes it in place under an
	// exclusive one.
	data, err := c.Files().ReadFileShared(zrel + "hash")
	if err != nil {
		return zipfile, "", false
	}
	h := string(bytes.TrimSpace(data))
	if !validSum(h) {
		return zipfile, "", false
	}
	return zipfile, h, true
}

func validSum(h string) bool {
	return strings.HasPrefix(h, "h1:") && len(h) > 3 && !strings.ContainsAny(h, "\x00 \n")
}

// Complete reports whether mod's .info, .mod, zip, .ziphash and source
// tree are all in place.
func (c *Cache) Complete(mod module.Version) bool {
	for _, suffix := range []string{"info", "mod"} {
		r, err := Rel(mod, suffix)
		if err != nil || c.Files().Regular(r) != nil {
			return false
		}
	}
	_, _, ok := c.ZipHash(mod)
	if ok {
		_, ok = c.Extracted(mod)
	}
	return ok
}

// Extracted returns mod's source directory if it is completely extracted:
// it exists and no .partial marker is beside its zip.
func (c *Cache) Extracted(mod module.Version) (string, bool) {
	dir, err := c.Dir(mod)
	if err != nil {
		return "", false
	}
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return dir, false
	}
	partial, err := c.File(mod, "partial")
	if err != nil {
		return dir, false
	}
	if _, err := os.Stat(partial); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return dir, false
	}
	return dir, true
}
