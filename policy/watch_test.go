package policy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writePolicy writes text to file with a modification time of its own,
// so that a change never hides in the file system's time granularity.
func writePolicy(t *testing.T, file, text string, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(file, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func TestWatcher(t *testing.T) {
	file := filepath.Join(t.TempDir(), "policy.txt")
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	writePolicy(t, file, "deny example.com/a \"first\"\n", base)
	w, err := NewWatcher(file)
	if err != nil {
		t.Fatal(err)
	}
	first := w.Current()
	reason := func() string { return w.Current().rules[0].reason }

	if changed, err := w.Reload(); changed || err != nil {
		t.Fatalf("unchanged Reload = %v, %v", changed, err)
	}
	if w.Current() != first {
		t.Fatal("unchanged Reload swapped the policy")
	}

	writePolicy(t, file, "deny example.com/a \"second\"\n", base.Add(time.Second))
	if changed, err := w.Reload(); !changed || err != nil || reason() != "second" {
		t.Fatalf("Reload = %v, %v, reason %q", changed, err, reason())
	}

	// A bad edit: the error names the line, the old policy stays, and the
	// error is reported once.
	writePolicy(t, file, "deny example.com/a \"second\"\ndney x\n", base.Add(2*time.Second))
	changed, err := w.Reload()
	var se *SyntaxError
	if changed || !errors.As(err, &se) || !strings.Contains(err.Error(), "policy.txt:2: unknown directive") {
		t.Fatalf("bad Reload = %v, %v", changed, err)
	}
	if reason() != "second" || w.Err() == nil {
		t.Fatalf("after a bad edit: reason %q, Err %v", reason(), w.Err())
	}
	if changed, err := w.Reload(); changed || err != nil || w.Err() == nil {
		t.Fatalf("second look at the bad file = %v, %v (Err %v)", changed, err, w.Err())
	}

	// Fixed: swapped in, Err cleared.
	writePolicy(t, file, "deny example.com/a \"third\"\n", base.Add(3*time.Second))
	if changed, err := w.Reload(); !changed || err != nil || reason() != "third" || w.Err() != nil {
		t.Fatalf("fixed Reload = %v, %v, reason %q, Err %v", changed, err, reason(), w.Err())
	}

	// Same size, same modification time, new contents (an editor that
	// restores the time): a rename gives a new file identity.
	tmp := file + ".new"
	writePolicy(t, tmp, "deny example.com/a \"fifth\"\n", base.Add(3*time.Second))
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
	if changed, err := w.Reload(); !changed || err != nil || reason() != "fifth" {
		t.Fatalf("renamed Reload = %v, %v, reason %q", changed, err, reason())
	}

	// Removed: the policy stays; reported once; back with the same
	// contents: the error clears.
	os.Remove(file)
	if _, err := w.Reload(); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("removed Reload = %v", err)
	}
	if _, err := w.Reload(); err != nil || reason() != "fifth" {
		t.Fatalf("second removed Reload = %v, reason %q", err, reason())
	}
	writePolicy(t, file, "deny example.com/a \"fifth\"\n", base.Add(5*time.Second))
	if changed, err := w.Reload(); changed || err != nil || w.Err() != nil {
		t.Fatalf("restored Reload = %v, %v, Err %v", changed, err, w.Err())
	}
}

func TestNewWatcherBadFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "policy.txt")
	os.WriteFile(file, []byte("default maybe\n"), 0o644)
	if _, err := NewWatcher(file); err == nil || !strings.Contains(err.Error(), "policy.txt:1:") {
		t.Fatalf("NewWatcher = %v", err)
	}
}

func TestWatcherRunAndGate(t *testing.T) {
	file := filepath.Join(t.TempDir(), "policy.txt")
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	writePolicy(t, file, "default allow\n", base)
	w, err := NewWatcher(file)
	if err != nil {
		t.Fatal(err)
	}
	g := &Gate{Policy: w}
	ctx, cancel := context.WithCancel(context.Background())
	tick := make(chan time.Time)
	reports := make(chan bool)
	done := make(chan struct{})
	go func() {
		w.Run(ctx, tick, func(changed bool, err error) { reports <- changed })
		close(done)
	}()
	if d := g.Check(ctx, "example.com/a", "v1.0.0", nil); d.Action != Allow {
		t.Fatalf("before: %+v", d)
	}
	writePolicy(t, file, "default deny\n", base.Add(time.Second))
	tick <- time.Time{}
	select {
	case changed := <-reports:
		if !changed {
			t.Fatal("Run did not take the new file")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no report from Run")
	}
	if d := g.Check(ctx, "example.com/a", "v1.0.0", nil); d.Action != Deny {
		t.Fatalf("after: %+v", d)
	}
	cancel()
	<-done
}
