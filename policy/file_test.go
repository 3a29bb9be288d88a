package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const samplePolicy = `# gomodfetch policy for the build fleet
default allow

cooldown 7d                          # every module, unless a line below says otherwise
cooldown 0 corp.example/*            "our own modules go through at once"

vulns deny
vulns warn github.com/legacy/*       "test-only dependencies"
vulndb https://vuln.go.dev

deny  github.com/evil/*                     "typosquat of github.com/good"
deny  github.com/foo/bar >=v1.2.0 <v1.4.0   "data loss bug, INC-123"
deny  github.com/foo/* pseudo               "no untagged commits from foo"
warn  github.com/old/thing                  "deprecated: move to github.com/new/thing"
allow corp.example/*                        "ours"

except github.com/foo/bar v1.3.1 until 2026-12-31         "patched build, SEC-42"
except * vuln GO-2026-0001,CVE-2026-1111 until 2027-01-31 "not reachable, reviewed by security"
`

func TestParseSample(t *testing.T) {
	p, err := Parse("/etc/gomodfetch/policy.txt", []byte(samplePolicy))
	if err != nil {
		t.Fatal(err)
	}
	if p.def != Allow || len(p.rules) != 5 || len(p.excepts) != 2 || len(p.cooldowns) != 2 || len(p.vulns) != 2 {
		t.Fatalf("parsed %+v", p)
	}
	if got := p.VulnDB(); got != "https://vuln.go.dev" {
		t.Errorf("VulnDB() = %q", got)
	}
	if !p.ChecksVulns() {
		t.Error("ChecksVulns() = false")
	}
	r := p.rules[1]
	if r.line != 12 || r.action != Deny || r.patterns != "github.com/foo/bar" || r.rng.String() != ">=v1.2.0 <v1.4.0" || r.reason != "data loss bug, INC-123" {
		t.Errorf("rule 2 = %+v", r)
	}
	if got := p.ruleName(r.line); got != "policy.txt:12" {
		t.Errorf("ruleName = %q", got)
	}
	e := p.excepts[1]
	if strings.Join(e.ids, ",") != "GO-2026-0001,CVE-2026-1111" || !e.until.Equal(time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("exception 2 = %+v", e)
	}
	if c := p.cooldownFor("corp.example/lib"); c.d != 0 || c.line != 5 {
		t.Errorf("cooldownFor(corp) = %+v", c)
	}
	if c := p.cooldownFor("github.com/x/y"); c.d != 7*24*time.Hour {
		t.Errorf("cooldownFor(github) = %+v", c)
	}
	if v := p.vulnRuleFor("github.com/legacy/a/b"); v.action != Warn {
		t.Errorf("vulnRuleFor(legacy) = %+v", v)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       string // substring of the error, after "policy.txt:LINE: "
		line       int
	}{
		{"unknown verb", "dney github.com/x \"r\"", `unknown directive "dney"`, 1},
		{"no reason", "\n\ndeny github.com/x", "a rule needs a reason", 3},
		{"empty reason", `deny github.com/x ""`, "a rule needs a reason", 1},
		{"version without v", `deny github.com/x >=1.2.0 "r"`, "write v1.2.0", 1},
		{"non-canonical", `deny github.com/x <v1.2 "r"`, "write v1.2.0", 1},
		{"not a version", `deny github.com/x >=latest "r"`, "is not a version constraint", 1},
		{"dangling op", `deny github.com/x >= "r"`, "needs a version after it", 1},
		{"dangling or", `deny github.com/x v1.0.0 || "r"`, `"||" needs constraints on both sides`, 1},
		{"version first", `deny >=v1.0.0 github.com/x "r"`, "the pattern comes first", 1},
		{"bad glob", `deny github.com/[x "r"`, "bad pattern", 1},
		{"empty glob", `deny github.com/x,,y "r"`, "empty pattern", 1},
		{"except no until", `except github.com/x v1.0.0 "r"`, "needs an expiry at the end", 1},
		{"except bad date", `except github.com/x until 31/12/2026 "r"`, "want a date (2026-12-31)", 1},
		{"except bad id", `except * vuln go-1 until 2026-12-31 "r"`, "is not a vulnerability ID", 1},
		{"except no reason", `except * until 2026-12-31`, "needs a reason", 1},
		{"two defaults", "default allow\ndefault deny", "second default line (the first is line 1)", 2},
		{"bad default", "default maybe", `want "default allow" or "default deny"`, 1},
		{"bad cooldown", "cooldown 7days", "want whole days (7d)", 1},
		{"negative cooldown", "cooldown -1h", "not negative", 1},
		{"two cooldowns", "cooldown 1d\ncooldown 2d", "second global cooldown line", 2},
		{"bad vulns", "vulns block", `"block": want deny, warn or off`, 1},
		{"unterminated", `deny github.com/x "oops`, "unterminated or malformed quoted reason", 1},
		{"after reason", `deny github.com/x "r" v1.0.0`, "text after the quoted reason", 1},
		{"control char", "deny github.com/x \"a\\x1bb\"", "one line of printable text", 1},
		{"vulndb two", "vulndb a\nvulndb b", "second vulndb line", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("conf/policy.txt", []byte(tc.text))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse = %v, want a *SyntaxError", err)
			}
			le := se.Errs[0]
			if le.Line != tc.line || le.File != "conf/policy.txt" || !strings.Contains(le.Msg, tc.want) {
				t.Fatalf("error %q, want line %d with %q", le.Error(), tc.line, tc.want)
			}
		})
	}
}

