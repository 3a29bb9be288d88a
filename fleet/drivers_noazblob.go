//go:build gomodfetch_noazure

package fleet

func init() { leftOut["azblob"] = "gomodfetch_noazure" }
