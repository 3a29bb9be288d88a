package download

import (
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/module"
)

func TestParseProxyList(t *testing.T) {
	tests := []struct {
		in      string
		want    string // entries joined by spaces, "|" marking fall-back-on-error
		wantErr string
	}{
		{in: "", want: "direct"},
		{in: "https://proxy.golang.org,direct", want: "https://proxy.golang.org direct"},
		{in: "https://a.example|https://b.example,off", want: "https://a.example| https://b.example off"},
		{in: "direct,https://never.example", want: "direct"},
		{in: "off", want: "off"},
		{in: "proxy.example.com/sub", want: "https://proxy.example.com/sub"},
		{in: " https://a.example , ,file:///srv/mods", want: "https://a.example file:///srv/mods"},
		{in: "https://user:secret@a.example", want: "https://user:xxxxx@a.example"},
		{in: "ftp://a.example", wantErr: `unsupported scheme "ftp"`},
		{in: "bogus", wantErr: "not a URL and not a built-in keyword"},
	}
	for _, tt := range tests {
		list, err := ParseProxyList(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseProxyList(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseProxyList(%q): %v", tt.in, err)
			continue
		}
		var parts []string
		for _, p := range list {
			s := p.String()
			if p.FallbackOnError {
				s += "|"
			}
			parts = append(parts, s)
		}
		if got := strings.Join(parts, " "); got != tt.want {
			t.Errorf("ParseProxyList(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTryProxiesFallThrough(t *testing.T) {
	notFound := &HTTPError{URL: "u", Status: "404 Not Found", StatusCode: 404}
	gone := &HTTPError{URL: "u", Status: "410 Gone", StatusCode: 410}
	broken := &HTTPError{URL: "u", Status: "500 Internal Server Error", StatusCode: 500}
	tests := []struct {
		name    string
		goproxy string
		answers []error // per entry, in order
		asked   int
		wantErr error
	}{
		{"comma falls through on 404", "https://a.x,https://b.x", []error{notFound, nil}, 2, nil},
		{"comma falls through on 410", "https://a.x,https://b.x", []error{gone, nil}, 2, nil},
		{"comma stops on 500", "https://a.x,https://b.x", []error{broken, nil}, 1, broken},
		{"pipe falls through on 500", "https://a.x|https://b.x", []error{broken, nil}, 2, nil},
		{"last not-found wins when all miss", "https://a.x,https://b.x", []error{notFound, gone}, 2, gone},
		{"a real error beats a later not-found", "https://a.x|https://b.x", []error{broken, notFound}, 2, broken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, err := ParseProxyList(tt.goproxy)
			if err != nil {
				t.Fatal(err)
			}
			asked := 0
			err = tryProxies(list, func(Proxy) error {
				e := tt.answers[asked]
				asked++
				return e
			})
			if asked != tt.asked || err != tt.wantErr {
				t.Fatalf("asked %d, err %v; want %d, %v", asked, err, tt.asked, tt.wantErr)
			}
		})
	}
}

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
