package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gomodfetch/goauth"
	"gomodfetch/internal/termsafe"
	"gomodfetch/retry"
)

// HTTPError is a response from a proxy that was not 200 OK, or a file://
// proxy's missing file. Like the go command's, it matches fs.ErrNotExist
// for 404 and 410, so "not found" falls through a GOPROXY list.
type HTTPError struct {
	URL        string // redacted
	Status     string // "404 Not Found"
	StatusCode int
	Detail     string // first lines of a text/plain body, if any
	Retry      time.Duration
	// Err is a file:// proxy's failure to open the file, printed in
	// place of Status as the go command prints it.
	Err error
}

func (e *HTTPError) Error() string {
	if e.Detail != "" {
		sep := " "
		if strings.Contains(e.Detail, "\n") {
			sep = "\n\t" // the detail's own lines are tab-indented
		}
		return fmt.Sprintf("reading %s: %s\n\tserver response:%s%s", e.URL, e.Status, sep, e.Detail)
	}
	if e.Err != nil {
		return fmt.Sprintf("reading %s: %v", e.URL, e.Err)
	}
	return fmt.Sprintf("reading %s: %s", e.URL, e.Status)
}

// Unwrap returns a file:// proxy's open error.
func (e *HTTPError) Unwrap() error { return e.Err }

// Is makes 404 and 410 match fs.ErrNotExist.
func (e *HTTPError) Is(target error) bool {
	return target == fs.ErrNotExist && (e.StatusCode == 404 || e.StatusCode == 410)
}

// HTTPStatus implements retry.StatusError.
func (e *HTTPError) HTTPStatus() int { return e.StatusCode }

// RetryAfter implements retry.Hinted.
func (e *HTTPError) RetryAfter() time.Duration { return e.Retry }

// InsecureCredentialsError refuses to send a URL's userinfo over plain
// http, as the go command refuses.
type InsecureCredentialsError struct{ URL string }

func (e *InsecureCredentialsError) Error() string {
	return fmt.Sprintf("refusing to pass credentials to insecure URL: %s", e.URL)
}

func (e *InsecureCredentialsError) RetryClass() retry.Class { return retry.Permanent }

// ReadError is a failure while reading a response body (reset, stall,
// truncation). It is always worth another attempt.
type ReadError struct {
	URL string
	Err error
}

func (e *ReadError) Error() string               { return fmt.Sprintf("reading %s: %v", e.URL, e.Err) }
func (e *ReadError) Unwrap() error               { return e.Err }
func (e *ReadError) RetryClass() retry.Class     { return retry.Transient }
func (e *TooLargeError) RetryClass() retry.Class { return retry.Permanent }

// TooLargeError reports a response over its size limit.
type TooLargeError struct {
	URL   string
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("reading %s: response larger than %d bytes", e.URL, e.Limit)
}

// errStalled is the cause given when the stall watchdog cuts a body.
var errStalled = errors.New("no data received within the stall timeout")

