package policy

import (
	"path/filepath"

	"bufio"
	"fmt"
	"gomodfetch/internal/beneath"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/module"
)

// Seen records when a proxy first saw each version of each module, so
// that a cooldown does not rest on a time the module's author chose (see
// the package doc). The first time a module is observed, the versions it
// already has are recorded as predating the record (they have no
// first-seen time, and their .info Time is all there is); a version that
// appears in a later observation is recorded with that time.
//
// The record is kept in memory and, when a file is given, appended to it
// one line a version ("path version RFC3339", or "-" for a version that
// predates the record), so it survives restarts. It grows by one short
// line per version a proxy ever serves. Safe for concurrent use.
type Seen struct {
	mu   sync.Mutex
	f    *os.File // nil: memory only
	mods map[string]map[string]time.Time
}

// OpenSeen reads the record in file (created if missing) and appends to
// it from then on; file "" keeps the record in memory only. A last line
// cut short by a crash is ignored.
func OpenSeen(file string) (*Seen, error) {
	if file == "" {
		return OpenSeenIn(nil, "")
	}
	return OpenSeenIn(beneath.New(filepath.Dir(file)), filepath.Base(file))
}

// OpenSeenIn is OpenSeen for the file rel below root, reached without
// following a symlink and only if it is a regular file (the record lives
// in a module cache, which may be restored from elsewhere).
func OpenSeenIn(root *beneath.Root, rel string) (*Seen, error) {
	s := &Seen{mods: map[string]map[string]time.Time{}}
	if root == nil {
		return s, nil
	}
	file := root.Join(rel)
	f, err := root.OpenAppend(rel, 0o644)
	if err != nil {
		return nil, fmt.Errorf("first-seen record: %w", err)
	}
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 {
			continue // a line cut short by a crash
		}
		var t time.Time
		if fields[2] != "-" {
			if t, err = time.Parse(time.RFC3339, fields[2]); err != nil {
				continue
			}
		}
		s.add(fields[0], fields[1], t)
	}
	if err := sc.Err(); err != nil {
		f.Close()
		return nil, fmt.Errorf("first-seen record %s:%d: %w", file, n, err)
	}
	// Start the next line on a line of its own after a cut one.
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			f.WriteString("\n")
		}
	}
	s.f = f
	return s, nil
}

// Close closes the record's file.
func (s *Seen) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

func (s *Seen) add(path, version string, t time.Time) bool {
	m := s.mods[path]
	if m == nil {
		m = map[string]time.Time{}
		s.mods[path] = m
	}
	if _, ok := m[version]; ok {
		return false
	}
	m[version] = t
	return true
}

// Observe records versions of path as seen at now: all of them as
// predating the record when path was never observed before, else those
// not yet recorded as first seen now. Serve calls it with every upstream
// @v/list answer and every version asked for exactly. Versions that are
// not valid for path are skipped.
func (s *Seen) Observe(path string, versions []string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := now.UTC().Truncate(time.Second)
	if _, known := s.mods[path]; !known {
		t = time.Time{}
		s.mods[path] = map[string]time.Time{}
	}
	var b strings.Builder
	for _, v := range versions {
		if module.Check(path, v) != nil || strings.ContainsAny(path+v, " \t\n") {
			continue
		}
		if !s.add(path, v, t) {
			continue
		}
		stamp := "-"
		if !t.IsZero() {
			stamp = t.Format(time.RFC3339)
		}
		fmt.Fprintf(&b, "%s %s %s\n", path, v, stamp)
	}
	if s.f == nil || b.Len() == 0 {
		return nil
	}
	if _, err := s.f.WriteString(b.String()); err != nil {
		return fmt.Errorf("first-seen record: %w", err)
	}
	return nil
}

// FirstSeen is when path@version was first observed, and false when it
// was not, or predates the record.
func (s *Seen) FirstSeen(path, version string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.mods[path][version]
	return t, ok && !t.IsZero()
}

// ReleaseTime is the time a cooldown should count from: the later of the
// .info Time and the first-seen time, when there is one.
func (s *Seen) ReleaseTime(path, version string, info time.Time) time.Time {
	if t, ok := s.FirstSeen(path, version); ok && t.After(info) {
		return t
	}
	return info
}
