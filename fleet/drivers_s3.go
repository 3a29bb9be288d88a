//go:build !gomodfetch_nos3

package fleet

import _ "gocloud.dev/blob/s3blob" // s3://
