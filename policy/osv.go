package policy

import (
	"regexp"
	"strings"
	"time"

	"golang.org/x/mod/semver"
)

// The subset of the OSV schema that the Go vulnerability database uses
// (go.dev/security/vuln/database#schema) and that a gate needs: which
// module paths and which semver ranges an entry affects. Everything else
// in an entry (details, references, credits, affected packages and
// symbols) is left undecoded.
//
// golang.org/x/vuln reads this format in golang.org/x/vuln/internal/osv
// and internal/semver, which cannot be imported; its only importable
// package, golang.org/x/vuln/scan, runs govulncheck over a source tree and
// answers no per-version question. The OpenSSF's protobuf bindings
// (github.com/ossf/osv-schema/bindings/go) carry the types but not the
// range rule. So these few types are written here against the published
// schema, and the range rule follows the database's documented meaning
// (an event list sorted by version; "0" is the beginning of time;
// intervals closed at introduced, open at fixed), compared with
// golang.org/x/mod/semver as govulncheck compares them.

// osvEntry is one ID/<id>.json document.
type osvEntry struct {
	ID        string        `json:"id"`
	Modified  time.Time     `json:"modified"`
	Withdrawn *time.Time    `json:"withdrawn,omitempty"`
	Aliases   []string      `json:"aliases,omitempty"`
	Summary   string        `json:"summary,omitempty"`
	Affected  []osvAffected `json:"affected"`
	Database  *struct {
		ReviewStatus string `json:"review_status,omitempty"`
	} `json:"database_specific,omitempty"`
}

type osvAffected struct {
	Package struct {
		Name      string `json:"name"`
		Ecosystem string `json:"ecosystem"`
	} `json:"package"`
	Ranges []osvRange `json:"ranges,omitempty"`
}

type osvRange struct {
	Type   string     `json:"type"`
	Events []osvEvent `json:"events"`
}

type osvEvent struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
}

// indexModule is one element of index/modules.json.
type indexModule struct {
	Path  string      `json:"path"`
	Vulns []indexVuln `json:"vulns"`
}

type indexVuln struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	// Fixed is the newest fix not superseded by a later introduction, in
	// the database's bare form ("1.2.4"); empty when there is none.
	Fixed string `json:"fixed,omitempty"`
}

// idPattern is what a vulnerability ID (GO-2026-1234, GHSA-xxxx-xxxx-xxxx,
// CVE-2026-12345) must look like to be used as a file name or printed.
var idPattern = regexp.MustCompile(`^[A-Z][A-Z0-9]{0,15}-[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// osvVersion turns the database's bare version ("1.2.4") into a Go module
// version ("v1.2.4"); "" when it is not valid semver.
func osvVersion(s string) string {
	if s == "" {
		return ""
	}
	v := "v" + strings.TrimPrefix(s, "v")
	if !semver.IsValid(v) {
		return ""
	}
	return v
}

// affects reports whether the ranges of one affected module include
// version v, and the first fixed version above v in the interval that
// holds it ("" when that interval has no end). As govulncheck reads the
// database: no ranges, or no SEMVER range, means every version.
func affects(ranges []osvRange, v string) (bool, string) {
	semverSeen := false
	for _, r := range ranges {
		if r.Type != "SEMVER" {
			continue
		}
		semverSeen = true
		if in, fixed := inRange(r.Events, v); in {
			return true, fixed
		}
	}
	return !semverSeen, ""
}

// inRange walks one SEMVER range's events in version order: an
// "introduced" opens an affected interval (at "0": from the beginning),
// a "fixed" closes it before that version, a "last_affected" closes it
// after that version.
func inRange(events []osvEvent, v string) (bool, string) {
	type point struct {
		at   string // a module version, or "" for the beginning of time
		kind byte   // 'i', 'f', 'l'
	}
	pts := make([]point, 0, len(events))
	for _, e := range events {
		switch {
		case e.Introduced == "0":
			pts = append(pts, point{"", 'i'})
		case e.Introduced != "":
			if at := osvVersion(e.Introduced); at != "" {
				pts = append(pts, point{at, 'i'})
			}
		case e.Fixed != "":
			if at := osvVersion(e.Fixed); at != "" {
				pts = append(pts, point{at, 'f'})
			}
		case e.LastAffected != "":
			if at := osvVersion(e.LastAffected); at != "" {
				pts = append(pts, point{at, 'l'})
			}
		}
	}
	less := func(a, b point) bool {
		if a.at == "" || b.at == "" {
			return a.at == "" && b.at != ""
		}
		return semver.Compare(a.at, b.at) < 0
	}
	// Insertion sort: an entry has a handful of events, and the order of
	// equal versions must stay as written.
	for i := 1; i < len(pts); i++ {
		for j := i; j > 0 && less(pts[j], pts[j-1]); j-- {
			pts[j], pts[j-1] = pts[j-1], pts[j]
		}
	}
	affected := false
	for _, p := range pts {
		switch {
		case !affected && p.kind == 'i':
			affected = p.at == "" || semver.Compare(v, p.at) >= 0
		case affected && p.kind == 'f':
			if semver.Compare(v, p.at) < 0 {
				return true, p.at
			}
			affected = false
		case affected && p.kind == 'l':
			if semver.Compare(v, p.at) <= 0 {
				return true, "" // last_affected names no fixed version
			}
			affected = false
		}
	}
	return affected, ""
}
