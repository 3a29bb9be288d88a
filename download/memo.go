package download

import (
	"context"
	"errors"
	"sync"

	"gomodfetch/retry"
)

// memo runs one operation per key and remembers its answer for the rest of
// the run, as the go command's par.ErrCache does, with one difference: a
// transient failure (the network gave up on us, the run was cancelled) is
// shared only with the calls already waiting for it and then forgotten, so
// a later call asks again instead of inheriting an outage for the whole
// run. Successes and final answers ("not found", a checksum mismatch) are
// kept. The zero value is ready; a memo is safe for concurrent use.
type memo[K comparable, V any] struct {
	mu    sync.Mutex
	calls map[K]*memoCall[V]
	// forget drops every answer once its call ends: it is shared only
	// with the calls already waiting for it (Config.ForgetAnswers).
	forget bool
}

type memoCall[V any] struct {
	done chan struct{}
	v    V
	err  error
}

// Do returns key's remembered answer, or runs fn for it (once, however many
// callers ask at the same time).
func (c *memo[K, V]) Do(key K, fn func() (V, error)) (V, error) {
	c.mu.Lock()
	if call, ok := c.calls[key]; ok {
		c.mu.Unlock()
		<-call.done
		return call.v, call.err
	}
	if c.calls == nil {
		c.calls = map[K]*memoCall[V]{}
	}
	call := &memoCall[V]{done: make(chan struct{})}
	c.calls[key] = call
	c.mu.Unlock()

	call.v, call.err = fn()
	if c.forget || (call.err != nil && !final(call.err)) {
		c.mu.Lock()
		delete(c.calls, key)
		c.mu.Unlock()
	}
	close(call.done)
	return call.v, call.err
}

// final reports whether err is an answer worth remembering for the run
// rather than a failure to get one.
func final(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return retry.Classify(err) != retry.Transient
}

// Peek returns key's remembered answer without running anything: ok is
// false if no call for key has ended with an answer kept.
func (c *memo[K, V]) Peek(key K) (v V, ok bool) {
	c.mu.Lock()
	call, found := c.calls[key]
	c.mu.Unlock()
	if !found {
		return v, false
	}
	select {
	case <-call.done:
		return call.v, call.err == nil
	default:
		return v, false
	}
}
