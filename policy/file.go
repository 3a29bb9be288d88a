package policy

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// Action is what a policy does with a module version.
type Action int

const (
	Allow Action = iota // served and downloaded
	Warn                // served and downloaded, and reported
	Deny                // refused (serve: 403; CLI: the module fails)
)

func (a Action) String() string {
	switch a {
	case Allow:
		return "allow"
	case Warn:
		return "warn"
	case Deny:
		return "deny"
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// MarshalText makes an Action "allow", "warn" or "deny" in JSON.
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// Policy is one parsed policy file. It is immutable and safe for
// concurrent use; a Watcher swaps whole Policies.
type Policy struct {
	name string // base name of the file, for rule names

	def       Action // Allow or Deny
	defReason string
	defLine   int

	rules     []rule
	excepts   []exception
	cooldowns []cooldown
	vulns     []vulnRule
	vulnDB    string
}

type rule struct {
	line     int
	action   Action
	patterns string
	rng      versionRange
	reason   string
}

type exception struct {
	line     int
	patterns string
	rng      versionRange
	ids      []string // vulnerability IDs or aliases; empty: rules and cooldown
	until    time.Time
	reason   string
}

type cooldown struct {
	line     int
	patterns string // "" for the global line
	d        time.Duration
	reason   string
}

type vulnRule struct {
	line     int
	patterns string // "" for the global line
	action   Action // Allow means off
	reason   string
}

// Current returns p itself, so that a fixed *Policy and a *Watcher are
// both a Source.
func (p *Policy) Current() *Policy { return p }

// VulnDB is the vulnerability database the file names with a vulndb line,
// or "": a relative directory or zip is taken relative to the file's
// directory.
func (p *Policy) VulnDB() string { return p.vulnDB }

// ChecksVulns reports whether any vulns line asks for the vulnerability
// database (deny or warn).
func (p *Policy) ChecksVulns() bool {
	for _, v := range p.vulns {
		if v.action != Allow {
			return true
		}
	}
	return false
}

// Exception is an exception line, as Expired reports it.
type Exception struct {
	Rule   string    // file:line
	Until  time.Time // the first instant it no longer applies
	Reason string
}

// Expired lists the exceptions that no longer apply at now, for a caller
// to log: an expired exception is ignored, so what it let through is
// refused again.
func (p *Policy) Expired(now time.Time) []Exception {
	var out []Exception
	for _, e := range p.excepts {
		if !now.Before(e.until) {
			out = append(out, Exception{Rule: p.ruleName(e.line), Until: e.until, Reason: e.reason})
		}
	}
	return out
}

func (p *Policy) ruleName(line int) string {
	return p.name + ":" + strconv.Itoa(line)
}

// LineError is one mistake in a policy file.
type LineError struct {
	File string
	Line int
	Msg  string
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// SyntaxError lists every mistake found in a policy file (at most
// maxErrors), so that one edit can fix them all.
type SyntaxError struct {
	Errs []*LineError
}

func (e *SyntaxError) Error() string {
	var b strings.Builder
	for i, le := range e.Errs {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(le.Error())
	}
	return b.String()
}

const maxErrors = 20

// maxFileSize bounds a policy file: it is read whole at every reload.
const maxFileSize = 4 << 20

// Load reads and parses the policy file at file.
func Load(file string) (*Policy, error) {
	data, err := readFile(file)
	if err != nil {
		return nil, err
	}
	return Parse(file, data)
}

func readFile(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("policy: %s is not a regular file", file)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("policy: reading %s: %w", file, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("policy: %s is larger than %d bytes", file, maxFileSize)
	}
	return data, nil
}

// Parse parses a policy file's contents; file names it in errors and in
// the rule names decisions carry (its base name and the line).
func Parse(file string, data []byte) (*Policy, error) {
	name := filepath.Base(file)
	if file == "" {
		name = "policy"
	}
	p := &Policy{name: name, def: Allow}
	ps := &parser{file: file, p: p}
	if file == "" {
		ps.file = "policy"
	}
	if !utf8.Valid(data) {
		ps.errorf(1, "file is not UTF-8 text")
		return nil, ps.err()
	}
	for i, line := range strings.Split(string(data), "\n") {
		if len(ps.errs) >= maxErrors {
			break
		}
		ps.line(i+1, strings.TrimSuffix(line, "\r"))
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	if db := p.vulnDB; db != "" && file != "" && !strings.Contains(db, "://") && !filepath.IsAbs(db) {
		// A directory or zip named in the file is where the file is.
		p.vulnDB = filepath.Join(filepath.Dir(file), db)
	}
	return p, nil
}

type parser struct {
	file string
	p    *Policy
	errs []*LineError

	seenDefault, seenCooldown, seenVulns, seenVulnDB int // line numbers
}

func (ps *parser) errorf(line int, format string, args ...any) {
	ps.errs = append(ps.errs, &LineError{File: ps.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (ps *parser) err() error {
	if len(ps.errs) == 0 {
		return nil
	}
	return &SyntaxError{Errs: ps.errs}
}

const verbs = "default, allow, deny, warn, except, cooldown, vulns, vulndb"

func (ps *parser) line(n int, text string) {
	toks, reason, hasReason, err := tokenize(text)
	if err != nil {
		ps.errorf(n, "%v", err)
		return
	}
	if len(toks) == 0 {
		if hasReason {
			ps.errorf(n, "a quoted reason alone: start the line with one of %s", verbs)
		}
		return
	}
	verb, args := toks[0], toks[1:]
	switch verb {
	case "default":
		ps.parseDefault(n, args, reason)
	case "allow", "deny", "warn":
		ps.parseRule(n, verb, args, reason, hasReason)
	case "except":
		ps.parseExcept(n, args, reason, hasReason)
	case "cooldown":
		ps.parseCooldown(n, args, reason)
	case "vulns":
		ps.parseVulns(n, args, reason)
	case "vulndb":
		ps.parseVulnDB(n, args, hasReason)
	default:
		ps.errorf(n, "unknown directive %q: want one of %s", verb, verbs)
	}
}

func (ps *parser) once(n int, seen *int, what string) bool {
	if *seen != 0 {
		ps.errorf(n, "second %s line (the first is line %d): keep one", what, *seen)
		return false
	}
	*seen = n
	return true
}

func (ps *parser) parseDefault(n int, args []string, reason string) {
	if len(args) != 1 || (args[0] != "allow" && args[0] != "deny") {
		ps.errorf(n, `default: want "default allow" or "default deny", optionally with a quoted reason`)
		return
	}
	if !ps.once(n, &ps.seenDefault, "default") {
		return
	}
	ps.p.def = Allow
	if args[0] == "deny" {
		ps.p.def = Deny
	}
	ps.p.defReason = reason
	ps.p.defLine = n
}

func (ps *parser) parseRule(n int, verb string, args []string, reason string, hasReason bool) {
	if len(args) == 0 {
		ps.errorf(n, `%s: want %s PATTERNS [VERSIONS] "reason"`, verb, verb)
		return
	}
	pats, ok := ps.patterns(n, verb, args[0])
	if !ok {
		return
	}
	rng, ok := ps.versions(n, verb, args[1:])
	if !ok {
		return
	}
	if !hasReason || strings.TrimSpace(reason) == "" {
		ps.errorf(n, `%s: a rule needs a reason: end the line with a quoted string, e.g. "why"`, verb)
		return
	}
	a := map[string]Action{"allow": Allow, "warn": Warn, "deny": Deny}[verb]
	ps.p.rules = append(ps.p.rules, rule{line: n, action: a, patterns: pats, rng: rng, reason: reason})
}

func (ps *parser) parseExcept(n int, args []string, reason string, hasReason bool) {
	const usage = `except PATTERNS [VERSIONS] [vuln ID,...] until YYYY-MM-DD "reason"`
	if len(args) == 0 {
		ps.errorf(n, "except: want %s", usage)
		return
	}
	pats, ok := ps.patterns(n, "except", args[0])
	if !ok {
		return
	}
	rest := args[1:]
	u := -1
	for i, t := range rest {
		if t == "until" {
			u = i
		}
	}
	if u < 0 || u != len(rest)-2 {
		ps.errorf(n, "except: an exception needs an expiry at the end: want %s", usage)
		return
	}
	until, err := parseDate(rest[u+1])
	if err != nil {
		ps.errorf(n, "except: %v", err)
		return
	}
	rest = rest[:u]
	var ids []string
	for i, t := range rest {
		if t != "vuln" {
			continue
		}
		if i != len(rest)-2 {
			ps.errorf(n, "except: want one comma-separated list of IDs after vuln (vuln GO-2026-0001,GO-2026-0002)")
			return
		}
		for _, id := range strings.Split(rest[i+1], ",") {
			if !idPattern.MatchString(id) {
				ps.errorf(n, "except: %q is not a vulnerability ID (GO-2026-1234, GHSA-…, CVE-…)", id)
				return
			}
			ids = append(ids, id)
		}
		rest = rest[:i]
		break
	}
	rng, ok := ps.versions(n, "except", rest)
	if !ok {
		return
	}
	if !hasReason || strings.TrimSpace(reason) == "" {
		ps.errorf(n, `except: an exception needs a reason: end the line with a quoted string, e.g. "why"`)
		return
	}
	ps.p.excepts = append(ps.p.excepts, exception{line: n, patterns: pats, rng: rng, ids: ids, until: until, reason: reason})
}

func (ps *parser) parseCooldown(n int, args []string, reason string) {
	if len(args) < 1 || len(args) > 2 {
		ps.errorf(n, `cooldown: want "cooldown DURATION [PATTERNS]" (7d, 36h, 0)`)
		return
	}
	d, err := parseDuration(args[0])
	if err != nil {
		ps.errorf(n, "cooldown: %v", err)
		return
	}
	c := cooldown{line: n, d: d, reason: reason}
	if len(args) == 2 {
		pats, ok := ps.patterns(n, "cooldown", args[1])
		if !ok {
			return
		}
		c.patterns = pats
	} else if !ps.once(n, &ps.seenCooldown, "global cooldown") {
		return
	}
	ps.p.cooldowns = append(ps.p.cooldowns, c)
}

func (ps *parser) parseVulns(n int, args []string, reason string) {
	if len(args) < 1 || len(args) > 2 {
		ps.errorf(n, `vulns: want "vulns deny|warn|off [PATTERNS]"`)
		return
	}
	a, ok := map[string]Action{"deny": Deny, "warn": Warn, "off": Allow}[args[0]]
	if !ok {
		ps.errorf(n, "vulns: %q: want deny, warn or off", args[0])
		return
	}
	v := vulnRule{line: n, action: a, reason: reason}
	if len(args) == 2 {
		pats, ok := ps.patterns(n, "vulns", args[1])
		if !ok {
			return
		}
		v.patterns = pats
	} else if !ps.once(n, &ps.seenVulns, "global vulns") {
		return
	}
	ps.p.vulns = append(ps.p.vulns, v)
}

func (ps *parser) parseVulnDB(n int, args []string, hasReason bool) {
	if len(args) != 1 || hasReason {
		ps.errorf(n, "vulndb: want one URL (https://vuln.go.dev), directory or .zip file")
		return
	}
	if !ps.once(n, &ps.seenVulnDB, "vulndb") {
		return
	}
	ps.p.vulnDB = args[0]
}

// patterns checks a comma-separated list of globs, as GOPRIVATE takes
// them (module.MatchPrefixPatterns).
func (ps *parser) patterns(n int, verb, s string) (string, bool) {
	for _, g := range strings.Split(s, ",") {
		if g == "" {
			ps.errorf(n, "%s: empty pattern in %q", verb, s)
			return "", false
		}
		if _, err := path.Match(g, ""); err != nil {
			ps.errorf(n, "%s: bad pattern %q: %v", verb, g, err)
			return "", false
		}
		if strings.HasPrefix(g, "/") || strings.HasSuffix(g, "/") {
			ps.errorf(n, "%s: pattern %q: a module path pattern has no leading or trailing slash", verb, g)
			return "", false
		}
		if looksLikeVersionToken(g) {
			ps.errorf(n, "%s: %q is not a module path pattern: the pattern comes first (%s PATTERNS VERSIONS)", verb, g, verb)
			return "", false
		}
	}
	return s, true
}

func looksLikeVersionToken(s string) bool {
	return strings.ContainsAny(s[:1], "<>=") || s == "||" || s == "pseudo" || s == "prerelease" || s == "release" ||
		(semver.IsValid(s) && !strings.Contains(s, "/"))
}

func (ps *parser) versions(n int, verb string, toks []string) (versionRange, bool) {
	r, err := parseVersions(toks)
	if err != nil {
		ps.errorf(n, "%s: %v", verb, err)
		return versionRange{}, false
	}
	return r, true
}

// parseDate reads an expiry: a date (the exception applies through the
// end of that day, UTC) or an RFC 3339 time.
func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.AddDate(0, 0, 1), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("expiry %q: want a date (2026-12-31) or an RFC 3339 time (2026-12-31T18:00:00Z)", s)
}

// parseDuration reads a cooldown: a Go duration (36h, 90m) or whole days
// (7d), or 0.
func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err == nil && n >= 0 && n <= 3650 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return d, nil
	}
	return 0, fmt.Errorf("duration %q: want whole days (7d) or a Go duration (36h, 90m), not negative", s)
}

// tokenize splits a line into words, drops a # comment, and takes a
// quoted reason (Go syntax, "…" or `…`) from the end of the line.
func tokenize(line string) (toks []string, reason string, hasReason bool, err error) {
	s := line
	for {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
		if s == "" || s[0] == '#' {
			return toks, reason, hasReason, nil
		}
		if hasReason {
			return nil, "", false, errors.New("text after the quoted reason: the reason ends the line (a # comment may follow)")
		}
		if s[0] == '"' || s[0] == '`' {
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				return nil, "", false, fmt.Errorf("unterminated or malformed quoted reason: %s", s)
			}
			reason, _ = strconv.Unquote(q)
			if !printable(reason) {
				return nil, "", false, errors.New("the reason must be one line of printable text")
			}
			hasReason = true
			s = s[len(q):]
			continue
		}
		i := strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == '"' || r == '`' || r == '#' })
		if i < 0 {
			i = len(s)
		}
		tok := s[:i]
		if !printable(tok) {
			return nil, "", false, fmt.Errorf("%q: unprintable character", tok)
		}
		toks = append(toks, tok)
		s = s[i:]
	}
}

func printable(s string) bool {
	for _, r := range s {
		if !unicode.IsGraphic(r) || (unicode.IsSpace(r) && r != ' ') {
			return false
		}
	}
	return true
}

// matchPatterns reports whether the module path matches a pattern list;
// "" (a global line) matches every path.
func matchPatterns(patterns, modPath string) bool {
	return patterns == "" || module.MatchPrefixPatterns(patterns, modPath)
}
