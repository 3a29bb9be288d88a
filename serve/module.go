package serve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	pathpkg "path"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"gomodfetch/download"
	"gomodfetch/internal/beneath"
	"gomodfetch/modcache"
	"gomodfetch/verify"
)

// moduleRequest is one request of the GOPROXY protocol.
type moduleRequest struct {
	kind    string // "list", "latest", "info", "query" (a .info for a non-canonical version), "mod", "zip"
	path    string
	version string // the version or query; "" for list and latest
}

func (q moduleRequest) mod() module.Version { return module.Version{Path: q.path, Version: q.version} }

// badRequest is a request answered without looking anything up.
type badRequest struct {
	status int
	msg    string
}

// parseModuleRequest parses p, a request path without its leading slash:
// <escaped path>/@v/list, /@v/<escaped version>.{info,mod,zip}, /@latest.
func parseModuleRequest(p string) (moduleRequest, *badRequest) {
	var q moduleRequest
	escPath, file := "", ""
	if ep, ok := strings.CutSuffix(p, "/@latest"); ok {
		escPath, q.kind = ep, "latest"
	} else if i := strings.Index(p, "/@v/"); i >= 0 {
		escPath, file = p[:i], p[i+len("/@v/"):]
		switch {
		case file == "list":
			q.kind = "list"
		case strings.HasSuffix(file, ".info"):
			q.kind = "info"
		case strings.HasSuffix(file, ".mod"):
			q.kind = "mod"
		case strings.HasSuffix(file, ".zip"):
			q.kind = "zip"
		default:
			return q, &badRequest{http.StatusNotFound, "not found"}
		}
	} else {
		return q, &badRequest{http.StatusNotFound, "not found"}
	}
	path, err := module.UnescapePath(escPath)
	if err != nil {
		return q, &badRequest{http.StatusBadRequest, "bad module path: " + err.Error()}
	}
	if err := module.CheckPath(path); err != nil {
		return q, &badRequest{http.StatusBadRequest, "bad module path: " + err.Error()}
	}
	q.path = path
	if q.kind == "list" || q.kind == "latest" {
		return q, nil
	}
	escVer := file[:strings.LastIndexByte(file, '.')]
	v, err := module.UnescapeVersion(escVer)
	if err != nil || v == "" || strings.Contains(v, "..") || strings.HasPrefix(v, "/") {
		return q, &badRequest{http.StatusBadRequest, fmt.Sprintf("bad version %q", escVer)}
	}
	q.version = v
	canonical := module.CanonicalVersion(v) == v && module.Check(path, v) == nil
	switch {
	case canonical:
	case q.kind == "info":
		q.kind = "query"
	default:
		// A .mod or .zip exists only for a canonical version.
		return q, &badRequest{http.StatusNotFound, fmt.Sprintf("not found: %s@%s: invalid version", path, v)}
	}
	return q, nil
}

func (s *Server) serveModule(w *recorder, r *http.Request, q moduleRequest) {
	if !s.authorize(w, r, q.path) {
		return
	}
	if s.cfg.Private(q.path) && !s.cfg.Restricted(q.path) {
		w.fail(http.StatusNotFound, "not found: "+q.path+" is private here (GONOPROXY/GOPRIVATE); fetch it directly")
		return
	}
	if q.kind == "info" || q.kind == "zip" {
		s.downloadStarted(client(r).client)
	}
	if q.kind == "mod" || q.kind == "zip" || q.kind == "info" {
		s.asked(client(r).client, q.kind+" "+q.mod().String())
	}
	if q.kind == "zip" {
		s.zipAsked(client(r).client)
	}
	if h := moduleHandlers[q.kind]; h != nil {
		h(s, w, r, q)
	}
}

// moduleHandlers answer each kind of module request.
var moduleHandlers = map[string]func(*Server, *recorder, *http.Request, moduleRequest){
	"list":   (*Server).serveList,
	"latest": (*Server).serveLatest,
	"info":   (*Server).serveInfo,
	"query":  (*Server).serveQuery,
	"mod":    (*Server).serveMod,
	"zip":    (*Server).serveZip,
}

const (
	immutable = "public, max-age=31536000, immutable"
	mutable   = "no-cache"
)

