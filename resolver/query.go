package resolver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/par"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// VersionSource answers the questions a module proxy answers about a
// module's versions, on top of the go.mod files of a ModSource. It must be
// safe for concurrent use.
type VersionSource interface {
	ModSource
	// Versions returns the tagged versions of path (no pseudo-versions),
	// in any order.
	Versions(ctx context.Context, path string) ([]string, error)
	// Latest returns the version the source offers when path has no
	// tagged version (typically the newest pseudo-version) and its time.
	Latest(ctx context.Context, path string) (string, time.Time, error)
	// Stat resolves a version, branch, tag or commit of path to a
	// canonical version and its time.
	Stat(ctx context.Context, path, query string) (string, time.Time, error)
}

// NoMatchingVersionError reports a query that no version satisfies.
type NoMatchingVersionError struct {
	Query, Current string
}

func (e *NoMatchingVersionError) Error() string {
	s := fmt.Sprintf("no matching versions for query %q", e.Query)
	if (e.Query == "upgrade" || e.Query == "patch") && e.Current != "" && e.Current != "none" {
		s += fmt.Sprintf(" (current version is %s)", e.Current)
	}
	return s
}

// errDisallowed marks a version excluded by the main module or retracted
// by its author; queries skip such versions.
var errDisallowed = errors.New("disallowed module version")

// querier resolves version queries the way the go command's module loader
// does: for path@query it lists versions, prefers releases over
// pre-releases, honours +incompatible rules, exclusions and the
// retractions in the latest version's go.mod, and falls back to @latest.
type querier struct {
	src  VersionSource
	main *Main // nil outside a module

	latest par.Cache // path → latestResult: latest version ignoring retractions
	lists  par.Cache // path → listResult: its version list, asked once per run
}

type listResult struct {
	list []string
	err  error
}

type latestResult struct {
	version module.Version
	err     error
}

func newQuerier(src VersionSource, main *Main) *querier {
	return &querier{src: src, main: main}
}

// isRevisionQuery reports whether query names one revision (a complete
// version, a branch, tag or commit) rather than a range: such a query may
// select an excluded or retracted version.
func isRevisionQuery(query string) bool {
	switch {
	case query == "latest", query == "upgrade", query == "patch",
		strings.HasPrefix(query, "<"), strings.HasPrefix(query, ">"):
		return false
	}
	return !(semver.IsValid(query) && isVersionPrefix(query))
}

// isVersionPrefix reports whether v ("v1", "v1.2") stands for a family of
// versions rather than one.
func isVersionPrefix(v string) bool {
	if strings.ContainsAny(v, "-+") {
		return false
	}
	return strings.Count(v, ".") < 2
}

// matcher is a parsed query over a version list.
type matcher struct {
	path               string
	prefix             string
	filter             func(string) bool
	disallow           func(context.Context, string) error // why a version may not be picked; nil: any may
	canStat            bool                                // resolve with Stat, not the list
	preferLower        bool
	mayUseLatest       bool
	preferIncompatible bool
}

