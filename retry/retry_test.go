package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

type statusErr int

func (s statusErr) Error() string   { return fmt.Sprintf("status %d", int(s)) }
func (s statusErr) HTTPStatus() int { return int(s) }

type hinted struct {
	statusErr
	after time.Duration
}

func (h hinted) RetryAfter() time.Duration { return h.after }

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Class
	}{
		{"404", statusErr(404), NotFound},
		{"410", statusErr(410), NotFound},
		{"408", statusErr(408), Transient},
		{"425", statusErr(425), Transient},
		{"429", statusErr(429), Transient},
		{"500", statusErr(500), Transient},
		{"502 wrapped", fmt.Errorf("fetching: %w", statusErr(502)), Transient},
		{"503", statusErr(503), Transient},
		{"504", statusErr(504), Transient},
		{"599", statusErr(599), Transient},
		{"400", statusErr(400), Permanent},
		{"401", statusErr(401), Permanent},
		{"403", statusErr(403), Permanent},
		{"connection refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, Transient},
		{"connection reset", &net.OpError{Op: "read", Err: syscall.ECONNRESET}, Transient},
		{"unexpected EOF", fmt.Errorf("reading body: %w", io.ErrUnexpectedEOF), Transient},
		{"dns temporary", &net.DNSError{Err: "server misbehaving", IsTemporary: true}, Transient},
		{"dns not found", &net.DNSError{Err: "no such host", IsNotFound: true}, Permanent},
		{"deadline", context.DeadlineExceeded, Transient},
		{"canceled", context.Canceled, Permanent},
		{"http2 goaway", errors.New("http2: server sent GOAWAY and closed the connection"), Transient},
		{"http2 stream", errors.New("stream error: stream ID 3; INTERNAL_ERROR"), Transient},
		{"unknown", errors.New("something odd"), Permanent},
		{"attempt timeout", &AttemptTimeoutError{Timeout: time.Second, Err: context.DeadlineExceeded}, Transient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.err); got != tt.want {
				t.Errorf("Classify(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func fastPolicy() Policy {
	return Policy{Initial: time.Millisecond, Max: 5 * time.Millisecond, MaxAttempts: 4, MaxElapsed: 5 * time.Second}
}

func TestDoRetriesTransientThenSucceeds(t *testing.T) {
	calls := 0
	var notes []Attempt
	err := Do(context.Background(), fastPolicy(), func(context.Context) error {
		calls++
		if calls < 3 {
			return statusErr(503)
		}
		return nil
	}, func(a Attempt) { notes = append(notes, a) })
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if calls != 3 || len(notes) != 2 || notes[0].N != 1 || notes[1].N != 2 {
		t.Fatalf("calls=%d notes=%+v; want 3 calls, 2 notes", calls, notes)
	}
}

func TestDoStopsOnPermanentAndNotFound(t *testing.T) {
	for _, e := range []error{statusErr(403), statusErr(404)} {
		calls := 0
		err := Do(context.Background(), fastPolicy(), func(context.Context) error {
			calls++
			return e
		}, nil)
		if calls != 1 {
			t.Errorf("%v: %d calls, want 1", e, calls)
		}
		if !errors.Is(err, e) {
			t.Errorf("%v: got error %v, want the attempt's error", e, err)
		}
	}
}

func TestDoKeepsLastErrorWhenExhausted(t *testing.T) {
	calls := 0
	err := Do(context.Background(), fastPolicy(), func(context.Context) error {
		calls++
		return fmt.Errorf("attempt %d: %w", calls, statusErr(500))
	}, nil)
	var ex *ExhaustedError
	if !errors.As(err, &ex) {
		t.Fatalf("got %T %v, want *ExhaustedError", err, err)
	}
	if calls != 4 || ex.Attempts != 4 {
		t.Fatalf("calls=%d attempts=%d, want 4", calls, ex.Attempts)
	}
	if got := ex.Err.Error(); got != "attempt 4: status 500" {
		t.Fatalf("last error %q, want the fourth attempt's", got)
	}
}

func TestDoKeepsLastErrorOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p := fastPolicy()
	p.Initial, p.Max, p.MaxElapsed = time.Hour, time.Hour, 3*time.Hour
	calls := 0
	done := make(chan error)
	go func() {
		done <- Do(ctx, p, func(context.Context) error {
			calls++
			return statusErr(503)
		}, func(Attempt) { cancel() })
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v does not say the context was cancelled", err)
		}
		var se statusErr
		if !errors.As(err, &se) || se != 503 {
			t.Errorf("error %v lost the last attempt's 503", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Do did not return after cancellation")
	}
}

func TestDoPerAttemptTimeout(t *testing.T) {
	p := fastPolicy()
	p.AttemptTimeout = 20 * time.Millisecond
	calls := 0
	err := Do(context.Background(), p, func(ctx context.Context) error {
		calls++
		if calls == 1 {
			<-ctx.Done() // a stalled attempt
			return ctx.Err()
		}
		return nil
	}, nil)
	if err != nil || calls != 2 {
		t.Fatalf("err=%v calls=%d; want success on the second attempt", err, calls)
	}
}

func TestRetryAfterStretchesWait(t *testing.T) {
	p := fastPolicy()
	p.Max = 80 * time.Millisecond
	var waits []time.Duration
	calls := 0
	Do(context.Background(), p, func(context.Context) error {
		calls++
		if calls == 1 {
			return hinted{statusErr(429), time.Hour} // capped at Max
		}
		return nil
	}, func(a Attempt) { waits = append(waits, a.Wait) })
	if len(waits) != 1 || waits[0] != 80*time.Millisecond {
		t.Fatalf("waits = %v, want one wait capped at 80ms", waits)
	}
}

func TestSingleAttemptPolicy(t *testing.T) {
	calls := 0
	Do(context.Background(), Policy{MaxAttempts: -1}, func(context.Context) error {
		calls++
		return statusErr(503)
	}, nil)
	if calls != 1 {
		t.Fatalf("%d calls, want 1", calls)
	}
}

func TestLongAttemptIsStillRetried(t *testing.T) {
	// An attempt that runs longer than MaxElapsed (a large download) and
	// then fails transiently gets another attempt: only waits count.
	p := Policy{Initial: time.Millisecond, Max: 2 * time.Millisecond, MaxAttempts: 3, MaxElapsed: 20 * time.Millisecond}
	calls := 0
	err := Do(context.Background(), p, func(context.Context) error {
		calls++
		if calls == 1 {
			time.Sleep(50 * time.Millisecond)
			return io.ErrUnexpectedEOF
		}
		return nil
	}, nil)
	if err != nil || calls != 2 {
		t.Fatalf("err=%v calls=%d; want a second, successful attempt", err, calls)
	}
}

func TestWaitsAreBounded(t *testing.T) {
	// Waits of 10ms, 20ms, 40ms... stop once they would pass 50ms in all.
	p := Policy{Initial: 10 * time.Millisecond, Max: time.Second, Multiplier: 2, Jitter: -1, MaxAttempts: 100, MaxElapsed: 50 * time.Millisecond}
	calls := 0
	Do(context.Background(), p, func(context.Context) error {
		calls++
		return statusErr(503)
	}, nil)
	if calls != 3 { // waits 10 + 20 = 30ms; the next (40ms) would pass 50ms
		t.Fatalf("%d attempts, want 3", calls)
	}
}

// TestZeroPolicyJitters: the zero Policy means DefaultPolicy's values, jitter
// included, so clients that fail together do not retry in lockstep; a
// negative Jitter turns it off.
func TestZeroPolicyJitters(t *testing.T) {
	waits := func(p Policy) map[time.Duration]bool {
		seen := map[time.Duration]bool{}
		for range 20 {
			Do(context.Background(), p, func(context.Context) error {
				return statusErr(503)
			}, func(a Attempt) {
				if a.N == 1 {
					seen[a.Wait] = true
				}
			})
		}
		return seen
	}
	p := Policy{MaxAttempts: 2, Initial: time.Millisecond}
	if got := waits(p); len(got) < 2 {
		t.Errorf("zero Jitter: first waits %v; want them spread by the default jitter", got)
	}
	p.Jitter = -1
	if got := waits(p); len(got) != 1 || !got[time.Millisecond] {
		t.Errorf("negative Jitter: first waits %v; want exactly 1ms each", got)
	}
}

// TestAtOnce: Policy.AtOnce is asked after each failed attempt that
// will be retried, and each true cuts that wait to nothing: the retry it
// makes is one of MaxAttempts', and the backoff's waits after it go on
// from where they were. It is not asked when no retry is allowed, nor
// for an error that is not transient.
func TestAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name  string
		yes   []bool // AtOnce's answers, in turn
		waits []time.Duration
	}{
		{"first", []bool{true, false, false}, []time.Duration{0, 10 * time.Millisecond, 20 * time.Millisecond}},
		{"first two", []bool{true, true, false}, []time.Duration{0, 0, 10 * time.Millisecond}},
		{"second", []bool{false, true, false}, []time.Duration{10 * time.Millisecond, 0, 20 * time.Millisecond}},
	} {
		var asked int
		p := Policy{MaxAttempts: 4, Initial: 10 * time.Millisecond, Multiplier: 2, Jitter: -1,
			AtOnce: func(err error, took time.Duration) bool { asked++; return tc.yes[asked-1] }}
		var waits []time.Duration
		calls := 0
		err := Do(context.Background(), p, func(ctx context.Context) error {
			calls++
			return statusErr(503)
		}, func(a Attempt) { waits = append(waits, a.Wait) })
		if err == nil {
			t.Fatalf("%s: Do succeeded", tc.name)
		}
		if calls != 4 {
			t.Errorf("%s: %d attempts with MaxAttempts 4; want 4", tc.name, calls)
		}
		if fmt.Sprint(waits) != fmt.Sprint(tc.waits) {
			t.Errorf("%s: waits %v; want %v", tc.name, waits, tc.waits)
		}
		if asked != 3 {
			t.Errorf("%s: AtOnce asked %d times; want 3 (after each attempt but the last)", tc.name, asked)
		}
	}

	var asked, calls int
	for _, tc := range []struct {
		name string
		max  int
		err  error
	}{
		{"single attempt", -1, statusErr(503)},
		{"one attempt", 1, statusErr(503)},
		{"permanent", 3, statusErr(400)},
		{"not found", 3, statusErr(404)},
	} {
		asked, calls = 0, 0
		p := Policy{MaxAttempts: tc.max, Initial: time.Millisecond, AtOnce: func(error, time.Duration) bool { asked++; return true }}
		Do(context.Background(), p, func(ctx context.Context) error { calls++; return tc.err }, nil)
		if asked != 0 || calls != 1 {
			t.Errorf("%s: AtOnce asked %d times, %d attempts; want 0 and 1", tc.name, asked, calls)
		}
	}
}