// serveInfo answers <v>.info for a canonical version: from the cache, else
// from upstream (and then the cache).
func (s *Server) serveInfo(w *recorder, r *http.Request, q moduleRequest) {
	mod := q.mod()
	if !s.checkVersion(w, r, "info", q.path, q.version) {
		return
	}
	key := "info " + mod.String()
	data, ok := s.small.get(key)
	if !ok {
		if _, d, _, err := s.cfg.Cache.ReadInfoData(mod); err == nil {
			data, ok = d, true
			s.small.put(key, data)
		}
	}
	if ok {
		w.outcome = "hit"
		s.infoAsked(client(r).client, mod)
		s.serveContent(w, r, data, "application/json", immutable)
		return
	}
	if s.cfg.Offline {
		w.outcome = "offline"
		w.fail(http.StatusNotFound, "not found: "+q.path+"@"+q.version+" is not in the cache (offline)")
		return
	}
	w.outcome = "miss"
	if _, err := s.ensureInfo(r.Context(), client(r), mod); err != nil {
		w.failErr(err)
		return
	}
	s.infoAsked(client(r).client, mod)
	file, _ := s.cfg.Cache.File(mod, "info")
	s.serveFile(w, r, file, "application/json", immutable, "")
}

func (s *Server) ensureInfo(ctx context.Context, who requester, mod module.Version) (string, error) {
	return flight(s, ctx, who, opMeta, "info "+mod.String(), func(ctx context.Context) (string, error) {
		v, _, err := s.cfg.Fetcher.Stat(ctx, mod.Path, mod.Version)
		return v, err
	})
}

// serveQuery answers <query>.info (a branch, a tag, a version prefix):
// upstream resolves it, and the .info of the version it names is served.
func (s *Server) serveQuery(w *recorder, r *http.Request, q moduleRequest) {
	if s.cfg.Offline {
		w.outcome = "offline"
		w.fail(http.StatusNotFound, "not found: query "+q.path+"@"+q.version+" needs upstream (offline)")
		return
	}
	w.outcome = "miss"
	v, err := flight(s, r.Context(), client(r), opMeta, "query "+q.path+"@"+q.version, func(ctx context.Context) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, s.cfg.ListTimeout)
		defer cancel()
		v, _, err := s.cfg.Fetcher.Stat(ctx, q.path, q.version)
		return v, err
	})
	if err != nil {
		w.failErr(err)
		return
	}
	if !s.checkVersion(w, r, "query", q.path, v) {
		return
	}
	s.serveResolved(w, r, q.path, v)
}

// serveResolved answers a query with the cached .info of the version it
// resolved to (an answer that may change: a branch moves, @latest grows).
func (s *Server) serveResolved(w *recorder, r *http.Request, path, v string) {
	file, err := s.cfg.Cache.File(module.Version{Path: path, Version: v}, "info")
	if err != nil {
		w.failErr(err)
		return
	}
	s.serveFile(w, r, file, "application/json", mutable, "")
}

// serveMod answers <v>.mod, verified; the bytes served are the bytes
// checked (read once), never the file read again. Offline, the cached .mod
// is served if it is a regular file below the cache (nothing is asked of
// the checksum database: see docs/security-disk.md).
func (s *Server) serveMod(w *recorder, r *http.Request, q moduleRequest) {
	mod := q.mod()
	key := "mod " + mod.String()
	if data, ok := s.small.get(key); ok {
		// Bytes served (and, online, verified) before (small.go).
		w.outcome = "hit"
		if s.cfg.Offline {
			w.outcome = "offline"
		} else {
			s.prefetchFor(client(r).client, mod, data)
		}
		s.serveContent(w, r, data, "text/plain; charset=utf-8", immutable)
		return
	}
	cached, file, cerr := s.cfg.Cache.ReadGoMod(mod)
	if cerr != nil && errors.Is(cerr, beneath.ErrNotRegular) {
		s.damaged("mod", file, cerr)
	}
	if s.cfg.Offline {
		w.outcome = "offline"
		if cerr != nil {
			w.fail(http.StatusNotFound, "not found: "+mod.String()+" is not in the cache (offline)")
			return
		}
		s.small.put(key, cached)
		s.serveContent(w, r, cached, "text/plain; charset=utf-8", immutable)
		return
	}
	w.outcome = "miss"
	var data []byte
	if cerr == nil {
		w.outcome = "hit"
		if h, err := verify.HashGoMod(cached); err == nil && s.confirmed.is("mod "+mod.String(), h) {
			data = cached // the same bytes this process verified before
		}
	}
	if data == nil {
		// Checked (again, if cached: against the checksum database's
		// cached answer) by the engine.
		var err error
		if data, err = s.ensureMod(r.Context(), client(r), mod); err != nil {
			w.failErr(err)
			return
		}
	}
	s.small.put(key, data)
	// What the client will ask next starts on its way before it has this.
	s.prefetchFor(client(r).client, mod, data)
	s.serveContent(w, r, data, "text/plain; charset=utf-8", immutable)
}

