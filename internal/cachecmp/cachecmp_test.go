package cachecmp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, root, name, data string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func TestCompare(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, root := range []string{a, b} {
		write(t, root, "cache/download/m/@v/v1.0.0.mod", "module m\n", 0o644)
		write(t, root, "cache/download/m/@v/v1.0.0.lock", "", 0o644)
	}
	write(t, b, "cache/download/m/@v/v1.0.0.zip123.tmp", "partial", 0o644)
	if d := Compare(a, b); len(d) != 0 {
		t.Fatalf("equal caches (lock and temp files aside) reported as different: %q", d)
	}

	write(t, a, "m@v1.0.0/m.go", "package m\n", 0o444)
	write(t, b, "m@v1.0.0/m.go", "package m\n", 0o644)
	write(t, a, "cache/download/m/@v/list", "v1.0.0\n", 0o644)
	write(t, b, "cache/download/m/@v/list", "v1.1.0\n", 0o644)
	write(t, b, "extra", "x", 0o644)
	got := strings.Join(Compare(a, b), "\n")
	for _, want := range []string{
		"m@v1.0.0/m.go: mode -r--r--r-- vs -rw-r--r--",
		"cache/download/m/@v/list: content differs",
		"only in " + b + ": extra",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("differences %q do not mention %q", got, want)
		}
	}
	if d := Compare(a, filepath.Join(b, "missing")); len(d) == 0 {
		t.Errorf("a cache compared with an empty one is reported equal")
	}
}
