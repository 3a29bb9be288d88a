package proxy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"gomodfetch/internal/errline"
	"gomodfetch/retry"
)

// Router asks a GOPROXY list for things, by the go command's rules for the
// list and with gomodfetch's resilience: retries under a policy, hedging
// inside runs of '|'-joined proxies, demotion of proxies that keep failing.
// Its zero value is not usable: Proxies and Client are required. It is safe
// for concurrent use.
type Router struct {
	Proxies []Proxy
	Client  *Client
	// NoProxy reports whether path must never be sent to a proxy
	// (GONOPROXY, defaulting to GOPRIVATE): it is then asked of "direct"
	// alone. Nil means no such path.
	NoProxy func(path string) bool
	// Policy governs retries of each request (zero: retry's defaults).
	Policy retry.Policy
	// HedgeDelay: inside a run of '|'-joined proxies, the next proxy is
	// asked too when the current one has not answered in this long
	// (zero: 1s; negative: only after a failed attempt).
	HedgeDelay time.Duration
	// HedgeAcrossComma treats ',' like '|' (opt-in: later proxies then see
	// requests for modules an earlier one would have served).
	HedgeAcrossComma bool
	// HedgeSame asks a proxy that is alone in its run a second time, on
	// another connection, when an attempt of a request has gone without an
	// answer (response headers) for longer than its recent answers took:
	// twice the 90th percentile of the last answers' times (at least 50ms),
	// never later than HedgeDelay. The first answer wins; a "not found" or
	// a refusal from either ends both. Off with a negative HedgeDelay.
	// When the first attempt of a request fails fast (a 5xx, a reset, a
	// cut or damaged body, within the hedge delay), it is asked again at
	// once, not after the policy's first backoff: one fault then costs a
	// round trip. That retry is one of the policy's. Not when the proxy
	// asked for time (429, or any answer with Retry-After), nor while it
	// fails more than the odd request (once a retry at once failed too,
	// until it answers one); an attempt that failed slowly, and every
	// later one, waits the backoff.
	HedgeSame bool
	// DemoteAfter is how many requests in a row (each after its own
	// retries) must fail at a proxy before it is asked last in its run for
	// the rest of the run; a success forgives it (zero: 3).
	DemoteAfter int
	// OnEvent, if not nil, is told of each retry ("retry"), each request
	// that failed at a proxy after its retries ("failure") and each
	// demotion ("demoted"), for metrics. It must not block.
	OnEvent func(p Proxy, event string)

	health   health
	latency  latencies // time to an answer, per proxy (HedgeSame)
	storms   storms    // proxies whose retry at once failed too (HedgeSame)
	outcomes outcomes  // recent attempts' outcomes, per proxy (Urgent)
	retries  atomic.Int64
	counters counters // per proxy, for ProxyStats (stats.go)
}

// Retries returns how many attempts have been retried so far.
func (r *Router) Retries() int64 { return r.retries.Load() }

type urgentKey struct{}

// Urgent returns a context whose requests someone is waiting on, one at a
// time (a go command through serve asks two things at once and waits on
// each .mod and .info before it knows the next), while waiting reports
// true. With Router.HedgeSame, such a request to a proxy alone in its run
// that fails more than the odd attempt lately (faulty: at least
// faultyAfter of its last outcomeWindow attempts failed) and is not in a
// storm goes out twice at once, on two connections, the first answer
// winning: each fault then costs nothing when the other attempt succeeds,
// rather than a round trip (terraform through serve under the bench's
// flaky profile, 30% of answers faulted: its go.mod reads that waited on
// upstream took 116 ms each, a clean round trip 53 ms). Only for small
// answers: both attempts read their whole body.
func Urgent(ctx context.Context, waiting func() bool) context.Context {
	return context.WithValue(ctx, urgentKey{}, waiting)
}

func urgent(ctx context.Context) bool {
	waiting, ok := ctx.Value(urgentKey{}).(func() bool)
	return ok && waiting()
}

type avoidKey struct{}

// Avoiding returns a context whose Ask calls ask p last in its run: p's
// answer to this request was refused after Ask took it (a hash that did not
// match), so the next try should prefer another proxy of a '|' run.
func Avoiding(ctx context.Context, p Proxy) context.Context {
	old, _ := ctx.Value(avoidKey{}).(map[string]bool)
	avoid := make(map[string]bool, len(old)+1)
	for k := range old {
		avoid[k] = true
	}
	avoid[p.String()] = true
	return context.WithValue(ctx, avoidKey{}, avoid)
}

