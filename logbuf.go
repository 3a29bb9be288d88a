package main

import (
	"io"
	"sync"
	"time"
)

// logBuffer gathers serve's log lines and writes them out together, at
// least every logFlushEvery and whenever logBufferMax bytes wait: a write
// to stderr for each request's access-log line was a noticeable part of
// a warm server's CPU. Each Write (one log record) goes out whole. Close
// writes what waits and stops the flusher.
type logBuffer struct {
	mu     sync.Mutex
	w      io.Writer
	buf    []byte
	closed bool
	stop   chan struct{}
	done   chan struct{}
}

const (
	logFlushEvery = 100 * time.Millisecond
	logBufferMax  = 64 << 10
)

func newLogBuffer(w io.Writer) *logBuffer {
	b := &logBuffer{w: w, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		t := time.NewTicker(logFlushEvery)
		defer t.Stop()
		for {
			select {
			case <-b.stop:
				return
			case <-t.C:
				b.mu.Lock()
				b.flushLocked()
				b.mu.Unlock()
			}
		}
	}()
	return b
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return b.w.Write(p)
	}
	if len(b.buf)+len(p) > logBufferMax {
		b.flushLocked()
	}
	if len(p) >= logBufferMax {
		return b.w.Write(p)
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// flushLocked writes what waits; a failed write drops it (as a record
// that could not be written is dropped unbuffered). The caller holds b.mu.
func (b *logBuffer) flushLocked() {
	if len(b.buf) > 0 {
		b.w.Write(b.buf)
		b.buf = b.buf[:0]
	}
}

// Close writes what waits and stops the flusher; later writes go out at
// once.
func (b *logBuffer) Close() {
	select {
	case <-b.stop:
		return
	default:
	}
	close(b.stop)
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
	b.buf, b.closed = nil, true
}
