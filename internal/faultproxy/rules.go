package faultproxy

import (
	"bufio"
	"fmt"
	"hash/fnv"
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
// keeps state (uses left, requests per path): give each Server its own.
type Rules struct {
	mu   sync.Mutex
	list []*rule
	seen map[string]int // path → requests for it so far
	hits int            // requests a rule gave a fault to
}

// Faults returns how many requests a rule has given a fault to so far (a
// reset-file-at rule's fault counts when it is given, fired or not).
func (rs *Rules) Faults() int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.hits
}

type rule struct {
	pat    *regexp.Regexp
	action string
	arg    string
	left   int     // uses left; -1 means unlimited
	prob   float64 // p=, or random's probability
	keyed  bool    // the rule applies with probability prob (p=)
	seed   uint64
	index  int // the rule's place in the list, mixed into its decisions
	first  int // match only the first requests for each path; 0: all
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
//	<glob> <action> [arg] [first=N] [p=P [seed=S]] [xN]
//
// glob matches the request path below the proxy root ("*" matches
// anything, "/" included), e.g. "*.zip" or "example.com/a/@v/*". The first
// rule that matches and has uses left applies; xN limits a rule to its first
// N matching requests (default: all). first=N makes a rule match only the
// first N requests for each path (counted since the Rules were read).
// p=P makes it apply to a matching request with probability P, and let the
// next rules decide otherwise; the draw is a function of S (default 1), the
// rule's place in the list, the path and how many requests for that path
// came before, so the Nth request for a file meets the same fault in every
// run, whatever order the requests come in. Actions:
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
//	                             (drawn as p= draws; the next rules decide
//	                             when it does not fire)
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
		ru.index = len(rs.list)
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
	rest, err := r.parseModifiers(fields[2:])
	if err != nil {
		return nil, err
	}
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
		if len(rest) != 1 || r.keyed {
			return nil, fmt.Errorf("random needs a probability (its argument, not p=)")
		}
		if r.prob, err = strconv.ParseFloat(rest[0], 64); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unknown action %q", r.action)
	}
	return r, nil
}

// parseModifiers takes first=N, p=P and seed=S out of a rule's fields
// and returns the others.
func (r *rule) parseModifiers(fields []string) ([]string, error) {
	var rest []string
	r.seed = 1
	for _, f := range fields {
		k, v, _ := strings.Cut(f, "=")
		var err error
		switch k {
		case "first":
			r.first, err = strconv.Atoi(v)
			if err == nil && r.first < 1 {
				err = fmt.Errorf("first=%s: want a count of 1 or more", v)
			}
		case "p":
			r.prob, err = strconv.ParseFloat(v, 64)
			if err == nil && (r.prob < 0 || r.prob > 1) {
				err = fmt.Errorf("p=%s: want a probability between 0 and 1", v)
			}
			r.keyed = true
		case "seed":
			r.seed, err = strconv.ParseUint(v, 10, 64)
		default:
			rest = append(rest, f)
		}
		if err != nil {
			return nil, err
		}
	}
	return rest, nil
}

// draw returns a source of numbers that is a function of the rule, path
// and n (the request's ordinal for path) alone.
func (r *rule) draw(path string, n int) *rand.Rand {
	h := fnv.New64a()
	io.WriteString(h, path)
	return rand.New(rand.NewPCG(r.seed^uint64(r.index)<<32, h.Sum64()^uint64(n)))
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
	if rs.seen == nil {
		rs.seen = map[string]int{}
	}
	rs.seen[path]++
	n := rs.seen[path]
	for _, r := range rs.list {
		if r.left == 0 || (r.first > 0 && n > r.first) || !r.pat.MatchString(path) {
			continue
		}
		var rng *rand.Rand
		if r.keyed || r.action == "random" {
			if rng = r.draw(path, n); rng.Float64() >= r.prob {
				continue
			}
		}
		rs.hits++
		if r.action == "reset-file-at" {
			return fault{action: r.action, arg: r.arg, claim: func() bool { return rs.claim(r) }}
		}
		if r.left > 0 {
			r.left--
		}
		if r.action != "random" {
			return fault{action: r.action, arg: r.arg}
		}
		c := randomChoices[rng.IntN(len(randomChoices))]
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