func newMatcher(path, query, current string) (*matcher, error) {
	bad := func(v string) (*matcher, error) {
		return nil, fmt.Errorf("invalid semantic version %q in range %q", v, query)
	}
	matchesMajor := func(v string) bool {
		_, pathMajor, ok := module.SplitPathVersion(path)
		return ok && module.CheckPathMajor(v, pathMajor) == nil
	}
	m := &matcher{path: path, preferIncompatible: strings.HasSuffix(current, "+incompatible")}
	hasCurrent := current != "" && current != "none"
	switch {
	case query == "latest":
		m.mayUseLatest = true
	case query == "upgrade":
		if !hasCurrent {
			m.mayUseLatest = true
			break
		}
		m.mayUseLatest = module.IsPseudoVersion(current)
		m.filter = func(v string) bool { return semver.Compare(v, current) >= 0 }
	case query == "patch":
		if !hasCurrent {
			return nil, fmt.Errorf("can't query version \"patch\" of module %s: no existing version is required", path)
		}
		m.mayUseLatest = module.IsPseudoVersion(current)
		m.prefix = semver.MajorMinor(current) + "."
		m.filter = func(v string) bool { return semver.Compare(v, current) >= 0 }
	case strings.HasPrefix(query, "<="), strings.HasPrefix(query, ">="),
		strings.HasPrefix(query, "<"), strings.HasPrefix(query, ">"):
		op := query[:1]
		if len(query) > 1 && query[1] == '=' {
			op = query[:2]
		}
		v := query[len(op):]
		if !semver.IsValid(v) {
			return bad(v)
		}
		if (op == "<=" || op == ">") && isVersionPrefix(v) {
			return nil, fmt.Errorf("ambiguous semantic version %q in range %q", v, query)
		}
		m.filter = func(mv string) bool {
			c := semver.Compare(mv, v)
			switch op {
			case "<=":
				return c <= 0
			case "<":
				return c < 0
			case ">=":
				return c >= 0
			}
			return c > 0
		}
		m.preferLower = op[0] == '>'
		if !matchesMajor(v) {
			m.preferIncompatible = true
		}
	case semver.IsValid(query):
		if isVersionPrefix(query) {
			m.prefix = query + "."
			// "v1.2" does not match pre-releases of v1.2.0.
			m.filter = func(v string) bool { return semver.Compare(v, query) >= 0 }
		} else {
			m.canStat = true
		}
		if !matchesMajor(query) {
			m.preferIncompatible = true
		}
	default:
		m.canStat = true // a branch, tag or commit: the source resolves it
	}
	return m, nil
}

// matches reports whether v answers the query and may be picked.
func (m *matcher) matches(ctx context.Context, v string) bool {
	if m.prefix != "" && !strings.HasPrefix(v, m.prefix) {
		return false
	}
	if m.filter != nil && !m.filter(v) {
		return false
	}
	return m.disallow == nil || !errors.Is(m.disallow(ctx, v), errDisallowed)
}

// query resolves path@query. current is the version the build list selects
// for path ("" or "none" if it has none). It returns the version and whether
// it came from a single Stat (the go command then reports the Origin).
func (q *querier) query(ctx context.Context, path, query, current string, checkDisallowed bool) (string, bool, error) {
	m, err := newMatcher(path, query, current)
	if err != nil {
		return "", false, err
	}
	if m.canStat {
		v, _, err := q.stat(ctx, path, query)
		if err != nil {
			// "v1.2.3+meta" may be tagged without its metadata.
			canon := module.CanonicalVersion(query)
			if canon == "" || canon == query {
				return "", false, err
			}
			var err2 error
			if v, _, err2 = q.stat(ctx, path, canon); err2 != nil {
				return "", false, err
			}
		}
		return v, true, nil
	}
	if checkDisallowed {
		m.disallow = func(ctx context.Context, v string) error {
			return q.disallowed(ctx, module.Version{Path: path, Version: v})
		}
	}
	list, err := q.versions(ctx, path)
	if err != nil {
		return "", false, err
	}
	releases, prereleases, err := q.filter(ctx, m, list)
	if err != nil {
		return "", false, err
	}
	lookup := func(v string) (string, bool, error) {
		got, t, err := q.stat(ctx, path, v)
		if err != nil {
			return "", false, err
		}
		if (query == "upgrade" || query == "patch") && module.IsPseudoVersion(current) && !t.IsZero() {
			// Never "upgrade" from a pseudo-version to an older commit.
			if ct, err := module.PseudoVersionTime(current); err == nil && t.Before(ct) {
				got, _, err = q.stat(ctx, path, current)
				if err != nil {
					return "", false, err
				}
			}
		}
		return got, false, nil
	}
	pick := func(vs []string) string {
		if m.preferLower {
			return vs[0]
		}
		return vs[len(vs)-1]
	}
	switch {
	case len(releases) > 0:
		return lookup(pick(releases))
	case len(prereleases) > 0:
		return lookup(pick(prereleases))
	}
	if m.mayUseLatest {
		v, _, err := q.latestOf(ctx, path)
		if err == nil && m.matches(ctx, v) {
			return lookup(v)
		}
		if err != nil && !isNotFound(err) {
			return "", false, err
		}
	}
	if (query == "upgrade" || query == "patch") && current != "" && current != "none" {
		return lookup(current)
	}
	return "", false, &NoMatchingVersionError{Query: query, Current: current}
}

