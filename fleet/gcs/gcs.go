// Package gcs is a gocloud.dev/blob driver for Google Cloud Storage, the
// fleet cache's gs:// URLs, built on Google's generated JSON API client
// (google.golang.org/api/storage/v1).
//
// It replaces gocloud.dev/blob/gcsblob, whose cloud.google.com/go/storage
// client links gRPC's xDS, the envoy protos and OpenTelemetry's SDK: when
// this driver replaced it, that cost every gomodfetch run, with or without
// a bucket, 145 package inits (426 against 281), about 10 ms of them, 12
// MiB of RSS and 27 MB of binary. This driver does the few things a
// blob.Bucket needs over HTTP/JSON and nothing else: no gRPC, no signed
// URLs.
//
// # URLs
//
// gs://BUCKET opens the bucket with Application Default Credentials: the
// JSON file GOOGLE_APPLICATION_CREDENTIALS names (a service account key,
// or an external_account file for workload identity federation, such as
// the one google-github-actions/auth writes for GitHub's OIDC tokens),
// else gcloud's application_default_credentials.json, else the metadata
// server on Google Cloud. Credentials that cannot be found or read do not
// fail the open: every call on the bucket then fails with that error (code
// PermissionDenied), as a bucket that cannot be reached would.
//
// Query parameters (as gcsblob's, where they apply):
//   - anonymous=true: no credentials, for a public bucket.
//   - access_id=-: the same (gcsblob's spelling); other values are refused,
//     as are private_key_path and the rest of signed-URL set-up.
//   - universe_domain=D: a Google Cloud universe other than googleapis.com.
//   - grpc=false, zonal=false: accepted; true is refused (JSON API only).
//   - prefix=P/: handled by gocloud.dev/blob, like every driver.
//
// Any other parameter, or a path after the bucket name, is an error.
//
// STORAGE_EMULATOR_HOST (host:port or a URL), as the official client reads
// it, points the driver at an emulator such as fake-gcs-server: requests go
// to http://HOST/storage/v1/ (uploads to /upload/storage/v1/) without
// credentials.
//
// # Keys
//
// Keys are object names as they are; gcsblob's escaping of "../" and of
// CR and LF is not done. A key GCS cannot hold (empty, or with CR or LF)
// is refused with code InvalidArgument.
//
// # As
//
//   - Bucket: *storage.Service
//   - Error: *googleapi.Error
//   - Attributes, ListObject (not directories): *storage.Object
//   - Reader: **http.Response
//   - ReaderOptions.BeforeRead: **storage.ObjectsGetCall
//   - WriterOptions.BeforeWrite: **storage.ObjectsInsertCall, **storage.Object
//   - ListOptions.BeforeList: **storage.ObjectsListCall
//   - CopyOptions.BeforeCopy: **storage.ObjectsRewriteCall
//   - DeleteOptions.BeforeDelete: **storage.ObjectsDeleteCall
//
// (storage is google.golang.org/api/storage/v1.)
package gcs

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"

	"gocloud.dev/blob"
	"google.golang.org/api/option"
	storage "google.golang.org/api/storage/v1"
)

// Scheme is the URL scheme the driver serves.
const Scheme = "gs"

// URLOpener opens gs:// URLs; see the package documentation. Register it
// with blob.DefaultURLMux().RegisterBucket(gcs.Scheme, gcs.URLOpener{}).
type URLOpener struct {
	// Options are the defaults the URL's parameters add to.
	Options Options
}

// Options are how OpenBucket reaches the bucket.
type Options struct {
	// Anonymous sends no credentials.
	Anonymous bool
	// UniverseDomain is the Google Cloud universe (default googleapis.com).
	UniverseDomain string
	// ClientOptions go to storage.NewService after the driver's own, so
	// they may override them (option.WithEndpoint,
	// option.WithCredentialsFile, option.WithHTTPClient...).
	ClientOptions []option.ClientOption
}

// OpenBucketURL opens the bucket u names.
func (o URLOpener) OpenBucketURL(ctx context.Context, u *url.URL) (*blob.Bucket, error) {
	opts, err := o.Options.withQuery(u.Query())
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", redacted(u), err)
	}
	if u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("open bucket %s: a path after the bucket name is not supported; use ?prefix=%s/", redacted(u), strings.Trim(u.Path, "/"))
	}
	return OpenBucket(ctx, u.Host, &opts)
}

// redacted is u without its query, whose values are not for messages.
func redacted(u *url.URL) string {
	return u.Scheme + "://" + u.Host + u.Path
}