// Retried records a retry that a caller makes above Ask: an answer that
// Ask accepted from p but a later check refused. It is traced and counted
// like the Router's own, and counts as a request that failed at p, so a
// proxy that keeps serving bad answers is asked last (and a '|' run's next
// proxy first) on the next try.
func (r *Router) Retried(p Proxy, a retry.Attempt) {
	r.retries.Add(1)
	r.event(p, "retry")
	r.Client.Tracef("# retry %s in %.3fs (attempt %d failed: %s)\n", p, a.Wait.Seconds(), a.N, errline.First(a.Err))
	if p.Kind == KindURL && r.health.failed(p, r.demoteAfter()) {
		r.event(p, "demoted")
		r.Client.Tracef("# demoting %s for the rest of the run: it keeps failing\n", p)
	}
}

func (r *Router) event(p Proxy, what string) {
	if r.OnEvent != nil {
		r.OnEvent(p, what)
	}
}

// For returns the GOPROXY entries that may be asked about path.
func (r *Router) For(path string) []Proxy {
	if r.NoProxy != nil && r.NoProxy(path) {
		return []Proxy{{Kind: KindDirect}}
	}
	return r.Proxies
}

// NeedVCSError says that, by the GOPROXY list, path can only come from
// its version control system (the list's "direct" entry, or GONOPROXY),
// which gomodfetch leaves to the go command.
type NeedVCSError struct{ Path string }

func (e *NeedVCSError) Error() string {
	return fmt.Sprintf("%s must be fetched from version control (GOPROXY's \"direct\" or GONOPROXY), and the go command hand-off is not configured; run 'go mod download %s' for it", e.Path, e.Path)
}

// Attempt makes one attempt at a request against the proxy at base and
// returns its (verified) result.
type Attempt[T any] func(ctx context.Context, base *url.URL) (T, error)

// Ask runs one request for path against r's list and returns the first
// verified answer and the proxy that gave it. discard, if not nil, gets
// each other answer that came too late to win (a hedge's loser).
func Ask[T any](ctx context.Context, r *Router, path string, attempt Attempt[T], discard func(T)) (T, Proxy, error) {
	var zero T
	v, p, err := r.ask(ctx, path, func(ctx context.Context, base *url.URL) (any, error) {
		return attempt(ctx, base)
	}, func(v any) {
		if discard != nil {
			discard(v.(T))
		}
	})
	if err != nil {
		return zero, p, err
	}
	return v.(T), p, nil
}

// attemptFunc makes one attempt at a request against the proxy at base and
// returns its (verified) result.
type attemptFunc func(ctx context.Context, base *url.URL) (any, error)

// ask is Ask, untyped.
//
// The list is walked in runs: entries joined by '|' form one run, and the
// run's last entry decides whether its failure falls through (after ',' only
// "not found" does, as in the go command). Inside a run the proxies are
// asked in order, but not one after the other: the next one is asked too as
// soon as the current one fails an attempt or has not answered within the
// hedge delay, and the first verified answer wins; the others are cancelled
// and whatever they produced is passed to discard. Each proxy's attempts are
// retried under the retry policy. Requests never cross a ',' early unless
// HedgeAcrossComma says so.
func (r *Router) ask(ctx context.Context, path string, attempt attemptFunc, discard func(any)) (any, Proxy, error) {
	const (
		rankNotExist = iota
		rankProxy
		rankDirect
	)
	var (
		best     error
		bestRank int
		tried    []string // "proxy: error" for every URL proxy that failed
	)
	for _, run := range splitRuns(r.For(path), r.HedgeAcrossComma) {
		v, p, errs := r.askRun(ctx, path, run, attempt, discard)
		if errs == nil {
			return v, p, nil
		}
		for i, err := range errs {
			if err != nil && run[i].Kind == KindURL && !errors.Is(err, fs.ErrNotExist) {
				tried = append(tried, run[i].String()+": "+errline.First(err))
			}
		}
		// Rank the run's errors in list order, as go ranks its list.
		for i, err := range errs {
			if err == nil {
				continue
			}
			notExist := errors.Is(err, fs.ErrNotExist)
			switch {
			case run[i].Kind == KindDirect:
				best, bestRank = err, rankDirect
			case bestRank <= rankProxy && !notExist:
				best, bestRank = err, rankProxy
			case bestRank == rankNotExist:
				best = err
			}
		}
		last := run[len(run)-1]
		lastErr := errs[len(errs)-1]
		if !last.FallbackOnError && !r.HedgeAcrossComma && !errors.Is(lastErr, fs.ErrNotExist) {
			break
		}
		if ctx.Err() != nil {
			break
		}
	}
	if len(tried) > 1 && !errors.Is(best, fs.ErrNotExist) {
		return nil, Proxy{}, &ListError{Err: best, Tried: tried}
	}
	return nil, Proxy{}, best
}

