package download

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"gomodfetch/modcache"
	"gomodfetch/proxy"
	"gomodfetch/verify"
)

// Versions returns the tagged versions the proxy list serves for path (its
// <path>/@v/list), leaving out pseudo-versions and anything that is not a
// semantic version, in the order the proxy gave them. The answer is kept
// for the run; the slice is shared and must not be modified.
func (f *Fetcher) Versions(ctx context.Context, path string) ([]string, error) {
	l, err := f.versionList(ctx, path)
	return l.tagged, err
}

// versionList is a proxy's <path>/@v/list, read.
type versionList struct {
	tagged []string // tagged versions, in the proxy's order
	newest string   // the newest version with a time (its own or a pseudo-version's): @latest's stand-in
}

// versionList fetches and reads path's version list, once per run.
func (f *Fetcher) versionList(ctx context.Context, path string) (versionList, error) {
	enc, err := module.EscapePath(path)
	if err != nil {
		return versionList{}, &module.ModuleError{Path: path, Err: err}
	}
	l, err := f.lists.Do(path, func() (versionList, error) {
		l, _, err := proxy.Ask(ctx, f.cfg.Router, path, func(ctx context.Context, base *url.URL) (versionList, error) {
			data, err := f.cfg.Router.Client.GetBytes(ctx, proxy.Join(base, enc+"/@v/list"), maxList)
			if err != nil {
				return versionList{}, err
			}
			return parseList(data), nil
		}, nil)
		if err != nil && f.directQuery(path, err) {
			vs, verr := f.cfg.GoCommand.Versions(ctx, path)
			return versionList{tagged: vs}, verr
		}
		return l, err
	})
	if err != nil {
		return versionList{}, &module.ModuleError{Path: path, Err: err}
	}
	return l, nil
}

// parseList reads a version list as the go command reads it: tagged
// versions for queries and, standing in for a missing @latest, the
// version with the latest time, where a line's time is its second field
// or a pseudo-version's own (tagged versions without a time are skipped).
func parseList(data []byte) versionList {
	var (
		l    versionList
		best time.Time
	)
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || !semver.IsValid(fields[0]) {
			continue
		}
		v := fields[0]
		if !module.IsPseudoVersion(v) {
			l.tagged = append(l.tagged, v)
		}
		var t time.Time
		switch {
		case len(fields) >= 2:
			t, _ = time.Parse(time.RFC3339, fields[1])
		case module.IsPseudoVersion(v):
			t, _ = module.PseudoVersionTime(v)
		default:
			continue
		}
		if best.Before(t) {
			best, l.newest = t, v
		}
	}
	return l
}

// Latest returns the version the proxy list serves as <path>/@latest (which
// the go command asks only when a module has no tagged versions) and its
// time, and caches its .info as the go command does. When no proxy serves
// @latest, the newest version in the version list (typically a
// pseudo-version) stands in, as in the go command.
func (f *Fetcher) Latest(ctx context.Context, path string) (string, time.Time, error) {
	enc, err := module.EscapePath(path)
	if err != nil {
		return "", time.Time{}, &module.ModuleError{Path: path, Err: err}
	}
	info, err := f.statURL(ctx, path, "latest", enc+"/@latest")
	if err != nil {
		var vcs *proxy.NeedVCSError
		if errors.Is(err, fs.ErrNotExist) || errors.As(err, &vcs) {
			if l, lerr := f.versionList(ctx, path); lerr == nil && l.newest != "" {
				return f.Stat(ctx, path, l.newest)
			}
		}
		return "", time.Time{}, &module.ModuleError{Path: path, Err: err}
	}
	return info.Version, info.Time, nil
}