// Client issues single GET requests to module proxies. It knows timeouts,
// tracing and error types; retrying is the caller's (through retry.Do).
// It is safe for concurrent use.
type Client struct {
	HTTP *http.Client
	// Trace, if not nil, receives go-style "-x" lines.
	Trace io.Writer
	// StallTimeout cuts a response body that delivers no byte for this long
	// (zero: 30s).
	StallTimeout time.Duration
	// MinRate cuts a response body that, over a whole stall-timeout
	// window, delivers fewer than this many bytes per second (zero: no
	// minimum, only the stall timeout). A trickle never stalls, but it must
	// not hold a download forever either.
	MinRate int64
	// Auth, if not nil, adds GOAUTH credentials to https requests.
	Auth *goauth.Auth
	// Parallel is how many ranges a large body (16 MiB or more) is fetched
	// in at once, from a proxy that answers ranges (zero or one: one
	// request). Each counts against PerHost.
	Parallel int
	// PerHost bounds the requests in flight to one host at a time (a
	// request counts from before it is sent until its body is closed);
	// more wait their turn. Every request of a run counts: a module's
	// .info, .mod and .zip, hedges, the graph's go.mod files, queries and
	// checksum-database lookups. Zero means no bound.
	PerHost int
	// Gate, if not nil, admits each request before it is sent, and before
	// it takes its PerHost slot: Enter waits until the request may go, or
	// fails when ctx ends, and the function it returns is called once
	// when the request is over (its body closed, or it failed). It is
	// never held while an operation waits to retry. A server uses it to
	// bound and order its upstream requests; nil admits every request at
	// once. (A request the Gate holds back holds no slot: were the slot
	// taken first, requests the Gate keeps waiting, a prefetch behind the
	// clients' or a client past its own bound, would sit on the host's
	// slots, and the requests the Gate lets go first would wait for one
	// in no order at all.)
	Gate Gate

	slotsMu sync.Mutex
	slots   map[string]chan struct{} // host → PerHost tokens

	traceMu  sync.Mutex
	requests atomic.Int64
	bytes    atomic.Int64
}

// NewHTTPClient returns an http.Client with connect, TLS and
// response-header timeouts but no whole-request timeout (zips are large),
// which honours HTTPS_PROXY/NO_PROXY and refuses https→http redirects.
//
// conns bounds the connections to one host (zero: 16), the transport's
// share of Client.PerHost: requests beyond it wait for a connection.
func NewHTTPClient(connect, header time.Duration, conns int) *http.Client {
	if connect <= 0 {
		connect = 15 * time.Second
	}
	if header <= 0 {
		header = 30 * time.Second
	}
	if conns <= 0 {
		conns = 16
	}
	dialer := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	// Keep as many connections alive as may be open, or each burst of
	// requests pays for new handshakes.
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxConnsPerHost:       conns,
		MaxIdleConns:          2 * conns,
		MaxIdleConnsPerHost:   conns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   connect,
		ResponseHeaderTimeout: header,
		ExpectContinueTimeout: time.Second,
		// A shared HTTP/2 connection that dies silently is noticed by
		// its pings, not by every request on it timing out.
		HTTP2: &http.HTTP2Config{SendPingTimeout: connect, PingTimeout: connect},
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			if len(via) > 0 && via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
				return fmt.Errorf("refusing redirect from %s to insecure %s", via[0].URL.Redacted(), req.URL.Redacted())
			}
			return nil
		},
	}
}

// Tracef writes a -x trace line, if tracing is on.
func (c *Client) Tracef(format string, args ...any) {
	if c.Trace == nil {
		return
	}
	c.traceMu.Lock()
	defer c.traceMu.Unlock()
	fmt.Fprintf(c.Trace, format, args...)
}

// Requests returns how many requests the client has sent.
func (c *Client) Requests() int64 { return c.requests.Load() }

// Bytes returns how many body bytes the client has received.
func (c *Client) Bytes() int64 { return c.bytes.Load() }

// Join returns base with rel (already escaped for the module protocol)
// appended to its path.
func Join(base *url.URL, rel string) *url.URL {
	u := *base
	u.Path = path.Join(base.Path, rel)
	u.RawPath = ""
	return &u
}

