package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer records each Write it gets.
type lockedBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	return l.buf.Write(p)
}

func (l *lockedBuffer) String() (string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String(), l.writes
}

// TestLogBuffer: serve's log lines go out together, in order and whole,
// within the flush interval, and all of them by Close; a record larger
// than the buffer goes out alone; after Close, writes go out at once.
func TestLogBuffer(t *testing.T) {
	out := &lockedBuffer{}
	b := newLogBuffer(out)
	var want strings.Builder
	for i := range 100 {
		line := strings.Repeat("x", i) + "\n"
		want.WriteString(line)
		b.Write([]byte(line))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, writes := out.String()
		if got == want.String() {
			if writes >= 100 {
				t.Errorf("%d writes for 100 lines; want them gathered", writes)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lines not flushed within 10s: got %d bytes, want %d", len(got), want.Len())
		}
		time.Sleep(10 * time.Millisecond)
	}
	big := strings.Repeat("y", logBufferMax) + "\n"
	b.Write([]byte("before\n"))
	b.Write([]byte(big))
	b.Write([]byte("after\n"))
	b.Close()
	want.WriteString("before\n" + big + "after\n")
	if got, _ := out.String(); got != want.String() {
		t.Errorf("after Close: %d bytes, want %d, in order", len(got), want.Len())
	}
	b.Write([]byte("late\n"))
	if got, _ := out.String(); !strings.HasSuffix(got, "after\nlate\n") {
		t.Errorf("a write after Close did not go out at once")
	}
	b.Close() // twice is harmless
}