// ListError is a request that failed at more than one proxy: the most
// informative error, and what each proxy answered.
type ListError struct {
	Err   error
	Tried []string
}

func (e *ListError) Error() string {
	s := e.Err.Error()
	for _, t := range e.Tried {
		s += "\n\ttried " + t
	}
	return s
}

func (e *ListError) Unwrap() error { return e.Err }

// splitRuns groups a proxy list into runs of URL entries joined by '|'
// (or by anything, if acrossComma); direct and off stand alone.
func splitRuns(list []Proxy, acrossComma bool) [][]Proxy {
	var runs [][]Proxy
	var cur []Proxy
	for _, p := range list {
		if p.Kind != KindURL {
			if cur != nil {
				runs = append(runs, cur)
				cur = nil
			}
			runs = append(runs, []Proxy{p})
			continue
		}
		cur = append(cur, p)
		if !p.FallbackOnError && !acrossComma {
			runs = append(runs, cur)
			cur = nil
		}
	}
	if cur != nil {
		runs = append(runs, cur)
	}
	return runs
}

type laneResult struct {
	i      int
	k      int // the lane's place in the asking order: > 0 is a hedge
	v      any
	err    error
	failed int // attempts that failed
}

// askRun asks the proxies of one run, hedging between them. On success it
// returns the value and the proxy; otherwise errs holds each entry's error in
// run order (nil for entries never asked).
func (r *Router) askRun(ctx context.Context, path string, run []Proxy, attempt attemptFunc, discard func(any)) (any, Proxy, []error) {
	if len(run) == 1 && run[0].Kind != KindURL {
		if run[0].Kind == KindOff {
			return nil, Proxy{}, []error{errLookupDisabled}
		}
		return nil, Proxy{}, []error{&NeedVCSError{Path: path}}
	}

	order := r.health.order(run, r.demoteAfter()) // indexes into run, demoted proxies last
	if avoid, _ := ctx.Value(avoidKey{}).(map[string]bool); len(avoid) > 0 {
		// Proxies whose answer to this request was refused go last.
		sort.SliceStable(order, func(a, b int) bool { return !avoid[run[order[a]].String()] && avoid[run[order[b]].String()] })
	}
	hedge := r.HedgeDelay
	if hedge == 0 {
		hedge = time.Second
	}
	// same: one proxy alone in its run may be asked a second time (lane 1).
	same := r.HedgeSame && hedge > 0 && len(order) == 1
	lanes := len(order)
	if same {
		lanes = sameLanes
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan laneResult, lanes)
	kick := make(chan struct{}, 4*lanes)
	sameDelay := r.latency.hedgeDelay(run[order[0]], hedge)
	answered := make([]atomic.Bool, lanes)
	since := make([]atomic.Int64, lanes) // when the lane's attempt in progress began (0: none)

	start := func(k int) {
		i := order[min(k, len(order)-1)]
		p := run[i]
		lctx := withLaneHooks(ctx, laneHooks{
			answered: func() {
				if !answered[k].Swap(true) {
					if t := since[k].Load(); t != 0 {
						r.latency.add(p, time.Since(time.Unix(0, t)))
					}
				}
			},
			// Time spent waiting for a place to send the request (the
			// client's per-host bound, serve's upstream gate) is not time
			// without an answer: the clock starts when it is sent. Before,
			// a request queued behind -conns others was hedged, and both
			// then downloaded the whole zip.
			// A request sent within an attempt that already had an
			// answer (a cut body resumed by a range request) is watched
			// anew: before, the resume that stalled waited the whole
			// header timeout (terraform under the flaky profile: 30 s).
			waiting: func() { since[k].Store(0) },
			sent: func() {
				answered[k].Store(false)
				since[k].Store(time.Now().UnixNano())
			},
		})
		r.counters.request(p)
		go func() {
			var v any
			failed := 0
			policy := r.Policy
			atOnce := false // the attempt in progress was asked at once
			if same {
				// An attempt that failed fast is asked again at once, as
				// one of the policy's retries, twice at most per lane;
				// not when the proxy asked for time, nor while it fails
				// more than the odd request (storms).
				used := 0
				policy.AtOnce = func(err error, took time.Duration) bool {
					atOnce = used < maxAtOnce && took < sameDelay && !throttled(err) && !r.storms.on(p)
					if atOnce {
						used++
					}
					return atOnce
				}
			}
			err := retry.Do(lctx, policy, func(actx context.Context) error {
				// Each attempt is hedged on its own: an earlier attempt
				// that got its headers (and then a 503) says nothing
				// about this one, which may stall.
				answered[k].Store(false)
				since[k].Store(time.Now().UnixNano())
				defer since[k].Store(0)
				var err error
				v, err = attempt(actx, p.URL)
				if lctx.Err() == nil {
					r.outcomes.add(p, err == nil || retry.Classify(err) != retry.Transient || throttled(err))
				}
				switch {
				case err == nil, errors.Is(err, fs.ErrNotExist):
					r.storms.set(p, false) // it answers
				case atOnce && retry.Classify(err) == retry.Transient && lctx.Err() == nil:
					r.storms.set(p, true)
				}
				atOnce = false
				return err
			}, func(a retry.Attempt) {
				failed++
				r.retries.Add(1)
				r.event(p, "retry")
				r.counters.retried(p, a.Err)
				r.Client.Tracef("# retry %s in %.3fs (attempt %d failed: %s)\n", p, a.Wait.Seconds(), a.N, errline.First(a.Err))
				select {
				case kick <- struct{}{}:
				default:
				}
			})
			results <- laneResult{i: i, k: k, v: v, err: err, failed: failed}
		}()
	}

	var timer <-chan time.Time
	var t *time.Timer
	arm := func(d time.Duration) {
		if t != nil {
			t.Stop()
		}
		t = time.NewTimer(d)
		timer = t.C
	}
	resetTimer := func() {
		switch {
		case same:
			arm(sameDelay)
		case hedge > 0 && len(order) > 1:
			arm(hedge)
		}
	}
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()

	started, pending := 1, 1
	start(0)
	if same && urgent(ctx) && r.outcomes.faulty(run[order[0]]) && !r.storms.on(run[order[0]]) {
		r.Client.Tracef("# hedge: asking %s twice at once (it fails more than the odd request)\n", run[order[0]])
		start(1)
		started, pending = 2, 2
	}
	resetTimer()
	next := func(why string) {
		if started >= len(order) {
			return
		}
		r.Client.Tracef("# hedge: asking %s too (%s)\n", run[order[started]], why)
		start(started)
		started++
		pending++
		resetTimer()
	}

	errs := make([]error, len(run))
	var (
		winner  *laneResult
		decided bool // a lane of a same-proxy pair said "no" for both
	)
	for pending > 0 {
		select {
		case res := <-results:
			pending--
			p := run[res.i]
			// Whether the request was still undecided when this result
			// came: a lane's own "no" ends the others (cancel) but is
			// still this request's error, counted as such.
			live := ctx.Err() == nil
			if same && res.err != nil && winner == nil {
				switch {
				case decided:
					continue // cut by the other lane's answer
				case pending > 0 && retry.Classify(res.err) == retry.Transient:
					// The other lane may still get an answer.
					r.counters.failed(p, res.err)
					continue
				default:
					decided = true
					cancel()
				}
			}
			if res.err == nil {
				r.health.ok(p)
				if winner == nil {
					rr := res
					winner = &rr
					cancel() // the others lose
					if res.k > 0 {
						r.counters.hedgeWon(p)
					}
				} else if discard != nil {
					discard(res.v)
				}
				continue
			}
			errs[res.i] = res.err
			if winner == nil && live {
				r.counters.failed(p, res.err)
			}
			// A request failed at p if its retries ran out, or if it was
			// still failing when another proxy answered; not if p was
			// merely slower, or said "not found".
			if (winner == nil && live && retry.Classify(res.err) == retry.Transient) || res.failed > 0 {
				r.event(p, "failure")
				if r.health.failed(p, r.demoteAfter()) {
					r.event(p, "demoted")
					r.counters.demoted(p)
					r.Client.Tracef("# demoting %s for the rest of the run: it keeps failing\n", p)
				}
			}
			if winner == nil {
				next(fmt.Sprintf("%s failed", p))
			}
		case <-kick:
			if winner == nil {
				next("an attempt failed")
			}
		case <-timer:
			timer = nil
			if same {
				if winner != nil || decided || started >= lanes {
					continue
				}
				// An attempt that has its headers reads its body; if it
				// is cut, the retry may stall: keep watching.
				reading := false
				for k := range started {
					reading = reading || answered[k].Load()
				}
				if reading {
					arm(sameDelay)
					continue
				}
				// Hedge an attempt that has waited too long, not the
				// request: between attempts a lane is backing off. The
				// newest lane is watched: when it too goes that long
				// without an answer (both stalled), one more is asked.
				if t0 := since[started-1].Load(); t0 != 0 {
					if waited := time.Since(time.Unix(0, t0)); waited >= sameDelay {
						r.Client.Tracef("# hedge: asking %s again (no answer within %v)\n", run[order[0]], sameDelay.Round(time.Millisecond))
						start(started)
						started++
						pending++
						arm(sameDelay)
						continue
					} else {
						arm(sameDelay - waited)
						continue
					}
				}
				arm(sameDelay)
				continue
			}
			if winner == nil && !answered[started-1].Load() {
				next(fmt.Sprintf("no answer within %v", hedge))
			}
		}
	}
	if winner != nil {
		return winner.v, run[winner.i], nil
	}
	// Entries never asked count as "not asked": report the last asked
	// error in their place so the fall-through rule sees a real error.
	var last error
	for _, e := range errs {
		if e != nil {
			last = e
		}
	}
	for i := range errs {
		if errs[i] == nil {
			errs[i] = last
		}
	}
	return nil, Proxy{}, errs
}

