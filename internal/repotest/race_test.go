//go:build race

package repotest

// raceEnabled: under the race detector every binary a build test makes is
// instrumented, several times slower.
const raceEnabled = true
