// Package verify decides whether downloaded bytes may enter the module
// cache, as the go command decides it.
//
// A go.mod or zip is hashed (h1:, the dirhash of its files) and checked
// against the project's go.sum lines, in go's order: the first h1 line that
// differs from the hash, before one that equals it, is a SECURITY ERROR;
// in a workspace go.work.sum comes first, then every module's go.sum. A
// version go.sum does not list is looked up in the checksum database
// (GOSUMDB, through golang.org/x/mod/sumdb: signed tree heads, consistent
// trees, the go command's cache layout) unless GONOSUMDB, GOPRIVATE or
// GOSUMDB=off say it need not be. A zip is first checked for what its hash
// cannot see (CheckZip): its structure, and x/mod/zip's rules on names and
// sizes. What was learned is added to go.sum as the go command adds it.
package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/rogpeppe/go-internal/lockedfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"

	"gomodfetch/modcache"
	"gomodfetch/retry"
)

// emptyGoModHash is the hash of an empty go.mod; go.sum lines carrying it
// are ignored, as the go command ignores them.
const emptyGoModHash = "h1:G7mAYYxgmS0lVkHyy2hEOLQCFB0DlQFTMLWggykrydY="

// Sums is the content of a go.sum file: the hashes a project has recorded.
// It is safe for concurrent use.
type Sums struct {
	// File is the go.sum path, used in messages and by Write.
	File string

	mu     sync.Mutex
	known  map[module.Version][]string // File's hashes, in file order
	others []sumFile                   // files added by Include, in order
	added  map[module.Version]string
}

// sumFile is the content of a go.sum file read by Include.
type sumFile struct {
	name  string
	known map[module.Version][]string
}

// ReadSums reads a go.sum file. A missing file is an empty one.
func ReadSums(file string) (*Sums, error) {
	data, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	return ParseSums(file, data)
}

// ParseSums parses go.sum content; file names it in errors.
func ParseSums(file string, data []byte) (*Sums, error) {
	s := &Sums{File: file, known: map[module.Version][]string{}, added: map[module.Version]string{}}
	for lineno, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("malformed go.sum:\n%s:%d: wrong number of fields %d", file, lineno+1, len(f)) // go's two lines
		}
		if f[2] == emptyGoModHash {
			continue
		}
		mod := module.Version{Path: f[0], Version: f[1]}
		s.known[mod] = append(s.known[mod], f[2])
	}
	return s, nil
}

// match reports whether h is recorded for mod, by the go command's rule.
// File's lines, then this run's hash, are walked in order: a line equal to
// h accepts, and an h1 line met first that differs is a mismatch. Failing
// that, the included files are read whole: any h1 line that differs is a
// mismatch, else an equal line accepts. Other algorithms are skipped.
// Expected returns the one hash the go.sum rule would accept for mod: the
// main file's first h1 line (or this run's), else the h1 line the other
// files agree on, else "" when no file records one (the checksum database
// decides then). Other files that disagree with each other accept nothing:
// that is a *ConflictError.
func (s *Sums) Expected(mod module.Version) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	main := s.known[mod]
	if a, ok := s.added[mod]; ok {
		main = append(main[:len(main):len(main)], a)
	}
	for _, r := range main {
		if strings.HasPrefix(r, "h1:") {
			return r, nil
		}
	}
	want, first := "", ""
	for _, o := range s.others {
		for _, r := range o.known[mod] {
			if !strings.HasPrefix(r, "h1:") {
				continue
			}
			if want == "" {
				want, first = r, o.name
			} else if r != want {
				return "", &ConflictError{Mod: mod, Files: [2]string{first, o.name}, Hashes: [2]string{want, r}}
			}
		}
	}
	return want, nil
}

// ConflictError is two go.sum files of a workspace that record different
// hashes for one module version: no download can match both.
type ConflictError struct {
	Mod    module.Version
	Files  [2]string
	Hashes [2]string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("verifying %s@%s: go.sum files disagree: %s has %s, %s has %s; fix or remove the wrong line",
		e.Mod.Path, e.Mod.Version, e.Files[0], e.Hashes[0], e.Files[1], e.Hashes[1])
}

// RetryClass: no attempt can fix the files.
func (e *ConflictError) RetryClass() retry.Class { return retry.Permanent }

