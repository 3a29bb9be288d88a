package policy

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fakeVulns answers from a table: path@version -> vulnerabilities.
type fakeVulns struct {
	m   map[string][]Vuln
	err error
}

func (f fakeVulns) Affecting(_ context.Context, path, version string) ([]Vuln, error) {
	return f.m[path+"@"+version], f.err
}

var testNow = time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)

// times answers release times from a table, and records what was asked.
type times struct {
	m     map[string]time.Time
	asked []string
}

func (ts *times) of(_ context.Context, v string) (time.Time, error) {
	ts.asked = append(ts.asked, v)
	t, ok := ts.m[v]
	if !ok {
		return time.Time{}, errors.New("no .info")
	}
	return t, nil
}

func mustParse(t *testing.T, text string) *Policy {
	t.Helper()
	p, err := Parse("policy.txt", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const gatePolicy = `default allow
cooldown 7d
cooldown 0 corp.example/*
vulns deny
vulns warn github.com/legacy/*
deny  github.com/evil/*                    "typosquat"
deny  github.com/foo/bar >=v1.2.0 <v1.4.0  "data loss bug"
warn  github.com/old/thing                 "deprecated"
except github.com/foo/bar v1.3.1 until 2026-12-31 "patched build"
except github.com/foo/bar v1.3.2 until 2026-06-01 "expired one"
except github.com/vuln/mod vuln CVE-2026-2222 until 2026-12-31 "not reachable"
except github.com/young/mod v2.0.1 until 2026-07-01 "security release, ship it now"
`

func TestCheck(t *testing.T) {
	p := mustParse(t, gatePolicy)
	old := testNow.Add(-30 * 24 * time.Hour)
	young := testNow.Add(-2 * 24 * time.Hour)
	vulns := fakeVulns{m: map[string][]Vuln{
		"github.com/vuln/mod@v1.0.0": {
			{ID: "GO-2026-0001", Fixed: "v1.0.2"},
			{ID: "GO-2026-0002", Aliases: []string{"CVE-2026-2222"}, Fixed: "v1.0.1"},
		},
		"github.com/vuln/mod@v1.1.0":    {{ID: "GO-2026-0003"}},
		"github.com/legacy/lib@v0.1.0":  {{ID: "GO-2026-0004", Fixed: "v0.2.0"}},
		"github.com/foo/bar@v1.3.1":     {{ID: "GO-2026-0005", Fixed: "v1.3.3"}},
		"github.com/old/thing@v1.0.0":   {{ID: "GO-2026-0006", Fixed: "v1.0.1"}},
		"github.com/young/mod@v2.0.1":   nil,
		"corp.example/lib@v0.0.0-young": nil,
	}}
	ts := map[string]time.Time{"v1.0.0": old, "v1.1.0": old, "v1.2.0": old, "v1.3.0": old, "v1.3.1": old, "v1.3.2": old,
		"v1.5.0": young, "v2.0.0": young, "v2.0.1": young, "v0.1.0": old}
	for _, tc := range []struct {
		name, path, version string
		action              Action
		kind, rule          string
		message             string
		asked               bool // whether the release time was asked
		warnings            int
	}{
		{"plain", "github.com/ok/mod", "v1.0.0", Allow, "", "", "gomodfetch policy: github.com/ok/mod@v1.0.0: allowed", true, 0},
		{"deny glob", "github.com/evil/pkg/sub", "v1.0.0", Deny, "rule", "policy.txt:6",
			"gomodfetch policy: github.com/evil/pkg/sub@v1.0.0: typosquat (denied by policy.txt:6)", false, 0},
		{"deny range", "github.com/foo/bar", "v1.3.0", Deny, "rule", "policy.txt:7",
			"gomodfetch policy: github.com/foo/bar@v1.3.0: data loss bug (denied by policy.txt:7)", false, 0},
		{"below range", "github.com/foo/bar", "v1.1.0", Allow, "", "", "", true, 0},
		{"excepted", "github.com/foo/bar", "v1.3.1", Deny, "vuln", "policy.txt:4",
			"gomodfetch policy: github.com/foo/bar@v1.3.1: GO-2026-0005 (denied; fixed in v1.3.3)", false, 0},
		{"expired exception", "github.com/foo/bar", "v1.3.2", Deny, "rule", "policy.txt:7", "", false, 0},
		{"warn rule", "github.com/old/thing", "v1.1.0", Warn, "rule", "policy.txt:8",
			"gomodfetch policy: github.com/old/thing@v1.1.0: deprecated (warning by policy.txt:8)", true, 0},
		{"vuln beats warn", "github.com/old/thing", "v1.0.0", Deny, "vuln", "policy.txt:4", "", false, 1},
		{"vulns", "github.com/vuln/mod", "v1.0.0", Deny, "vuln", "policy.txt:4",
			"gomodfetch policy: github.com/vuln/mod@v1.0.0: GO-2026-0001 (denied; fixed in v1.0.2)", false, 0},
		{"no fix", "github.com/vuln/mod", "v1.1.0", Deny, "vuln", "policy.txt:4",
			"gomodfetch policy: github.com/vuln/mod@v1.1.0: GO-2026-0003 (denied; no fixed version)", false, 0},
		{"vulns warn by pattern", "github.com/legacy/lib", "v0.1.0", Warn, "vuln", "policy.txt:5",
			"gomodfetch policy: github.com/legacy/lib@v0.1.0: GO-2026-0004 (warning; fixed in v0.2.0)", true, 0},
		{"cooldown", "github.com/new/mod", "v1.5.0", Deny, "cooldown", "policy.txt:2",
			"gomodfetch policy: github.com/new/mod@v1.5.0: released 2026-06-13T12:00:00Z, in cooldown until 2026-06-20T12:00:00Z (denied by policy.txt:2)", true, 0},
		{"cooldown unknown time", "github.com/new/mod", "v9.0.0", Deny, "cooldown", "policy.txt:2",
			"gomodfetch policy: github.com/new/mod@v9.0.0: release time unknown, held in cooldown: no .info (denied by policy.txt:2)", true, 0},
		{"cooldown excepted", "github.com/young/mod", "v2.0.1", Allow, "", "", "", false, 0},
		{"cooldown not excepted", "github.com/young/mod", "v2.0.0", Deny, "cooldown", "policy.txt:2", "", true, 0},
		{"cooldown 0 for corp", "corp.example/lib", "v0.0.0-young", Allow, "", "", "", false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tt := &times{m: ts}
			g := &Gate{Policy: p, Vulns: vulns, Now: func() time.Time { return testNow }}
			d := g.Check(context.Background(), tc.path, tc.version, tt.of)
			if d.Action != tc.action || d.Kind != tc.kind || d.Rule != tc.rule {
				t.Fatalf("Check = %+v, want %v %q %q", d, tc.action, tc.kind, tc.rule)
			}
			if tc.message != "" && d.Message() != tc.message {
				t.Errorf("Message()\n got %s\nwant %s", d.Message(), tc.message)
			}
			if (len(tt.asked) > 0) != tc.asked {
				t.Errorf("release time asked: %v, want %v", tt.asked, tc.asked)
			}
			if len(d.Warnings) != tc.warnings {
				t.Errorf("Warnings = %q", d.Warnings)
			}
			if (d.Action == Deny) != (d.Err() != nil) {
				t.Errorf("Err() = %v for %v", d.Err(), d.Action)
			}
		})
	}
}

func TestCheckVulnException(t *testing.T) {
	p := mustParse(t, gatePolicy)
	g := &Gate{Policy: p, Now: func() time.Time { return testNow }, Vulns: fakeVulns{m: map[string][]Vuln{
		"github.com/vuln/mod@v1.0.0": {
			{ID: "GO-2026-0001", Fixed: "v1.0.2"},
			{ID: "GO-2026-0002", Aliases: []string{"CVE-2026-2222"}, Fixed: "v1.0.1"},
		}}}}
	d := g.Check(context.Background(), "github.com/vuln/mod", "v1.0.0", nil)
	// The exception names GO-2026-0002 by its alias; GO-2026-0001 stays.
	if !reflect.DeepEqual(d.IDs, []string{"GO-2026-0001"}) || !reflect.DeepEqual(d.Excepted, []string{"policy.txt:11"}) {
		t.Fatalf("IDs %v, Excepted %v", d.IDs, d.Excepted)
	}
	// Once it expires, both count, and the fix for both is the higher.
	g.Now = func() time.Time { return time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC) }
	d = g.Check(context.Background(), "github.com/vuln/mod", "v1.0.0", nil)
	if want := "gomodfetch policy: github.com/vuln/mod@v1.0.0: GO-2026-0001, GO-2026-0002 (denied; fixed in v1.0.2)"; d.Message() != want {
		t.Fatalf("Message() = %s", d.Message())
	}
	if len(d.Excepted) != 0 {
		t.Errorf("Excepted = %v after expiry", d.Excepted)
	}
	if ex := p.Expired(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)); len(ex) != 4 {
		t.Errorf("Expired = %v", ex)
	}
	if ex := p.Expired(testNow); len(ex) != 1 || ex[0].Rule != "policy.txt:10" {
		t.Errorf("Expired(now) = %v", ex)
	}
}

