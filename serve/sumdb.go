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
)

// serveSumDB answers /sumdb/<name>/<rest> for the one checksum database
// this server proxies: supported (200), lookup/<path>@<version>, tile/...,
// latest. Lookups and tiles the engine has verified are served from its
// cache; the rest is asked of the database where the engine reaches it.
// Tiles are immutable, latest is not. A go command verifies all of it
// itself against its own signed tree head.
func (s *Server) serveSumDB(w *recorder, r *http.Request, p string) {
	name := s.cfg.SumDBName
	rest, ok := strings.CutPrefix(p, name+"/")
	if name == "" || !ok {
		w.fail(http.StatusNotFound, "not found: this server proxies no such checksum database")
		return
	}
	const text = "text/plain; charset=utf-8"
	switch {
	case rest == "supported":
		w.WriteHeader(http.StatusOK)
	case rest == "latest":
		s.sumdbLatest(w, r, name)
	case strings.HasPrefix(rest, "lookup/"):
		escMod := strings.TrimPrefix(rest, "lookup/")
		escPath, escVer, ok := strings.Cut(escMod, "@")
		path, err1 := module.UnescapePath(escPath)
		vers, err2 := module.UnescapeVersion(escVer)
		if !ok || err1 != nil || err2 != nil || module.Check(path, strings.TrimSuffix(vers, "/go.mod")) != nil {
			w.fail(http.StatusBadRequest, "bad lookup")
			return
		}
		if s.cfg.Private(path) {
			w.fail(http.StatusNotFound, "not found: "+path+" is private here; not looked up")
			return
		}
		s.sumdbFile(w, r, name, rest, text, "public, max-age=86400")
	case strings.HasPrefix(rest, "tile/"):
		if _, err := tlog.ParseTilePath(rest); err != nil {
			w.fail(http.StatusBadRequest, "bad tile path")
			return
		}
		s.sumdbFile(w, r, name, rest, "application/octet-stream", immutable)
	default:
		w.fail(http.StatusNotFound, "not found")
	}
}

// sumdbFile serves rest (a lookup or tile) from the engine's verified
// cache, else from the database.
func (s *Server) sumdbFile(w *recorder, r *http.Request, name, rest, ctype, cacheControl string) {
	if s.cfg.SumDBCacheDir != "" {
		file := filepath.Join(s.cfg.SumDBCacheDir, filepath.FromSlash(name), filepath.FromSlash(rest))
		if f := s.openNonEmpty(file); f != nil {
			defer f.Close()
			w.outcome = "hit"
			s.serveOpen(w, r, f, ctype, cacheControl, "")
			return
		}
	}
	if s.cfg.Offline || s.cfg.SumDB == nil {
		w.outcome = "offline"
		w.fail(http.StatusNotFound, "not found: not in the cache (offline)")
		return
	}
	w.outcome = "miss"
	data, err := flight(s, r.Context(), client(r), opMeta, "sumdb "+rest, func(ctx context.Context) ([]byte, error) {
		return s.cfg.SumDB.Remote("/" + rest)
	})
	if err != nil {
		w.failErr(err)
		return
	}
	w.Header().Set("Cache-Control", cacheControl)
	w.Header().Set("Content-Type", ctype)
	w.Write(data)
}

// sumdbLatest serves the database's latest signed tree head, or, when the
// database cannot be reached, the last one the engine verified.
func (s *Server) sumdbLatest(w *recorder, r *http.Request, name string) {
	const ctype = "text/plain; charset=utf-8"
	cached := ""
	if s.cfg.SumDBConfigDir != "" {
		cached = filepath.Join(s.cfg.SumDBConfigDir, filepath.FromSlash(name), "latest")
	}
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
		return s.cfg.SumDB.Remote("/latest")
	})
	if err != nil {
		if f := s.openNonEmpty(cached); f != nil && !notExist(err) {
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
	w.Header().Set("Cache-Control", mutable)
	w.Header().Set("Content-Type", ctype)
	w.Write(data)
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
