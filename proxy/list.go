// Package proxy talks to module proxies: the GOPROXY protocol over http,
// https and file URLs, and the list rules that say which proxy is asked
// next.
//
// A Client makes single requests and knows what can go wrong with one: it
// bounds the connect, the TLS handshake and the wait for headers, cuts a
// body that stalls or trickles, bounds the requests in flight to one host,
// adds GOAUTH credentials over https, and turns every answer other than
// 200 into a typed error (*HTTPError matches fs.ErrNotExist for 404 and
// 410, as the go command's does). Retrying is not its business.
//
// A Router is the GOPROXY list with the go command's rules for it:
// entries joined by ',' fall through only on "not found", entries joined
// by '|' on any error, "direct" and "off" end the list, and GONOPROXY
// paths go to "direct" alone. On top of the rules it adds what the go
// command lacks: each request is retried under a retry.Policy, the next
// proxy of a '|' run is asked as well when the current one is slow or
// failing (hedging; never across ',', which would tell a later proxy what
// an earlier one served), and a proxy whose requests keep failing is asked
// last for the rest of the run. Ask returns the first answer that the
// caller's attempt function accepted, so a lying proxy's bytes can lose to
// an honest one's.
//
// Everything a proxy says is untrusted: error bodies reach the user only
// under the go command's rule (graphic text, a few short lines), and URLs
// are redacted before they are printed.
package proxy

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
)

// Kind tells how a GOPROXY entry is reached.
type Kind int

const (
	// KindURL is a module proxy reached over http, https or file.
	KindURL Kind = iota
	// KindDirect is the "direct" entry: the module comes from its version
	// control system, which only the go command reaches.
	KindDirect
	// KindOff is the "off" entry: module downloads are disabled.
	KindOff
)

// Proxy is one entry of a GOPROXY list.
type Proxy struct {
	Kind Kind
	// URL is the proxy's base URL (KindURL only).
	URL *url.URL
	// FallbackOnError is true when the entry is followed by '|': any error
	// from it moves on to the next entry. After ',' (or at the end) only
	// "not found" (404/410) moves on.
	FallbackOnError bool
}

// String returns the entry as the user wrote it, with credentials redacted.
func (p Proxy) String() string {
	switch p.Kind {
	case KindDirect:
		return "direct"
	case KindOff:
		return "off"
	}
	return p.URL.Redacted()
}

// ParseList parses a GOPROXY value the way the go command does: entries
// separated by ',' (fall through on 404/410 only) or '|' (fall through on any
// error); "direct" and "off" end the list; an entry without a scheme means
// https. An empty value means "direct".
func ParseList(goproxy string) ([]Proxy, error) {
	var list []Proxy
	for goproxy != "" {
		var entry string
		fallback := false
		if i := strings.IndexAny(goproxy, ",|"); i >= 0 {
			entry = goproxy[:i]
			fallback = goproxy[i] == '|'
			goproxy = goproxy[i+1:]
		} else {
			entry = goproxy
			goproxy = ""
		}
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		switch entry {
		case "off":
			return append(list, Proxy{Kind: KindOff}), nil
		case "direct":
			return append(list, Proxy{Kind: KindDirect}), nil
		case "noproxy":
			return nil, fmt.Errorf("GOPROXY entry %q is reserved for internal use", entry)
		}
		u, err := parseProxyURL(entry)
		if err != nil {
			return nil, err
		}
		list = append(list, Proxy{Kind: KindURL, URL: u, FallbackOnError: fallback})
	}
	if len(list) == 0 {
		list = []Proxy{{Kind: KindDirect}}
	}
	return list, nil
}

func parseProxyURL(entry string) (*url.URL, error) {
	raw := entry
	// Single words are reserved for built-in behaviour; anything with ":/"
	// or an absolute file path must be a complete URL; other entries mean
	// https.
	if !strings.Contains(entry, ":/") && !filepath.IsAbs(entry) && !strings.HasPrefix(entry, "/") {
		if !strings.ContainsAny(entry, "./") {
			return nil, fmt.Errorf("invalid GOPROXY entry %q: not a URL and not a built-in keyword (direct, off)", entry)
		}
		raw = "https://" + entry
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("invalid GOPROXY URL %q: %v", redactRaw(entry), err)
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return nil, fmt.Errorf("invalid GOPROXY URL %q: missing host", u.Redacted())
		}
	case "file":
	default:
		return nil, fmt.Errorf("invalid GOPROXY URL %q: unsupported scheme %q (use https, http or file)", u.Redacted(), u.Scheme)
	}
	return u, nil
}

// redactRaw hides userinfo in a string that did not parse as a URL.
func redactRaw(s string) string {
	if i := strings.Index(s, "@"); i >= 0 {
		if j := strings.Index(s, "://"); j >= 0 && j < i {
			return s[:j+3] + "xxxxx" + s[i:]
		}
	}
	return s
}

// errLookupDisabled is what an "off" entry answers.
var errLookupDisabled = errors.New("module lookup disabled by GOPROXY=off")