func TestCheckVulnDBUnavailable(t *testing.T) {
	p := mustParse(t, "vulns deny\nvulns warn github.com/legacy/*\n")
	g := &Gate{Policy: p, Vulns: fakeVulns{err: errors.New("index/db.json: 503 Service Unavailable")}}
	d := g.Check(context.Background(), "github.com/a/b", "v1.0.0", nil)
	if d.Action != Deny || d.Kind != "vulndb" ||
		d.Message() != "gomodfetch policy: github.com/a/b@v1.0.0: vulnerability database unavailable: index/db.json: 503 Service Unavailable (denied)" {
		t.Fatalf("Check = %+v\n%s", d, d.Message())
	}
	if d := g.Check(context.Background(), "github.com/legacy/x", "v1.0.0", nil); d.Action != Warn {
		t.Errorf("legacy: %+v", d)
	}
	g.Vulns = nil
	if d := g.Check(context.Background(), "github.com/a/b", "v1.0.0", nil); d.Action != Deny || !strings.Contains(d.Reason, "none configured") {
		t.Errorf("no db: %+v", d)
	}
	// A policy with vulns off never asks.
	g.Policy = mustParse(t, "vulns off\n")
	if d := g.Check(context.Background(), "github.com/a/b", "v1.0.0", nil); d.Action != Allow {
		t.Errorf("vulns off: %+v", d)
	}
}

