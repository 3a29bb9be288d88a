//go:build gomodfetch_nogcs

package fleet

func init() { leftOut["gs"] = "gomodfetch_nogcs" }
