package main

import (
	"regexp"
	"slices"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// policyCmds are the testscript commands of the policy scripts.
var policyCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"cmpdenied": cmdCmpDenied,
}

// deniedRE finds a denial in any of the places its message is shown: the
// CLI's error lines and -json, the audit's lines, serve's log (slog's
// quoted text) and the go command's "server response:" lines.
var deniedRE = regexp.MustCompile(`gomodfetch policy: ([^\s:"]+@[^\s:"]+): [^"\n]*\(denied`)

// cmpdenied fileA fileB checks that two outputs deny the same set of
// module versions (at least one), whatever their format.
func cmdCmpDenied(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: cmpdenied fileA fileB")
	}
	set := func(file string) []string {
		var out []string
		for _, m := range deniedRE.FindAllStringSubmatch(ts.ReadFile(file), -1) {
			out = append(out, m[1])
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	a, b := set(args[0]), set(args[1])
	if len(a) == 0 && !neg {
		ts.Fatalf("%s denies nothing", args[0])
	}
	if slices.Equal(a, b) == neg {
		ts.Fatalf("denied sets (neg=%v):\n%s: %s\n%s: %s", neg, args[0], strings.Join(a, " "), args[1], strings.Join(b, " "))
	}
}