func TestParseReportsEveryError(t *testing.T) {
	_, err := Parse("p", []byte("deny a\nallow b \"ok\"\nwarn c\n"))
	var se *SyntaxError
	if !errors.As(err, &se) || len(se.Errs) != 2 || se.Errs[0].Line != 1 || se.Errs[1].Line != 3 {
		t.Fatalf("err = %v", err)
	}
	if want := "p:1: deny: a rule needs a reason"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Error() = %q, want prefix %q", err, want)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "policy.txt")
	if err := os.WriteFile(f, []byte(samplePolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Load(f)
	if err != nil || len(p.rules) != 5 {
		t.Fatalf("Load = %v, %v", p, err)
	}
	if _, err := Load(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v", err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Load(dir) = %v", err)
	}
}

func TestVersionRanges(t *testing.T) {
	const (
		pseudoBefore13 = "v1.2.4-0.20260101120000-0123456789ab" // a commit after v1.2.3
		pseudoBase0    = "v0.0.0-20260101120000-0123456789ab"
		pre14          = "v1.4.0-rc.1"
	)
	for _, tc := range []struct {
		rng  string
		in   []string
		out  []string
		text string // String(), when it differs from rng
	}{
		{"", []string{"v0.0.1", "v9.9.9", pseudoBase0}, nil, ""},
		{">=v1.2.0 <v1.4.0", []string{"v1.2.0", "v1.3.9", pseudoBefore13, pre14}, []string{"v1.1.9", "v1.4.0", pseudoBase0}, ""},
		{"v1.3.1", []string{"v1.3.1"}, []string{"v1.3.0", "v1.3.2"}, ""},
		{"=v1.3.1", []string{"v1.3.1"}, []string{"v1.3.10"}, "v1.3.1"},
		{">= v1.2.0 < v1.3.0", []string{"v1.2.5"}, []string{"v1.3.0"}, ">=v1.2.0 <v1.3.0"},
		{"<=v1.0.0 || >v2.0.0", []string{"v1.0.0", "v0.9.0", "v2.0.1"}, []string{"v1.5.0", "v2.0.0"}, ""},
		{"pseudo", []string{pseudoBefore13, pseudoBase0}, []string{"v1.2.3", pre14}, ""},
		{"prerelease", []string{pre14}, []string{pseudoBefore13, "v1.4.0"}, ""},
		{"release", []string{"v1.4.0", "v2.0.0+incompatible"}, []string{pre14, pseudoBase0}, ""},
		{">=v2.0.0+incompatible", []string{"v2.0.0+incompatible", "v3.0.0+incompatible"}, []string{"v1.9.9"}, ""},
		{">=" + pseudoBefore13 + " <v1.2.4", []string{pseudoBefore13, "v1.2.4-0.20260202000000-0123456789ab"}, []string{"v1.2.3", "v1.2.4"}, ""},
	} {
		t.Run(tc.rng, func(t *testing.T) {
			var toks []string
			if tc.rng != "" {
				toks = strings.Fields(tc.rng)
			}
			r, err := parseVersions(toks)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.text
			if want == "" {
				want = tc.rng
			}
			if r.String() != want {
				t.Errorf("String() = %q, want %q", r.String(), want)
			}
			for _, v := range tc.in {
				if !r.contains(v) {
					t.Errorf("%s not in range", v)
				}
			}
			for _, v := range tc.out {
				if r.contains(v) {
					t.Errorf("%s in range", v)
				}
			}
		})
	}
}

func TestPatterns(t *testing.T) {
	for _, tc := range []struct {
		patterns, path string
		want           bool
	}{
		{"", "any.example/x", true},
		{"*", "any.example/x", true},
		{"corp.example/*", "corp.example/a/b/c", true},
		{"corp.example/*", "corp.example", false},
		{"corp.example", "corp.example/a", true},
		{"github.com/foo/bar", "github.com/foo/barbaz", false},
		{"github.com/foo/bar", "github.com/foo/bar/v2", true},
		{"*.corp.example,github.com/x", "git.corp.example/y", true},
		{"*.corp.example,github.com/x", "github.com/y", false},
	} {
		if got := matchPatterns(tc.patterns, tc.path); got != tc.want {
			t.Errorf("matchPatterns(%q, %q) = %v", tc.patterns, tc.path, got)
		}
	}
}

func TestDurationsAndDates(t *testing.T) {
	for s, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "0": 0, "36h": 36 * time.Hour, "90m": 90 * time.Minute, "0d": 0} {
		if d, err := parseDuration(s); err != nil || d != want {
			t.Errorf("parseDuration(%q) = %v, %v", s, d, err)
		}
	}
	if d, err := parseDate("2026-12-31"); err != nil || !d.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("parseDate(date) = %v, %v", d, err)
	}
	if d, err := parseDate("2026-12-31T18:00:00+01:00"); err != nil || !d.Equal(time.Date(2026, 12, 31, 17, 0, 0, 0, time.UTC)) {
		t.Errorf("parseDate(time) = %v, %v", d, err)
	}
}

// A vulndb line naming a directory or zip is relative to the policy
// file's directory; URLs and absolute paths are kept as written.
func TestParseVulnDBRelative(t *testing.T) {
	for _, c := range []struct{ file, line, want string }{
		{"/etc/gomodfetch/policy.txt", "vulndb mirror/vulndb.zip", filepath.FromSlash("/etc/gomodfetch/mirror/vulndb.zip")},
		{"/etc/gomodfetch/policy.txt", "vulndb ../vulndb", filepath.FromSlash("/etc/vulndb")},
		{"/etc/gomodfetch/policy.txt", "vulndb /srv/vulndb", "/srv/vulndb"},
		{"/etc/gomodfetch/policy.txt", "vulndb https://vuln.example/db", "https://vuln.example/db"},
		{"/etc/gomodfetch/policy.txt", "vulns deny", ""},
	} {
		p, err := Parse(c.file, []byte(c.line+"\n"))
		if err != nil {
			t.Fatalf("%s: %v", c.line, err)
		}
		if got := p.VulnDB(); got != c.want {
			t.Errorf("%s: VulnDB() = %q, want %q", c.line, got, c.want)
		}
	}
}
