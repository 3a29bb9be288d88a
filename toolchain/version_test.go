package toolchain

import "testing"

func TestCompare(t *testing.T) {
	order := []string{"1", "1.0.1", "1.20", "1.20.1", "1.21", "1.21rc1", "1.21rc2", "1.21.0", "1.21.1", "1.21.10", "1.22beta1", "1.22rc1", "1.22.0", "1.99"}
	for i, a := range order {
		for j, b := range order {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := Compare(a, b); got != want {
				t.Errorf("Compare(%q, %q) = %d, want %d", a, b, got, want)
			}
		}
	}
	if Compare("1.20", "1.20.0") != 0 {
		t.Errorf("1.20 and 1.20.0 differ")
	}
	for _, bad := range []string{"", "x", "1.", "1.21.", "01.2", "1.21-rc1", "1.21.3.4"} {
		if IsValid(bad) {
			t.Errorf("IsValid(%q) = true", bad)
		}
	}
}

func TestFromToolchain(t *testing.T) {
	for name, want := range map[string]string{
		"go1.21.3": "1.21.3", "go1.22rc1": "1.22rc1", "go1.21.3-custom": "1.21.3", "gccgo-go1.21": "1.21",
		"go1.21/x": "", "1.21": "", "local": "",
	} {
		if got := FromToolchain(name); got != want {
			t.Errorf("FromToolchain(%q) = %q, want %q", name, got, want)
		}
	}
}