func (s *Sums) match(mod module.Version, h string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := "go.sum"
	if strings.HasSuffix(s.File, "go.work.sum") {
		name = "go.work.sum"
	}
	main := s.known[mod]
	if a, ok := s.added[mod]; ok {
		main = append(main[:len(main):len(main)], a)
	}
	for _, r := range main {
		if r == h {
			return true, nil
		}
		if strings.HasPrefix(r, "h1:") {
			return false, &ChecksumMismatchError{Mod: mod, Downloaded: h, Recorded: r, Source: name}
		}
	}
	found := false
	for _, o := range s.others {
		for _, r := range o.known[mod] {
			if r == h {
				found = true
			} else if strings.HasPrefix(r, "h1:") {
				return false, &ChecksumMismatchError{Mod: mod, Downloaded: h, Recorded: r, Source: o.name}
			}
		}
	}
	return found, nil
}

// add records h for mod unless another hash was recorded for it first (two
// downloads of one version raced with different bytes); it then returns
// that hash and false.
// first reports that h was not recorded before.
func (s *Sums) add(mod module.Version, h string) (_ string, ok, first bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, had := s.added[mod]
	if had && prev != h {
		return prev, false, false
	}
	s.added[mod] = h
	return h, true, !had
}

// lines returns the main file's hashes for mod, in file order.
func (s *Sums) lines(mod module.Version) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.known[mod])
}

// added returns the go.sum lines learned during the run that the file did
// not have and that keep accepts, sorted.
func (s *Sums) addedLines(keep func(module.Version) bool) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var lines []string
	for mod, h := range s.added {
		if keep(mod) {
			lines = append(lines, mod.Path+" "+mod.Version+" "+h)
		}
	}
	sort.Strings(lines)
	return lines
}

// WriteAdded records in the go.sum file the hashes learned during the run
// that keep accepts (keep is given module versions, with "/go.mod" appended
// for go.mod hashes) and that the file lacks, as the go command does: under
// the file's lock and the cache's side lock, the file is read again (other
// processes may have added lines meanwhile) and written whole, sorted by
// module path and version, each module's hashes sorted, without duplicate
// or blank lines, with single spaces and LF endings. When the file already
// has every such line it is left untouched, whatever its form.
func (s *Sums) WriteAdded(cache *modcache.Cache, keep func(module.Version) bool) error {
	added := s.addedSums(keep)
	if !s.lacksAny(added) {
		return nil
	}
	unlock, err := cache.SideLock()
	if err != nil {
		return err
	}
	defer unlock()
	return lockedfile.Transform(s.File, func(old []byte) ([]byte, error) {
		cur, err := ParseSums(s.File, old)
		if err != nil {
			return nil, err
		}
		if !cur.lacksAny(added) {
			return old, nil
		}
		for mod, h := range added {
			cur.known[mod] = append(cur.known[mod], h)
		}
		return cur.format(), nil
	})
}

// addedSums returns the hashes learned during the run that keep accepts.
func (s *Sums) addedSums(keep func(module.Version) bool) map[module.Version]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[module.Version]string{}
	for mod, h := range s.added {
		if keep(mod) {
			out[mod] = h
		}
	}
	return out
}

// lacksAny reports whether the file s was read from lacks one of sums.
func (s *Sums) lacksAny(sums map[module.Version]string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for mod, h := range sums {
		if !slices.Contains(s.known[mod], h) {
			return true
		}
	}
	return false
}

// format is the file's lines as the go command writes go.sum.
func (s *Sums) format() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	mods := make([]module.Version, 0, len(s.known))
	for mod := range s.known {
		mods = append(mods, mod)
	}
	module.Sort(mods)
	var b strings.Builder
	for _, mod := range mods {
		hs := slices.Clone(s.known[mod])
		slices.Sort(hs)
		for _, h := range slices.Compact(hs) {
			b.WriteString(mod.Path + " " + mod.Version + " " + h + "\n")
		}
	}
	return []byte(b.String())
}

// ChecksumMismatchError is a SECURITY ERROR: downloaded bytes differ from
// what go.sum (or the checksum database) recorded.
type ChecksumMismatchError struct {
	Mod        module.Version // Version ends in "/go.mod" for a go.mod hash
	Downloaded string
	Recorded   string
	Source     string // "go.sum", "go.work.sum", a workspace module's go.sum path, "this run" or the checksum database name
	// DB says Source is a checksum database: go's words differ.
	DB bool
}

// NamesModule reports that the message starts with the module version
// (go's words for a checksum database's mismatch).
func (e *ChecksumMismatchError) NamesModule() bool { return e.DB }