// Open starts a GET for u and returns its body, which the caller must close.
// A body that stalls is cut with a *ReadError.
func (c *Client) Open(ctx context.Context, u *url.URL) (io.ReadCloser, error) {
	if u.Scheme == "file" {
		return c.openFile(u)
	}
	b, _, err := c.open(ctx, u, nil)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// byteRange asks for a body from From on (to To, exclusive, if To > 0),
// if it is still the one Validator (an ETag or Last-Modified) names.
type byteRange struct {
	From, To  int64
	Validator string
}

func (r *byteRange) header() string {
	if r.To > 0 {
		return fmt.Sprintf("bytes=%d-%d", r.From, r.To-1)
	}
	return fmt.Sprintf("bytes=%d-", r.From)
}

// meta is what a response says about its body.
type meta struct {
	status       int   // 200, or 206 for a range
	length       int64 // Content-Length (of the whole body for a 200); -1 if unknown
	start        int64 // first byte of a 206
	acceptRanges bool
	validator    string // ETag (strong), else Last-Modified; "" if none
}

// open is Open, optionally for a byte range; a 206 answers a range only.
func (c *Client) open(ctx context.Context, u *url.URL, rng *byteRange) (*watchedBody, meta, error) {
	redacted := u.Redacted()
	stall := c.StallTimeout
	if stall <= 0 {
		stall = 30 * time.Second
	}
	rctx, cancel := context.WithCancelCause(ctx)
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, u.String(), nil)
	if err != nil {
		cancel(nil)
		return nil, meta{}, err
	}
	if u.Scheme == "http" && u.User != nil {
		cancel(nil)
		c.Tracef("# get %s: insecure credentials\n", redacted)
		return nil, meta{}, &InsecureCredentialsError{URL: redacted}
	}
	setRange := func(req *http.Request) {
		if rng != nil {
			req.Header.Set("Range", rng.header())
			if rng.Validator != "" {
				req.Header.Set("If-Range", rng.Validator)
			}
		}
	}
	setRange(req)
	waitingHook(ctx)
	release, err := c.acquire(ctx, u.Host)
	if err != nil {
		cancel(nil)
		return nil, meta{}, err
	}
	sentHook(ctx)
	gen, _ := c.Auth.Initial(ctx, req)
	if rng != nil {
		redacted += " [" + rng.header() + "]"
	}
	if speculative(ctx) {
		// Asked before the go command would know it needs it (a .mod or
		// .zip alongside the .info): say so, so that a trace read to debug
		// a proxy does not show requests go never makes as if they were.
		redacted += " (speculative)"
	}
	c.Tracef("# get %s\n", redacted)
	c.requests.Add(1)
	start := time.Now()
	resp, err := c.HTTP.Do(req)
	if err == nil && resp.StatusCode >= 400 && resp.StatusCode < 500 && c.Auth != nil {
		// As the go command does after any 4xx, ask the GOAUTH methods
		// again, now with the URL and the response, and try once more if
		// they supply credentials other than those just sent.
		again, rerr := http.NewRequestWithContext(rctx, http.MethodGet, u.String(), nil)
		if rerr == nil {
			setRange(again)
		}
		if rerr == nil && c.Auth.Refresh(ctx, again, resp, gen) && !sameHeader(again.Header, req.Header) {
			resp.Body.Close()
			c.Tracef("# get %s: %s (%.3fs); retrying with credentials\n", redacted, safeStatus(resp), time.Since(start).Seconds())
			c.requests.Add(1)
			resp, err = c.HTTP.Do(again)
		}
	}
	if err != nil {
		cancel(nil)
		release()
		c.Tracef("# get %s: %v\n", redacted, stripURL(err))
		return nil, meta{}, &url.Error{Op: "Get", URL: u.Redacted(), Err: stripURL(err)}
	}
	c.Tracef("# get %s: %s (%.3fs)\n", redacted, safeStatus(resp), time.Since(start).Seconds())
	ok := resp.StatusCode == http.StatusOK || (rng != nil && resp.StatusCode == http.StatusPartialContent)
	if ok {
		answeredHook(ctx)
	}
	if !ok {
		defer release()
		defer cancel(nil)
		defer resp.Body.Close()
		return nil, meta{}, responseError(resp, u.Redacted())
	}
	m := meta{status: resp.StatusCode, length: resp.ContentLength, acceptRanges: resp.Header.Get("Accept-Ranges") == "bytes"}
	if et := resp.Header.Get("ETag"); et != "" && !strings.HasPrefix(et, "W/") {
		m.validator = et
	} else {
		m.validator = resp.Header.Get("Last-Modified")
	}
	if resp.StatusCode == http.StatusPartialContent {
		var a, b, total int64
		if _, err := fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-%d/%d", &a, &b, &total); err != nil {
			resp.Body.Close()
			release()
			cancel(nil)
			return nil, meta{}, &ReadError{URL: redacted, Err: fmt.Errorf("bad Content-Range %q", resp.Header.Get("Content-Range"))}
		}
		m.start = a
	}
	b := &watchedBody{
		ctx: rctx, body: resp.Body, stall: stall,
		cancel: cancel, url: u.Redacted(), client: c, release: release,
	}
	b.timer = time.AfterFunc(stall, func() { cancel(errStalled) })
	if c.MinRate > 0 {
		b.need = max(1, c.MinRate*int64(stall/time.Second))
		b.rate = time.AfterFunc(stall, b.checkRate)
	}
	return b, m, nil
}

