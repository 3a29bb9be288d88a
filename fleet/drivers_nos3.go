//go:build gomodfetch_nos3

package fleet

import (
	"context"
	"errors"

	"gocloud.dev/blob"
)

func init() { leftOut["s3"] = "gomodfetch_nos3" }

func openS3(context.Context, string) (*blob.Bucket, error) {
	return nil, errors.New("no s3:// driver in this build")
}