// Unchained reports that go stops on this error at once, without the
// requirement path to the module (a go.sum mismatch).
func (e *ChecksumMismatchError) Unchained() bool { return !e.DB }

func (e *ChecksumMismatchError) Error() string {
	if e.DB {
		base, noun := sumdbNoun(e.Mod)
		return fmt.Sprintf("%s@%s: verifying %s: checksum mismatch\n\tdownloaded: %s\n\t%s: %s\n\n"+
			"SECURITY ERROR\n"+
			"This download does NOT match the one reported by the checksum server.\n"+
			"The bits may have been replaced on the origin server, or an attacker may\n"+
			"have intercepted the download attempt.\n\n"+
			"For more information, see 'go help module-auth'.",
			base.Path, base.Version, noun, e.Downloaded, e.Source, e.Recorded)
	}
	return fmt.Sprintf("verifying %s@%s: checksum mismatch\n\tdownloaded: %s\n\t%s:     %s\n\n"+
		"SECURITY ERROR\n"+
		"This download does NOT match an earlier download recorded in %s.\n"+
		"The bits may have been replaced on the origin server, or an attacker may\n"+
		"have intercepted the download attempt.\n\n"+
		"For more information, see 'go help module-auth'.",
		e.Mod.Path, e.Mod.Version, e.Downloaded, e.Source, e.Recorded, e.Source)
}

// RetryClass: a mismatch against go.sum is final.
func (e *ChecksumMismatchError) RetryClass() retry.Class { return retry.Permanent }

// MissingSumError reports a module version that go.sum does not list and
// that may not be accepted without a checksum database lookup.
type MissingSumError struct {
	Mod    module.Version
	GoSum  string
	Reason string
}

func (e *MissingSumError) Error() string {
	return fmt.Sprintf("verifying %s@%s: missing %s entry and %s; add it with 'go mod download %s' or 'go mod tidy', or set GONOSUMDB for private modules",
		e.Mod.Path, e.Mod.Version, e.GoSum, e.Reason, strings.TrimSuffix(e.Mod.Path+"@"+e.Mod.Version, "/go.mod"))
}

// SumDB looks up module hashes in a checksum database.
// FailingSumDB is a checksum database that cannot be used (a GOSUMDB
// that does not parse): every lookup fails with Err, as go fails each
// module that needs the database.
type FailingSumDB struct{ Err error }

func (d FailingSumDB) Lookup(context.Context, string, string) ([]string, error) { return nil, d.Err }
func (d FailingSumDB) Name() string                                             { return "GOSUMDB" }

type SumDB interface {
	// Lookup returns the database's go.sum lines for path@version
	// (both the module and its go.mod).
	Lookup(ctx context.Context, path, version string) ([]string, error)
	// Name is the database's name, for messages.
	Name() string
}

// Verifier decides whether downloaded bytes may enter the cache.
type Verifier struct {
	// Sums is the project's go.sum; nil outside a module.
	Sums *Sums
	// SkipSumDB reports whether path must not be (or need not be) checked
	// in the checksum database: GOSUMDB=off, GONOSUMDB/GOPRIVATE, -insecure.
	SkipSumDB func(path string) bool
	// DB is the checksum database; nil when none is configured.
	DB SumDB
	// Warn, if not nil, is told (once per module version) of a hash
	// recorded for a module whose go.sum lines all use an unknown
	// algorithm: go's SECURITY WARNING, as go words it.
	Warn func(msg string)
	// RecordOnly, if not nil, limits what Sums learns to the paths it
	// reports (serve's record of private modules: it would otherwise
	// grow with every version served).
	RecordOnly func(path string) bool
	// Shared, if not nil, is a record of first hashes that other processes
	// share (serve's replicas on one fleet bucket), consulted for the paths
	// RecordOnly reports before Sums learns a hash of its own: the hash
	// recorded there first is the only one accepted.
	Shared SharedRecord
}

// SharedRecord is a record of the first hash accepted for each module
// version (or go.mod key), written once, shared between processes. It is
// safe for concurrent use.
type SharedRecord interface {
	// Lookup returns the hash recorded for mod, or "" if there is none.
	Lookup(ctx context.Context, mod module.Version) (string, error)
	// Agree records h for mod unless a hash is recorded already, and
	// returns the hash recorded (h, or the earlier one).
	Agree(ctx context.Context, mod module.Version, h string) (string, error)
}

// SharedRecordError is a shared record that could not be read or written:
// the hash was checked against the local record only.
type SharedRecordError struct {
	Mod module.Version
	Err error
}

