package fleet

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// CheckURL reports what is wrong with a bucket URL, without reaching the
// bucket: a URL that does not parse, a scheme that is not a bucket's (or
// whose driver this build left out), a bucket name missing, and for
// s3:// an endpoint without http:// or https:// or one on an IP address
// (or localhost) without path-style addressing, which the SDK would only
// refuse request by request, as if the bucket were down. A URL it passes
// may still name a bucket that cannot be reached: that shows on first use.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URL: %w", err)
	}
	if _, err := url.ParseQuery(u.RawQuery); err != nil {
		return fmt.Errorf("bad query: %w", err)
	}
	switch u.Scheme {
	case "s3", "gs", "azblob", "file":
	case "":
		return fmt.Errorf("%s: no scheme (s3://, gs://, azblob://, file://)", redact(raw))
	default:
		return fmt.Errorf("%s: unknown scheme %q (s3://, gs://, azblob://, file://)", redact(raw), u.Scheme)
	}
	if tag, ok := leftOut[u.Scheme]; ok {
		return fmt.Errorf("%s: this gomodfetch was built with -tags %s, without the %s:// driver; use a build without that tag", redact(raw), tag, u.Scheme)
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" || !strings.HasPrefix(u.Path, "/") {
			return fmt.Errorf("%s: a file:// URL names an absolute directory: file:///dir", redact(raw))
		}
		q := u.Query()
		for k := range q {
			switch k {
			case "create_dir", "dir_file_mode", "metadata", "no_tmp_dir", "prefix":
			default:
				return fmt.Errorf("%s: unknown file:// parameter %q (create_dir, prefix)", redact(raw), k)
			}
		}
		if p := q.Get("prefix"); p != "" && !filepath.IsLocal(filepath.FromSlash(p)) {
			return fmt.Errorf("%s: prefix %q is not a path below the directory", redact(raw), p)
		}
		if q.Get("create_dir") == "" {
			if fi, err := os.Stat(filepath.FromSlash(u.Path)); err != nil || !fi.IsDir() {
				return fmt.Errorf("%s: %s is not a directory (add ?create_dir=true to make it)", redact(raw), u.Path)
			}
		}
		return nil
	case "s3":
		if u.Host == "" {
			return fmt.Errorf("%s: no bucket name (s3://bucket?region=...)", redact(raw))
		}
		return checkS3Query(u.Query())
	}
	if u.Host == "" {
		return fmt.Errorf("%s: no bucket name (%s://bucket)", redact(raw), u.Scheme)
	}
	return nil
}

// checkS3Query checks the s3:// parameters that would fail only when the
// bucket is used.
func checkS3Query(q url.Values) error {
	flag := func(key string) (bool, error) {
		v := q.Get(key)
		if v == "" {
			return false, nil
		}
		on, err := strconv.ParseBool(v)
		if err != nil {
			return false, fmt.Errorf("s3:// parameter %s=%q: not true or false", key, v)
		}
		return on, nil
	}
	pathStyle := false
	for _, key := range []string{s3PathStyle, s3LegacyPathStyle, "hostname_immutable"} {
		on, err := flag(key)
		if err != nil {
			return err
		}
		pathStyle = pathStyle || on
	}
	for _, key := range []string{s3DisableHTTPS, s3Accelerate, "dualstack", "fips", "anonymous"} {
		if _, err := flag(key); err != nil {
			return err
		}
	}
	ep := q.Get("endpoint")
	if ep == "" {
		return nil
	}
	u, err := url.Parse(ep)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("s3:// parameter endpoint=%q: not an http:// or https:// URL", ep)
	}
	if u.User != nil {
		return errors.New("s3:// parameter endpoint: credentials in the endpoint URL; use the AWS environment or profile")
	}
	host := u.Hostname()
	if (net.ParseIP(host) != nil || host == "localhost") && !pathStyle {
		return fmt.Errorf("s3:// endpoint %s is an address, where the bucket cannot be a subdomain: add use_path_style=true", u.Host)
	}
	return nil
}

// s3blob's own query parameters; the rest are gocloud.dev/aws's.
const (
	s3PathStyle       = "use_path_style"
	s3LegacyPathStyle = "s3ForcePathStyle"
	s3DisableHTTPS    = "disable_https"
	s3Accelerate      = "accelerate"
	s3SSEType         = "ssetype"
	s3KMSKeyID        = "kmskeyid"
)
