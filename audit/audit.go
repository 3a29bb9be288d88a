// Package audit checks a module cache against what a run needs.
//
// After a cache is restored (actions/cache, a BuildKit mount, a volume) two
// questions matter: will the build succeed offline, and is every byte what
// go.sum says? `go mod verify` answers half of the second, slowly: it
// rehashes every zip and every directory of the build list, and misses a
// module whose zip is gone while its directory exists. An audit answers
// both for exactly the modules a `gomodfetch` run with the same arguments
// would leave (a pipeline.Resolution, worked out from the cache alone):
//
//   - completeness: the .info, .mod, .zip, .ziphash and extracted tree of
//     every module downloaded whole, and the .mod of every module whose
//     go.mod the module graph reads;
//   - integrity: each .mod and .ziphash against go.sum (go's line rule),
//     each zip's bytes against its .ziphash (as go mod verify rehashes
//     them: a zip changed after it was verified is what a file:// GOPROXY
//     or a pack would hand on), and each extracted tree's hash against
//     go.sum (or, without a go.sum line, against its .ziphash), hashed in
//     parallel on every CPU. Files are read below GOMODCACHE without
//     following a symlink: a .info, .mod or .zip that is a symlink or a
//     special file is a problem of its own.
//
// Each module with a problem becomes a Finding that says what is wrong and
// which parts of it a repair must fetch again.
package audit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	"golang.org/x/sync/errgroup"

	"gomodfetch/internal/beneath"
	"gomodfetch/internal/errline"
	"gomodfetch/modcache"
	"gomodfetch/pipeline"
	"gomodfetch/verify"
)

// Config is what an audit needs. Cache is required.
type Config struct {
	Cache *modcache.Cache
	// Sums is the project's go.sum (with a workspace's other files); nil
	// outside a module.
	Sums *verify.Sums
	// Jobs bounds the modules hashed at a time (zero: GOMAXPROCS).
	Jobs int
}

// Finding is a module version the cache does not hold as a run leaves it.
type Finding struct {
	Path    string
	Version string
	// GoModOnly is set for a module the run needs only the go.mod of.
	GoModOnly bool `json:",omitempty"`
	// Problems say what is wrong, one phrase each.
	Problems []string
	// Repaired is set once a repair has fetched the module again.
	Repaired bool `json:",omitempty"`

	parts []modcache.Part
}

// Mod is the finding's module version.
func (f *Finding) Mod() module.Version { return module.Version{Path: f.Path, Version: f.Version} }

// Parts are the parts of the module a repair removes and fetches again.
func (f *Finding) Parts() []modcache.Part { return f.parts }

func (f *Finding) add(part modcache.Part, format string, args ...any) {
	if format != "" {
		f.Problems = append(f.Problems, fmt.Sprintf(format, args...))
	}
	for _, p := range f.parts {
		if p == part {
			return
		}
	}
	f.parts = append(f.parts, part)
}

// Check audits the cache for res and returns a finding for each module
// with a problem, in res's order (zips, then go.mod files, then go.mod
// files the module graph failed to read), and the graph's failures that
// name no module.
func Check(ctx context.Context, cfg Config, res *pipeline.Resolution) ([]*Finding, []error) {
	jobs := cfg.Jobs
	if jobs <= 0 {
		jobs = runtime.GOMAXPROCS(0)
	}
	a := &auditor{cfg: cfg}
	zips := map[module.Version]bool{}
	out := make([]*Finding, len(res.Zips)+len(res.GoMods))
	var eg errgroup.Group
	eg.SetLimit(jobs)
	for i, mod := range res.Zips {
		zips[mod] = true
		eg.Go(func() error {
			out[i] = a.zipModule(ctx, mod)
			return nil
		})
	}
	for i, mod := range res.GoMods {
		if zips[mod] {
			continue
		}
		f := &Finding{Path: mod.Path, Version: mod.Version, GoModOnly: true}
		a.goMod(f, mod, "the module graph reads it")
		out[len(res.Zips)+i] = f
	}
	eg.Wait()
	var found []*Finding
	have := map[module.Version]bool{}
	for _, f := range out {
		if f != nil && len(f.Problems) > 0 {
			found = append(found, f)
			have[f.Mod()] = true
		}
	}
	// The graph stops below a go.mod it cannot read, so that module is not
	// among those it read: its error names it.
	var other []error
	for _, err := range leaves(res.GraphErr) {
		mod, ok := moduleOf(err)
		if !ok {
			other = append(other, err)
			continue
		}
		if have[mod] {
			continue
		}
		have[mod] = true
		f := &Finding{Path: mod.Path, Version: mod.Version, GoModOnly: true}
		f.add(modcache.PartMod, "the module graph cannot read its .mod: %s", errline.First(err))
		found = append(found, f)
	}
	return found, other
}

