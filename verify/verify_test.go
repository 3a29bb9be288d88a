package verify

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/module"

	"gomodfetch/modcache"
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
	if got := sums.addedSums(keepAll); len(got) != 1 || got[p] != "h1:PPP=" {
		t.Errorf("added sums = %q", got)
	}
}

func TestParseSumsMalformed(t *testing.T) {
	_, err := ParseSums("/p/go.sum", []byte("example.com/a v1.0.0 h1:x\nexample.com/a v1.0.0\n"))
	if err == nil || !strings.Contains(err.Error(), "/p/go.sum:2: wrong number of fields 2") {
		t.Fatalf("error = %v", err)
	}
}

// TestWriteAddedAsGo: when a run adds a line, go.sum is written whole as
// the go command writes it (sorted by path and version, a version before
// its /go.mod, hashes sorted, no duplicates or blank lines, LF endings);
// when it adds nothing the file is left as it was, whatever its form.
func TestWriteAddedAsGo(t *testing.T) {
	messy := "example.com/a v1.10.0 h1:x\r\n" +
		"example.com/a v1.2.0/go.mod h1:y\n" +
		"\n" +
		"example.com/a  v1.2.0 h1:z\n" +
		"example.com/a v1.10.0 h1:x\n" +
		"example.com/e v1.0.0/go.mod " + emptyGoModHash + "\n" +
		"example.com/A v1.0.0 h1:w\n" +
		"example.com/a v1.2.0 h1:b"
	file := filepath.Join(t.TempDir(), "go.sum")
	cache := &modcache.Cache{Root: t.TempDir(), ReadWrite: true}
	keepAll := func(module.Version) bool { return true }

	if err := os.WriteFile(file, []byte(messy), 0o666); err != nil {
		t.Fatal(err)
	}
	sums, err := ReadSums(file)
	if err != nil {
		t.Fatal(err)
	}
	sums.add(module.Version{Path: "example.com/a", Version: "v1.10.0"}, "h1:x") // already there
	if err := sums.WriteAdded(cache, keepAll); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(file); string(data) != messy {
		t.Errorf("nothing added, yet go.sum changed:\n%s", data)
	}

	sums.add(module.Version{Path: "example.com/c", Version: "v0.1.0/go.mod"}, "h1:c")
	sums.add(module.Version{Path: "example.com/b", Version: "v1.0.0"}, "h1:q")
	if err := sums.WriteAdded(cache, func(m module.Version) bool { return m.Path != "example.com/b" }); err != nil {
		t.Fatal(err)
	}
	want := "example.com/A v1.0.0 h1:w\n" +
		"example.com/a v1.2.0 h1:b\n" +
		"example.com/a v1.2.0 h1:z\n" +
		"example.com/a v1.2.0/go.mod h1:y\n" +
		"example.com/a v1.10.0 h1:x\n" +
		"example.com/c v0.1.0/go.mod h1:c\n"
	if data, _ := os.ReadFile(file); string(data) != want {
		t.Errorf("go.sum =\n%s\nwant\n%s", data, want)
	}
}

// TestVouches checks that Vouches says whether Check compares a hash with
// a record it did not just make: a go.sum line vouches for its key
// whatever decides the rest (no checksum database configured, or the
// path skips it); without one, a checksum database does, for a path that
// does not skip it, and nothing else does.
func TestVouches(t *testing.T) {
	sums, err := ParseSums("go.sum", []byte("example.com/a v1.0.0/go.mod h1:AMOD=\ncorp.example/a v1.0.0/go.mod h1:CMOD=\n"))
	if err != nil {
		t.Fatal(err)
	}
	private := func(p string) bool { return module.MatchPrefixPatterns("corp.example", p) }
	key := func(path string) module.Version { return module.Version{Path: path, Version: "v1.0.0/go.mod"} }
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		v    *Verifier
		path string
		want bool
	}{
		{"go.sum line, no database", &Verifier{Sums: sums, SkipSumDB: private}, "example.com/a", true},
		{"go.sum line, no database, nothing skipped", &Verifier{Sums: sums}, "example.com/a", true},
		{"go.sum line, skipped", &Verifier{Sums: sums, SkipSumDB: private}, "corp.example/a", true},
		{"no line, no database", &Verifier{Sums: sums, SkipSumDB: private}, "example.com/b", false},
		{"no line, skipped", &Verifier{Sums: sums, SkipSumDB: private}, "corp.example/b", false},
		{"no line, database", &Verifier{Sums: sums, SkipSumDB: private, DB: FailingSumDB{Err: errors.New("down")}}, "example.com/b", true},
	} {
		if got := tc.v.Vouches(ctx, key(tc.path)); got != tc.want {
			t.Errorf("%s: Vouches(%s) = %v; want %v", tc.name, tc.path, got, tc.want)
		}
		// What vouches for a key, Check holds a hash to: one no record
		// has is refused.
		if err := tc.v.Check(ctx, key(tc.path), "h1:OTHER="); tc.want && err == nil {
			t.Errorf("%s: Check(%s) accepted an unknown hash; Vouches says something vouches for it", tc.name, tc.path)
		}
	}
}
