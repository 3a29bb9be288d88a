package serve

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/tlog"

	"gomodfetch/internal/beneath"
	"gomodfetch/verify"
)

// serveSumDB answers /sumdb/<name>/<rest> for the one checksum database
// this server proxies: supported (200; 404 for any other database, or
// when it has none to proxy), lookup/<path>@<version>, tile/..., latest.
//
// Online, what is passed on is proven first (verify.SumDBClient): a
// lookup's record against a signed tree head (and it is answered with the
// latest tree head the server has checked that holds it, so that its
// clients check every record against one tree), a tile's hashes against
// the tree head that holds it, a latest tree head against the one before
// it. A damaged or short answer upstream is asked again, not passed on.
// Proven tiles and records are kept and served from the cache; tiles never
// change. Offline, the cache's files are served as they are (see
// docs/security-disk.md). A go command checks all of it again itself.
func (s *Server) serveSumDB(w *recorder, r *http.Request, p string) {
	name := s.cfg.SumDBName
	rest, ok := strings.CutPrefix(p, name+"/")
	if name == "" || !ok {
		w.fail(http.StatusNotFound, "not found: this server proxies no such checksum database")
		return
	}
	online := !s.cfg.Offline && s.cfg.SumDB != nil
	const text = "text/plain; charset=utf-8"
	switch {
	case rest == "supported":
		if !online {
			f := s.openNonEmpty(s.sumdbLatestFile(name))
			if f == nil {
				w.fail(http.StatusNotFound, "not found: this server has nothing of checksum database "+name)
				return
			}
			f.Close()
		}
		w.WriteHeader(http.StatusOK)
	case rest == "latest":
		s.sumdbLatest(w, r, name)
	case strings.HasPrefix(rest, "lookup/"):
		escMod := strings.TrimPrefix(rest, "lookup/")
		escPath, escVer, ok := strings.Cut(escMod, "@")
		path, err1 := module.UnescapePath(escPath)
		vers, err2 := module.UnescapeVersion(escVer)
		vers = strings.TrimSuffix(vers, "/go.mod")
		if !ok || err1 != nil || err2 != nil || module.Check(path, vers) != nil {
			w.fail(http.StatusBadRequest, "bad lookup")
			return
		}
		if s.cfg.Private(path) || (s.cfg.NoSumDB != nil && s.cfg.NoSumDB(path)) {
			w.fail(http.StatusNotFound, "not found: "+path+" is private here; not looked up")
			return
		}
		s.sumdbFile(w, r, name, rest, text, "public, max-age=86400", func(ctx context.Context) ([]byte, error) {
			return s.cfg.SumDB.Record(ctx, path, vers)
		})
	case strings.HasPrefix(rest, "tile/"):
		if _, err := tlog.ParseTilePath(rest); err != nil {
			w.fail(http.StatusBadRequest, "bad tile path")
			return
		}
		s.sumdbFile(w, r, name, rest, "application/octet-stream", immutable, func(ctx context.Context) ([]byte, error) {
			return s.cfg.SumDB.Tile(ctx, rest)
		})
	default:
		w.fail(http.StatusNotFound, "not found")
	}
}

// sumdbFile serves rest (a lookup or tile): online, what fetch proves (the
// cache's file if there is one, else upstream's answer); offline, the
// cache's file.
func (s *Server) sumdbFile(w *recorder, r *http.Request, name, rest, ctype, cacheControl string, fetch func(ctx context.Context) ([]byte, error)) {
	var file string
	if s.cfg.SumDBCacheDir != "" {
		file = filepath.Join(s.cfg.SumDBCacheDir, filepath.FromSlash(name), filepath.FromSlash(rest))
	}
	f := s.openNonEmpty(file)
	if s.cfg.Offline || s.cfg.SumDB == nil {
		w.outcome = "offline"
		if f == nil {
			w.fail(http.StatusNotFound, "not found: not in the cache (offline)")
			return
		}
		defer f.Close()
		s.serveOpen(w, r, f, ctype, cacheControl, "")
		return
	}
	w.outcome = "miss"
	if f != nil {
		f.Close()
		w.outcome = "hit" // proven again below, from the cache
	}
	data, err := flight(s, r.Context(), client(r), opMeta, "sumdb "+rest, fetch)
	if err != nil {
		w.failErr(err)
		return
	}
	s.serveContent(w, r, data, ctype, cacheControl)
}

// sumdbLatestFile is the latest tree head the engine checked, or "".
func (s *Server) sumdbLatestFile(name string) string {
	if s.cfg.SumDBConfigDir == "" {
		return ""
	}
	return filepath.Join(s.cfg.SumDBConfigDir, filepath.FromSlash(name), "latest")
}

// sumdbLatest serves the database's latest signed tree head, checked
// against the one before it, or, when the database cannot be reached, the
// last one the engine checked.
func (s *Server) sumdbLatest(w *recorder, r *http.Request, name string) {
	const ctype = "text/plain; charset=utf-8"
	cached := s.sumdbLatestFile(name)
	if s.cfg.Offline || s.cfg.SumDB == nil {
		w.outcome = "offline"
		if f := s.openNonEmpty(cached); f != nil {
			defer f.Close()
			s.serveOpen(w, r, f, ctype, mutable, "")
			return
		}
		w.fail(http.StatusNotFound, "not found: no signed tree head in the cache (offline)")
		return
	}
	w.outcome = "miss"
	data, err := flight(s, r.Context(), client(r), opMeta, "sumdb latest", func(ctx context.Context) ([]byte, error) {
		// Not remembered as "not found": latest changes.
		return s.cfg.SumDB.Latest(ctx)
	})
	if err != nil {
		var sec *verify.SumDBSecurityError
		if f := s.openNonEmpty(cached); f != nil && !notExist(err) && !errors.As(err, &sec) {
			defer f.Close()
			s.stale(w, "sumdb-latest", name, err)
			s.serveOpen(w, r, f, ctype, mutable, "")
			return
		} else if f != nil {
			f.Close()
		}
		w.failErr(err)
		return
	}
	s.serveContent(w, r, data, ctype, mutable)
}

// openNonEmpty opens a checksum database file the server serves (see
// open), or returns nil if it is missing, empty (being created) or not a
// regular file below its root (counted as damage).
func (s *Server) openNonEmpty(file string) *os.File {
	if file == "" {
		return nil
	}
	f, err := s.open(file)
	if err != nil {
		if errors.Is(err, beneath.ErrNotRegular) {
			s.damaged(kindOf(file), file, err)
		}
		return nil
	}
	if fi, err := f.Stat(); err != nil || fi.Size() == 0 {
		f.Close()
		return nil
	}
	return f
}
