package gctune

import (
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, Max},
		{1 << 20, Max},
		{Target / 5, Max}, // goal exactly Target at 400
		{Target / 4, 300},
		{Target / 2, Min},
		{Target, Min},
		{4 * Target, Min},
	} {
		if got := Percent(c.live); got != c.want {
			t.Errorf("Percent(%d) = %d, want %d", c.live, got, c.want)
		}
	}
}

func TestMemoryLimit(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int64
	}{
		{0, Limit},
		{(Limit - Slack) / 2, Limit},
		{Limit, 2*Limit + Slack}, // never tighter than GOGC=100
	} {
		if got := MemoryLimit(c.live); got != c.want {
			t.Errorf("MemoryLimit(%d) = %d, want %d", c.live, got, c.want)
		}
	}
}

// TestStart runs in a child process: the collector's settings are global.
func TestStart(t *testing.T) {
	if os.Getenv("GCTUNE_CHILD") == "" {
		for _, env := range [][]string{nil, {"GOGC=50"}, {"GOMEMLIMIT=1GiB"}} {
			cmd := exec.Command(os.Args[0], "-test.run=^TestStart$", "-test.v")
			cmd.Env = append(append(os.Environ(), "GCTUNE_CHILD=1"), env...)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "--- PASS: TestStart") {
				t.Fatalf("with %v: %v\n%s", env, err, out)
			}
		}
		return
	}
	before := debug.SetGCPercent(-1)
	debug.SetGCPercent(before)
	beforeLimit := debug.SetMemoryLimit(-1)
	Start()
	Start()
	got := debug.SetGCPercent(-1)
	debug.SetGCPercent(got)
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		if got != before || current.Load() != 0 || debug.SetMemoryLimit(-1) != beforeLimit {
			t.Fatalf("with GOGC=%q GOMEMLIMIT=%q: percent %d (was %d), tuning %d; want the user's setting alone",
				os.Getenv("GOGC"), os.Getenv("GOMEMLIMIT"), got, before, current.Load())
		}
		return
	}
	if got != Max {
		t.Fatalf("after Start: percent %d, want %d", got, Max)
	}
	if got := debug.SetMemoryLimit(-1); got != Limit {
		t.Fatalf("after Start: memory limit %d, want %d", got, Limit)
	}
	// A live heap of Limit bytes brings the percentage down to Min after
	// the next collections; dropping it brings it back up.
	live := make([]byte, Limit)
	waitFor(t, Min)
	if got := debug.SetMemoryLimit(-1); got < 2*int64(len(live))+Slack {
		t.Errorf("with %d bytes live: memory limit %d, want at least twice that plus %d", len(live), got, Slack)
	}
	runtime.KeepAlive(live)
	live = nil
	waitFor(t, Max)
}

func waitFor(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		runtime.GC()
		if int(current.Load()) == want {
			got := debug.SetGCPercent(want)
			if got != want {
				t.Fatalf("collector percent %d, tuner says %d", got, want)
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("percent still %d after 10s, want %d", current.Load(), want)
}
