package download

import (
	"sync"

	"golang.org/x/mod/module"
)

// fetches is the downloads of a run, one call per module version, shared by
// every caller that asks for it and remembered for the run once it ends in
// an answer worth keeping (see memo). Unlike memo, callers bring a keep
// function each, and the call asks them all before it commits anything.
type fetches struct {
	mu    sync.Mutex
	calls map[module.Version]*fetchCall
	// forget drops every call once it ends (Config.ForgetAnswers).
	forget bool
}

// fetchCall is one download of a module version.
type fetchCall struct {
	done chan struct{}

	mu      sync.Mutex
	keeps   []func() bool // each caller's keep; nil means "always"
	decided bool          // wanted has answered: no keep is asked after that
	m       *Module       // the result, once done; nil if nothing was committed
}

// join returns mod's call. run says the caller must run it (nobody else is);
// registered says keep was added to the callers the call asks before it
// commits: false when that decision was already made.
func (fs *fetches) join(mod module.Version, keep func() bool) (call *fetchCall, run, registered bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.calls == nil {
		fs.calls = map[module.Version]*fetchCall{}
	}
	call, ok := fs.calls[mod]
	if !ok {
		call = &fetchCall{done: make(chan struct{})}
		fs.calls[mod] = call
	}
	call.mu.Lock()
	defer call.mu.Unlock()
	if call.decided {
		return call, false, false
	}
	call.keeps = append(call.keeps, keep)
	return call, !ok, true
}

// finish records m as call's result and wakes its callers. A call is
// remembered for the run only if remember is set (a success, or a final
// answer); otherwise the next caller starts anew.
func (fs *fetches) finish(mod module.Version, call *fetchCall, m *Module, remember bool) {
	fs.mu.Lock()
	if !remember || m == nil || fs.forget {
		delete(fs.calls, mod)
	}
	fs.mu.Unlock()
	call.mu.Lock()
	call.m = m
	call.decided = true
	call.mu.Unlock()
	close(call.done)
}

// wanted is the call's commit decision: whether any of its callers wants
// the module. It asks their keep functions (which may block) one by one,
// including those of callers who join while it asks, and stops at the first
// yes.
func (c *fetchCall) wanted() bool {
	for asked := 0; ; asked++ {
		c.mu.Lock()
		if asked == len(c.keeps) {
			c.decided = true
			c.mu.Unlock()
			return false
		}
		keep := c.keeps[asked]
		c.mu.Unlock()
		if keep == nil || keep() {
			c.mu.Lock()
			c.decided = true
			c.mu.Unlock()
			return true
		}
	}
}
