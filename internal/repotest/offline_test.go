package repotest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestOfflineBuild builds gomodfetch from a clean clone of this repository
// with no network and an empty module cache: its dependencies come from
// the committed vendor/ tree, so building it (in action.yml, in
// Dockerfile.example) is not itself an unretried download. GOFLAGS is
// unset: the go command picks vendor/ by itself, and fails if
// vendor/modules.txt disagrees with go.mod.
func TestOfflineBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds gomodfetch")
	}
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	clone := filepath.Join(t.TempDir(), "gomodfetch")
	if out, err := exec.Command("git", "clone", "-q", "--no-hardlinks", strings.TrimSpace(string(top)), clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(clone, "vendor", "modules.txt")); err != nil {
		t.Fatalf("the clone has no vendor/modules.txt (run go mod vendor and commit vendor/): %v", err)
	}
	bin := filepath.Join(t.TempDir(), "gomodfetch")
	var env []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "GOFLAGS", "GOPROXY", "GOMODCACHE", "GOWORK", "GOENV", "GONOSUMDB", "GOPRIVATE", "GONOPROXY", "GOSUMDB", "CGO_ENABLED":
		default:
			env = append(env, kv)
		}
	}
	env = append(env, "GOPROXY=off", "GOSUMDB=off", "GOENV=off", "GOWORK=off", "GOTOOLCHAIN=local", "CGO_ENABLED=0",
		"GOMODCACHE="+filepath.Join(t.TempDir(), "empty-modcache"))
	build := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	build.Dir, build.Env = clone, env
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build with GOPROXY=off in a clean clone: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "version").CombinedOutput(); err != nil {
		t.Fatalf("gomodfetch version: %v\n%s", err, out)
	}
}
