package policy

import (
	"bytes"
	"context"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Watcher holds the policy in a file and takes the file again when it
// changes. A file that no longer parses leaves the last good policy in
// force; the error is returned by the Reload that met it and kept for
// Err until a good file is read. Safe for concurrent use.
type Watcher struct {
	file string
	cur  atomic.Pointer[Policy]

	mu      sync.Mutex // serialises reloads
	last    []byte     // contents of the file last read, good or bad
	lastBad bool       // whether last did not parse
	stat    os.FileInfo
	err     error
}

// NewWatcher loads the file; it fails when the file cannot be read or
// does not parse, as serve must not start with no policy.
func NewWatcher(file string) (*Watcher, error) {
	data, err := readFile(file)
	if err != nil {
		return nil, err
	}
	p, err := Parse(file, data)
	if err != nil {
		return nil, err
	}
	w := &Watcher{file: file, last: data}
	w.stat, _ = os.Stat(file)
	w.cur.Store(p)
	return w, nil
}

// Current is the policy in force: the last file that parsed.
func (w *Watcher) Current() *Policy { return w.cur.Load() }

// Err is the error of the last reload that failed, nil once a good file
// was read after it.
func (w *Watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Reload reads the file again if it changed (size, modification time,
// identity, or, when those agree, its contents) and, when it parses,
// swaps it in. It reports whether a new policy took effect, and the error
// of a file that could not be read or parsed (the old policy stays); an
// error is returned once, when it is met, and stays in Err.
func (w *Watcher) Reload() (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	st, err := os.Stat(w.file)
	if err != nil {
		return false, w.fail(err)
	}
	if w.stat != nil && os.SameFile(st, w.stat) && st.Size() == w.stat.Size() && st.ModTime().Equal(w.stat.ModTime()) {
		// Unchanged by the file system's account (an error it met was
		// reported when it was met, and Err still has it).
		return false, nil
	}
	data, err := readFile(w.file)
	if err != nil {
		return false, w.fail(err)
	}
	w.stat = st
	if bytes.Equal(data, w.last) {
		if !w.lastBad {
			w.err = nil // back as it was when it last parsed
		}
		return false, nil
	}
	w.last = data
	p, err := Parse(w.file, data)
	w.lastBad = err != nil
	if err != nil {
		w.err = err
		return false, err
	}
	w.err = nil
	w.cur.Store(p)
	return true, nil
}

// Run calls Reload at every tick until ctx ends, passing each result to
// report (which may be nil). serve runs it with a time.Ticker's channel
// (and may call Reload on SIGHUP as well).
func (w *Watcher) Run(ctx context.Context, tick <-chan time.Time, report func(changed bool, err error)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			changed, err := w.Reload()
			if report != nil {
				report(changed, err)
			}
		}
	}
}

// fail records an error reading the file and returns it, or nil when it
// is the error already recorded (a file that stays missing is reported
// once, not at every tick).
func (w *Watcher) fail(err error) error {
	if w.err != nil && w.err.Error() == err.Error() {
		return nil
	}
	w.err = err
	w.stat = nil
	return err
}
