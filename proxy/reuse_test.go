package proxy

import (
	"strings"
	"testing"
)

// TestReusableAt: a -reuse record can be confirmed only by a repository,
// reached past proxies only through '|' (any error moves on) or by
// GONOPROXY, as the go command's TryProxies reaches it.
func TestReusableAt(t *testing.T) {
	for _, tc := range []struct {
		goproxy string
		private bool
		want    bool
	}{
		{"direct", false, true},
		{"https://p.example,direct", false, false},
		{"https://p.example|direct", false, true},
		{"https://p.example|https://q.example,direct", false, false},
		{"https://p.example|off", false, false},
		{"off", false, false},
		{"https://p.example", false, false},
		{"https://p.example,direct", true, true},
	} {
		list, err := ParseList(tc.goproxy)
		if err != nil {
			t.Fatal(err)
		}
		r := &Router{Proxies: list, NoProxy: func(path string) bool { return tc.private && strings.HasPrefix(path, "corp.example/") }}
		if got := r.ReusableAt("corp.example/lib"); got != tc.want {
			t.Errorf("GOPROXY=%s private=%v: ReusableAt = %v, want %v", tc.goproxy, tc.private, got, tc.want)
		}
	}
}
