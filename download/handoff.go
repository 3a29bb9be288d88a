package download

import (
	"context"
	"encoding/json"

	"golang.org/x/mod/module"

	"gomodfetch/gocmd"
	"gomodfetch/modcache"
	"gomodfetch/verify"
)

// expectedSums are the go.sum lines for keys (module versions, or their
// go.mod keys) that a scratch module's go.sum starts with: for each, the
// one hash the project's go.sum files (or a shared record of first hashes)
// accept, if any. Files that cannot agree are an error.
func (f *Fetcher) expectedSums(ctx context.Context, keys ...module.Version) ([]string, error) {
	if f.cfg.Verifier.Sums == nil {
		return nil, nil
	}
	var sums []string
	for _, m := range keys {
		h, err := f.cfg.Verifier.Expected(ctx, m)
		if err != nil {
			return nil, err
		}
		if h != "" {
			sums = append(sums, m.Path+" "+m.Version+" "+h)
		}
	}
	return sums, nil
}

// handoff has the go command fetch mod (once per run) and returns its
// report. The go command checks the bytes against the go.sum lines the
// project has for mod (and the checksum database) before they land.
func (f *Fetcher) handoff(ctx context.Context, mod module.Version) (*gocmd.Result, error) {
	return f.handoffs.Do(mod, func() (*gocmd.Result, error) {
		// The scratch module's go.sum holds, for the zip and the go.mod,
		// the one hash the project's go.sum files accept, so the go
		// command refuses what gomodfetch would refuse before anything
		// lands; files that cannot agree stop the hand-off.
		sums, err := f.expectedSums(ctx, mod, verify.GoModKey(mod))
		if err != nil {
			return nil, err
		}
		r, err := f.cfg.GoCommand.Download(ctx, mod, sums)
		if err != nil {
			return nil, err
		}
		f.countZip(served{proxy: "direct"})
		return r, nil
	})
}

// handoffGoMod has the go command fetch mod's go.mod alone (once per
// run), checked against the go.sum line the project has for it.
func (f *Fetcher) handoffGoMod(ctx context.Context, mod module.Version) error {
	_, err := f.handoffMods.Do(mod, func() (struct{}, error) {
		sums, err := f.expectedSums(ctx, verify.GoModKey(mod))
		if err != nil {
			return struct{}{}, err
		}
		err = f.cfg.GoCommand.GoMod(ctx, mod, sums)
		if err != nil {
			// The go command fails the whole graph for reasons beside this
			// go.mod (its go line too new for the scratch module's
			// toolchain, say); a go.mod it put in the cache is all that was
			// asked, and the caller checks it like any other.
			if _, _, rerr := f.cfg.Cache.ReadGoMod(mod); rerr == nil {
				return struct{}{}, nil
			}
		}
		return struct{}{}, err
	})
	return err
}

// handoff fills the fetch's module from the go command's report, after
// checking (and recording for go.sum) the hashes it reports.
func (x *fetch) handoff(ctx context.Context) error {
	f, mod := x.f, x.mod
	x.source = "direct"
	r, err := f.handoff(ctx, mod)
	if err != nil {
		return err
	}
	if err := f.cfg.Verifier.Check(ctx, verify.GoModKey(mod), r.GoModSum); err != nil {
		return err
	}
	if err := f.cfg.Verifier.Check(ctx, mod, r.Sum); err != nil {
		return err
	}
	m := x.m
	m.Info, m.GoMod, m.Zip, m.Dir, m.Sum, m.GoModSum = r.Info, r.GoMod, r.Zip, r.Dir, r.Sum, r.GoModSum
	if len(r.Origin) > 0 {
		o := new(modcache.Origin)
		if json.Unmarshal(r.Origin, o) == nil {
			m.Origin = o
		}
	}
	return nil
}
