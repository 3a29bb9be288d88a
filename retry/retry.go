// Package retry decides whether a failed operation is worth trying again and,
// if so, when.
//
// It is the only package that knows about backoff. Callers describe one
// operation as a function that makes a single attempt; Do runs it under a
// Policy: exponential backoff with jitter, bounded attempts and elapsed time,
// an optional per-attempt timeout, and a server's Retry-After hint honoured up
// to a cap. Classification of errors lives in classify.go, so the same rules
// apply to every request the program makes.
//
// Do keeps the last real error an attempt returned: when the context is
// cancelled or the budget runs out, that error (not just ctx.Err()) is what the
// caller gets back, so a failure report can say what actually went wrong.
package retry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Policy says how often and how long an operation is retried.
// The zero value is usable: it means DefaultPolicy's values.
type Policy struct {
	// Initial is the wait before the second attempt (default 200ms).
	Initial time.Duration
	// Max caps any single wait, including a Retry-After hint (default 5s).
	Max time.Duration
	// Multiplier grows the wait after each attempt (default 2).
	Multiplier float64
	// Jitter is the randomization factor in (0,1] (default 0.5); a
	// negative value means none (waits exactly as computed).
	Jitter float64
	// MaxAttempts bounds the number of attempts, the first included
	// (default 9: eight retries). A negative value means a single attempt.
	MaxAttempts int
	// MaxElapsed bounds the total time spent waiting between attempts
	// (default 2m). Time inside attempts does not count: a long download
	// that fails late is still retried; attempts are bounded by their own
	// timeouts and by MaxAttempts.
	MaxElapsed time.Duration
	// AttemptTimeout bounds one attempt; zero means no per-attempt bound
	// (the operation then relies on its own finer-grained timeouts).
	AttemptTimeout time.Duration
	// AtOnce, if not nil, is asked when an attempt failed with a
	// transient error after took (and the policy allows another): true
	// retries at once instead of after the backoff's wait. That retry is
	// one of MaxAttempts', and the backoff's waits after it go on from
	// where they were (Initial, if none was waited yet).
	AtOnce func(err error, took time.Duration) bool
}

// DefaultPolicy returns the policy used when nothing is configured: the
// one default set, which the command line's -retries, -retry-initial and
// -retry-max defaults are read from.
func DefaultPolicy() Policy {
	return Policy{
		Initial:     200 * time.Millisecond,
		Max:         5 * time.Second,
		Multiplier:  2,
		Jitter:      0.5,
		MaxAttempts: 9,
		MaxElapsed:  2 * time.Minute,
	}
}

func (p Policy) withDefaults() Policy {
	d := DefaultPolicy()
	if p.Initial <= 0 {
		p.Initial = d.Initial
	}
	if p.Max <= 0 {
		p.Max = d.Max
	}
	if p.Multiplier < 1 {
		p.Multiplier = d.Multiplier
	}
	switch {
	case p.Jitter < 0:
		p.Jitter = 0
	case p.Jitter == 0 || p.Jitter > 1:
		p.Jitter = d.Jitter
	}
	if p.MaxAttempts == 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.MaxAttempts < 0 {
		p.MaxAttempts = 1
	}
	if p.MaxElapsed <= 0 {
		p.MaxElapsed = d.MaxElapsed
	}
	return p
}

// Attempt describes a failed attempt, for tracing.
type Attempt struct {
	N    int           // 1-based attempt number that failed
	Err  error         // what it failed with
	Wait time.Duration // how long Do waits before the next attempt
}