func TestDefaultDeny(t *testing.T) {
	p := mustParse(t, `default deny "only reviewed modules"
allow golang.org/x/* "Go project"
allow github.com/foo/bar <v2.0.0 "reviewed up to v1"
except github.com/foo/bar v2.0.0 until 2026-12-31 "trial of v2"
`)
	g := &Gate{Policy: p, Now: func() time.Time { return testNow }}
	for _, tc := range []struct {
		path, version string
		want          Action
	}{
		{"golang.org/x/mod", "v0.43.0", Allow},
		{"github.com/foo/bar", "v1.9.0", Allow},
		{"github.com/foo/bar", "v2.0.0", Allow},
		{"github.com/foo/bar", "v2.0.1", Deny},
		{"github.com/other/x", "v1.0.0", Deny},
	} {
		d := g.Check(context.Background(), tc.path, tc.version, nil)
		if d.Action != tc.want {
			t.Errorf("%s@%s: %+v", tc.path, tc.version, d)
		}
	}
	d := g.Check(context.Background(), "github.com/other/x", "v1.0.0", nil)
	if want := "gomodfetch policy: github.com/other/x@v1.0.0: only reviewed modules (denied by policy.txt:1)"; d.Message() != want {
		t.Errorf("Message() = %s", d.Message())
	}
	g.Policy = mustParse(t, "default deny\n")
	d = g.Check(context.Background(), "github.com/other/x", "v1.0.0", nil)
	if want := "gomodfetch policy: github.com/other/x@v1.0.0: no allow line matches (denied by policy.txt:1)"; d.Message() != want {
		t.Errorf("Message() = %s", d.Message())
	}
}

