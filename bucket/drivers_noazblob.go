//go:build gomodfetch_noazure

package bucket

func init() { leftOut["azblob"] = "gomodfetch_noazure" }
