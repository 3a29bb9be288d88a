package proxy

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gomodfetch/retry"
)

// sameRouter is a Router with one proxy that hedges to itself.
func sameRouter(t *testing.T, hedge time.Duration, policy retry.Policy) *Router {
	t.Helper()
	list, err := ParseList("https://only.x")
	if err != nil {
		t.Fatal(err)
	}
	return &Router{Proxies: list, Client: &Client{}, HedgeDelay: hedge, HedgeSame: true, Policy: policy}
}

func askCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestHedgeSameProxy: an attempt that stalls before its answer is hedged
// by a second request to the same proxy, which wins.
func TestHedgeSameProxy(t *testing.T) {
	r := sameRouter(t, 100*time.Millisecond, retry.Policy{MaxAttempts: 1})
	var calls atomic.Int32
	v, _, err := Ask(askCtx(t), r, "example.com/m", func(ctx context.Context, base *url.URL) (string, error) {
		if calls.Add(1) == 1 {
			<-ctx.Done() // a stall: no headers, ever
			return "", ctx.Err()
		}
		answeredHook(ctx)
		return "ok", nil
	}, nil)
	if err != nil || v != "ok" {
		t.Fatalf("Ask = %q, %v; want ok", v, err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d requests; want 2 (the stalled one and its hedge)", n)
	}
	if st := r.ProxyStats(); len(st) != 1 || st[0].HedgesWon != 1 || st[0].Requests != 2 {
		t.Errorf("stats %+v; want 2 requests, 1 hedge won", st)
	}
}

// TestHedgeSameAnswerEndsBoth: a "not found" from the hedge is the answer;
// the stalled first request is not waited for.
func TestHedgeSameAnswerEndsBoth(t *testing.T) {
	r := sameRouter(t, 100*time.Millisecond, retry.Policy{MaxAttempts: 3, Initial: time.Millisecond})
	var calls atomic.Int32
	_, _, err := Ask(askCtx(t), r, "example.com/m", func(ctx context.Context, base *url.URL) (string, error) {
		if calls.Add(1) == 1 {
			<-ctx.Done()
			return "", ctx.Err()
		}
		return "", &HTTPError{Status: "404 Not Found", StatusCode: 404}
	}, nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Ask: %v; want not found", err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d requests; want 2", n)
	}
}