// Do runs op until it succeeds, fails with an error that is not Transient,
// or the policy's budget is used up. notify, if not nil, is called after
// each failed attempt that will be retried.
//
// The error returned is the last error op returned, wrapped in an
// *ExhaustedError when attempts ran out or the context ended while an
// error was in hand.
func Do(ctx context.Context, p Policy, op func(ctx context.Context) error, notify func(Attempt)) error {
	p = p.withDefaults()

	exp := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(p.Initial),
		backoff.WithMaxInterval(p.Max),
		backoff.WithMultiplier(p.Multiplier),
		backoff.WithRandomizationFactor(p.Jitter),
		backoff.WithMaxElapsedTime(0), // waits are bounded by hintBackOff
	)
	hinted := &hintBackOff{BackOff: exp, max: p.Max, maxWaited: p.MaxElapsed}
	var b backoff.BackOff = hinted
	if p.MaxAttempts > 0 {
		b = backoff.WithMaxRetries(b, uint64(p.MaxAttempts-1))
	}
	b = backoff.WithContext(b, ctx)

	var (
		lastErr  error
		attempts int
	)
	err := backoff.RetryNotify(func() error {
		attempts++
		actx := ctx
		if p.AttemptTimeout > 0 {
			var cancel context.CancelFunc
			actx, cancel = context.WithTimeout(ctx, p.AttemptTimeout)
			defer cancel()
		}
		t0 := time.Now()
		err := op(actx)
		if err == nil {
			return nil
		}
		took := time.Since(t0)
		if ctx.Err() == nil && actx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			err = &AttemptTimeoutError{Timeout: p.AttemptTimeout, Err: err}
		}
		lastErr = err
		hinted.hint = RetryAfter(err)
		if ctx.Err() != nil || Classify(err) != Transient {
			return backoff.Permanent(err)
		}
		hinted.now = attempts < p.MaxAttempts && p.AtOnce != nil && p.AtOnce(err, took)
		return err
	}, b, func(err error, wait time.Duration) {
		if notify != nil {
			notify(Attempt{N: attempts, Err: err, Wait: wait})
		}
	})
	if err == nil {
		return nil
	}
	if lastErr == nil {
		return err // context ended before the first attempt
	}
	if Classify(lastErr) != Transient && ctx.Err() == nil {
		return lastErr
	}
	return &ExhaustedError{Attempts: attempts, Err: lastErr, Ctx: ctx.Err()}
}

// ExhaustedError reports a transient failure that outlived the retry budget
// (or the context).
type ExhaustedError struct {
	Attempts int
	Err      error // the last attempt's error
	Ctx      error // the context's error, if it ended
}

func (e *ExhaustedError) Error() string {
	if e.Ctx != nil {
		return fmt.Sprintf("%v (transient; stopped after %d attempts: %v)", e.Err, e.Attempts, e.Ctx)
	}
	if e.Attempts <= 1 {
		return e.Err.Error()
	}
	return fmt.Sprintf("%v (transient; gave up after %d attempts)", e.Err, e.Attempts)
}

func (e *ExhaustedError) Unwrap() []error {
	if e.Ctx != nil {
		return []error{e.Err, e.Ctx}
	}
	return []error{e.Err}
}

// AttemptTimeoutError reports an attempt cut by Policy.AttemptTimeout.
// It is transient: the next attempt may be faster.
type AttemptTimeoutError struct {
	Timeout time.Duration
	Err     error
}

func (e *AttemptTimeoutError) Error() string {
	return fmt.Sprintf("attempt timed out after %v: %v", e.Timeout, e.Err)
}

func (e *AttemptTimeoutError) Unwrap() error { return e.Err }

// hintBackOff lets the last error's Retry-After hint stretch the wait,
// or Policy.AtOnce cut one to nothing. It also bounds the total
// of the waits it hands out.
type hintBackOff struct {
	backoff.BackOff
	now       bool // the next wait is none (Policy.AtOnce)
	hint      time.Duration
	max       time.Duration
	waited    time.Duration
	maxWaited time.Duration
}

func (h *hintBackOff) Reset() {
	h.BackOff.Reset()
	h.waited = 0
	h.now = false
}

func (h *hintBackOff) NextBackOff() time.Duration {
	if h.now {
		// The exponential schedule does not move: the wait after this
		// retry is the one this wait would have been (Initial, if none
		// was waited yet).
		h.now, h.hint = false, 0
		return 0
	}
	d := h.BackOff.NextBackOff()
	if d == backoff.Stop {
		return d
	}
	if h.hint > d {
		d = min(h.hint, h.max)
	}
	h.hint = 0
	if h.maxWaited > 0 && h.waited+d > h.maxWaited {
		return backoff.Stop
	}
	h.waited += d
	return d
}
