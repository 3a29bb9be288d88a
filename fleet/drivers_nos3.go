//go:build gomodfetch_nos3

package fleet

func init() { leftOut["s3"] = "gomodfetch_nos3" }