// versions returns path's version list in semver order, asking the source
// once however many queries need it.
func (q *querier) versions(ctx context.Context, path string) ([]string, error) {
	r := q.lists.Do(path, func() any {
		list, err := q.src.Versions(ctx, path)
		list = append([]string(nil), list...) // sorted here: the source's slice may be shared
		if _, ok := q.highestReplaced(path); ok {
			// A replaced path's versions include the replaced ones, and a
			// path no proxy has is one without other versions.
			if err != nil && isNotFound(err) {
				list, err = nil, nil
			}
			if err == nil {
				list = append(list, q.replacedVersions(path)...)
			}
		}
		semver.Sort(list)
		list = slices.Compact(list)
		return listResult{list, err}
	}).(listResult)
	return r.list, r.err
}

// filter splits the versions m accepts into releases and pre-releases. Once
// a compatible version with its own go.mod is seen, higher +incompatible
// versions are ignored unless the query asks for them.
func (q *querier) filter(ctx context.Context, m *matcher, list []string) (releases, prereleases []string, err error) {
	needIncompatible := m.preferIncompatible
	var lastCompatible string
	for _, v := range list {
		if !m.matches(ctx, v) {
			continue
		}
		if !needIncompatible {
			if !strings.HasSuffix(v, "+incompatible") {
				lastCompatible = v
			} else if lastCompatible != "" {
				data, err := q.src.GoMod(ctx, module.Version{Path: m.path, Version: lastCompatible})
				if err != nil {
					return nil, nil, err
				}
				if string(data) != "module "+modfile.AutoQuote(m.path)+"\n" {
					break // a real go.mod: the module is not legacy-versioned
				}
				needIncompatible = true
			}
		}
		if semver.Prerelease(v) != "" {
			prereleases = append(prereleases, v)
		} else {
			releases = append(releases, v)
		}
	}
	return releases, prereleases, nil
}

// disallowed returns errDisallowed (wrapped) if the main module excludes mod or
// the module's author retracted it. Failing to load the retractions is not
// a reason to refuse a version.
func (q *querier) disallowed(ctx context.Context, mod module.Version) error {
	if q.main != nil && q.main.Excluded(mod) {
		return fmt.Errorf("%s: excluded by go.mod: %w", mod, errDisallowed)
	}
	if q.main != nil {
		if _, ok := q.main.Replacement(module.Version{Path: mod.Path}); ok {
			return nil // every version is replaced: no retractions apply
		}
	}
	latest, err := q.latestIgnoringRetractions(ctx, mod.Path)
	if err != nil {
		return nil
	}
	var data []byte
	if latest.Version == "" {
		data, err = readDirGoMod(latest.Path)
	} else {
		data, err = q.src.GoMod(ctx, latest)
	}
	if err != nil {
		return nil
	}
	f, err := modfile.ParseLax("go.mod", data, nil)
	if err != nil {
		return nil
	}
	for _, r := range f.Retract {
		if semver.Compare(r.Low, mod.Version) <= 0 && semver.Compare(mod.Version, r.High) <= 0 {
			return fmt.Errorf("%s: retracted by module author: %w", mod, errDisallowed)
		}
	}
	return nil
}

