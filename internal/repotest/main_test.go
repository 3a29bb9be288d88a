// Package repotest checks the repository's artifacts as their users meet
// them: action.yml (the GitHub Action) and Dockerfile.example, run without
// a container engine and, where .ci/run starts one, built by BuildKit.
// They are tests of the repository, not of a Go package, so they live
// here and run from the repository's root.
package repotest

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	// The artifacts are named from the repository's root, as their users
	// name them.
	if err := os.Chdir("../.."); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}