func (s *Server) ensureMod(ctx context.Context, who requester, mod module.Version) ([]byte, error) {
	return flight(s, ctx, who, opMeta, "mod "+mod.String(), func(ctx context.Context) ([]byte, error) {
		data, err := s.cfg.Fetcher.GoMod(ctx, mod)
		if err == nil {
			if h, herr := verify.HashGoMod(data); herr == nil {
				s.confirmed.add("mod "+mod.String(), h)
			}
		}
		return data, err
	})
}

// serveZip answers <v>.zip, verified; ranges and conditional requests are
// http.ServeContent's. A cached zip is served only if it is a regular file
// whose bytes match its .ziphash (openZip); online, a damaged one is
// removed and fetched again, offline it is answered 404.
func (s *Server) serveZip(w *recorder, r *http.Request, q moduleRequest) {
	mod := q.mod()
	if !s.checkVersion(w, r, "zip", q.path, q.version) {
		return
	}
	if s.cfg.Offline {
		w.outcome = "offline"
		if f, hash := s.openKnownZip(mod); f != nil {
			// The file this process checked against its .ziphash.
			defer f.Close()
			s.serveOpen(w, r, f, "application/zip", immutable, hash)
			return
		}
		zipfile, hash, ok := s.cfg.Cache.ZipHash(mod)
		if !ok {
			if rel, err := modcache.Rel(mod, "zip"); err == nil {
				if err := s.cfg.Cache.Files().Regular(rel); errors.Is(err, beneath.ErrNotRegular) {
					s.damaged("zip", zipfile, err)
				}
			}
			w.fail(http.StatusNotFound, "not found: "+mod.String()+" is not in the cache (offline)")
			return
		}
		f, err := s.openZip(mod, hash)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				s.damaged("zip", zipfile, err)
			}
			w.detail = oneLine(err.Error(), 500)
			w.fail(http.StatusNotFound, "not found: "+mod.String()+" is damaged in the cache (offline)")
			return
		}
		defer f.Close()
		s.serveOpen(w, r, f, "application/zip", immutable, hash)
		return
	}
	w.outcome = "miss"
	if f, hash := s.openKnownZip(mod); f != nil {
		if s.confirmed.is("zip "+mod.String(), hash) {
			// The file this process hashed, with the hash it verified.
			w.outcome = "hit"
			defer f.Close()
			s.serveOpen(w, r, f, "application/zip", immutable, hash)
			return
		}
		f.Close()
	}
	if f, hash := s.checkCachedZip(r.Context(), mod); f != nil {
		w.outcome = "hit"
		if s.confirmed.is("zip "+mod.String(), hash) {
			// Bytes that match the hash this process verified.
			defer f.Close()
			s.serveOpen(w, r, f, "application/zip", immutable, hash)
			return
		}
		f.Close()
	}
	m, err := s.ensureZip(r.Context(), client(r), mod)
	if err != nil {
		w.failErr(err)
		return
	}
	f, err := s.openZip(mod, m.Sum)
	if err != nil {
		// Replaced since the engine verified it.
		s.damaged("zip", m.Zip, err)
		w.detail = oneLine(err.Error(), 500)
		w.fail(http.StatusBadGateway, "the cached zip changed after it was verified; try again")
		return
	}
	defer f.Close()
	s.serveOpen(w, r, f, "application/zip", immutable, m.Sum)
}