// sameLanes is how many times at once a proxy alone in its run may be
// asked the same request (HedgeSame): the first attempt, a hedge when it
// stalls, and one more when that one stalls too. With two, a request
// whose hedge also stalled (or whose hedge failed and its retry stalled)
// waited the whole header timeout: under a 2% stall rate about one
// request in a thousand, 30 s each.
const sameLanes = 3

// throttled reports whether err is a proxy asking for time: a 429, or any
// answer with a Retry-After hint. Such a failure is not asked again at
// once.
func throttled(err error) bool {
	var se retry.StatusError
	if errors.As(err, &se) && se.HTTPStatus() == 429 {
		return true
	}
	return retry.RetryAfter(err) > 0
}

// latencies keeps, per proxy, how long its last answers took (from an
// attempt's start to its response headers), to tell a slow attempt from a
// stalled one.
type latencies struct {
	mu sync.Mutex
	m  map[string]*latencyRing
}

type latencyRing struct {
	d    [64]time.Duration
	n    int // samples recorded (the ring holds the last len(d))
	next int
}

func (l *latencies) add(p Proxy, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]*latencyRing{}
	}
	r := l.m[p.String()]
	if r == nil {
		r = &latencyRing{}
		l.m[p.String()] = r
	}
	r.d[r.next] = d
	r.next = (r.next + 1) % len(r.d)
	r.n++
}

