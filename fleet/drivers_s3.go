//go:build !gomodfetch_nos3

package fleet

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"
	gcaws "gocloud.dev/aws"
	"gocloud.dev/blob"
	"gocloud.dev/blob/s3blob"
)

// openS3 opens an s3:// bucket as gocloud.dev/blob/s3blob's URL opener
// does (same query parameters), but with a client that logs nothing: the
// SDK's own logger writes to stderr (for instance "WARN Skipped
// validation of multipart checksum" for every object uploaded in parts),
// and nothing but gomodfetch's own lines may reach the user. The URL was
// checked by checkS3URL.
func openS3(ctx context.Context, rawURL string) (*blob.Bucket, error) {
	mux := new(blob.URLMux) // blob's prefix parameter, then s3Opener
	mux.RegisterBucket("s3", s3Opener{})
	return mux.OpenBucket(ctx, rawURL)
}

type s3Opener struct{}

func (s3Opener) OpenBucketURL(ctx context.Context, u *url.URL) (*blob.Bucket, error) {
	q := u.Query()
	var opts []func(*s3.Options)
	bopts := &s3blob.Options{}
	for _, key := range []string{s3PathStyle, s3LegacyPathStyle, s3DisableHTTPS, s3Accelerate} {
		v := q.Get(key)
		q.Del(key)
		if v == "" {
			continue
		}
		on, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("invalid value for %q: %w", key, err)
		}
		switch key {
		case s3PathStyle, s3LegacyPathStyle:
			opts = append(opts, func(o *s3.Options) { o.UsePathStyle = on })
		case s3DisableHTTPS:
			opts = append(opts, func(o *s3.Options) { o.EndpointOptions.DisableHTTPS = on })
		case s3Accelerate:
			opts = append(opts, func(o *s3.Options) { o.UseAccelerate = on })
		}
	}
	if v := q.Get(s3SSEType); v != "" {
		q.Del(s3SSEType)
		found := false
		for _, t := range bopts.EncryptionType.Values() {
			if string(t) == v {
				bopts.EncryptionType, found = t, true
			}
		}
		if !found {
			return nil, fmt.Errorf("%q is not a valid value for %q", v, s3SSEType)
		}
	}
	if v := q.Get(s3KMSKeyID); v != "" {
		q.Del(s3KMSKeyID)
		bopts.KMSEncryptionID = v
	}
	cfg, err := gcaws.V2ConfigFromURLParams(ctx, q)
	if err != nil {
		return nil, err
	}
	cfg.Logger, cfg.ClientLogMode = logging.Nop{}, 0
	opts = append(opts, func(o *s3.Options) {
		o.Logger, o.ClientLogMode = logging.Nop{}, 0
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	client := s3.NewFromConfig(cfg, opts...)
	// As s3blob's opener: its uploader takes the checksum setting from here.
	bopts.RequestChecksumCalculation = cfg.RequestChecksumCalculation
	return s3blob.OpenBucket(ctx, client, u.Host, bopts)
}
