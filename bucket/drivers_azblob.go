//go:build !gomodfetch_noazure

package bucket

import _ "gocloud.dev/blob/azureblob" // azblob://