// hedgeDelay is how long an attempt at p may go without an answer before
// p is asked again: twice the 90th percentile of its recent answers' times,
// at least 50ms, at most limit (and limit itself until p has answered 8
// times).
func (l *latencies) hedgeDelay(p Proxy, limit time.Duration) time.Duration {
	const minSamples, floor = 8, 50 * time.Millisecond
	l.mu.Lock()
	r := l.m[p.String()]
	var s []time.Duration
	if r != nil && r.n >= minSamples {
		s = append(s, r.d[:min(r.n, len(r.d))]...)
	}
	l.mu.Unlock()
	if s == nil {
		return limit
	}
	slices.Sort(s)
	d := 2 * s[len(s)*9/10]
	return min(max(d, floor), limit)
}

// outcomeWindow is how many of a proxy's latest attempts outcomes keeps;
// faultyAfter how many of them must have failed for the proxy to be
// faulty (Urgent): 4 in 32 (12.5%), where one fault now and then is
// left to the retry at once.
const (
	outcomeWindow = 32
	faultyAfter   = 4
)

// outcomes remembers, per proxy, whether each of its latest attempts got
// an answer (a "not found" or refusal counts as one) or failed transiently
// (a 5xx, a reset, a cut or damaged body, a timeout). Attempts cancelled
// because another won are not counted. A proxy asking for time (a 429, or
// any answer with Retry-After: throttled) answered: asking it twice at
// once would ask more of it, as the retry at once does not.
type outcomes struct {
	mu sync.Mutex
	m  map[string]*outcomeRing
}

type outcomeRing struct {
	failed [outcomeWindow]bool
	next   int
	n      int // attempts recorded, up to outcomeWindow
	bad    int // failed among them
}

