//go:build gomodfetch_nogcs

package bucket

func init() { leftOut["gs"] = "gomodfetch_nogcs" }
