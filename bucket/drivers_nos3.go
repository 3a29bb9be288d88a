//go:build gomodfetch_nos3

package bucket

func init() { leftOut["s3"] = "gomodfetch_nos3" }
