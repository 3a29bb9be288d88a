package serve

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gomodfetch/policy"
)

func gateFor(t *testing.T, text string) *policy.Gate {
	t.Helper()
	file := filepath.Join(t.TempDir(), "policy.txt")
	os.WriteFile(file, []byte(text), 0o666)
	p, err := policy.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	return &policy.Gate{Policy: p}
}

// TestPolicyList: the version list hides what the policy denies, and
// keeps the rest.
func TestPolicyList(t *testing.T) {
	st := newSetup(t, func(c *Config) { c.Policy = gateFor(t, "default allow\ncooldown 7d\n") })
	resp, body := st.do(t, "GET", "/example.com/m/@v/list")
	if resp.StatusCode != 200 || !strings.Contains(body, "v1.0.0") {
		t.Errorf("list = %d %q; want v1.0.0 kept", resp.StatusCode, body)
	}
}

// TestPolicyDeny: a denied version's .info and .zip are refused with 403
// and the reason; its .mod is served (the module graph needs it); with a
// dry run everything is served and the denial counted.
func TestPolicyDeny(t *testing.T) {
	for _, dry := range []bool{false, true} {
		st := newSetup(t, func(c *Config) {
			c.Policy = gateFor(t, "deny example.com/m \"compromised release\"\n")
			c.PolicyDryRun = dry
		})
		want := 403
		if dry {
			want = 200
		}
		for _, p := range []string{"/example.com/m/@v/v1.0.0.info", "/example.com/m/@v/v1.0.0.zip"} {
			resp, body := st.do(t, "GET", p)
			if resp.StatusCode != want {
				t.Errorf("dry=%v %s: %d; want %d", dry, p, resp.StatusCode, want)
			}
			if !dry && !strings.Contains(body, "gomodfetch policy: example.com/m@v1.0.0: compromised release") {
				t.Errorf("%s body %q; want the policy's reason", p, body)
			}
		}
		if resp, _ := st.do(t, "GET", "/example.com/m/@v/v1.0.0.mod"); resp.StatusCode != 200 {
			t.Errorf("dry=%v .mod: %d; want 200", dry, resp.StatusCode)
		}
		if resp, body := st.do(t, "GET", "/example.com/m/@v/list"); resp.StatusCode != 200 || strings.Contains(body, "v1.0.0") == !dry {
			t.Errorf("dry=%v list = %q", dry, body)
		}
		if n := value(t, st.s.metrics.policy.WithLabelValues("deny", "rule", "zip", boolLabel(dry))); n != 1 {
			t.Errorf("dry=%v: %v zip denials counted; want 1", dry, n)
		}
		if dry && st.up.count("/example.com/m/@v/v1.0.0.zip") != 1 {
			t.Errorf("dry run: the zip was not fetched")
		}
		if !dry && st.up.count("/example.com/m/@v/v1.0.0.zip") != 0 {
			t.Errorf("a denied zip was fetched upstream")
		}
	}
}
