package policy

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"gomodfetch/internal/termsafe"
)

// Source gives the policy in force. A *Policy is a Source of itself; a
// *Watcher gives the last good version of its file.
type Source interface {
	Current() *Policy
}

// Vulns answers which known vulnerabilities affect a module version.
// *VulnDB is one; it must be safe for concurrent use.
type Vulns interface {
	Affecting(ctx context.Context, path, version string) ([]Vuln, error)
}

// Vuln is a vulnerability entry that affects a module version. Every
// string is as the database gave it, checked (ID, Fixed) or made safe to
// print (Summary).
type Vuln struct {
	ID      string
	Aliases []string `json:",omitempty"`
	Summary string   `json:",omitempty"`
	// Fixed is the first version that fixes it above the version asked
	// about, "" when the database names none.
	Fixed string `json:",omitempty"`
}

// TimeFunc returns a version's release time as the caller trusts it (see
// the package doc: the .info Time, or the later of it and the time a
// proxy first saw the version). It is called only when a cooldown applies
// to the version and nothing else refuses it.
type TimeFunc func(ctx context.Context, version string) (time.Time, error)

// Gate applies a policy, with the vulnerability database and the clock,
// to module versions. Its methods are safe for concurrent use.
type Gate struct {
	Policy Source
	// Vulns is consulted when the policy's vulns lines ask for it; nil
	// then makes every checked version fail as "database unavailable".
	Vulns Vulns
	// Now is the clock (nil: time.Now), for cooldowns and expiries.
	Now func() time.Time
}

func (g *Gate) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

// Decision is what the policy says of one module version (or, from
// Latest, of a module's latest version). The fields other than Action
// explain the finding that decided it.
type Decision struct {
	Path    string
	Version string `json:",omitempty"`
	Action  Action
	// Kind says what decided: "rule" (an allow, deny or warn line),
	// "default", "vuln", "vulndb" (the database could not be read),
	// "cooldown", "latest" (no version of the module may be offered); ""
	// when nothing applied.
	Kind string `json:",omitempty"`
	// Rule is the deciding line, file:line, when there is one.
	Rule   string `json:",omitempty"`
	Reason string `json:",omitempty"`
	// IDs are the vulnerabilities that affect the version, with Fixed the
	// lowest version that fixes them all ("" when none is known).
	IDs     []string `json:",omitempty"`
	FixedIn string   `json:",omitempty"`
	Vulns   []Vuln   `json:",omitempty"`
	// Until is when a version in cooldown will be offered.
	Until time.Time `json:",omitzero"`
	// Excepted lists the exception lines (file:line) in force for the
	// version.
	Excepted []string `json:",omitempty"`
	// Warnings are the messages of the other findings: a warn rule or a
	// vulnerability warning under a deny, for instance.
	Warnings []string `json:",omitempty"`
}

// Allowed reports whether the version may be served or downloaded (allow
// or warn).
func (d Decision) Allowed() bool { return d.Action != Deny }

// Message is the decision on one line, for a text/plain body the go
// command prints to its user, a log line or a CLI error:
//
//	gomodfetch policy: example.com/x@v1.2.3: GO-2026-1234 (denied; fixed in v1.2.4)
//
// Everything in it that came from outside (the vulnerability database,
// the request) is made safe to print.
func (d Decision) Message() string {
	what := d.Path
	if d.Version != "" {
		what += "@" + d.Version
	}
	return "gomodfetch policy: " + oneLine(what) + ": " + d.finding()
}