func (s *Server) ensureZip(ctx context.Context, who requester, mod module.Version) (*download.Module, error) {
	return flight(s, ctx, who, opZip, "zip "+mod.String(), func(ctx context.Context) (*download.Module, error) {
		// The .info and go.mod first, at once, each as a flight of its
		// own, written to the cache as it comes: a client asking for
		// either during the zip download joins that flight (and makes it,
		// a step of this one, a client's), and the zip's own steps find
		// them in the cache.
		step := requester{prefetch: true}
		var infoErr, modErr error
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, modErr = s.ensureMod(ctx, step, mod)
		}()
		_, infoErr = s.ensureInfo(ctx, step, mod)
		wg.Wait()
		for _, err := range []error{infoErr, modErr} {
			if err != nil {
				return nil, err
			}
		}
		zipfile, _, cached := s.cfg.Cache.ZipHash(mod)
		m := s.cfg.Fetcher.FetchZip(ctx, mod)
		var mismatch *verify.ChecksumMismatchError
		if m != nil && cached && errors.As(m.Err(), &mismatch) {
			// A cached zip and .ziphash that agree with each other but
			// not with the checksum database (both replaced): they go, and
			// the zip is fetched again.
			s.damaged("zip", zipfile, m.Err())
			s.forgetZip(ctx, mod, zipfile)
			m = s.cfg.Fetcher.FetchZip(ctx, mod)
			cached = false
		}
		if m == nil {
			return nil, errors.New("download abandoned")
		}
		if err := m.Err(); err != nil {
			return nil, err
		}
		s.confirmed.add("zip "+mod.String(), m.Sum)
		if !cached {
			s.fetchedZip(mod, m.Sum)
		}
		return m, nil
	})
}

// serveList answers @v/list: upstream's tagged versions, refreshed each
// time under ListTimeout; when upstream fails, the cache's.
func (s *Server) serveList(w *recorder, r *http.Request, q moduleRequest) {
	if s.cfg.Offline {
		w.outcome = "offline"
		list, err := s.cachedList(q.path)
		if err != nil {
			w.fail(http.StatusNotFound, "not found: "+q.path+" is not in the cache (offline)")
			return
		}
		s.serveBytes(w, r, listBody(s.filterList(w, r, q.path, list)), "text/plain; charset=utf-8")
		return
	}
	w.outcome = "miss"
	ctx, stop := s.staleAfter(r.Context(), func() bool { _, err := s.cachedList(q.path); return err == nil })
	defer stop()
	list, err := flight(s, ctx, client(r), opMeta, "list "+q.path, func(ctx context.Context) ([]string, error) {
		ctx, cancel := context.WithTimeout(ctx, s.cfg.ListTimeout)
		defer cancel()
		return s.cfg.Fetcher.Versions(ctx, q.path)
	})
	if err != nil && errors.Is(context.Cause(ctx), errStaleAfter) {
		err = errStaleAfter
	}
	if err != nil && !notExist(err) && r.Context().Err() == nil {
		if cached, cerr := s.cachedList(q.path); cerr == nil {
			s.stale(w, "list", q.path, err)
			s.serveBytes(w, r, listBody(s.filterList(w, r, q.path, cached)), "text/plain; charset=utf-8")
			return
		}
	}
	if err != nil {
		w.failErr(err)
		return
	}
	s.serveBytes(w, r, listBody(s.filterList(w, r, q.path, list)), "text/plain; charset=utf-8")
}

