package verify

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/module"
)

// TestCheckLineOrder: several lines for one version are walked in file
// order, as the go command walks them.
func TestCheckLineOrder(t *testing.T) {
	const honest, attacker = "h1:HONEST=", "h1:ATTACKER="
	zip := module.Version{Path: "example.com/a", Version: "v1.0.0"}
	mod := module.Version{Path: "example.com/a", Version: "v1.0.0/go.mod"}
	tests := []struct {
		name  string
		lines []string // hashes, in file order
		want  string   // "" (accepted), "missing" or the recorded hash named
	}{
		{"honest only", []string{honest}, ""},
		{"honest then attacker", []string{honest, attacker}, ""},
		{"attacker then honest", []string{attacker, honest}, attacker},
		{"two attackers", []string{attacker, "h1:OTHER="}, attacker},
		{"unknown algorithm first", []string{"h2:FUTURE=", honest}, ""},
		{"unknown algorithm then attacker", []string{"h2:FUTURE=", attacker, honest}, attacker},
		{"duplicate honest", []string{honest, honest, attacker}, ""},
		{"empty go.mod hash ignored", []string{emptyGoModHash, honest}, ""},
		{"only unknown algorithms", []string{"h2:FUTURE=", "zz:X"}, "missing"},
	}
	for _, m := range []module.Version{zip, mod} {
		for _, tt := range tests {
			t.Run(m.Version+"/"+tt.name, func(t *testing.T) {
				var data string
				for _, h := range tt.lines {
					data += m.Path + " " + m.Version + " " + h + "\n"
				}
				sums, err := ParseSums("go.sum", []byte(data))
				if err != nil {
					t.Fatal(err)
				}
				v := &Verifier{Sums: sums}
				checkWant(t, v.Check(context.Background(), m, honest), tt.want, "go.sum")
			})
		}
	}
}

func checkWant(t *testing.T, err error, want, source string) {
	t.Helper()
	var mismatch *ChecksumMismatchError
	var missing *MissingSumError
	switch {
	case want == "":
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
	case want == "missing":
		if !errors.As(err, &missing) {
			t.Fatalf("err = %v, want a missing go.sum entry", err)
		}
	default:
		if !errors.As(err, &mismatch) {
			t.Fatalf("err = %v, want a checksum mismatch", err)
		}
		if mismatch.Recorded != want || mismatch.Source != source {
			t.Fatalf("mismatch names %s %s, want %s %s", mismatch.Source, mismatch.Recorded, source, want)
		}
		if !strings.Contains(err.Error(), "SECURITY ERROR") {
			t.Fatalf("not a SECURITY ERROR: %v", err)
		}
	}
}

// TestCheckWorkspaceSums: go.work.sum is walked in order first and a match
// there settles it; otherwise any differing h1 line in a module's go.sum is
// a mismatch, wherever it stands.
func TestCheckWorkspaceSums(t *testing.T) {
	const honest, attacker = "h1:HONEST=", "h1:ATTACKER="
	mod := module.Version{Path: "example.com/a", Version: "v1.0.0/go.mod"}
	line := func(hs ...string) string {
		var s string
		for _, h := range hs {
			s += mod.Path + " " + mod.Version + " " + h + "\n"
		}
		return s
	}
	tests := []struct {
		name       string
		work, a, b string // go.work.sum and two module go.sum files
		want       string
		source     string // "a", "b" or "go.work.sum"
	}{
		{"work honest, module attacker", line(honest), line(attacker), "", "", ""},
		{"work honest then attacker", line(honest, attacker), "", line(attacker), "", ""},
		{"work attacker, module honest", line(attacker), line(honest), "", attacker, "go.work.sum"},
		{"module honest then attacker", "", line(honest, attacker), "", attacker, "a"},
		{"module attacker then honest", "", line(attacker, honest), "", attacker, "a"},
		{"modules disagree", "", line(honest), line(attacker), attacker, "b"},
		{"modules agree", "", line(honest), line(honest), "", ""},
		{"work unknown algorithm, module honest", line("h2:X"), line("h2:Y", honest), "", "", ""},
		{"nothing", line("h2:X"), "", "", "missing", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{"go.work.sum": tt.work, "a": tt.a, "b": tt.b}
			for name, data := range files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o666); err != nil {
					t.Fatal(err)
				}
			}
			sums, err := ReadSums(filepath.Join(dir, "go.work.sum"))
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"a", "b"} {
				if err := sums.Include(filepath.Join(dir, name)); err != nil {
					t.Fatal(err)
				}
			}
			source := tt.source
			if source == "a" || source == "b" {
				source = filepath.Join(dir, source)
			}
			v := &Verifier{Sums: sums}
			checkWant(t, v.Check(context.Background(), mod, honest), tt.want, source)
		})
	}
}

// TestLookupOrder: the direct hand-off's lines come in the order the go
// command meets them.
// TestExpected: the one hash the go.sum rule accepts, handed to the go
// command for a direct fetch: the main file's first h1 line; else the line
// the other files agree on; none when the other files disagree.
func TestExpected(t *testing.T) {
	dir := t.TempDir()
	a := module.Version{Path: "example.com/a", Version: "v1.0.0"}
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o666); err != nil {
			t.Fatal(err)
		}
		return p
	}
	load := func(main string, others ...string) *Sums {
		t.Helper()
		sums, err := ReadSums(write("go.work.sum", main))
		if err != nil {
			t.Fatal(err)
		}
		for i, o := range others {
			if err := sums.Include(write(filepath.Join(string(rune('m'+i)), "go.sum"), o)); err != nil {
				t.Fatal(err)
			}
		}
		return sums
	}
	tests := []struct {
		name     string
		sums     *Sums
		want     string
		conflict bool
	}{
		{"main first h1 line", load("example.com/a v1.0.0 h2:X\nexample.com/a v1.0.0 h1:W2=\nexample.com/a v1.0.0 h1:W1=\n", "example.com/a v1.0.0 h1:M1=\n"), "h1:W2=", false},
		{"others agree", load("", "example.com/a v1.0.0 h1:M1=\n", "example.com/a v1.0.0 h1:M1=\n"), "h1:M1=", false},
		{"others disagree", load("", "example.com/a v1.0.0 h1:M1=\n", "example.com/a v1.0.0 h1:M2=\n"), "", true},
		{"none", load(""), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.sums.Expected(a)
			var ce *ConflictError
			if got != tt.want || errors.As(err, &ce) != tt.conflict || (err != nil && !tt.conflict) {
				t.Fatalf("Expected = %q, %v; want %q, conflict %v", got, err, tt.want, tt.conflict)
			}
		})
	}
}
