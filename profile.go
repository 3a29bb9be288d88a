package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
)

// startProfile writes a CPU profile of the whole run to the file
// GOMODFETCH_CPUPROFILE names ("%p" in it becomes the process ID), for
// finding where the time goes (docs/benchmark-real.md); the returned
// function ends it. Without the variable it does nothing.
func startProfile() func() {
	name := os.Getenv("GOMODFETCH_CPUPROFILE")
	if name == "" {
		return func() {}
	}
	name = strings.ReplaceAll(name, "%p", strconv.Itoa(os.Getpid()))
	f, err := os.Create(name)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "gomodfetch: GOMODFETCH_CPUPROFILE: %v\n", err)
		if f != nil {
			f.Close()
		}
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
