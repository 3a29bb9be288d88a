package policy

import (
	"fmt"
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// versionRange is a set of versions: alternatives joined by "||", each a
// list of constraints that must all hold. No alternatives: every version.
//
// Versions compare in semantic-version order (golang.org/x/mod/semver),
// as the go command and the vulnerability database compare them. A
// pseudo-version is a prerelease of the version after its base:
// v1.2.4-0.20260101000000-abcdef123456 is above v1.2.3 and below v1.2.4,
// so ">=v1.2.0 <v1.4.0" holds every commit between those tags, and "<v1.4.0"
// holds v1.4.0-rc.1 and the pseudo-versions based on v1.3.x. Build
// metadata ("+incompatible") does not take part in the order.
type versionRange struct {
	alts [][]constraint
}

type constraint struct {
	op string // "=", "<", "<=", ">", ">=", or a kind: "pseudo", "prerelease", "release"
	v  string
}

func (r versionRange) String() string {
	var alts []string
	for _, a := range r.alts {
		var cs []string
		for _, c := range a {
			switch c.op {
			case "pseudo", "prerelease", "release":
				cs = append(cs, c.op)
			case "=":
				cs = append(cs, c.v)
			default:
				cs = append(cs, c.op+c.v)
			}
		}
		alts = append(alts, strings.Join(cs, " "))
	}
	return strings.Join(alts, " || ")
}

// contains reports whether version v is in the range.
func (r versionRange) contains(v string) bool {
	if len(r.alts) == 0 {
		return true
	}
	for _, a := range r.alts {
		if allHold(a, v) {
			return true
		}
	}
	return false
}

func allHold(cs []constraint, v string) bool {
	for _, c := range cs {
		if !c.holds(v) {
			return false
		}
	}
	return true
}

func (c constraint) holds(v string) bool {
	switch c.op {
	case "pseudo":
		return module.IsPseudoVersion(v)
	case "prerelease":
		return semver.Prerelease(v) != "" && !module.IsPseudoVersion(v)
	case "release":
		return semver.Prerelease(v) == ""
	}
	cmp := semver.Compare(v, c.v)
	switch c.op {
	case "=":
		return cmp == 0
	case "<":
		return cmp < 0
	case "<=":
		return cmp <= 0
	case ">":
		return cmp > 0
	case ">=":
		return cmp >= 0
	}
	return false
}

// parseVersions reads the words after a pattern: constraints such as
// ">=v1.2.0 <v1.4.0" (an operator may stand apart: ">= v1.2.0"), an exact
// version "v1.2.3", the kinds "pseudo", "prerelease" and "release", and
// "||" between alternatives.
func parseVersions(toks []string) (versionRange, error) {
	var r versionRange
	var cur []constraint
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t == "||" {
			if len(cur) == 0 {
				return r, fmt.Errorf(`"||" needs constraints on both sides`)
			}
			r.alts = append(r.alts, cur)
			cur = nil
			continue
		}
		switch t {
		case "pseudo", "prerelease", "release":
			cur = append(cur, constraint{op: t})
			continue
		}
		op := ""
		for _, o := range []string{">=", "<=", ">", "<", "="} {
			if strings.HasPrefix(t, o) {
				op = o
				break
			}
		}
		v := strings.TrimPrefix(t, op)
		if op != "" && v == "" {
			if i+1 == len(toks) {
				return r, fmt.Errorf("%q needs a version after it", op)
			}
			i++
			v = toks[i]
		}
		if op == "" {
			op = "="
		}
		if err := checkBound(v); err != nil {
			return r, err
		}
		cur = append(cur, constraint{op: op, v: v})
	}
	if len(cur) == 0 && len(r.alts) > 0 {
		return r, fmt.Errorf(`"||" needs constraints on both sides`)
	}
	if len(cur) > 0 {
		r.alts = append(r.alts, cur)
	}
	return r, nil
}

func checkBound(v string) error {
	if v == "" {
		return fmt.Errorf("empty version")
	}
	if !strings.HasPrefix(v, "v") && semver.IsValid("v"+v) {
		return fmt.Errorf("version %q: module versions start with v (write v%s)", v, v)
	}
	if !semver.IsValid(v) {
		return fmt.Errorf("%q is not a version constraint: want >=v1.2.0, <v1.4.0, v1.2.3, pseudo, prerelease, release or ||", v)
	}
	if c := module.CanonicalVersion(v); c != v {
		return fmt.Errorf("version %q is not canonical (write %s)", v, c)
	}
	return nil
}
