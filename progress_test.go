package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"gomodfetch/download"
)

func TestStatusLine(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	mod := func(p, v string) module.Version { return module.Version{Path: p, Version: v} }
	tests := []struct {
		name  string
		st    download.Progress
		total int
		rate  float64
		want  string
	}{
		{
			name: "graph loading",
			st:   download.Progress{Bytes: 2048},
			rate: 1024,
			want: "loading module graph, 2.0 KiB at 1.0 KiB/s, 1.5s",
		},
		{
			name:  "downloading with retries and a slow module",
			st:    download.Progress{Started: 14, Finished: 12, Bytes: 3 << 20, Retries: 2, InFlight: []download.Flight{{Mod: mod("golang.org/x/tools", "v0.1.0"), Start: now.Add(-2300 * time.Millisecond)}, {Mod: mod("example.com/a", "v1.0.0"), Start: now.Add(-time.Second)}}},
			total: 29,
			rate:  1.5 * (1 << 20),
			want:  "12/29 modules, 3.0 MiB at 1.5 MiB/s, 2 retries, 1.5s; 2 in flight, slowest: golang.org/x/tools@v0.1.0 (2.3s)",
		},
		{
			name:  "one retry, failures",
			st:    download.Progress{Started: 3, Finished: 3, Failed: 1, Bytes: 10, Retries: 1},
			total: 3,
			want:  "3/3 modules (1 failed), 10 B at 0 B/s, 1 retry, 1.5s",
		},
		{
			name: "total not known yet",
			st:   download.Progress{Started: 2, Finished: 1},
			want: "1 modules, 0 B at 0 B/s, 1.5s",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := statusLine(tt.st, tt.total, tt.rate, 1500*time.Millisecond, now)
			if got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// fakeSource hands the display one snapshot per tick.
type fakeSource chan download.Progress

func (s fakeSource) get() download.Progress { return <-s }

// tick makes the display draw st as of now.
func tick(ticks chan time.Time, src fakeSource, now time.Time, st download.Progress) {
	ticks <- now
	src <- st
}

func TestProgressPlainLines(t *testing.T) {
	var buf bytes.Buffer
	p := &progress{w: &buf, start: time.Unix(1000, 0)}
	src := make(fakeSource)
	ticks := make(chan time.Time)
	p.runTicks(src.get, ticks, func() {})
	p.setTotal(2)

	tick(ticks, src, time.Unix(1010, 0), download.Progress{Started: 1, Bytes: 1 << 20})
	tick(ticks, src, time.Unix(1011, 0), download.Progress{Started: 2, Finished: 2, Bytes: 3 << 20})
	p.stop()
	p.stop() // twice is fine

	want := "gomodfetch: 0/2 modules, 1.0 MiB at 102.4 KiB/s, 10s\n" +
		"gomodfetch: 2/2 modules, 3.0 MiB at 2.0 MiB/s, 11s\n"
	if got := buf.String(); got != want {
		t.Errorf("plain output:\n%q\nwant\n%q", got, want)
	}
	if strings.Contains(buf.String(), "\r") || strings.Contains(buf.String(), "\x1b") {
		t.Errorf("plain output has terminal control characters: %q", buf.String())
	}
}

func TestProgressTerminal(t *testing.T) {
	var buf bytes.Buffer
	p := &progress{w: &buf, tty: true, width: func() int { return 30 }, start: time.Unix(1000, 0)}
	src := make(fakeSource)
	ticks := make(chan time.Time)
	p.runTicks(src.get, ticks, func() {})
	p.setTotal(5)
	tick(ticks, src, time.Unix(1001, 0), download.Progress{Started: 1, Bytes: 100})
	// Other output (the -x trace) clears the line first; the next tick
	// draws it again.
	p.writer(&buf).Write([]byte("# get http://127.0.0.1/x\n"))
	tick(ticks, src, time.Unix(1002, 0), download.Progress{Started: 1, Bytes: 300})
	p.stop()

	want := "\r\x1b[K0/5 modules, 100 B at 100 B/…" +
		"\r\x1b[K# get http://127.0.0.1/x\n" +
		"\r\x1b[K0/5 modules, 300 B at 200 B/…" +
		"\r\x1b[K"
	if got := buf.String(); got != want {
		t.Errorf("terminal output:\n%q\nwant\n%q", got, want)
	}
}

func TestProgressQuiet(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, true)
	if p != nil {
		t.Fatalf("newProgress with -q returned a display")
	}
	// Every method is a no-op on the nil display.
	p.run(func() download.Progress { t.Fatal("source read with -q"); return download.Progress{} })
	p.setTotal(3)
	w := p.writer(&buf)
	w.Write([]byte("x"))
	p.stop()
	if buf.String() != "x" {
		t.Errorf("quiet display wrote %q", buf.String())
	}
	if q := newProgress(&buf, false); q == nil || q.tty {
		t.Errorf("a bytes.Buffer was taken for a terminal")
	}
}
