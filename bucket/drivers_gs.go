//go:build !gomodfetch_nogcs

package bucket

import _ "gocloud.dev/blob/gcsblob" // gs://
