//go:build !gomodfetch_nogcs

package bucket

import (
	"gocloud.dev/blob"

	"gomodfetch/bucket/gcs"
)

// gs:// is gomodfetch's own driver on Google's generated JSON API client:
// gocloud.dev/blob/gcsblob's storage client links gRPC, xDS and
// OpenTelemetry, whose package initialisation cost every run ~11 ms.
func init() { blob.DefaultURLMux().RegisterBucket(gcs.Scheme, gcs.URLOpener{}) }
