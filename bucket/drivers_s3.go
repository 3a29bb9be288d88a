//go:build !gomodfetch_nos3

package bucket

import _ "gocloud.dev/blob/s3blob" // s3://
