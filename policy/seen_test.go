package policy

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"gomodfetch/internal/beneath"
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

// TestOpenSeenRefusesNonRegular: the record below a module cache is not
// followed out of it through a symlink, nor read when it is a FIFO (which
// would block serve's start for ever): both are an error, and the file a
// symlink names is left as it was. Before, serve appended to it.
func TestOpenSeenRefusesNonRegular(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "cache", "gomodfetch"), 0o777); err != nil {
		t.Fatal(err)
	}
	rec := filepath.Join(root, "cache", "gomodfetch", "policy-first-seen")
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenSeenIn(beneath.New(root), "cache/gomodfetch/policy-first-seen"); err == nil {
		t.Error("a symlinked record was opened")
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("the file the symlink names became %q", b)
	}
	os.Remove(rec)
	if err := syscall.Mkfifo(rec, 0o644); err != nil {
		t.Skip(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := OpenSeenIn(beneath.New(root), "cache/gomodfetch/policy-first-seen")
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Error("a FIFO record was opened")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("opening a FIFO record blocked")
	}
}
