//go:build !race

package repotest

const raceEnabled = false