func (e *SharedRecordError) Error() string {
	return fmt.Sprintf("%s@%s: the shared record of first hashes was not consulted: %v", e.Mod.Path, e.Mod.Version, e.Err)
}
func (e *SharedRecordError) Unwrap() error { return e.Err }

// unknownHashesWarning is the go command's text for a go.sum that names a
// download only with hashes of algorithms it does not know.
const unknownHashesWarning = `verifying %s@%s: unknown hashes in go.sum: %v; adding %v

SECURITY WARNING
This download is listed in go.sum, but using an unknown hash algorithm.
The download cannot be verified.

For more information, see 'go help module-auth'.
`

// Check accepts hash h for mod (whose Version ends in "/go.mod" for a go.mod
// file) if go.sum records it (see Sums.match), or, when no go.sum line
// decides, if the checksum database agrees or may be skipped for this path.
// The hash is then remembered for go.sum.
func (v *Verifier) Check(ctx context.Context, mod module.Version, h string) error {
	if v.Sums != nil {
		ok, err := v.Sums.match(mod, h)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
	if v.SkipSumDB == nil || !v.SkipSumDB(mod.Path) {
		if v.DB == nil {
			return &MissingSumError{Mod: mod, GoSum: "go.sum", Reason: "no checksum database is configured"}
		}
		if err := v.checkDB(ctx, mod, h); err != nil {
			return err
		}
	}
	if v.Sums != nil && (v.RecordOnly == nil || v.RecordOnly(mod.Path)) {
		if v.Shared != nil && v.RecordOnly != nil {
			rec, err := v.Shared.Agree(ctx, mod, h)
			switch {
			case err != nil:
				// The bucket is down: this process's own record still
				// holds; the fleet's is not consulted (said, not fatal).
				if v.Warn != nil {
					v.Warn((&SharedRecordError{Mod: mod, Err: err}).Error())
				}
			case rec != h:
				return &ChecksumMismatchError{Mod: mod, Downloaded: h, Recorded: rec, Source: "the fleet's record"}
			}
		}
		prev, ok, first := v.Sums.add(mod, h)
		if !ok {
			return &ChecksumMismatchError{Mod: mod, Downloaded: h, Recorded: prev, Source: "this run"}
		}
		if unknown := v.Sums.lines(mod); first && len(unknown) > 0 && v.Warn != nil {
			// Only lines of unknown algorithms can be there: an h1 line
			// would have matched or been a mismatch.
			v.Warn(fmt.Sprintf(unknownHashesWarning, mod.Path, mod.Version, strings.Join(unknown, ", "), h))
		}
	}
	return nil
}

// Expected returns the one hash mod may have, if a record says so: the
// go.sum files' (Sums.Expected), else, for a path RecordOnly reports, the
// shared record's. A shared record that cannot be read says nothing.
func (v *Verifier) Expected(ctx context.Context, mod module.Version) (string, error) {
	if v.Sums == nil {
		return "", nil
	}
	h, err := v.Sums.Expected(mod)
	if err != nil || h != "" || v.Shared == nil || v.RecordOnly == nil || !v.RecordOnly(mod.Path) {
		return h, err
	}
	h, err = v.Shared.Lookup(ctx, mod)
	if err != nil {
		return "", nil
	}
	return h, nil
}

// Vouches reports whether Check compares mod's hash (a go.mod key or a
// zip) with a record this process did not just make: a go.sum line (or
// serve's record of a first hash), the fleet's shared record, or the
// checksum database. When none does, the first hash Check sees is
// recorded, and what was downloaded has only its own form to show it is
// not damaged.
func (v *Verifier) Vouches(ctx context.Context, mod module.Version) bool {
	if (v.SkipSumDB == nil || !v.SkipSumDB(mod.Path)) && v.DB != nil {
		return true
	}
	// A go.sum line decides before any checksum database (Check), with
	// or without one configured.
	h, err := v.Expected(ctx, mod)
	return err == nil && h != ""
}

// Prefetch starts, in the background, the slow part of checking mod (a
// go.mod key or a zip) soon: its checksum database lookup, unless a go.sum
// line or GONOSUMDB will decide, so that it runs while what it will check
// downloads. It never blocks and never fails: Check does the checking.
func (v *Verifier) Prefetch(ctx context.Context, mod module.Version) {
	db, ok := v.DB.(interface {
		Prefetch(ctx context.Context, path, version string)
	})
	if !ok || (v.SkipSumDB != nil && v.SkipSumDB(mod.Path)) {
		return
	}
	if v.Sums != nil {
		if want, err := v.Sums.Expected(mod); err != nil || want != "" {
			return
		}
	}
	db.Prefetch(ctx, mod.Path, strings.TrimSuffix(mod.Version, "/go.mod"))
}

func (v *Verifier) checkDB(ctx context.Context, mod module.Version, h string) error {
	ver := strings.TrimSuffix(mod.Version, "/go.mod")
	lines, err := v.DB.Lookup(ctx, mod.Path, ver)
	base, noun := sumdbNoun(mod)
	if err != nil {
		var sec *SumDBSecurityError
		if errors.As(err, &sec) {
			return fmt.Errorf("verifying %s@%s: %w", mod.Path, mod.Version, err)
		}
		if _, unusable := v.DB.(FailingSumDB); unusable {
			// go's words: "m@v: verifying go.mod: invalid GOSUMDB: ..."
			return module.VersionError(base, fmt.Errorf("verifying %s: %w", noun, err))
		}
		// go's words: "m@v: verifying go.mod: m@v/go.mod: <the request's error>"
		return module.VersionError(base, fmt.Errorf("verifying %s: %s@%s: %w", noun, mod.Path, mod.Version, err))
	}
	want := mod.Path + " " + mod.Version + " "
	for _, line := range lines {
		if rest, ok := strings.CutPrefix(line, want); ok {
			if rest == h {
				return nil
			}
			if strings.HasPrefix(rest, "h1:") {
				return &ChecksumMismatchError{Mod: mod, Downloaded: h, Recorded: rest, Source: v.DB.Name(), DB: true}
			}
		}
	}
	return module.VersionError(base, fmt.Errorf("verifying %s: checksum missing from sumdb response\n\n"+
		"SECURITY ERROR\n"+
		"This download does NOT match one reported by the checksum server.\n"+
		"The checksum server has provided checksums, but the checksums do\n"+
		"not contain an entry for the download.\n"+
		"The checksum server may be malfunctioning, or an attacker may have\n"+
		"intercepted the checksum request.\n"+
		"The download cannot be verified.\n\n"+
		"For more information, see 'go help module-auth'.", noun))
}

// sumdbNoun is how go names a checksum database check of mod (whose
// Version ends in "/go.mod" for a go.mod): the module version without the
// suffix, and "go.mod" or "module".
func sumdbNoun(mod module.Version) (module.Version, string) {
	if v, ok := strings.CutSuffix(mod.Version, "/go.mod"); ok {
		return module.Version{Path: mod.Path, Version: v}, "go.mod"
	}
	return mod, "module"
}

// GoModKey is the go.sum key of mod's go.mod file: mod's version with
// "/go.mod" appended.
func GoModKey(mod module.Version) module.Version {
	return module.Version{Path: mod.Path, Version: mod.Version + "/go.mod"}
}

// HashGoMod returns the go.sum hash of a go.mod file's content.
func HashGoMod(data []byte) (string, error) {
	return dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
}

// FileHashes returns the h1: hash the main file records first for each
// module version (or go.mod key), sorted by key.
func (s *Sums) FileHashes() []Sum {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Sum
	for m, hs := range s.known {
		for _, h := range hs {
			if strings.HasPrefix(h, "h1:") {
				out = append(out, Sum{m, h})
				break
			}
		}
	}
	slices.SortFunc(out, func(a, b Sum) int {
		if c := strings.Compare(a.Mod.Path, b.Mod.Path); c != 0 {
			return c
		}
		return strings.Compare(a.Mod.Version, b.Mod.Version)
	})
	return out
}

// Sum is a module version (or go.mod key) and its hash.
type Sum struct {
	Mod  module.Version
	Hash string
}

// VersionsOf returns the versions (not /go.mod keys) of path that some
// go.sum file, or this run, records a hash for, in no particular order.
func (s *Sums) VersionsOf(path string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	add := func(known map[module.Version][]string) {
		for m := range known {
			if m.Path == path && !strings.HasSuffix(m.Version, "/go.mod") && !seen[m.Version] {
				seen[m.Version] = true
				out = append(out, m.Version)
			}
		}
	}
	add(s.known)
	for _, o := range s.others {
		add(o.known)
	}
	for m := range s.added {
		if m.Path == path && !strings.HasSuffix(m.Version, "/go.mod") && !seen[m.Version] {
			seen[m.Version] = true
			out = append(out, m.Version)
		}
	}
	return out
}