func (d Decision) finding() string {
	verb := map[Action]string{Allow: "allowed", Warn: "warning", Deny: "denied"}[d.Action]
	switch d.Kind {
	case "vuln":
		fix := "no fixed version"
		if d.FixedIn != "" {
			fix = "fixed in " + d.FixedIn
		}
		return oneLine(strings.Join(d.IDs, ", ")) + " (" + verb + "; " + fix + ")"
	case "rule":
		return oneLine(d.Reason) + " (" + verb + " by " + d.Rule + ")"
	case "default", "cooldown":
		by := "by default"
		if d.Rule != "" {
			by = "by " + d.Rule
		}
		return oneLine(d.Reason) + " (" + verb + " " + by + ")"
	case "":
		return verb
	}
	return oneLine(d.Reason) + " (" + verb + ")"
}

// DeniedError is a denial as an error, for the CLI to fail a module with.
type DeniedError struct {
	Decision Decision
}

func (e *DeniedError) Error() string { return e.Decision.Message() }

// Err is a *DeniedError when the version is denied, nil otherwise.
func (d Decision) Err() error {
	if d.Action != Deny {
		return nil
	}
	return &DeniedError{Decision: d}
}

// oneLine makes untrusted text safe for a one-line message: controls
// escaped (internal/termsafe), newlines and tabs made spaces, at most 300
// bytes.
func oneLine(s string) string {
	s = termsafe.String(s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		cut := 300
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

type finding struct {
	action Action
	kind   string
	rule   string
	reason string
	ids    []string
	fixed  string
	vulns  []Vuln
	until  time.Time
}

// Check decides one module version (canonical: v1.2.3, a pseudo-version):
// a version a client asks for exactly (serve: .info and .zip; CLI: each
// module it downloads whole).
//
// The deny, warn and allow lines, the default, the vulnerability
// database and the cooldown are each consulted; the most severe finding
// decides (deny over warn over allow; among equals, in that order), and
// the others become Warnings. A live exception without IDs lifts deny and
// warn lines, a default deny and the cooldown; one with IDs lifts those
// vulnerabilities only. timeOf is called only when a cooldown applies and
// nothing else already denies the version; a nil timeOf or an error from
// it keeps the version in cooldown (the age cannot be shown).
func (g *Gate) Check(ctx context.Context, path, version string, timeOf TimeFunc) Decision {
	return g.check(ctx, g.Policy.Current(), g.now(), path, version, timeOf)
}

func (g *Gate) check(ctx context.Context, p *Policy, now time.Time, path, version string, timeOf TimeFunc) Decision {
	d := Decision{Path: path, Version: version, Action: Allow}

	var plain *exception
	var vulnEx []*exception
	for i := range p.excepts {
		e := &p.excepts[i]
		if !now.Before(e.until) || !matchPatterns(e.patterns, path) || !e.rng.contains(version) {
			continue
		}
		d.Excepted = append(d.Excepted, p.ruleName(e.line))
		if len(e.ids) == 0 {
			if plain == nil {
				plain = e
			}
		} else {
			vulnEx = append(vulnEx, e)
		}
	}

	var fs []finding
	var deny, warn *rule
	allowed := false
	for i := range p.rules {
		r := &p.rules[i]
		if !matchPatterns(r.patterns, path) || !r.rng.contains(version) {
			continue
		}
		switch {
		case r.action == Deny && deny == nil:
			deny = r
		case r.action == Warn && warn == nil:
			warn = r
		case r.action == Allow:
			allowed = true
		}
	}
	if plain == nil {
		switch {
		case deny != nil:
			fs = append(fs, finding{action: Deny, kind: "rule", rule: p.ruleName(deny.line), reason: deny.reason})
		case p.def == Deny && !allowed:
			f := finding{action: Deny, kind: "default", reason: p.defReason}
			if p.defLine > 0 {
				f.rule = p.ruleName(p.defLine)
			}
			if f.reason == "" {
				f.reason = "no allow line matches"
			}
			fs = append(fs, f)
		}
		if warn != nil {
			fs = append(fs, finding{action: Warn, kind: "rule", rule: p.ruleName(warn.line), reason: warn.reason})
		}
	}

	if vr := p.vulnRuleFor(path); vr != nil && vr.action != Allow {
		fs = append(fs, g.checkVulns(ctx, p, vr, path, version, vulnEx)...)
	}

	if c := p.cooldownFor(path); c != nil && c.d > 0 && plain == nil && !anyDeny(fs) {
		if f, ok := checkCooldown(ctx, p, c, version, now, timeOf); ok {
			fs = append(fs, f)
		}
	}

	return decide(d, fs)
}

func anyDeny(fs []finding) bool {
	for _, f := range fs {
		if f.action == Deny {
			return true
		}
	}
	return false
}

func (g *Gate) checkVulns(ctx context.Context, p *Policy, vr *vulnRule, path, version string, vulnEx []*exception) []finding {
	rule := p.ruleName(vr.line)
	if g.Vulns == nil {
		return []finding{{action: vr.action, kind: "vulndb", rule: rule, reason: "vulnerability database unavailable: none configured"}}
	}
	vs, err := g.Vulns.Affecting(ctx, path, version)
	if err != nil {
		return []finding{{action: vr.action, kind: "vulndb", rule: rule, reason: "vulnerability database unavailable: " + err.Error()}}
	}
	var left []Vuln
	for _, v := range vs {
		if !excepted(vulnEx, v) {
			left = append(left, v)
		}
	}
	if len(left) == 0 {
		return nil
	}
	f := finding{action: vr.action, kind: "vuln", rule: rule, vulns: left}
	for _, v := range left {
		f.ids = append(f.ids, v.ID)
	}
	f.fixed = fixedForAll(left)
	return []finding{f}
}

func excepted(ex []*exception, v Vuln) bool {
	for _, e := range ex {
		for _, id := range e.ids {
			if id == v.ID {
				return true
			}
			for _, a := range v.Aliases {
				if id == a {
					return true
				}
			}
		}
	}
	return false
}

// fixedForAll is the highest of the vulnerabilities' fixed versions, the
// lowest that can fix them all; "" when one of them has no fix.
func fixedForAll(vs []Vuln) string {
	best := ""
	for _, v := range vs {
		if v.Fixed == "" {
			return ""
		}
		if best == "" || semver.Compare(v.Fixed, best) > 0 {
			best = v.Fixed
		}
	}
	return best
}

func checkCooldown(ctx context.Context, p *Policy, c *cooldown, version string, now time.Time, timeOf TimeFunc) (finding, bool) {
	f := finding{action: Deny, kind: "cooldown", rule: p.ruleName(c.line)}
	if timeOf == nil {
		f.reason = "release time unknown, held in cooldown"
		return f, true
	}
	t, err := timeOf(ctx, version)
	if err != nil {
		f.reason = "release time unknown, held in cooldown: " + err.Error()
		return f, true
	}
	until := t.Add(c.d)
	if !now.Before(until) {
		return finding{}, false
	}
	f.until = until.UTC()
	f.reason = fmt.Sprintf("released %s, in cooldown until %s", t.UTC().Format(time.RFC3339), f.until.Format(time.RFC3339))
	if c.reason != "" {
		f.reason += ": " + c.reason
	}
	return f, true
}

func decide(d Decision, fs []finding) Decision {
	best := -1
	for i, f := range fs {
		if best < 0 || f.action > fs[best].action {
			best = i
		}
	}
	if best < 0 {
		return d
	}
	f := fs[best]
	d.Action, d.Kind, d.Rule, d.Reason = f.action, f.kind, f.rule, f.reason
	d.IDs, d.FixedIn, d.Vulns, d.Until = f.ids, f.fixed, f.vulns, f.until
	for i, o := range fs {
		if i == best {
			continue
		}
		od := d
		od.Action, od.Kind, od.Rule, od.Reason, od.IDs, od.FixedIn = o.action, o.kind, o.rule, o.reason, o.ids, o.fixed
		d.Warnings = append(d.Warnings, od.Message())
		if o.kind == "vuln" && d.Vulns == nil {
			d.Vulns = o.vulns
		}
	}
	return d
}

// vulnRuleFor is the vulns line for a path: the strictest of the lines
// with patterns that match it, else the global line, else none.
func (p *Policy) vulnRuleFor(path string) *vulnRule {
	var global, best *vulnRule
	for i := range p.vulns {
		v := &p.vulns[i]
		switch {
		case v.patterns == "":
			global = v
		case matchPatterns(v.patterns, path) && (best == nil || v.action > best.action):
			best = v
		}
	}
	if best != nil {
		return best
	}
	return global
}

// cooldownFor is the cooldown line for a path: the longest of the lines
// with patterns that match it, else the global line, else none.
func (p *Policy) cooldownFor(path string) *cooldown {
	var global, best *cooldown
	for i := range p.cooldowns {
		c := &p.cooldowns[i]
		switch {
		case c.patterns == "":
			global = c
		case matchPatterns(c.patterns, path) && (best == nil || c.d > best.d):
			best = c
		}
	}
	if best != nil {
		return best
	}
	return global
}

// FilterList decides every version of a @v/list answer: kept are the
// versions that may be offered (allowed or warned about), in the order
// given; hidden are the decisions for the others (one policy and one
// instant for the whole list), so that @latest,
// @upgrade and @patch, which the go command works out from the list,
// choose among allowed versions only.
func (g *Gate) FilterList(ctx context.Context, path string, versions []string, timeOf TimeFunc) (kept []string, hidden []Decision) {
	p, now := g.Policy.Current(), g.now()
	for _, v := range versions {
		d := g.check(ctx, p, now, path, v, timeOf)
		if d.Allowed() {
			kept = append(kept, v)
		} else {
			hidden = append(hidden, d)
		}
	}
	return kept, hidden
}

// Latest chooses a module's latest version among those the policy
// allows, as the go command chooses from a list: the highest release,
// else the highest prerelease; failing both, upstream's own @latest
// answer (a pseudo-version for a module without tags) if it is allowed.
// Its Version is the choice. When versions were found and none is
// allowed, it is a denial of Kind "latest" that says how many were held
// back and why (serve answers it with 403, not 404, so that the client
// does not take the module from the next proxy in its list). When there
// was nothing to choose from it allows with an empty Version.
func (g *Gate) Latest(ctx context.Context, path string, versions []string, upstream string, timeOf TimeFunc) Decision {
	var rel, pre []string
	for _, v := range versions {
		switch {
		case !semver.IsValid(v) || module.IsPseudoVersion(v):
		case semver.Prerelease(v) == "":
			rel = append(rel, v)
		default:
			pre = append(pre, v)
		}
	}
	desc := func(s []string) {
		sort.Slice(s, func(i, j int) bool { return semver.Compare(s[i], s[j]) > 0 })
	}
	desc(rel)
	desc(pre)
	p, now := g.Policy.Current(), g.now()
	held := map[string]int{}
	seen := map[string]bool{}
	for _, v := range append(append(rel, pre...), upstream) {
		if v == "" || seen[v] {
			continue
		}
		seen[v] = true
		d := g.check(ctx, p, now, path, v, timeOf)
		if d.Allowed() {
			return d
		}
		held[d.Kind]++
	}
	if len(held) == 0 {
		return Decision{Path: path, Action: Allow}
	}
	names := map[string]string{"rule": "denied by a rule", "default": "denied by default", "vuln": "vulnerable",
		"vulndb": "not checked (vulnerability database unavailable)", "cooldown": "in cooldown"}
	var parts []string
	for _, k := range []string{"cooldown", "vuln", "rule", "default", "vulndb"} {
		if n := held[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, names[k]))
		}
	}
	return Decision{Path: path, Action: Deny, Kind: "latest",
		Reason: "no version may be offered: " + strings.Join(parts, ", ")}
}
