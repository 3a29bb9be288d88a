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
