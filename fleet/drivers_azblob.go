//go:build !gomodfetch_noazure

package fleet

import _ "gocloud.dev/blob/azureblob" // azblob://
