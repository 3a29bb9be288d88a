//go:build race

package main

// raceEnabled: under the race detector every gomodfetch process the crash
// tests start is an instrumented binary, several times slower.
const raceEnabled = true