func sameHeader(a, b http.Header) bool {
	return maps.EqualFunc(a, b, slices.Equal)
}

// stripURL removes the *url.Error layer net/http adds, so the URL (which
// may carry credentials) is printed only once and redacted.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func responseError(resp *http.Response, redacted string) error {
	e := &HTTPError{URL: redacted, Status: safeStatus(resp), StatusCode: resp.StatusCode}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		if secs, err := strconv.Atoi(ra); err == nil && secs >= 0 {
			e.Retry = time.Duration(secs) * time.Second
		} else if t, err := http.ParseTime(ra); err == nil {
			e.Retry = max(time.Until(t), 0)
		}
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err == nil && mt == "text/plain" {
		// The body is the server's words: shown only under the go
		// command's rule (graphic text, a few short lines).
		const limit = 4 << 10
		body, _ := io.ReadAll(io.LimitReader(resp.Body, limit))
		if len(body) == limit {
			if i := bytes.LastIndexByte(body, '\n'); i >= 0 {
				body = body[:i+1]
			}
		}
		e.Detail = termsafe.Detail(body)
	}
	return e
}

// safeStatus is the response's status line, or the standard text for its
// code when the server's reason phrase holds anything but plain text.
func safeStatus(resp *http.Response) string {
	if termsafe.Clean(resp.Status) && !strings.ContainsRune(resp.Status, '\n') && len(resp.Status) <= 80 {
		return resp.Status
	}
	return fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
}

func (c *Client) openFile(u *url.URL) (io.ReadCloser, error) {
	f, err := os.Open(u.Path)
	if err != nil {
		status := 0
		switch {
		case errors.Is(err, fs.ErrNotExist):
			status = http.StatusNotFound
		case errors.Is(err, fs.ErrPermission):
			status = http.StatusForbidden
		default:
			return nil, err
		}
		// The URL names the file already: the error says only what
		// went wrong, as the go command's does.
		var pe *fs.PathError
		if errors.As(err, &pe) && pe.Path == u.Path {
			err = pe.Err
		}
		return nil, &HTTPError{URL: u.Redacted(), Status: fmt.Sprintf("%d %s", status, http.StatusText(status)), StatusCode: status, Err: err}
	}
	c.requests.Add(1)
	return &countingBody{ReadCloser: f, client: c}, nil
}

type countingBody struct {
	io.ReadCloser
	client *Client
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.client.bytes.Add(int64(n))
	return n, err
}

// watchedBody resets the stall timer on every byte and reports a cut body
// as a *ReadError.
type watchedBody struct {
	ctx    context.Context
	body   io.ReadCloser
	timer  *time.Timer // no byte for a stall timeout
	stall  time.Duration
	cancel context.CancelCauseFunc
	url    string
	client *Client

	release func() // gives back the request's slot (Client.PerHost)

	rate   *time.Timer  // fires every stall window when a minimum rate is set
	need   int64        // bytes a window must bring
	window atomic.Int64 // bytes in the current window
}