// withQuery returns o with the URL parameters q applied.
func (o Options) withQuery(q url.Values) (Options, error) {
	for k, v := range q {
		if len(v) != 1 {
			return o, fmt.Errorf("query parameter %q given %d times", k, len(v))
		}
		val := v[0]
		switch k {
		case "anonymous":
			anon, err := strconv.ParseBool(val)
			if err != nil {
				return o, fmt.Errorf("invalid value %q for query parameter \"anonymous\": %w", val, err)
			}
			o.Anonymous = anon
		case "access_id":
			if val != "-" {
				return o, errors.New(`query parameter "access_id" is for signed URLs, which this driver does not make; access_id=- (no credentials) is the only value accepted`)
			}
			o.Anonymous = true
		case "private_key_path":
			return o, errors.New(`query parameter "private_key_path" is for signed URLs, which this driver does not make`)
		case "universe_domain":
			o.UniverseDomain = val
		case "grpc", "zonal":
			on, err := strconv.ParseBool(val)
			if err != nil {
				return o, fmt.Errorf("invalid value %q for query parameter %q: %w", val, k, err)
			}
			if on {
				return o, fmt.Errorf("query parameter %q: this driver speaks only the JSON API over HTTP", k+"="+val)
			}
		default:
			return o, fmt.Errorf("invalid query parameter %q (accepted: anonymous, access_id=-, universe_domain, prefix)", k)
		}
	}
	return o, nil
}

// OpenBucket opens the bucket called name.
func OpenBucket(ctx context.Context, name string, opts *Options) (*blob.Bucket, error) {
	b, err := openBucket(ctx, name, opts)
	if err != nil {
		return nil, err
	}
	return blob.NewBucket(b), nil
}

func openBucket(ctx context.Context, name string, opts *Options) (*bucket, error) {
	if name == "" {
		return nil, errors.New("gcs: a bucket name is required (gs://BUCKET)")
	}
	if opts == nil {
		opts = &Options{}
	}
	// The driver makes no use of OpenTelemetry; the transport's
	// instrumentation would only cost each request.
	copts := []option.ClientOption{option.WithTelemetryDisabled()}
	emulator := os.Getenv("STORAGE_EMULATOR_HOST")
	switch {
	case emulator != "":
		endpoint, err := emulatorEndpoint(emulator)
		if err != nil {
			return nil, err
		}
		copts = append(copts, option.WithoutAuthentication(), option.WithEndpoint(endpoint))
	case opts.Anonymous:
		copts = append(copts, option.WithoutAuthentication())
	}
	if opts.UniverseDomain != "" {
		copts = append(copts, option.WithUniverseDomain(opts.UniverseDomain))
	}
	copts = append(copts, opts.ClientOptions...)
	svc, err := storage.NewService(ctx, copts...)
	if err != nil {
		if emulator != "" || opts.Anonymous {
			return nil, fmt.Errorf("gcs: %w", err)
		}
		// Almost always: no Application Default Credentials, or a file
		// that cannot be read. Not a fault of the command line, so the
		// bucket opens and each call reports it, like an unreachable
		// bucket.
		return &bucket{name: name, err: &credentialsError{err}}, nil
	}
	svc.UserAgent = "gomodfetch"
	return &bucket{name: name, svc: svc}, nil
}

// emulatorEndpoint is the JSON API endpoint for STORAGE_EMULATOR_HOST, as
// cloud.google.com/go/storage derives it: host:port means http, a URL
// keeps its scheme, and the path is always /storage/v1/.
func emulatorEndpoint(host string) (string, error) {
	u := &url.URL{Scheme: "http", Host: host}
	if strings.Contains(host, "://") {
		var err error
		if u, err = url.Parse(host); err != nil {
			return "", fmt.Errorf("gcs: STORAGE_EMULATOR_HOST: %w", err)
		}
	}
	if u.Host == "" {
		return "", fmt.Errorf("gcs: STORAGE_EMULATOR_HOST=%q names no host", host)
	}
	u.Path = "/storage/v1/"
	u.RawPath = ""
	u.RawQuery = ""
	return u.String(), nil
}

// credentialsError is a bucket opened without usable credentials.
type credentialsError struct{ err error }

func (e *credentialsError) Error() string {
	return fmt.Sprintf("no usable Google credentials (%v): set GOOGLE_APPLICATION_CREDENTIALS, run `gcloud auth application-default login`, or add ?anonymous=true for a public bucket", e.err)
}

func (e *credentialsError) Unwrap() error { return e.err }
