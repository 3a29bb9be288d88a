package policy

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSeen(t *testing.T) {
	file := filepath.Join(t.TempDir(), "first-seen")
	s, err := OpenSeen(file)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	t1 := t0.Add(48 * time.Hour)
	const mod = "example.com/m"
	// First listing: what is there predates the record.
	if err := s.Observe(mod, []string{"v1.0.0", "v1.1.0"}, t0); err != nil {
		t.Fatal(err)
	}
	// A later listing brings v1.2.0 (its commit backdated a year).
	if err := s.Observe(mod, []string{"v1.0.0", "v1.1.0", "v1.2.0", "not-a-version"}, t1); err != nil {
		t.Fatal(err)
	}
	s.Observe(mod, []string{"v1.2.0"}, t1.Add(time.Hour)) // seen again: unchanged
	backdated := t0.AddDate(-1, 0, 0)
	for _, tc := range []struct {
		version string
		info    time.Time
		want    time.Time
	}{
		{"v1.0.0", backdated, backdated}, // predates the record: the .info Time
		{"v1.2.0", backdated, t1},        // first seen at t1, whatever its commit says
		{"v1.2.0", t1.Add(time.Hour), t1.Add(time.Hour)},
		{"v9.0.0", t0, t0}, // never seen
	} {
		if got := s.ReleaseTime(mod, tc.version, tc.info); !got.Equal(tc.want) {
			t.Errorf("ReleaseTime(%s, %v) = %v, want %v", tc.version, tc.info, got, tc.want)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// The record survives a restart; a line cut short by a crash is
	// ignored.
	f, _ := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("example.com/m v1.3.0")
	f.Close()
	s, err = OpenSeen(file)
	if err != nil {
		t.Fatal(err)
	}
	if at, ok := s.FirstSeen(mod, "v1.2.0"); !ok || !at.Equal(t1) {
		t.Errorf("after reopen: FirstSeen(v1.2.0) = %v, %v", at, ok)
	}
	if _, ok := s.FirstSeen(mod, "v1.0.0"); ok {
		t.Error("after reopen: v1.0.0 has a first-seen time")
	}
	if _, ok := s.FirstSeen(mod, "v1.3.0"); ok {
		t.Error("a cut line was read")
	}
	// The module is known: a new version is stamped.
	s.Observe(mod, []string{"v1.4.0"}, t1)
	if at, ok := s.FirstSeen(mod, "v1.4.0"); !ok || !at.Equal(t1) {
		t.Errorf("FirstSeen(v1.4.0) = %v, %v", at, ok)
	}
	s.Close()
	s, err = OpenSeen(file)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if at, ok := s.FirstSeen(mod, "v1.4.0"); !ok || !at.Equal(t1) {
		t.Errorf("after a second reopen: FirstSeen(v1.4.0) = %v, %v", at, ok)
	}
}