// TooSlowError is a body cut because it came in below the minimum rate.
type TooSlowError struct {
	Got    int64
	Window time.Duration
	Rate   int64
}

func (e *TooSlowError) Error() string {
	return fmt.Sprintf("receiving under %d bytes/s: %d bytes in %v", e.Rate, e.Got, e.Window)
}

// checkRate ends a window: a body that brought too little is cut.
func (b *watchedBody) checkRate() {
	got := b.window.Swap(0)
	if got < b.need {
		b.cancel(&TooSlowError{Got: got, Window: b.stall, Rate: b.client.MinRate})
		return
	}
	b.rate.Reset(b.stall)
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if n > 0 {
		b.timer.Reset(b.stall)
		b.window.Add(int64(n))
		b.client.bytes.Add(int64(n))
	}
	if err != nil && err != io.EOF {
		var slow *TooSlowError
		if cause := context.Cause(b.ctx); cause != nil && errors.Is(cause, errStalled) {
			err = fmt.Errorf("%w (%v)", errStalled, b.stall)
		} else if errors.As(cause, &slow) {
			err = slow
		}
		return n, &ReadError{URL: b.url, Err: stripURL(err)}
	}
	return n, err
}

func (b *watchedBody) Close() error {
	b.timer.Stop()
	if b.rate != nil {
		b.rate.Stop()
	}
	err := b.body.Close()
	b.cancel(nil)
	b.release()
	return err
}

// Gate admits requests to proxies (see Client.Gate). It must be safe for
// concurrent use.
type Gate interface {
	Enter(ctx context.Context) (leave func(), err error)
}

// Acquire waits for the Gate and a PerHost slot for host as a request to
// host would, and returns the function that gives both back (once): for
// upstream work that is not one of this Client's requests (a run of the go
// command that reaches host), so that it is bounded with them.
func (c *Client) Acquire(ctx context.Context, host string) (func(), error) {
	return c.acquire(ctx, host)
}

// acquire waits for the Gate, then for a free request slot for host (see
// PerHost and Gate), and returns the function that gives both back (once).
func (c *Client) acquire(ctx context.Context, host string) (func(), error) {
	if c.Gate == nil {
		return c.hostSlot(ctx, host)
	}
	leave, err := c.Gate.Enter(ctx)
	if err != nil {
		return nil, err
	}
	slot, err := c.hostSlot(ctx, host)
	if err != nil {
		leave()
		return nil, err
	}
	var once sync.Once
	return func() { once.Do(func() { slot(); leave() }) }, nil
}

// hostSlot waits for a free request slot for host (see PerHost) and
// returns the function that gives it back (once).
func (c *Client) hostSlot(ctx context.Context, host string) (func(), error) {
	if c.PerHost <= 0 {
		return func() {}, nil
	}
	c.slotsMu.Lock()
	if c.slots == nil {
		c.slots = map[string]chan struct{}{}
	}
	slots := c.slots[host]
	if slots == nil {
		slots = make(chan struct{}, c.PerHost)
		c.slots[host] = slots
	}
	c.slotsMu.Unlock()
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	var once sync.Once
	return func() { once.Do(func() { <-slots }) }, nil
}

// GetBytes reads the whole response for u, refusing more than limit bytes.
func (c *Client) GetBytes(ctx context.Context, u *url.URL, limit int64) ([]byte, error) {
	body, err := c.Open(ctx, u)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(body, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, &TooLargeError{URL: u.Redacted(), Limit: limit}
	}
	return buf.Bytes(), nil
}

// Dest receives a body written at offsets: parallel ranges of it arrive
// at once, and a body resumed after a cut continues where it stopped.
type Dest interface {
	io.WriterAt
	Truncate(size int64) error
}

