package faultproxy

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Rules is a set of fault rules, as ParseRules reads them. A Rules value
// keeps state (uses left, random sources): give each Server its own.
type Rules struct {
	mu   sync.Mutex
	list []*rule
}

type rule struct {
	pat    *regexp.Regexp
	action string
	arg    string
	left   int // uses left; -1 means unlimited
	rng    *rand.Rand
	prob   float64
}

// fault is what a rule decides for one request: an action ("" for none)
// and its argument.
type fault struct {
	action, arg string
	// claim, for reset-file-at, spends a use of the rule when the fault
	// fires; false if none is left by then.
	claim func() bool
}

// ParseRules reads fault rules from r (name is used in error messages).
// There is one rule a line (# starts a comment):
//
//	<glob> <action> [arg] [xN]
//
// glob matches the request path below the proxy root ("*" matches
// anything, "/" included), e.g. "*.zip" or "example.com/a/@v/*". The first
// rule that matches and has uses left applies; xN limits a rule to its first
// N matching requests (default: all). Actions:
//
//	status CODE [retry-after=S]  answer CODE instead
//	reset                        reset the connection before answering
//	reset-mid                    send half the body, then reset
//	reset-at F                   send the fraction F (0 to 1) of the body, then
//	                             reset
//	reset-file-at F              reset the first response that gets to the byte
//	                             at fraction F of the whole file (whatever range
//	                             it answers), once the bytes before it are sent;
//	                             a use is spent only when it fires, so "x1" cuts
//	                             the file once even if a client closes earlier
//	                             responses that hold the byte (Server.Cuts says
//	                             which response it cut)
//	truncate                     promise the whole body, send half, close
//	short                        answer with the first half of the body as
//	                             a whole answer (its Content-Length says
//	                             half): only the bytes show the damage
//	corrupt                      send the body with bytes flipped (at a new
//	                             place each time)
//	tamper                       send a well-formed but different body: a zip
//	                             with one more file, a go.mod with one more line
//	stall-headers D              wait D (or until the client gives up), then answer
//	stall-body D                 send half the body, then wait D and close
//	slow D                       wait D, then answer normally
//	trickle D                    send the body one byte every D
//	random P [seed=S]            with probability P, one of: 500, 502, 503,
//	                             429, reset, reset-mid, truncate, corrupt
//	garbage                      answer 200 with the same bytes that are not
//	                             what was asked for (not JSON, not a zip)
//	hostile KIND                 answer with terminal control sequences: KIND
//	                             body (a text/plain 403 error body), status (a
//	                             404 whose reason phrase holds them) or info (a
//	                             .info whose Version holds them)
//	ignore-range                 answer 200 with the whole body, without
//	                             Accept-Ranges, whatever Range asks for
//
// Every wait is cut to MaxStall. Faults that change a body (truncate,
// corrupt, tamper, ...) apply only to 200 and 206 answers; a range is cut
// from the tampered file, and the damage of corrupt lands in the bytes sent.
func ParseRules(name string, r io.Reader) (*Rules, error) {
	rs := &Rules{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		ru, err := parseRule(fields)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, n, err)
		}
		rs.list = append(rs.list, ru)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return rs, nil
}

// LoadRules reads the fault rules in file (see ParseRules).
func LoadRules(file string) (*Rules, error) {
	fh, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return ParseRules(file, fh)
}

func parseRule(fields []string) (*rule, error) {
	if len(fields) < 2 {
		return nil, fmt.Errorf("want: <glob> <action> [arg] [xN]")
	}
	pat := "^" + strings.ReplaceAll(regexp.QuoteMeta(fields[0]), `\*`, ".*") + "$"
	r := &rule{pat: regexp.MustCompile(pat), action: fields[1], left: -1}
	rest := fields[2:]
	if n := len(rest); n > 0 && strings.HasPrefix(rest[n-1], "x") {
		if c, err := strconv.Atoi(rest[n-1][1:]); err == nil {
			r.left = c
			rest = rest[:n-1]
		}
	}
	switch r.action {
	case "reset", "reset-mid", "truncate", "short", "corrupt", "tamper", "garbage", "ignore-range":
	case "status":
		if len(rest) < 1 {
			return nil, fmt.Errorf("status needs a code")
		}
		r.arg = strings.Join(rest, " ")
	case "hostile":
		if len(rest) != 1 || (rest[0] != "body" && rest[0] != "status" && rest[0] != "info") {
			return nil, fmt.Errorf("hostile needs body, status or info")
		}
		r.arg = rest[0]
	case "reset-at", "reset-file-at":
		if len(rest) != 1 {
			return nil, fmt.Errorf("%s needs a fraction", r.action)
		}
		if f, err := strconv.ParseFloat(rest[0], 64); err != nil || f < 0 || f > 1 {
			return nil, fmt.Errorf("%s needs a fraction between 0 and 1", r.action)
		}
		r.arg = rest[0]
	case "stall-headers", "stall-body", "slow", "trickle":
		if len(rest) != 1 {
			return nil, fmt.Errorf("%s needs a duration", r.action)
		}
		if _, err := time.ParseDuration(rest[0]); err != nil {
			return nil, err
		}
		r.arg = rest[0]
	case "random":
		if len(rest) < 1 {
			return nil, fmt.Errorf("random needs a probability")
		}
		p, err := strconv.ParseFloat(rest[0], 64)
		if err != nil {
			return nil, err
		}
		seed := uint64(1)
		for _, kv := range rest[1:] {
			if s, ok := strings.CutPrefix(kv, "seed="); ok {
				if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
					return nil, err
				}
			}
		}
		r.prob = p
		r.rng = rand.New(rand.NewPCG(seed, seed))
	default:
		return nil, fmt.Errorf("unknown action %q", r.action)
	}
	return r, nil
}

// randomChoices are the faults a random rule picks from.
var randomChoices = []string{"status 500", "status 502", "status 503", "status 429 retry-after=0", "reset", "reset-mid", "truncate", "corrupt"}

// pick returns the fault for a request for path, consuming a use of the
// rule that decides it.
func (rs *Rules) pick(path string) fault {
	if rs == nil {
		return fault{}
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, r := range rs.list {
		if r.left == 0 || !r.pat.MatchString(path) {
			continue
		}
		if r.action == "reset-file-at" {
			return fault{action: r.action, arg: r.arg, claim: func() bool { return rs.claim(r) }}
		}
		if r.left > 0 {
			r.left--
		}
		if r.action != "random" {
			return fault{action: r.action, arg: r.arg}
		}
		if r.rng.Float64() >= r.prob {
			return fault{}
		}
		c := randomChoices[r.rng.IntN(len(randomChoices))]
		action, arg, _ := strings.Cut(c, " ")
		return fault{action: action, arg: arg}
	}
	return fault{}
}

// claim spends a use of r, if it has one left.
func (rs *Rules) claim(r *rule) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if r.left == 0 {
		return false
	}
	if r.left > 0 {
		r.left--
	}
	return true
}
