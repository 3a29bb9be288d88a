package retry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"
)

// Class is what an error means for the operation that produced it.
type Class int

const (
	// Permanent errors are final: trying again gives the same answer.
	Permanent Class = iota
	// Transient errors may go away on another attempt.
	Transient
	// NotFound means "this source does not have it": not worth retrying at
	// the same source, but another source may have it.
	NotFound
)

func (c Class) String() string {
	switch c {
	case Transient:
		return "transient"
	case NotFound:
		return "not found"
	}
	return "permanent"
}

// A StatusError carries the status code of a response. Classify maps codes
// to classes; the code's meaning is otherwise the caller's business.
type StatusError interface {
	error
	HTTPStatus() int
}

// A Classified error states its own class, overriding every other rule
// (for example a truncated body or a checksum mismatch from one source).
type Classified interface {
	error
	RetryClass() Class
}

// A Hinted error carries a server's hint of when to try again.
type Hinted interface {
	error
	RetryAfter() time.Duration
}

// RetryAfter returns the retry hint carried by err, or 0.
func RetryAfter(err error) time.Duration {
	var h Hinted
	if errors.As(err, &h) {
		return h.RetryAfter()
	}
	return 0
}

// Classify says whether err is transient, "not found", or permanent.
// Unknown errors are permanent: retrying what we do not understand only
// delays the report.
func Classify(err error) Class {
	if err == nil {
		return Permanent
	}
	var c Classified
	if errors.As(err, &c) {
		return c.RetryClass()
	}
	var ate *AttemptTimeoutError
	if errors.As(err, &ate) {
		return Transient
	}
	// A cancelled operation was cancelled on purpose; a deadline from the
	// caller's context is the caller's budget, not the server's fault.
	if errors.Is(err, context.Canceled) {
		return Permanent
	}
	var se StatusError
	if errors.As(err, &se) {
		return ClassifyStatus(se.HTTPStatus())
	}

	// TLS verification failures never heal by themselves.
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		invalid          x509.CertificateInvalidError
		verifyErr        *tls.CertificateVerificationError
	)
	if errors.As(err, &unknownAuthority) || errors.As(err, &hostname) ||
		errors.As(err, &invalid) || errors.As(err, &verifyErr) {
		return Permanent
	}

	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return Transient
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ETIMEDOUT) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) {
		return Transient
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		if dnsErr.IsTemporary || dnsErr.IsTimeout {
			return Transient
		}
		if dnsErr.IsNotFound {
			return Permanent
		}
		return Transient
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return Transient
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return Transient
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) || errors.Is(err, net.ErrClosed) {
		return Transient
	}
	// net/http's bundled HTTP/2 and its transport report these with
	// unexported types, so only their text tells them apart.
	msg := err.Error()
	for _, s := range transientMessages {
		if strings.Contains(msg, s) {
			return Transient
		}
	}
	return Permanent
}

var transientMessages = []string{
	"http2: server sent GOAWAY",
	"stream error",
	"server closed idle connection",
	"transport connection broken",
}

// ClassifyStatus maps an HTTP status code to a class.
func ClassifyStatus(code int) Class {
	switch {
	case code == 404 || code == 410:
		return NotFound
	case code == 408 || code == 425 || code == 429:
		return Transient
	case code >= 500 && code <= 599:
		return Transient
	}
	return Permanent
}