func TestFilterListAndLatest(t *testing.T) {
	p := mustParse(t, gatePolicy)
	old := testNow.Add(-30 * 24 * time.Hour)
	young := testNow.Add(-time.Hour)
	g := &Gate{Policy: p, Now: func() time.Time { return testNow }, Vulns: fakeVulns{m: map[string][]Vuln{
		"github.com/foo/bar@v1.5.0": {{ID: "GO-2026-0009", Fixed: "v1.5.1"}},
	}}}
	tt := &times{m: map[string]time.Time{
		"v1.1.0": old, "v1.2.0": old, "v1.3.1": old, "v1.5.0": old, "v1.5.1": young, "v1.6.0-rc.1": young,
	}}
	list := []string{"v1.1.0", "v1.2.0", "v1.3.1", "v1.5.0", "v1.5.1", "v1.6.0-rc.1"}
	kept, hidden := g.FilterList(context.Background(), "github.com/foo/bar", list, tt.of)
	if want := []string{"v1.1.0", "v1.3.1"}; !reflect.DeepEqual(kept, want) {
		t.Errorf("kept %v, want %v", kept, want)
	}
	var kinds []string
	for _, d := range hidden {
		kinds = append(kinds, d.Version+":"+d.Kind)
	}
	if want := []string{"v1.2.0:rule", "v1.5.0:vuln", "v1.5.1:cooldown", "v1.6.0-rc.1:cooldown"}; !reflect.DeepEqual(kinds, want) {
		t.Errorf("hidden %v, want %v", kinds, want)
	}

	// Latest: v1.5.1 (cooldown) and v1.5.0 (vulnerable) are passed over;
	// the excepted v1.3.1 is the highest allowed release.
	d := g.Latest(context.Background(), "github.com/foo/bar", list, "", tt.of)
	if d.Action != Allow || d.Version != "v1.3.1" {
		t.Errorf("Latest = %+v", d)
	}
	// Only young or denied versions: a denial that says why, not a 404.
	d = g.Latest(context.Background(), "github.com/foo/bar", []string{"v1.2.0", "v1.5.0", "v1.5.1"}, "", tt.of)
	if want := "gomodfetch policy: github.com/foo/bar: no version may be offered: 1 in cooldown, 1 vulnerable, 1 denied by a rule (denied)"; d.Action != Deny || d.Message() != want {
		t.Errorf("Latest = %s", d.Message())
	}
	// No tags: upstream's pseudo-version, if allowed.
	pseudo := "v0.0.0-20260101000000-0123456789ab"
	tt.m[pseudo] = old
	d = g.Latest(context.Background(), "github.com/foo/bar", nil, pseudo, tt.of)
	if d.Action != Allow || d.Version != pseudo {
		t.Errorf("Latest(pseudo) = %+v", d)
	}
	// Nothing to choose from: nothing was refused.
	d = g.Latest(context.Background(), "github.com/foo/bar", nil, "", tt.of)
	if d.Action != Allow || d.Version != "" {
		t.Errorf("Latest(nothing) = %+v", d)
	}
	// A prerelease is chosen only when there is no allowed release.
	tt.m["v1.6.0-rc.1"] = old
	d = g.Latest(context.Background(), "github.com/foo/bar", []string{"v1.2.0", "v1.6.0-rc.1"}, "", tt.of)
	if d.Version != "v1.6.0-rc.1" {
		t.Errorf("Latest(prerelease) = %+v", d)
	}
}

func TestMessageSanitised(t *testing.T) {
	d := Decision{Path: "example.com/x", Version: "v1.2.3", Action: Deny, Kind: "vuln",
		IDs: []string{"GO-2026-1234"}, FixedIn: "v1.2.4"}
	if want := "gomodfetch policy: example.com/x@v1.2.3: GO-2026-1234 (denied; fixed in v1.2.4)"; d.Message() != want {
		t.Errorf("Message() = %s", d.Message())
	}
	d = Decision{Path: "example.com/x", Version: "v1.2.3", Action: Deny, Kind: "vulndb",
		Reason: "unavailable: \x1b]0;pwned\a\r\nSUCCESS" + strings.Repeat("é", 400)}
	m := d.Message()
	if strings.ContainsAny(m, "\x1b\a\r\n") || !strings.Contains(m, `\x1b]0;pwned\a\r SUCCESS`) || len(m) > 400 {
		t.Errorf("Message() = %q", m)
	}
}
