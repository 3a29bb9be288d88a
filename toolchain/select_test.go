package toolchain

import (
	"errors"
	"fmt"
	"testing"

	"golang.org/x/mod/module"
)

func TestTarget(t *testing.T) {
	for _, c := range []struct {
		gotoolchain, goLine, toolchainLine, want string
	}{
		{"local", "1.99", "go1.99.1", ""},
		{"auto", "1.21", "", ""},
		{"auto", "1.99", "", "go1.99.0"},
		{"auto", "1.99.2", "", "go1.99.2"},
		{"auto", "1.99rc1", "", "go1.99rc1"},
		{"auto", "1.21", "go1.99.1", "go1.99.1"},
		{"auto", "1.99.3", "go1.99.1", "go1.99.3"},
		{"auto", "1.21", "default", ""},
		{"path", "1.99", "", "go1.99.0"},
		{"go1.25.0", "1.99", "", "go1.25.0"},
		{"go1.25.0+auto", "1.99", "", "go1.99.0"},
		{"go1.27.0+auto", "1.21", "", "go1.27.0"},
		{"go1.26.8", "1.99", "", ""},
	} {
		r, err := NewRunning(c.gotoolchain, "1.26.8")
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.Target(c.goLine, c.toolchainLine, "go.mod")
		if err != nil || got != c.want {
			t.Errorf("GOTOOLCHAIN=%s go %s toolchain %s: got %q, %v; want %q", c.gotoolchain, c.goLine, c.toolchainLine, got, err, c.want)
		}
	}
	r, _ := NewRunning("auto", "1.26.8")
	if _, err := r.Target("1.21", "bogus", "go.mod"); err == nil || err.Error() != `invalid toolchain "bogus" in go.mod` {
		t.Errorf("invalid toolchain line: %v", err)
	}
}

func TestNewer(t *testing.T) {
	list := []string{"1.21.0", "1.21.1", "1.22rc1", "1.22.0", "1.22.3", "1.23rc1", "1.23rc2"}
	for need, want := range map[string]string{
		"1.21":    "go1.21.1",
		"1.21.1":  "go1.21.1",
		"1.22":    "go1.22.3",
		"1.22rc1": "go1.22.3",
		"1.23":    "go1.23rc2",
		"1.24":    "",
	} {
		got, err := Newer(need, list)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("Newer(%s) = %q, %v; want %q", need, got, err, want)
		}
	}
}

func TestMaxTooNew(t *testing.T) {
	a := &TooNewError{What: "module b@v1", GoVersion: "1.99"}
	b := &TooNewError{What: "module a@v1", GoVersion: "1.99"}
	c := &TooNewError{What: "module c@v1", GoVersion: "1.98"}
	err := errors.Join(module.VersionError(module.Version{Path: "x", Version: "v1.0.0"}, a), fmt.Errorf("w: %w", b), c)
	if got := MaxTooNew(nil, err); got != b {
		t.Errorf("MaxTooNew = %v, want %v", got, b)
	}
	if MaxTooNew(errors.New("x"), nil) != nil {
		t.Errorf("MaxTooNew found one in none")
	}
}

func TestModule(t *testing.T) {
	m := Module("go1.99.0", "linux", "amd64")
	if m.String() != "golang.org/toolchain@v0.0.1-go1.99.0.linux-amd64" {
		t.Errorf("Module = %v", m)
	}
	if v, ok := FromModuleVersion(m.Version); !ok || v != "1.99.0" {
		t.Errorf("FromModuleVersion = %q, %v", v, ok)
	}
}
