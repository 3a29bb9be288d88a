package download

import (
	"context"
	"encoding/json"
	"errors"

	"golang.org/x/mod/module"

	"gomodfetch/gocmd"
	"gomodfetch/modcache"
	"gomodfetch/proxy"
	"gomodfetch/verify"
)

// QueryDirect resolves path@query with the go command when err, the proxy
// list's answer to the query, says only version control can supply path
// (GONOPROXY, or "direct" after proxies that do not have it): the go
// command resolves it at the repository and downloads what it resolves to
// (verified against the go.sum lines the project has for path), or, with
// -reuse, may report that its earlier answer still holds. handled is
// false, and err returned as is, for any other err. The answer is kept for
// the run; DirectAnswer returns it.
func (f *Fetcher) QueryDirect(ctx context.Context, path, query string, err error) (version string, handled bool, _ error) {
	var vcs *proxy.NeedVCSError
	if !f.vcs(path) || !errors.As(err, &vcs) {
		return "", false, err
	}
	r, err := f.directQueries.Do(path+"@"+query, func() (*gocmd.Result, error) {
		var keys []module.Version
		if s := f.cfg.Verifier.Sums; s != nil {
			for _, v := range s.VersionsOf(path) {
				m := module.Version{Path: path, Version: v}
				keys = append(keys, m, verify.GoModKey(m))
			}
		}
		sums, err := f.expectedSums(ctx, keys...)
		if err != nil {
			return nil, err
		}
		r, err := f.cfg.GoCommand.Query(ctx, path, query, sums)
		if err != nil {
			return nil, err
		}
		if !r.Reuse {
			// What it downloaded is the hand-off of that version.
			f.handoffs.Do(module.Version{Path: path, Version: r.Version}, func() (*gocmd.Result, error) {
				f.countZip(served{proxy: "direct"})
				return r, nil
			})
		}
		return r, nil
	})
	if err != nil {
		return "", true, err
	}
	return r.Version, true, nil
}

// DirectAnswer returns the report the go command gave for path@query, if
// QueryDirect (or Reused) asked it: a report of reuse (-reuse), or the
// Origin the go command reports for that query.
func (f *Fetcher) DirectAnswer(path, query string) (reused *Module, origin *modcache.Origin, ok bool) {
	r, ok := f.directQueries.Peek(path + "@" + query)
	if !ok || r == nil {
		return nil, nil, false
	}
	if len(r.Origin) > 0 {
		o := new(modcache.Origin)
		if json.Unmarshal(r.Origin, o) == nil {
			origin = o
		}
	}
	if r.Reuse {
		reused = &Module{Path: r.Path, Version: r.Version, Query: r.Query, Origin: origin, Reuse: true}
	}
	return reused, origin, true
}

// Reused checks, for a path@version argument of a -reuse run, whether the
// previous run's record still holds, as the go command checks it: only at
// the repository, so only for paths the GOPROXY list sends to "direct"
// without a ','-joined proxy first (a proxy cannot confirm a record). It
// returns the reuse report, or nil when the module must be downloaded.
func (f *Fetcher) Reused(ctx context.Context, mod module.Version) *Module {
	if !f.vcs(mod.Path) || f.cfg.GoCommand.Reuse == "" || !f.cfg.ReuseKeys[mod] || !f.cfg.Router.ReusableAt(mod.Path) {
		return nil
	}
	if _, err := f.directQueries.Do(mod.Path+"@"+mod.Version, func() (*gocmd.Result, error) {
		return f.cfg.GoCommand.Query(ctx, mod.Path, mod.Version, nil)
	}); err != nil {
		return nil // the download reports what is wrong
	}
	reused, _, _ := f.DirectAnswer(mod.Path, mod.Version)
	return reused
}
