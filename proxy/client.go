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
	// PerHost bounds the requests in flight to one host at a time (a
	// request counts from before it is sent until its body is closed);
	// more wait their turn. Every request of a run counts: a module's
	// .info, .mod and .zip, hedges, the graph's go.mod files, queries and
	// checksum-database lookups. Zero means no bound.
	PerHost int

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
	redacted := u.Redacted()
	stall := c.StallTimeout
	if stall <= 0 {
		stall = 30 * time.Second
	}
	rctx, cancel := context.WithCancelCause(ctx)
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, u.String(), nil)
	if err != nil {
		cancel(nil)
		return nil, err
	}
	if u.Scheme == "http" && u.User != nil {
		cancel(nil)
		c.Tracef("# get %s: insecure credentials\n", redacted)
		return nil, &InsecureCredentialsError{URL: redacted}
	}
	release, err := c.acquire(ctx, u.Host)
	if err != nil {
		cancel(nil)
		return nil, err
	}
	gen, _ := c.Auth.Initial(ctx, req)
	c.Tracef("# get %s\n", redacted)
	c.requests.Add(1)
	start := time.Now()
	resp, err := c.HTTP.Do(req)
	if err == nil && resp.StatusCode >= 400 && resp.StatusCode < 500 && c.Auth != nil {
		// As the go command does after any 4xx, ask the GOAUTH methods
		// again, now with the URL and the response, and try once more if
		// they supply credentials other than those just sent.
		again, rerr := http.NewRequestWithContext(rctx, http.MethodGet, u.String(), nil)
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
		return nil, &url.Error{Op: "Get", URL: redacted, Err: stripURL(err)}
	}
	c.Tracef("# get %s: %s (%.3fs)\n", redacted, safeStatus(resp), time.Since(start).Seconds())
	if resp.StatusCode == http.StatusOK {
		answeredHook(ctx)
	}
	if resp.StatusCode != http.StatusOK {
		defer release()
		defer cancel(nil)
		defer resp.Body.Close()
		return nil, responseError(resp, redacted)
	}
	b := &watchedBody{
		ctx: rctx, body: resp.Body, stall: stall,
		cancel: cancel, url: redacted, client: c, release: release,
	}
	b.timer = time.AfterFunc(stall, func() { cancel(errStalled) })
	if c.MinRate > 0 {
		b.need = max(1, c.MinRate*int64(stall/time.Second))
		b.rate = time.AfterFunc(stall, b.checkRate)
	}
	return b, nil
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

// acquire waits for a free request slot for host (see PerHost) and returns
// the function that gives it back (once).
func (c *Client) acquire(ctx context.Context, host string) (func(), error) {
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

// GetFile streams the response for u into w, refusing more than limit
// bytes, and returns how many bytes it wrote. A failed read of the body is
// a *ReadError; a failed write is w's error as w returned it.
func (c *Client) GetFile(ctx context.Context, u *url.URL, w io.Writer, limit int64) (int64, error) {
	body, err := c.Open(ctx, u)
	if err != nil {
		return 0, err
	}
	defer body.Close()
	n, err := io.Copy(w, io.LimitReader(body, limit+1))
	if err != nil {
		return n, err
	}
	if n > limit {
		return n, &TooLargeError{URL: u.Redacted(), Limit: limit}
	}
	return n, nil
}