// staleAfter returns the context a request for a version list or @latest
// waits on: once Config.StaleAfter has passed without upstream's answer,
// it ends if cached reports that the cache can answer instead (the refresh
// goes on without this request: as a prefetch, if a slot is free). stop
// releases its timer.
func (s *Server) staleAfter(ctx context.Context, cached func() bool) (context.Context, func()) {
	if s.cfg.StaleAfter < 0 || s.cfg.StaleAfter >= s.cfg.ListTimeout {
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	t := time.AfterFunc(s.cfg.StaleAfter, func() {
		if cached() {
			cancel(errStaleAfter)
		}
	})
	return ctx, func() {
		t.Stop()
		cancel(nil)
	}
}

// errStaleAfter ends the wait for upstream's version list or @latest
// when the cache can answer.
var errStaleAfter = errors.New("upstream has not answered within -stale-after")

// stale marks an answer served from the cache because upstream failed.
func (s *Server) stale(w *recorder, what, path string, err error) {
	w.outcome = "stale"
	w.detail = oneLine(err.Error(), 500)
	w.Header().Set("X-Gomodfetch-Stale", "1")
	w.Header().Set("Warning", `110 - "Response is Stale"`)
	s.metrics.stale.WithLabelValues(what).Inc()
	s.log.Warn("upstream failed; serving the cache's answer", "what", what, "module", path, "error", oneLine(err.Error(), 500))
}

func listBody(list []string) []byte {
	list = slices.Clone(list)
	semver.Sort(list)
	var b bytes.Buffer
	for _, v := range slices.Compact(list) {
		b.WriteString(v)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// cachedList returns the tagged versions whose .mod the cache holds (its
// list file), or an error if it holds none of path.
func (s *Server) cachedList(path string) ([]string, error) {
	dir, err := s.versionDir(path)
	if err != nil {
		return nil, err
	}
	data, err := s.cfg.Cache.Files().ReadFile(dir + "/list")
	if err != nil {
		if errors.Is(err, beneath.ErrNotRegular) {
			s.damaged("list", s.cfg.Cache.Files().Join(dir+"/list"), err)
		}
		return nil, err
	}
	var list []string
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if module.CanonicalVersion(l) == l && l != "" && !module.IsPseudoVersion(l) {
			list = append(list, l)
		}
	}
	return list, nil
}

// versionDir is cache/download/<escaped path>/@v, below the cache's root.
func (s *Server) versionDir(path string) (string, error) {
	f, err := modcache.Rel(module.Version{Path: path, Version: "v0.0.0"}, "info")
	if err != nil {
		return "", err
	}
	return pathpkg.Dir(f), nil
}

// serveLatest answers @latest from upstream; when upstream fails, with the
// highest version whose .info the cache holds (as offline).
func (s *Server) serveLatest(w *recorder, r *http.Request, q moduleRequest) {
	if s.cfg.Offline {
		w.outcome = "offline"
		if file, ok := s.cachedLatest(q.path); ok {
			s.serveFile(w, r, file, "application/json", mutable, "")
			return
		}
		w.fail(http.StatusNotFound, "not found: "+q.path+" is not in the cache (offline)")
		return
	}
	w.outcome = "miss"
	ctx, stop := s.staleAfter(r.Context(), func() bool { _, ok := s.cachedLatest(q.path); return ok })
	defer stop()
	v, err := flight(s, ctx, client(r), opMeta, "latest "+q.path, func(ctx context.Context) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, s.cfg.ListTimeout)
		defer cancel()
		v, _, err := s.cfg.Fetcher.Latest(ctx, q.path)
		return v, err
	})
	if err != nil && errors.Is(context.Cause(ctx), errStaleAfter) {
		err = errStaleAfter
	}
	if err != nil && !notExist(err) && r.Context().Err() == nil {
		if file, ok := s.cachedLatest(q.path); ok {
			s.stale(w, "latest", q.path, err)
			s.serveFile(w, r, file, "application/json", mutable, "")
			return
		}
	}
	if err != nil {
		w.failErr(err)
		return
	}
	if s.cfg.Policy != nil {
		var ok bool
		if v, ok = s.policyLatest(w, r, q.path, v); !ok {
			return
		}
	}
	s.serveResolved(w, r, q.path, v)
}

// policyLatest is @latest under the policy: the highest version it
// allows of the module's list (upstream's answer v if it is allowed and
// the list has none), or a refusal when it allows none.
func (s *Server) policyLatest(w *recorder, r *http.Request, path, v string) (string, bool) {
	list, err := flight(s, r.Context(), client(r), opMeta, "list "+path, func(ctx context.Context) ([]string, error) {
		ctx, cancel := context.WithTimeout(ctx, s.cfg.ListTimeout)
		defer cancel()
		return s.cfg.Fetcher.Versions(ctx, path)
	})
	if err != nil {
		if cached, cerr := s.cachedList(path); cerr == nil {
			list = cached
		}
	}
	s.observe(path, list...)
	d := s.cfg.Policy.Latest(r.Context(), path, list, v, s.timeOf(client(r), path))
	switch {
	case d.Version != "":
		if s.cfg.PolicyDryRun {
			if d.Version != v {
				s.log.Warn("policy: would answer @latest with another version", "module", path, "upstream", v, "allowed", d.Version)
			}
			return v, true
		}
		if d.Version != v {
			// Its .info, which serveResolved answers with.
			if _, err := s.ensureInfo(r.Context(), client(r), module.Version{Path: path, Version: d.Version}); err != nil {
				w.failErr(err)
				return "", false
			}
		}
		return d.Version, true
	case s.decided(w, "latest", d):
		s.refused(w, d)
		return "", false
	}
	return v, true
}