// leaves are the errors joined in err (errors.Join, or every failure of a
// module graph), or err itself.
func leaves(err error) []error {
	if err == nil {
		return nil
	}
	if all, ok := err.(interface{ Errors() []error }); ok {
		return all.Errors() // a graph's every failure, not the first alone
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// moduleOf returns the module version an error of the graph is about.
func moduleOf(err error) (module.Version, bool) {
	var (
		me       *module.ModuleError
		mismatch *verify.ChecksumMismatchError
	)
	switch {
	case errors.As(err, &mismatch):
		m := mismatch.Mod
		m.Version = strings.TrimSuffix(m.Version, "/go.mod")
		return m, true
	case errors.As(err, &me) && me.Version != "":
		return module.Version{Path: me.Path, Version: me.Version}, true
	}
	return module.Version{}, false
}

type auditor struct{ cfg Config }

// expected is the hash go.sum accepts for key ("" when it records none).
func (a *auditor) expected(key module.Version) (string, error) {
	if a.cfg.Sums == nil {
		return "", nil
	}
	return a.cfg.Sums.Expected(key)
}

// goMod checks mod's .mod file against go.sum.
func (a *auditor) goMod(f *Finding, mod module.Version, why string) {
	data, _, err := a.cfg.Cache.ReadGoMod(mod)
	if errors.Is(err, beneath.ErrNotRegular) {
		f.add(modcache.PartMod, ".mod is not a regular file (a symlink, or a special file)")
		return
	}
	if err != nil {
		if why != "" {
			f.add(modcache.PartMod, "missing .mod (%s)", why)
		} else {
			f.add(modcache.PartMod, "missing .mod")
		}
		return
	}
	h, err := verify.HashGoMod(data)
	if err != nil {
		f.add(modcache.PartMod, "unreadable .mod: %v", err)
		return
	}
	switch want, err := a.expected(verify.GoModKey(mod)); {
	case err != nil:
		f.Problems = append(f.Problems, err.Error())
	case want != "" && want != h:
		f.add(modcache.PartMod, ".mod does not match go.sum (%s; go.sum has %s)", h, want)
	}
}

// zipModule checks everything a whole download leaves for mod.
func (a *auditor) zipModule(ctx context.Context, mod module.Version) *Finding {
	c := a.cfg.Cache
	f := &Finding{Path: mod.Path, Version: mod.Version}
	if _, _, err := c.ReadInfo(mod); err != nil {
		if errors.Is(err, beneath.ErrNotRegular) {
			f.add(modcache.PartInfo, ".info is not a regular file (a symlink, or a special file)")
		} else if os.IsNotExist(err) {
			f.add(modcache.PartInfo, "missing .info")
		} else {
			f.add(modcache.PartInfo, "damaged .info")
		}
	}
	a.goMod(f, mod, "")
	want, err := a.expected(mod)
	if err != nil {
		f.Problems = append(f.Problems, err.Error())
	}
	_, hash, ok := c.ZipHash(mod)
	zf, zerr := c.Open(mod, "zip")
	switch {
	case errors.Is(zerr, beneath.ErrNotRegular):
		f.add(modcache.PartZip, ".zip is not a regular file (a symlink, or a special file)")
	case ok && want != "" && hash != want:
		f.add(modcache.PartZip, ".ziphash does not match go.sum (%s; go.sum has %s)", hash, want)
	case !ok && zerr == nil:
		f.add(modcache.PartHash, "missing or damaged .ziphash")
	case !ok:
		f.add(modcache.PartZip, "missing .zip")
	case ctx.Err() == nil:
		switch h, err := verify.HashZipFile(zf); {
		case err != nil:
			f.add(modcache.PartZip, "unreadable .zip: %v", err)
		case h != hash:
			f.add(modcache.PartZip, ".zip has been modified (%s; .ziphash has %s)", h, hash)
		}
	}
	if zf != nil {
		zf.Close()
	}
	sumKnown := want != ""
	if !sumKnown {
		want = hash
	}
	dir, done := c.Extracted(mod)
	switch {
	case !done && exists(dir):
		f.add(modcache.PartDir, "unfinished extraction")
	case !done:
		f.add(modcache.PartDir, "missing extracted directory")
	case want != "" && ctx.Err() == nil:
		h, err := dirhash.HashDir(dir, mod.Path+"@"+mod.Version, dirhash.DefaultHash)
		switch {
		case err != nil:
			f.add(modcache.PartDir, "unreadable extracted directory: %v", err)
		case h != want && want == hash && !sumKnown:
			// No go.sum line to tell which of the two is wrong.
			f.add(modcache.PartDir, "extracted directory does not match .ziphash (%s; .ziphash has %s)", h, want)
			f.add(modcache.PartZip, "")
		case h != want:
			f.add(modcache.PartDir, "extracted directory has been modified (%s; want %s)", h, want)
		}
	}
	return f
}

func exists(name string) bool {
	_, err := os.Lstat(name)
	return err == nil
}

// Line is the finding as one line for a terminal: the module, what is
// wrong, and what to do.
func (f *Finding) Line() string {
	what := strings.Join(f.Problems, "; ")
	if f.Repaired {
		return fmt.Sprintf("%s@%s: repaired (%s)", f.Path, f.Version, what)
	}
	return fmt.Sprintf("%s@%s: %s; run 'gomodfetch verify -repair' to fetch it again", f.Path, f.Version, what)
}
