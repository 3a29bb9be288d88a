package verify

import (
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/module"
)

func TestVerifier(t *testing.T) {
	sums, err := ParseSums("go.sum", []byte(
		"example.com/a v1.0.0 h1:AAA=\n"+
			"example.com/a v1.0.0/go.mod h1:AMOD=\n"+
			"example.com/e v1.0.0/go.mod "+emptyGoModHash+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	private := func(p string) bool { return module.MatchPrefixPatterns("corp.example", p) }
	v := &Verifier{Sums: sums, SkipSumDB: private}
	ctx := context.Background()
	a := module.Version{Path: "example.com/a", Version: "v1.0.0"}

	if err := v.Check(ctx, a, "h1:AAA="); err != nil {
		t.Errorf("recorded hash refused: %v", err)
	}
	var mismatch *ChecksumMismatchError
	if err := v.Check(ctx, a, "h1:BAD="); !errors.As(err, &mismatch) || !strings.Contains(err.Error(), "SECURITY ERROR") {
		t.Errorf("mismatch not refused as a security error: %v", err)
	}
	var missing *MissingSumError
	b := module.Version{Path: "example.com/b", Version: "v1.0.0"}
	if err := v.Check(ctx, b, "h1:BBB="); !errors.As(err, &missing) {
		t.Errorf("missing entry without a checksum database accepted: %v", err)
	}
	p := module.Version{Path: "corp.example/x", Version: "v1.0.0/go.mod"}
	if err := v.Check(ctx, p, "h1:PPP="); err != nil {
		t.Errorf("GONOSUMDB path refused: %v", err)
	}
	// The private hash is now known: a different one is a mismatch.
	if err := v.Check(ctx, p, "h1:QQQ="); !errors.As(err, &mismatch) {
		t.Errorf("second hash for the same version accepted: %v", err)
	}
	keepAll := func(module.Version) bool { return true }
	if got := sums.addedLines(keepAll); len(got) != 1 || got[0] != "corp.example/x v1.0.0/go.mod h1:PPP=" {
		t.Errorf("added lines = %q", got)
	}
}

func TestParseSumsMalformed(t *testing.T) {
	_, err := ParseSums("/p/go.sum", []byte("example.com/a v1.0.0 h1:x\nexample.com/a v1.0.0\n"))
	if err == nil || !strings.Contains(err.Error(), "/p/go.sum:2: wrong number of fields 2") {
		t.Fatalf("error = %v", err)
	}
}

func TestSumLineOrder(t *testing.T) {
	lines := []string{
		"example.com/a v1.10.0 h1:x",
		"example.com/a v1.2.0/go.mod h1:y",
		"example.com/a v1.2.0 h1:z",
		"example.com/A v1.0.0 h1:w",
	}
	want := []string{
		"example.com/A v1.0.0 h1:w",
		"example.com/a v1.2.0 h1:z",
		"example.com/a v1.2.0/go.mod h1:y",
		"example.com/a v1.10.0 h1:x",
	}
	for i := range lines {
		for j := range lines {
			iw, jw := index(want, lines[i]), index(want, lines[j])
			if got := sumLineLess(lines[i], lines[j]); got != (iw < jw) {
				t.Errorf("sumLineLess(%q, %q) = %v", lines[i], lines[j], got)
			}
		}
	}
}

func index(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