// cachedLatest returns the .info file of path's highest cached version:
// the highest release if there is one, else the highest of all.
func (s *Server) cachedLatest(path string) (string, bool) {
	dir, err := s.versionDir(path)
	if err != nil {
		return "", false
	}
	entries, err := s.cfg.Cache.Files().ReadDir(dir)
	if err != nil {
		return "", false
	}
	best, bestRelease := "", ""
	for _, e := range entries {
		v, ok := strings.CutSuffix(e.Name(), ".info")
		if !ok || module.CanonicalVersion(v) != v || v == "" {
			continue
		}
		if _, _, err := s.cfg.Cache.ReadInfo(module.Version{Path: path, Version: v}); err != nil {
			continue
		}
		if best == "" || semver.Compare(v, best) > 0 {
			best = v
		}
		if semver.Prerelease(v) == "" && !module.IsPseudoVersion(v) && (bestRelease == "" || semver.Compare(v, bestRelease) > 0) {
			bestRelease = v
		}
	}
	if bestRelease != "" {
		best = bestRelease
	}
	if best == "" {
		return "", false
	}
	return s.cfg.Cache.Files().Join(dir + "/" + best + ".info"), true
}

// serveFile serves a cache file, opened as open opens it (a regular file
// below one of the server's roots). etag, if empty, is made from the
// content (a .info or .mod is small).
func (s *Server) serveFile(w *recorder, r *http.Request, file, ctype, cacheControl, etag string) {
	f, err := s.open(file)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			w.failErr(fmt.Errorf("%w: gone from the cache", fs.ErrNotExist))
		case errors.Is(err, beneath.ErrNotRegular):
			s.damaged(kindOf(file), file, err)
			w.detail = oneLine(err.Error(), 500)
			w.fail(http.StatusNotFound, "not found: damaged in the cache")
		default:
			w.detail = err.Error()
			w.fail(http.StatusInternalServerError, "reading the cache failed")
		}
		return
	}
	defer f.Close()
	s.serveOpen(w, r, f, ctype, cacheControl, etag)
}

// serveOpen serves an open cache file.
func (s *Server) serveOpen(w *recorder, r *http.Request, f *os.File, ctype, cacheControl, etag string) {
	fi, err := f.Stat()
	if err != nil {
		w.fail(http.StatusInternalServerError, "reading the cache failed")
		return
	}
	if etag == "" && fi.Size() < 1<<20 {
		h := sha256.New()
		buf := make([]byte, fi.Size()+1)
		n, _ := f.ReadAt(buf, 0)
		h.Write(buf[:n])
		etag = hex.EncodeToString(h.Sum(nil))[:32]
	}
	limitRanges(r)
	hd := w.Header()
	hd.Set("Content-Type", ctype)
	hd.Set("Cache-Control", cacheControl)
	if etag != "" {
		hd.Set("ETag", `"`+etag+`"`)
	}
	http.ServeContent(w, r, "", fi.ModTime(), f)
}

// maxRanges bounds the ranges of one request: the go command asks for one
// at most; thousands of small ones make a multipart answer far larger
// than the file.
const maxRanges = 16

// limitRanges drops a Range header of more than maxRanges ranges: the
// whole file is served instead, as a server may.
func limitRanges(r *http.Request) {
	if rg := r.Header.Get("Range"); strings.Count(rg, ",") >= maxRanges {
		r.Header.Del("Range")
	}
}

// serveContent serves bytes read from the cache and checked (a .mod).
func (s *Server) serveContent(w *recorder, r *http.Request, data []byte, ctype, cacheControl string) {
	hd := w.Header()
	hd.Set("Content-Type", ctype)
	hd.Set("Cache-Control", cacheControl)
	sum := sha256.Sum256(data)
	hd.Set("ETag", `"`+hex.EncodeToString(sum[:16])+`"`)
	limitRanges(r)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

// serveBytes serves a generated answer (a version list).
func (s *Server) serveBytes(w *recorder, r *http.Request, data []byte, ctype string) {
	s.serveContent(w, r, data, ctype, mutable)
}