// GetFile fetches the body for u into dst, refusing more than limit bytes,
// and returns its size. A failed read of the body is a *ReadError (once
// resuming gave up); a failed write is dst's error as dst returned it.
//
// From a proxy that answers byte ranges (Accept-Ranges: bytes), a body cut
// by a reset or a stall is resumed from its last byte (with If-Range on the
// ETag or Last-Modified, so a changed file starts over) instead of fetched
// again from the start, and a large body (at least Parallel's threshold)
// is fetched in parallel ranges over several connections. A proxy that
// ignores ranges (answers 200) or refuses one (416) gets a whole GET.
func (c *Client) GetFile(ctx context.Context, u *url.URL, dst Dest, limit int64) (int64, error) {
	if err := dst.Truncate(0); err != nil {
		return 0, err
	}
	if u.Scheme == "file" {
		body, err := c.Open(ctx, u)
		if err != nil {
			return 0, err
		}
		defer body.Close()
		return copyAt(dst, body, 0, limit, u)
	}
	body, m, err := c.open(ctx, u, nil)
	if err != nil {
		return 0, err
	}
	if m.length > limit {
		body.Close()
		return 0, &TooLargeError{URL: u.Redacted(), Limit: limit}
	}
	size := m.length
	if m.acceptRanges && size >= parallelMin && c.Parallel > 1 {
		return c.getParallel(ctx, u, dst, body, m, limit)
	}
	n, err := copyAt(dst, body, 0, limit, u)
	body.Close()
	if err == nil {
		return n, nil
	}
	// Resume a cut body where it stopped, while the proxy answers ranges
	// and each try brings more bytes.
	for resumes := 0; m.acceptRanges && resumes < maxResumes && isCut(err) && ctx.Err() == nil; resumes++ {
		c.Tracef("# get %s: cut after %d bytes (%s); resuming\n", u.Redacted(), n, cutReason(err))
		before := n
		var got int64
		got, m, err = c.getFrom(ctx, u, dst, n, m.validator, limit)
		switch {
		case err == nil:
			return got, nil
		case got > before:
			n = got
		case !isCut(err):
			return got, err
		}
	}
	return n, err
}

// parallelMin is the size from which a body is fetched in parallel ranges,
// and each range's least size.
const parallelMin = 16 << 20

// maxResumes bounds the resumes of one body (each must bring bytes).
const maxResumes = 8

func isCut(err error) bool {
	var re *ReadError
	return errors.As(err, &re)
}

// getFrom fetches u's body from byte from on into dst, as a range if the
// proxy still serves the same body, else whole; it returns the body's
// size so far (all of it, on success) and the new response's meta.
func (c *Client) getFrom(ctx context.Context, u *url.URL, dst Dest, from int64, validator string, limit int64) (int64, meta, error) {
	body, m, err := c.open(ctx, u, &byteRange{From: from, Validator: validator})
	var he *HTTPError
	if errors.As(err, &he) && he.StatusCode == http.StatusRequestedRangeNotSatisfiable {
		body, m, err = c.open(ctx, u, nil)
	}
	if err != nil {
		return from, m, err
	}
	defer body.Close()
	if m.status == http.StatusOK || m.start != from {
		// The range was ignored, or the body changed: start over.
		if err := dst.Truncate(0); err != nil {
			return 0, m, err
		}
		from = 0
	}
	n, err := copyAt(dst, body, from, limit, u)
	return n, m, err
}

