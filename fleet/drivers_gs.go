//go:build !gomodfetch_nogcs

package fleet

import (
	"gocloud.dev/blob"

	"gomodfetch/fleet/gcs"
)

// gs:// is gomodfetch's own driver on Google's generated JSON API client:
// gocloud.dev/blob/gcsblob's storage client links gRPC, xDS and
// OpenTelemetry, whose package initialisation cost every run ~11 ms.
func init() { blob.DefaultURLMux().RegisterBucket(gcs.Scheme, gcs.URLOpener{}) }