// Stat resolves query (a semantic version, a branch, tag or commit) for
// path through the proxy's <path>/@v/<query>.info (or, with
// Config.DirectQueries, the go command for what only version control
// has), caches the .info under the version it resolves to, as the go
// command does, and returns that version and its time. A canonical
// version already in the cache costs no request.
func (f *Fetcher) Stat(ctx context.Context, path, query string) (string, time.Time, error) {
	mod := module.Version{Path: path, Version: query}
	if module.CanonicalVersion(query) == query && module.Check(path, query) == nil {
		info, cached, err := f.Info(ctx, mod)
		if err != nil && f.directQuery(path, err) {
			info, err = f.resolveDirect(ctx, path, query)
			cached = true
		}
		if err != nil {
			return "", time.Time{}, err
		}
		if !cached {
			if _, err := f.cfg.Cache.WriteInfo(mod, info); err != nil {
				return "", time.Time{}, module.VersionError(mod, err)
			}
		}
		return info.Version, info.Time, nil
	}
	// A revision or other query the proxy cannot answer is reported as
	// the go command reports it: path@query: invalid version: ...
	invalid := func(err error) error {
		return &module.ModuleError{Path: path, Err: &module.InvalidVersionError{Version: query, Pseudo: module.IsPseudoVersion(query), Err: err}}
	}
	rel, err := modcache.RelPath(mod, "info")
	if err != nil {
		return "", time.Time{}, invalid(err)
	}
	info, err := f.statURL(ctx, path, query, rel)
	if err != nil {
		if module.CanonicalVersion(query) == query {
			// A version the path does not allow (v2 without /v2): go asks
			// the proxy and reports its answer as it is.
			return "", time.Time{}, err
		}
		return "", time.Time{}, invalid(err)
	}
	return info.Version, info.Time, nil
}

// statURL fetches a .info answer for query at rel (relative to a proxy's
// base URL), checks that it names a valid version of path and caches it
// under that version unless the cache has it already. The answer is kept
// for the run.
func (f *Fetcher) statURL(ctx context.Context, path, query, rel string) (*modcache.Info, error) {
	return f.stats.Do(path+"@"+query, func() (*modcache.Info, error) {
		a, _, err := f.askInfo(ctx, path, rel, func(src source, i *modcache.Info) error {
			if err := module.Check(path, i.Version); err != nil || module.CanonicalVersion(i.Version) != i.Version {
				return fmt.Errorf("proxy %s returned invalid version %q for %s", src, i.Version, query)
			}
			return nil
		}, false)
		if err != nil && f.directQuery(path, err) {
			return f.resolveDirect(ctx, path, query)
		}
		if err != nil {
			return nil, err
		}
		info := a.info
		resolved := module.Version{Path: path, Version: info.Version}
		if _, _, err := f.cfg.Cache.ReadInfo(resolved); err != nil {
			if _, err := f.cfg.Cache.WriteInfo(resolved, info); err != nil {
				return nil, err
			}
		}
		return info, nil
	})
}

// QueryOrigin returns the Origin of the proxy's answer to path@query, as
// it came (before the cache's copy drops its tag and repository sums), if
// this run asked it: what the go command prints for a query it resolved.
func (f *Fetcher) QueryOrigin(path, query string) *modcache.Origin {
	if info, ok := f.stats.Peek(path + "@" + query); ok && info != nil {
		return info.Origin
	}
	return nil
}

// directQuery reports whether err, a proxy list's answer for path, is to
// be asked of the go command instead (Config.DirectQueries).
func (f *Fetcher) directQuery(path string, err error) bool {
	var vcs *proxy.NeedVCSError
	return f.cfg.DirectQueries && f.vcs(path) && errors.As(err, &vcs)
}

// resolveDirect resolves path@query at its repository with the go command
// (which checks the go.mod against the hashes known for path and writes
// the .info and .mod to the cache) and returns the resolved version's
// .info, written to the cache if the go command did not.
func (f *Fetcher) resolveDirect(ctx context.Context, path, query string) (*modcache.Info, error) {
	var keys []module.Version
	if s := f.cfg.Verifier.Sums; s != nil {
		vs := s.VersionsOf(path)
		if module.CanonicalVersion(query) == query && !slices.Contains(vs, query) {
			vs = append(vs, query) // the shared record may know it
		}
		for _, v := range vs {
			m := module.Version{Path: path, Version: v}
			keys = append(keys, m, verify.GoModKey(m))
		}
	}
	sums, err := f.expectedSums(ctx, keys...)
	if err != nil {
		return nil, err
	}
	l, err := f.cfg.GoCommand.Resolve(ctx, path, query, sums)
	if err != nil {
		return nil, err
	}
	mod := module.Version{Path: path, Version: l.Version}
	if info, _, err := f.cfg.Cache.ReadInfo(mod); err == nil {
		return info, nil
	}
	info := &modcache.Info{Version: l.Version, Time: l.Time}
	if len(l.Origin) > 0 {
		o := new(modcache.Origin)
		if json.Unmarshal(l.Origin, o) == nil {
			info.Origin = o
		}
	}
	if _, err := f.cfg.Cache.WriteInfo(mod, info); err != nil {
		return nil, module.VersionError(mod, err)
	}
	return info, nil
}