// latestIgnoringRetractions is path@latest without regard to retractions
// or exclusions (after replacement): the version whose go.mod holds the
// module's retractions. It is resolved once per path.
func (q *querier) latestIgnoringRetractions(ctx context.Context, path string) (module.Version, error) {
	r := q.latest.Do(path, func() any {
		v, _, err := q.query(ctx, path, "latest", "", false)
		if err != nil {
			return latestResult{err: err}
		}
		m := module.Version{Path: path, Version: v}
		if q.main != nil {
			if r, ok := q.main.Replacement(m); ok {
				m = r
			}
		}
		return latestResult{version: m}
	}).(latestResult)
	return r.version, r.err
}

// The go command answers queries on a path the main module replaces with
// the replacements in view (its replacementRepo): the versions replaced
// count as versions of the path, an exact version no proxy has resolves to
// itself when a replacement covers it, and @latest is the highest version
// replaced when that is above the proxies' (a replacement of every version
// alone stands for a pseudo-version below any real one).

// replacedVersions returns the versions the main module replaces path at
// (not pseudo-versions, not the every-version replacement).
func (q *querier) replacedVersions(path string) []string {
	if q.main == nil {
		return nil
	}
	var vs []string
	for old := range q.main.replace {
		if old.Path == path && old.Version != "" && !module.IsPseudoVersion(old.Version) {
			vs = append(vs, old.Version)
		}
	}
	return vs
}

// highestReplaced returns the highest version the main module replaces
// path at ("" for a replacement of every version alone), and whether it
// replaces path at all.
func (q *querier) highestReplaced(path string) (string, bool) {
	if q.main == nil {
		return "", false
	}
	v, ok := "", false
	for old := range q.main.replace {
		if old.Path == path && (!ok || semver.Compare(old.Version, v) > 0) {
			v, ok = old.Version, true
		}
	}
	return v, ok
}

// stat is the source's Stat, with replacements in view.
func (q *querier) stat(ctx context.Context, path, rev string) (string, time.Time, error) {
	v, t, err := q.src.Stat(ctx, path, rev)
	if err == nil || q.main == nil || len(q.main.replace) == 0 {
		return v, t, err
	}
	if _, ok := q.highestReplaced(path); !ok {
		return v, t, err
	}
	canon := module.CanonicalVersion(rev)
	if canon != rev {
		return v, t, err // replacements name canonical versions only
	}
	if _, major, ok := module.SplitPathVersion(path); ok && major == "" {
		if module.CheckPathMajor(canon, major) != nil && semver.Build(canon) == "" {
			canon += "+incompatible"
		}
	}
	if _, ok := q.main.Replacement(module.Version{Path: path, Version: canon}); !ok {
		return v, t, err
	}
	return replacedStat(canon)
}

// latestOf is the source's Latest, with replacements in view.
func (q *querier) latestOf(ctx context.Context, path string) (string, time.Time, error) {
	v, t, err := q.src.Latest(ctx, path)
	hv, ok := q.highestReplaced(path)
	if !ok {
		return v, t, err
	}
	if hv == "" {
		major := "v0"
		if _, pathMajor, ok := module.SplitPathVersion(path); ok && len(pathMajor) > 0 {
			major = module.PathMajorPrefix(pathMajor)
		}
		hv = module.PseudoVersion(major, "", time.Time{}, "000000000000")
	}
	if err != nil || semver.Compare(hv, v) > 0 {
		return replacedStat(hv)
	}
	return v, t, err
}

// replacedStat is what the go command makes up for a replaced version: the
// version, with a pseudo-version's own time.
func replacedStat(v string) (string, time.Time, error) {
	var t time.Time
	if module.IsPseudoVersion(v) {
		t, _ = module.PseudoVersionTime(v)
	}
	return v, t, nil
}

func isNotFound(err error) bool { return errors.Is(err, fs.ErrNotExist) }

func readDirGoMod(dir string) ([]byte, error) {
	return os.ReadFile(filepath.Join(dir, "go.mod"))
}