// getParallel fetches a large body in ranges at once: the open response
// body brings the first, and a request each the others. A range cut on the
// way is resumed on its own. If the proxy stops answering ranges, the
// whole body is fetched again in one piece.
func (c *Client) getParallel(ctx context.Context, u *url.URL, dst Dest, first *watchedBody, m meta, limit int64) (int64, error) {
	size := m.length
	parts := min(int64(c.Parallel), size/parallelMin)
	step := size / parts
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for i := range parts {
		from, to := i*step, (i+1)*step
		if i == parts-1 {
			to = size
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if i == 0 {
				var n int64
				n, err = copyAt(dst, io.LimitReader(first, to), 0, to, u)
				first.Close()
				if err == nil && n < to {
					err = &ReadError{URL: u.Redacted(), Err: io.ErrUnexpectedEOF}
				}
				if isCut(err) && n > 0 {
					c.Tracef("# get %s: cut after %d bytes (%s); resuming\n", u.Redacted(), n, cutReason(err))
					err = c.getPart(pctx, u, dst, n, to, m.validator)
				}
			} else {
				err = c.getPart(pctx, u, dst, from, to, m.validator)
			}
			if err != nil {
				errs[i] = err
				cancel()
			}
		}()
	}
	wg.Wait()
	var failed error
	for _, err := range errs {
		switch {
		case err == nil:
		case errors.Is(err, errRangesIgnored):
			// Ranges no longer work for this body: fetch it whole.
			c.Tracef("# get %s: ranges not served; fetching it whole\n", u.Redacted())
			return c.getWhole(ctx, u, dst, limit)
		case failed == nil || errors.Is(failed, context.Canceled):
			failed = err
		}
	}
	if failed != nil {
		return 0, failed
	}
	return size, nil
}

// errRangesIgnored is a range request answered with the whole body.
var errRangesIgnored = errors.New("range not served")

// getPart fetches [from, to) of u's body into dst, resuming after a cut.
func (c *Client) getPart(ctx context.Context, u *url.URL, dst Dest, from, to int64, validator string) error {
	pos := from
	for resumes := 0; ; resumes++ {
		body, m, err := c.open(ctx, u, &byteRange{From: pos, To: to, Validator: validator})
		if err != nil {
			return err
		}
		if m.status != http.StatusPartialContent || m.start != pos {
			body.Close()
			return errRangesIgnored
		}
		n, err := copyAt(dst, io.LimitReader(body, to-pos), pos, to, u)
		body.Close()
		if err == nil && n < to {
			err = &ReadError{URL: u.Redacted(), Err: io.ErrUnexpectedEOF}
		}
		if err == nil {
			return nil
		}
		if !isCut(err) || resumes >= maxResumes || n <= pos || ctx.Err() != nil {
			return err
		}
		c.Tracef("# get %s: cut after %d bytes (%s); resuming\n", u.Redacted(), n, cutReason(err))
		pos = n
	}
}

// cutReason is why a body was cut, without the URL its error repeats.
func cutReason(err error) string {
	var re *ReadError
	if errors.As(err, &re) {
		return re.Err.Error()
	}
	return err.Error()
}

// getWhole fetches u's body in one piece, from the start.
func (c *Client) getWhole(ctx context.Context, u *url.URL, dst Dest, limit int64) (int64, error) {
	if err := dst.Truncate(0); err != nil {
		return 0, err
	}
	body, _, err := c.open(ctx, u, nil)
	if err != nil {
		return 0, err
	}
	defer body.Close()
	return copyAt(dst, body, 0, limit, u)
}

// copyAt copies r into dst from offset off on, refusing to go past limit,
// and returns the offset reached.
func copyAt(dst Dest, r io.Reader, off, limit int64, u *url.URL) (int64, error) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if off+int64(n) > limit {
				return off, &TooLargeError{URL: u.Redacted(), Limit: limit}
			}
			if _, werr := dst.WriteAt(buf[:n], off); werr != nil {
				return off, werr
			}
			off += int64(n)
		}
		if err == io.EOF {
			return off, nil
		}
		if err != nil {
			return off, err
		}
	}
}

type speculativeKey struct{}

// Speculative returns a context whose requests are traced as speculative
// while sure reports false: asked ahead of what would show they are needed.
func Speculative(ctx context.Context, sure func() bool) context.Context {
	return context.WithValue(ctx, speculativeKey{}, sure)
}

func speculative(ctx context.Context) bool {
	sure, ok := ctx.Value(speculativeKey{}).(func() bool)
	return ok && !sure()
}