// TestHedgeSameTransientWaitsForOther: a hedge that fails for good with a
// transient error does not end the request while the first may still
// answer.
func TestHedgeSameTransientWaitsForOther(t *testing.T) {
	r := sameRouter(t, 50*time.Millisecond, retry.Policy{MaxAttempts: 1})
	var calls atomic.Int32
	v, _, err := Ask(askCtx(t), r, "example.com/m", func(ctx context.Context, base *url.URL) (string, error) {
		if calls.Add(1) == 1 {
			select {
			case <-time.After(400 * time.Millisecond):
				answeredHook(ctx)
				return "slow", nil
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		return "", &HTTPError{Status: "503", StatusCode: 503}
	}, nil)
	if err != nil || v != "slow" {
		t.Fatalf("Ask = %q, %v; want the first request's answer", v, err)
	}
}

// TestHedgeSameRetryStalls: an attempt that got its headers and failed
// (a 429: so not asked again at once) does not keep the retry that
// follows from being hedged when it stalls.
func TestHedgeSameRetryStalls(t *testing.T) {
	r := sameRouter(t, 100*time.Millisecond, retry.Policy{MaxAttempts: 3, Initial: time.Millisecond, Jitter: -1})
	var calls atomic.Int32
	v, _, err := Ask(askCtx(t), r, "example.com/m", func(ctx context.Context, base *url.URL) (string, error) {
		switch calls.Add(1) {
		case 1:
			answeredHook(ctx)
			return "", &HTTPError{Status: "429", StatusCode: 429}
		case 2:
			<-ctx.Done() // a stall: no headers, ever
			return "", ctx.Err()
		}
		answeredHook(ctx)
		return "ok", nil
	}, nil)
	if err != nil || v != "ok" {
		t.Fatalf("Ask = %q, %v; want ok", v, err)
	}
	if st := r.ProxyStats(); len(st) != 1 || st[0].HedgesWon != 1 {
		t.Errorf("stats %+v; want 1 hedge won", st)
	}
}

// TestHedgeSameRetryStallsAfterSlowBody: the first attempt gets its
// headers, reads its body for longer than the hedge delay and is cut (a
// truncated or reset body); the retry that follows stalls before its
// headers and is hedged. Before, the hedge timer fired while the first
// attempt was reading its body and was never set again, so the stalled
// retry waited its whole header timeout (serve under the bench's flaky
// upstream: three .mod requests of 30 s each on go's critical path).
func TestHedgeSameRetryStallsAfterSlowBody(t *testing.T) {
	r := sameRouter(t, 100*time.Millisecond, retry.Policy{MaxAttempts: 3, Initial: time.Millisecond, Jitter: -1})
	var calls atomic.Int32
	v, _, err := Ask(askCtx(t), r, "example.com/m", func(ctx context.Context, base *url.URL) (string, error) {
		switch calls.Add(1) {
		case 1:
			answeredHook(ctx)
			time.Sleep(400 * time.Millisecond) // a slow body, then cut
			return "", io.ErrUnexpectedEOF
		case 2:
			<-ctx.Done() // a stall: no headers, ever
			return "", ctx.Err()
		}
		answeredHook(ctx)
		return "ok", nil
	}, nil)
	if err != nil || v != "ok" {
		t.Fatalf("Ask = %q, %v; want ok", v, err)
	}
	if st := r.ProxyStats(); len(st) != 1 || st[0].HedgesWon != 1 {
		t.Errorf("stats %+v; want 1 hedge won", st)
	}
}

// TestHedgeSameBothStall: when the hedge stalls too, a third request goes
// out (before, both waited the whole header timeout), and no more than
// that however long they all stall.
func TestHedgeSameBothStall(t *testing.T) {
	r := sameRouter(t, 50*time.Millisecond, retry.Policy{MaxAttempts: 1})
	var calls atomic.Int32
	v, _, err := Ask(askCtx(t), r, "example.com/m", func(ctx context.Context, base *url.URL) (string, error) {
		if calls.Add(1) < 3 {
			<-ctx.Done() // a stall: no headers, ever
			return "", ctx.Err()
		}
		answeredHook(ctx)
		return "ok", nil
	}, nil)
	if err != nil || v != "ok" {
		t.Fatalf("Ask = %q, %v; want ok from the third request", v, err)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("%d requests; want 3", n)
	}

	calls.Store(0)
	ctx, cancel := context.WithTimeout(askCtx(t), time.Second)
	defer cancel()
	_, _, err = Ask(ctx, r, "example.com/m", func(ctx context.Context, base *url.URL) (string, error) {
		calls.Add(1)
		<-ctx.Done()
		return "", ctx.Err()
	}, nil)
	if err == nil {
		t.Fatal("Ask succeeded with every request stalled")
	}
	if n := calls.Load(); n != sameLanes {
		t.Errorf("%d requests with every one stalled for 1s; want %d", n, sameLanes)
	}
}

// TestHedgeSameNotWhileQueued: time a request spends waiting for a place
// to be sent (the client's per-host bound, serve's upstream gate) is not
// time without an answer: it is not hedged for it. Before, a request
// queued behind -conns others was hedged, and both then downloaded the
// whole zip (terraform: 1.26x the bytes go read).
func TestHedgeSameNotWhileQueued(t *testing.T) {
	r := sameRouter(t, 50*time.Millisecond, retry.Policy{MaxAttempts: 1})
	var calls atomic.Int32
	v, _, err := Ask(askCtx(t), r, "example.com/m", func(ctx context.Context, base *url.URL) (string, error) {
		calls.Add(1)
		waitingHook(ctx)
		time.Sleep(300 * time.Millisecond) // queued for a slot
		sentHook(ctx)
		answeredHook(ctx)
		return "ok", nil
	}, nil)
	if err != nil || v != "ok" {
		t.Fatalf("Ask = %q, %v", v, err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d requests; want 1 (queued is not stalled)", n)
	}
}

// TestHedgeSameQueuedThenStalls: once sent, a queued request that stalls
// is hedged as any other.
func TestHedgeSameQueuedThenStalls(t *testing.T) {
	r := sameRouter(t, 50*time.Millisecond, retry.Policy{MaxAttempts: 1})
	var calls atomic.Int32
	v, _, err := Ask(askCtx(t), r, "example.com/m", func(ctx context.Context, base *url.URL) (string, error) {
		waitingHook(ctx)
		if calls.Add(1) == 1 {
			time.Sleep(200 * time.Millisecond)
			sentHook(ctx)
			<-ctx.Done() // sent, then no headers, ever
			return "", ctx.Err()
		}
		sentHook(ctx)
		answeredHook(ctx)
		return "ok", nil
	}, nil)
	if err != nil || v != "ok" {
		t.Fatalf("Ask = %q, %v; want ok from the hedge", v, err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d requests; want 2", n)
	}
}

// TestHedgeSameResumeStalls: an attempt got its answer, its body was cut,
// and the range request that resumes it (within the same attempt) stalls
// before its headers: it is hedged. Before, the attempt counted as
// answered and the resume waited the whole header timeout.
func TestHedgeSameResumeStalls(t *testing.T) {
	r := sameRouter(t, 50*time.Millisecond, retry.Policy{MaxAttempts: 1})
	var calls atomic.Int32
	v, _, err := Ask(askCtx(t), r, "example.com/m", func(ctx context.Context, base *url.URL) (string, error) {
		if calls.Add(1) == 1 {
			sentHook(ctx)
			answeredHook(ctx)
			time.Sleep(100 * time.Millisecond) // part of the body, then cut
			sentHook(ctx)                      // the resuming range request
			<-ctx.Done()                       // no headers, ever
			return "", ctx.Err()
		}
		sentHook(ctx)
		answeredHook(ctx)
		return "ok", nil
	}, nil)
	if err != nil || v != "ok" {
		t.Fatalf("Ask = %q, %v; want ok from the hedge", v, err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d requests; want 2", n)
	}
}

// TestHedgeSameNotDuringBackoff: attempts that fail at once are retried
// under the policy; waiting between them is not a stall and is not hedged.
// (A 429 asks for time, so the first failure is not asked again at once
// either: TestHedgeSameAtOnceAfterFastFailure.)
func TestHedgeSameNotDuringBackoff(t *testing.T) {
	r := sameRouter(t, 50*time.Millisecond, retry.Policy{MaxAttempts: 3, Initial: 300 * time.Millisecond, Jitter: -1})
	var calls atomic.Int32
	v, _, err := Ask(askCtx(t), r, "example.com/m", func(ctx context.Context, base *url.URL) (string, error) {
		if calls.Add(1) < 3 {
			return "", &HTTPError{Status: "429", StatusCode: 429}
		}
		answeredHook(ctx)
		return "ok", nil
	}, nil)
	if err != nil || v != "ok" {
		t.Fatalf("Ask = %q, %v", v, err)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("%d requests; want 3 (no hedge during backoff)", n)
	}
}

// TestHedgeSameAtOnceAfterFastFailure: a first attempt that fails at once
// (a 5xx, a reset, a damaged body) is asked again at once, without the
// policy's first backoff, so the fault costs a round trip,
// not the backoff; a proxy that asks for time (429, Retry-After) is left
// the backoff.
func TestHedgeSameAtOnceAfterFastFailure(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fail  error
		again bool
	}{
		{"503", &HTTPError{Status: "503", StatusCode: 503}, true},
		{"reset", syscall.ECONNRESET, true},
		{"cut body", io.ErrUnexpectedEOF, true},
		{"429", &HTTPError{Status: "429", StatusCode: 429}, false},
		{"503 with Retry-After", &HTTPError{Status: "503", StatusCode: 503, Retry: time.Second}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The backoff is long enough that only the second
			// connection can answer before it ends.
			const backoff = 2 * time.Second
			r := sameRouter(t, time.Minute, retry.Policy{MaxAttempts: 2, Initial: backoff, Jitter: -1})
			var calls atomic.Int32
			start := time.Now()
			var second time.Duration
			v, _, err := Ask(askCtx(t), r, "example.com/m", func(ctx context.Context, base *url.URL) (string, error) {
				if calls.Add(1) == 1 {
					return "", tc.fail
				}
				second = time.Since(start)
				answeredHook(ctx)
				return "ok", nil
			}, nil)
			if err != nil || v != "ok" {
				t.Fatalf("Ask = %q, %v", v, err)
			}
			if n := calls.Load(); n != 2 {
				t.Errorf("%d requests; want 2", n)
			}
			if tc.again && second >= backoff {
				t.Errorf("second request after %v; want it at once, not after the %v backoff", second, backoff)
			}
			if !tc.again && second < backoff {
				t.Errorf("second request after %v; want it after the %v backoff (the proxy asked for time)", second, backoff)
			}
		})
	}
}

// TestHedgeSameNoRetriesNoAtOnce: with retries off, a fast failure is not
// asked again either.
func TestHedgeSameNoRetriesNoAtOnce(t *testing.T) {
	r := sameRouter(t, time.Minute, retry.Policy{MaxAttempts: -1})
	var calls atomic.Int32
	_, _, err := Ask(askCtx(t), r, "example.com/m", func(ctx context.Context, base *url.URL) (string, error) {
		calls.Add(1)
		return "", &HTTPError{Status: "503", StatusCode: 503}
	}, nil)
	if err == nil || calls.Load() != 1 {
		t.Errorf("Ask: %d requests, err %v; want 1 request and the 503", calls.Load(), err)
	}
}

// TestHedgeSameOff: without HedgeSame, or with timed hedging off, a lone
// proxy is asked once per attempt.
func TestHedgeSameOff(t *testing.T) {
	for _, tc := range []struct {
		name  string
		same  bool
		hedge time.Duration
	}{{"HedgeSame false", false, 50 * time.Millisecond}, {"negative HedgeDelay", true, -1}} {
		t.Run(tc.name, func(t *testing.T) {
			r := sameRouter(t, tc.hedge, retry.Policy{MaxAttempts: 1})
			r.HedgeSame = tc.same
			var calls atomic.Int32
			v, _, err := Ask(askCtx(t), r, "example.com/m", func(ctx context.Context, base *url.URL) (string, error) {
				calls.Add(1)
				time.Sleep(300 * time.Millisecond)
				return "ok", nil
			}, nil)
			if err != nil || v != "ok" || calls.Load() != 1 {
				t.Fatalf("Ask = %q, %v after %d requests; want ok after 1", v, err, calls.Load())
			}
		})
	}
}

// TestHedgeDelayFromLatency: the delay follows the proxy's recent answers.
func TestHedgeDelayFromLatency(t *testing.T) {
	p := Proxy{Kind: KindURL, URL: &url.URL{Scheme: "https", Host: "p.x"}}
	var l latencies
	if d := l.hedgeDelay(p, time.Second); d != time.Second {
		t.Errorf("no samples: %v; want the limit", d)
	}
	for i := 0; i < 7; i++ {
		l.add(p, 10*time.Millisecond)
	}
	if d := l.hedgeDelay(p, time.Second); d != time.Second {
		t.Errorf("7 samples: %v; want the limit", d)
	}
	for i := 0; i < 100; i++ {
		l.add(p, time.Duration(100+i)*time.Millisecond)
	}
	// The ring keeps the last 64: 136ms..199ms; the 90th percentile is
	// 193ms.
	if d := l.hedgeDelay(p, time.Second); d != 2*193*time.Millisecond {
		t.Errorf("delay %v; want %v", d, 2*193*time.Millisecond)
	}
	if d := l.hedgeDelay(p, 200*time.Millisecond); d != 200*time.Millisecond {
		t.Errorf("delay %v; want the limit 200ms", d)
	}
	l2 := latencies{}
	for i := 0; i < 10; i++ {
		l2.add(p, time.Millisecond)
	}
	if d := l2.hedgeDelay(p, time.Second); d != 50*time.Millisecond {
		t.Errorf("fast proxy: %v; want the 50ms floor", d)
	}
}

// TestHedgeSameAtOnceWithinBudget: the request asked again at once is one
// of the policy's retries: with MaxAttempts 3 (-retries 2) a proxy that
// answers every request with a 503 is asked 3 times, not 4, and the
// trace numbers the attempts 1, 2 as they failed.
func TestHedgeSameAtOnceWithinBudget(t *testing.T) {
	r := sameRouter(t, time.Minute, retry.Policy{MaxAttempts: 3, Initial: time.Millisecond, Max: time.Millisecond, Jitter: -1})
	var trace strings.Builder
	var mu sync.Mutex
	r.Client.Trace = lockedWriter{&mu, &trace}
	var calls atomic.Int32
	_, _, err := Ask(askCtx(t), r, "example.com/m", func(ctx context.Context, base *url.URL) (string, error) {
		calls.Add(1)
		return "", &HTTPError{Status: "503", StatusCode: 503}
	}, nil)
	if err == nil {
		t.Fatal("Ask succeeded; want the 503")
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("%d requests with MaxAttempts 3; want 3 (2 retries)", n)
	}
	if n := r.Retries(); n != 2 {
		t.Errorf("Retries() = %d; want 2", n)
	}
	mu.Lock()
	got := trace.String()
	mu.Unlock()
	for _, want := range []string{"(attempt 1 failed", "(attempt 2 failed"} {
		if strings.Count(got, want) != 1 {
			t.Errorf("trace holds %q %d times; want once:\n%s", want, strings.Count(got, want), got)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestHedgeSameAtOnceAtMostTwice: a lane's retries go at once twice at
// most, even at a proxy that answers other requests between (no storm):
// the rest wait the backoff.
func TestHedgeSameAtOnceAtMostTwice(t *testing.T) {
	r := sameRouter(t, time.Minute, retry.Policy{MaxAttempts: 6, Initial: time.Millisecond, Max: time.Millisecond, Jitter: -1})
	var trace strings.Builder
	var mu sync.Mutex
	r.Client.Trace = lockedWriter{&mu, &trace}
	calls := 0
	_, _, err := Ask(askCtx(t), r, "example.com/m", func(ctx context.Context, base *url.URL) (string, error) {
		calls++
		// Another request's answer: the proxy is not in a storm.
		r.storms.set(Proxy{Kind: KindURL, URL: base}, false)
		return "", &HTTPError{Status: "503", StatusCode: 503}
	}, nil)
	if err == nil {
		t.Fatal("Ask succeeded")
	}
	if calls != 6 {
		t.Errorf("%d attempts; want 6", calls)
	}
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(trace.String(), " in 0.000s "); n != 2 {
		t.Errorf("%d retries at once; want 2:\n%s", n, trace.String())
	}
}

// TestHedgeSameAtOnceNotInStorm: a proxy that fails the request asked
// again at once too (a 503 storm, not the odd fault) is not asked twice
// in a row by the requests that follow: they wait the backoff, until it
// answers one.
func TestHedgeSameAtOnceNotInStorm(t *testing.T) {
	r := sameRouter(t, time.Minute, retry.Policy{MaxAttempts: 4, Initial: time.Millisecond, Max: time.Millisecond, Jitter: -1})
	var trace strings.Builder
	var mu sync.Mutex
	r.Client.Trace = lockedWriter{&mu, &trace}
	var healthy atomic.Bool
	atOnce := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := strings.Count(trace.String(), " in 0.000s ")
		trace.Reset()
		return n
	}
	ask := func() error {
		_, _, err := Ask(askCtx(t), r, "example.com/m", func(ctx context.Context, base *url.URL) (string, error) {
			if healthy.Load() {
				answeredHook(ctx)
				return "ok", nil
			}
			return "", &HTTPError{Status: "503", StatusCode: 503}
		}, nil)
		return err
	}
	if err := ask(); err == nil {
		t.Fatal("Ask succeeded in the storm")
	}
	// Its first retry at once fails, then its second: two in a row
	// make the storm, and its last retry waits the backoff.
	if n := atOnce(); n != 2 {
		t.Errorf("first request in the storm: %d retries at once; want 2", n)
	}
	for i := 0; i < 3; i++ {
		ask()
	}
	if n := atOnce(); n != 0 {
		t.Errorf("3 more requests in the storm: %d retries at once; want 0 (the storm was seen)", n)
	}
	healthy.Store(true)
	if err := ask(); err != nil {
		t.Fatal(err)
	}
	healthy.Store(false)
	ask()
	if n := atOnce(); n != 2 {
		t.Errorf("after the proxy answered: %d retries at once; want 2 (the storm is over)", n)
	}
}

// TestHedgeSameAtOnceStormConcurrent: n requests whose first attempts
// all fail fast together at a proxy in a storm send it n retries at once
// (none has failed yet to show the storm) and at most stormAfter-1 more:
// a lane's second retry at once goes only while fewer than stormAfter
// retries at once have failed, its own included.
func TestHedgeSameAtOnceStormConcurrent(t *testing.T) {
	const n = 64
	r := sameRouter(t, time.Minute, retry.Policy{MaxAttempts: 4, Initial: time.Millisecond, Max: time.Millisecond, Jitter: -1})
	var trace strings.Builder
	var mu sync.Mutex
	r.Client.Trace = lockedWriter{&mu, &trace}
	ctx := askCtx(t)
	// The first two attempts of every request meet before any fails:
	// all of them decide on their retry at once before any retry at
	// once has failed.
	var barriers [2]sync.WaitGroup
	var met [2]chan struct{}
	for i := range barriers {
		barriers[i].Add(n)
		met[i] = make(chan struct{})
		go func() { barriers[i].Wait(); close(met[i]) }()
	}
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			calls := 0
			Ask(ctx, r, "example.com/m", func(ctx context.Context, base *url.URL) (string, error) {
				calls++
				if calls <= len(barriers) {
					barriers[calls-1].Done()
					select {
					case <-met[calls-1]:
					case <-ctx.Done():
						return "", ctx.Err()
					}
				}
				return "", &HTTPError{Status: "503", StatusCode: 503}
			}, nil)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatal("the requests did not end in time")
	}
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Count(trace.String(), " in 0.000s "); got < n || got > n+stormAfter-1 {
		t.Errorf("%d retries at once from %d requests failing together; want %d to %d", got, n, n, n+stormAfter-1)
	}
}

// TestUrgentTwiceWhenFaulty: a request someone waits on (Urgent) to a
// proxy that failed more than the odd attempt lately goes out twice at
// once, the first answer winning; not when the proxy has been answering,
// nor a request no one waits on, nor during a storm.
func TestUrgentTwiceWhenFaulty(t *testing.T) {
	// A long hedge delay: a second request can only be the one at once.
	r := sameRouter(t, time.Minute, retry.Policy{MaxAttempts: 1})
	p := r.Proxies[0]
	waiting := true
	ctx := Urgent(askCtx(t), func() bool { return waiting })
	// ask asks once, each request's attempt blocking until both of a
	// pair arrived (or, for a single one, answering at once), and
	// returns how many attempts were made.
	ask := func(ctx context.Context, wantTwo bool) int32 {
		t.Helper()
		var calls atomic.Int32
		both := make(chan struct{})
		v, _, err := Ask(ctx, r, "example.com/m", func(actx context.Context, base *url.URL) (string, error) {
			n := calls.Add(1)
			if n == 2 {
				close(both)
			}
			if wantTwo {
				select {
				case <-both:
				case <-actx.Done():
					return "", actx.Err()
				case <-time.After(10 * time.Second):
					return "", errors.New("the second request never came")
				}
			}
			answeredHook(actx)
			return "ok", nil
		}, nil)
		if err != nil || v != "ok" {
			t.Fatalf("Ask = %q, %v; want ok", v, err)
		}
		return calls.Load()
	}
	if n := ask(ctx, false); n != 1 {
		t.Fatalf("a proxy that answers: %d requests; want 1", n)
	}
	for range faultyAfter - 1 {
		r.outcomes.add(p, false)
	}
	if n := ask(ctx, false); n != 1 {
		t.Fatalf("%d failed attempts of the last %d: %d requests; want 1", faultyAfter-1, faultyAfter, n)
	}
	r.outcomes.add(p, false)
	if n := ask(ctx, true); n != 2 {
		t.Fatalf("a faulty proxy, a request someone waits on: %d requests; want 2 at once", n)
	}
	waiting = false
	if n := ask(ctx, false); n != 1 {
		t.Fatalf("a faulty proxy, a request no one waits on: %d requests; want 1", n)
	}
	if n := ask(askCtx(t), false); n != 1 {
		t.Fatalf("a faulty proxy, a request not marked Urgent: %d requests; want 1", n)
	}
	waiting = true
	r.storms.set(p, true)
	r.storms.set(p, true)
	if n := ask(ctx, false); n != 1 {
		t.Fatalf("a faulty proxy in a storm: %d requests; want 1", n)
	}
	r.storms.set(p, false)
	// Answers push the failures out of the window.
	for range outcomeWindow {
		r.outcomes.add(p, true)
	}
	if n := ask(ctx, false); n != 1 {
		t.Fatalf("a proxy answering again: %d requests; want 1", n)
	}
}

// TestUrgentTwiceOneFails: of two requests at once, one failing does not
// fail the request: the other's answer wins.
func TestUrgentTwiceOneFails(t *testing.T) {
	r := sameRouter(t, time.Minute, retry.Policy{MaxAttempts: 1})
	for range faultyAfter {
		r.outcomes.add(r.Proxies[0], false)
	}
	var calls atomic.Int32
	v, _, err := Ask(Urgent(askCtx(t), func() bool { return true }), r, "example.com/m", func(ctx context.Context, base *url.URL) (string, error) {
		if calls.Add(1) == 1 {
			return "", &HTTPError{Status: "502 Bad Gateway", StatusCode: 502}
		}
		answeredHook(ctx)
		return "ok", nil
	}, nil)
	if err != nil || v != "ok" {
		t.Fatalf("Ask = %q, %v; want the other request's answer", v, err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d requests; want 2", n)
	}
}

// TestUrgentNotWhenThrottled: a proxy whose failures were requests to
// slow down (429, or any answer with Retry-After) is not asked twice at
// once for an Urgent request: it asked for time, as the retry at once
// respects (throttled). A proxy that failed as often with 502s is.
func TestUrgentNotWhenThrottled(t *testing.T) {
	for _, tc := range []struct {
		status int
		twice  bool
	}{
		{429, false},
		{502, true},
	} {
		var trace strings.Builder
		r := sameRouter(t, time.Minute, retry.Policy{MaxAttempts: 2, Initial: time.Millisecond, Max: time.Millisecond})
		r.Client.Trace = &trace
		// faultyAfter requests whose first attempt failed (no one waits).
		for range faultyAfter {
			var calls atomic.Int32
			v, _, err := Ask(askCtx(t), r, "example.com/m", func(ctx context.Context, base *url.URL) (string, error) {
				if calls.Add(1) == 1 {
					return "", &HTTPError{Status: "failing", StatusCode: tc.status}
				}
				answeredHook(ctx)
				return "ok", nil
			}, nil)
			if err != nil || v != "ok" {
				t.Fatalf("%d: Ask = %q, %v; want ok", tc.status, v, err)
			}
		}
		before := trace.Len()
		v, _, err := Ask(Urgent(askCtx(t), func() bool { return true }), r, "example.com/m", func(ctx context.Context, base *url.URL) (string, error) {
			answeredHook(ctx)
			return "ok", nil
		}, nil)
		if err != nil || v != "ok" {
			t.Fatalf("%d: urgent Ask = %q, %v; want ok", tc.status, v, err)
		}
		if got := strings.Contains(trace.String()[before:], "twice at once"); got != tc.twice {
			t.Errorf("after %d requests failing once with %d, an urgent request asked twice at once: %v; want %v\n%s", faultyAfter, tc.status, got, tc.twice, trace.String())
		}
	}
}
