package proxy

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"gomodfetch/retry"
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

// askWith runs Fetcher.ask over goproxy with each proxy (by host) answering
// as answers says, one attempt per proxy, and returns what it asked.
func askWith(t *testing.T, goproxy string, cfg Config, answer func(host string) (any, error)) (any, []string, error) {
	t.Helper()
	return askWithCtx(t, goproxy, cfg, func(_ context.Context, host string) (any, error) { return answer(host) })
}

func askWithCtx(t *testing.T, goproxy string, cfg Config, answer func(ctx context.Context, host string) (any, error)) (any, []string, error) {
	t.Helper()
	list, err := ParseProxyList(goproxy)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Proxies = list
	cfg.Client = &Client{}
	f := New(cfg)
	var (
		mu    sync.Mutex
		asked []string
	)
	v, _, err := f.ask(context.Background(), "example.com/m", func(ctx context.Context, base *url.URL) (any, error) {
		mu.Lock()
		asked = append(asked, base.Host)
		mu.Unlock()
		return answer(ctx, base.Host)
	}, nil)
	return v, asked, err
}

func TestAskFallThrough(t *testing.T) {
	notFound := &HTTPError{URL: "u", Status: "404 Not Found", StatusCode: 404}
	gone := &HTTPError{URL: "u", Status: "410 Gone", StatusCode: 410}
	broken := &HTTPError{URL: "u", Status: "500 Internal Server Error", StatusCode: 500}
	tests := []struct {
		name    string
		goproxy string
		answers map[string]error // by host; absent: success
		asked   string
		wantErr error
	}{
		{"comma falls through on 404", "https://a.x,https://b.x", map[string]error{"a.x": notFound}, "a.x b.x", nil},
		{"comma falls through on 410", "https://a.x,https://b.x", map[string]error{"a.x": gone}, "a.x b.x", nil},
		{"comma stops on 500", "https://a.x,https://b.x", map[string]error{"a.x": broken}, "a.x", broken},
		{"pipe falls through on 500", "https://a.x|https://b.x", map[string]error{"a.x": broken}, "a.x b.x", nil},
		{"last not-found wins when all miss", "https://a.x,https://b.x", map[string]error{"a.x": notFound, "b.x": gone}, "a.x b.x", gone},
		{"a real error beats a later not-found", "https://a.x|https://b.x", map[string]error{"a.x": broken, "b.x": notFound}, "a.x b.x", broken},
		{"pipe run then comma", "https://a.x|https://b.x,https://c.x", map[string]error{"a.x": broken, "b.x": notFound}, "a.x b.x c.x", nil},
		{"pipe run ending in 500 stops at comma", "https://a.x|https://b.x,https://c.x", map[string]error{"a.x": notFound, "b.x": broken}, "a.x b.x", broken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Policy: retry.Policy{MaxAttempts: -1}, HedgeDelay: -1}
			_, asked, err := askWith(t, tt.goproxy, cfg, func(host string) (any, error) {
				if e := tt.answers[host]; e != nil {
					return nil, e
				}
				return host, nil
			})
			if strings.Join(asked, " ") != tt.asked || (tt.wantErr == nil) != (err == nil) || !errors.Is(err, tt.wantErr) {
				t.Fatalf("asked %q, err %v; want %q, %v", asked, err, tt.asked, tt.wantErr)
			}
		})
	}
}

func TestAskHedgesSlowProxyWithinPipeRun(t *testing.T) {
	cfg := Config{Policy: retry.Policy{MaxAttempts: -1}, HedgeDelay: 10 * time.Millisecond}
	v, asked, err := askWithCtx(t, "https://slow.x|https://fast.x", cfg, func(ctx context.Context, host string) (any, error) {
		if host == "slow.x" {
			select { // answers only when cancelled (or after 10s)
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(10 * time.Second):
				return nil, errors.New("slow proxy was not cancelled")
			}
		}
		return host, nil
	})
	if err != nil || v != "fast.x" {
		t.Fatalf("got %v, %v; want the fast proxy's answer", v, err)
	}
	if strings.Join(asked, " ") != "slow.x fast.x" {
		t.Fatalf("asked %q", asked)
	}
}

func TestAskNeverHedgesAcrossComma(t *testing.T) {
	cfg := Config{Policy: retry.Policy{MaxAttempts: -1}, HedgeDelay: time.Millisecond}
	_, asked, err := askWith(t, "https://slow.x,https://other.x", cfg, func(host string) (any, error) {
		time.Sleep(30 * time.Millisecond)
		return host, nil
	})
	if err != nil || strings.Join(asked, " ") != "slow.x" {
		t.Fatalf("asked %q (err %v); a ',' list must not reach the second proxy", asked, err)
	}
}

func TestAskDemotesFailingProxy(t *testing.T) {
	list, _ := ParseProxyList("https://bad.x|https://good.x")
	f := New(Config{Proxies: list, Client: &Client{}, Policy: retry.Policy{MaxAttempts: -1}, HedgeDelay: -1, DemoteAfter: 2})
	var first []string
	for i := 0; i < 4; i++ {
		var mu sync.Mutex
		var asked []string
		_, _, err := f.ask(context.Background(), "example.com/m", func(ctx context.Context, base *url.URL) (any, error) {
			mu.Lock()
			asked = append(asked, base.Host)
			mu.Unlock()
			if base.Host == "bad.x" {
				return nil, &HTTPError{Status: "503", StatusCode: 503}
			}
			return "ok", nil
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		first = append(first, asked[0])
	}
	if got := strings.Join(first, " "); got != "bad.x bad.x good.x good.x" {
		t.Fatalf("first proxy asked per request: %s; want bad.x demoted after 2 failures", got)
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
