package proxy

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"gomodfetch/retry"
)

func TestParseList(t *testing.T) {
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
		list, err := ParseList(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseList(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseList(%q): %v", tt.in, err)
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
			t.Errorf("ParseList(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// askWith runs Fetcher.ask over goproxy with each proxy (by host) answering
// as answers says, one attempt per proxy, and returns what it asked.
func askWith(t *testing.T, goproxy string, cfg *Router, answer func(host string) (any, error)) (any, []string, error) {
	t.Helper()
	return askWithCtx(t, goproxy, cfg, func(_ context.Context, host string) (any, error) { return answer(host) })
}

func askWithCtx(t *testing.T, goproxy string, r *Router, answer func(ctx context.Context, host string) (any, error)) (any, []string, error) {
	t.Helper()
	list, err := ParseList(goproxy)
	if err != nil {
		t.Fatal(err)
	}
	r.Proxies = list
	r.Client = &Client{}
	var (
		mu    sync.Mutex
		asked []string
	)
	v, _, err := Ask(context.Background(), r, "example.com/m", func(ctx context.Context, base *url.URL) (any, error) {
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
			cfg := &Router{Policy: retry.Policy{MaxAttempts: -1}, HedgeDelay: -1}
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
	cfg := &Router{Policy: retry.Policy{MaxAttempts: -1}, HedgeDelay: 10 * time.Millisecond}
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
	cfg := &Router{Policy: retry.Policy{MaxAttempts: -1}, HedgeDelay: time.Millisecond}
	_, asked, err := askWith(t, "https://slow.x,https://other.x", cfg, func(host string) (any, error) {
		time.Sleep(30 * time.Millisecond)
		return host, nil
	})
	if err != nil || strings.Join(asked, " ") != "slow.x" {
		t.Fatalf("asked %q (err %v); a ',' list must not reach the second proxy", asked, err)
	}
}

func TestAskDemotesFailingProxy(t *testing.T) {
	list, _ := ParseList("https://bad.x|https://good.x")
	r := &Router{Proxies: list, Client: &Client{}, Policy: retry.Policy{MaxAttempts: -1}, HedgeDelay: -1, DemoteAfter: 2}
	var first []string
	for i := 0; i < 4; i++ {
		var mu sync.Mutex
		var asked []string
		_, _, err := Ask(context.Background(), r, "example.com/m", func(ctx context.Context, base *url.URL) (any, error) {
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

// TestDemotionCountsRequests: demotion counts requests that failed, each
// once however many attempts failed in it, as DemoteAfter says. The good
// proxy answers late, so the bad one's three attempts all fail within each
// request.
func TestDemotionCountsRequests(t *testing.T) {
	list, _ := ParseList("https://bad.x|https://good.x")
	r := &Router{Proxies: list, Client: &Client{}, Policy: retry.Policy{MaxAttempts: 3, Initial: time.Millisecond, Max: time.Millisecond}, HedgeDelay: -1, DemoteAfter: 2}
	var first []string
	for range 3 {
		var mu sync.Mutex
		var asked []string
		_, _, err := Ask(context.Background(), r, "example.com/m", func(ctx context.Context, base *url.URL) (string, error) {
			mu.Lock()
			asked = append(asked, base.Host)
			mu.Unlock()
			if base.Host == "bad.x" {
				return "", &HTTPError{Status: "503", StatusCode: 503}
			}
			select {
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
			}
			return "ok", nil
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		first = append(first, asked[0])
	}
	if got := strings.Join(first, " "); got != "bad.x bad.x good.x" {
		t.Fatalf("first proxy asked per request: %s; want bad.x demoted after its second failed request", got)
	}
}