func (o *outcomes) add(p Proxy, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil {
		o.m = map[string]*outcomeRing{}
	}
	r := o.m[p.String()]
	if r == nil {
		r = &outcomeRing{}
		o.m[p.String()] = r
	}
	if r.n == outcomeWindow && r.failed[r.next] {
		r.bad--
	}
	r.failed[r.next] = !ok
	if !ok {
		r.bad++
	}
	r.next = (r.next + 1) % outcomeWindow
	r.n = min(r.n+1, outcomeWindow)
}

// faulty reports whether faultyAfter or more of p's latest attempts failed.
func (o *outcomes) faulty(p Proxy) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.m[p.String()]
	return r != nil && r.bad >= faultyAfter
}

// maxAtOnce is how many of one lane's retries may go at once
// (Router.HedgeSame). Under the bench's flaky profile (30% of answers
// faulted, each fault on its own) one retry at once in ten fails too, and
// with one the request then waited the backoff (100-300 ms): most of what
// a miss through serve cost above a round trip.
const maxAtOnce = 2

// stormAfter is how many retries asked at once may fail in a row at a
// proxy, whatever requests they belong to, before it is taken for a
// storm (storms).
const stormAfter = 2

// storms remembers the proxies where retries asked at once (Router.HedgeSame)
// failed too, stormAfter in a row with no answer between: such a proxy
// fails more than the odd request (a 503 storm), and asking each request
// again at once would add to the load it is failing under. Its failures
// wait the backoff again until it answers a request.
type storms struct {
	mu sync.Mutex
	m  map[string]int // proxy → retries at once that failed since its last answer
}

func (s *storms) on(p Proxy) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[p.String()] >= stormAfter
}

// set counts a retry at once that failed at p (on), or forgets them when
// p answered.
func (s *storms) set(p Proxy, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case on && s.m == nil:
		s.m = map[string]int{p.String(): 1}
	case on:
		s.m[p.String()]++
	default:
		delete(s.m, p.String())
	}
}

// health remembers which proxies keep failing, to ask them last.
type health struct {
	mu    sync.Mutex
	fails map[string]int // proxy → requests failed in a row
}

func (r *Router) demoteAfter() int {
	if r.DemoteAfter > 0 {
		return r.DemoteAfter
	}
	return 3
}

// order returns the indexes of run, demoted proxies (limit failures in a
// row) last.
func (h *health) order(run []Proxy, limit int) []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	var good, bad []int
	for i, p := range run {
		if h.fails[p.String()] >= limit {
			bad = append(bad, i)
		} else {
			good = append(good, i)
		}
	}
	return append(good, bad...)
}

// failed records a failed request (one whose retries are spent) and
// reports whether p just became demoted (a success in between forgives it).
func (h *health) failed(p Proxy, limit int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fails == nil {
		h.fails = map[string]int{}
	}
	h.fails[p.String()]++
	return h.fails[p.String()] == limit
}

func (h *health) ok(p Proxy) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.fails, p.String())
}

type laneHooksKey struct{}

// laneHooks are what a lane of askRun is told of its requests: answered
// once the proxy has answered (response headers with 200 OK); waiting
// when a request waits for a place to be sent (Client.acquire), sent when
// it has one and goes out.
type laneHooks struct{ answered, waiting, sent func() }

// withLaneHooks returns a context whose requests call h's functions.
func withLaneHooks(ctx context.Context, h laneHooks) context.Context {
	return context.WithValue(ctx, laneHooksKey{}, h)
}

func answeredHook(ctx context.Context) {
	if h, ok := ctx.Value(laneHooksKey{}).(laneHooks); ok && h.answered != nil {
		h.answered()
	}
}

func waitingHook(ctx context.Context) {
	if h, ok := ctx.Value(laneHooksKey{}).(laneHooks); ok && h.waiting != nil {
		h.waiting()
	}
}

func sentHook(ctx context.Context) {
	if h, ok := ctx.Value(laneHooksKey{}).(laneHooks); ok && h.sent != nil {
		h.sent()
	}
}

// ReusableAt reports whether a -reuse record for path could be confirmed,
// as the go command confirms one: only a repository can, and the go
// command asks the list's entries in order, moving past a proxy (which
// cannot confirm anything) only when it is followed by '|'.
func (r *Router) ReusableAt(path string) bool {
	for _, p := range r.For(path) {
		switch {
		case p.Kind == KindDirect:
			return true
		case p.Kind == KindOff || !p.FallbackOnError:
			return false
		}
	}
	return false
}
