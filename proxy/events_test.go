package proxy

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"gomodfetch/retry"
)

// TestOnEvent checks that the Router tells OnEvent of each retry, each
// request that failed at a proxy and each demotion, naming the proxy.
func TestOnEvent(t *testing.T) {
	list, _ := ParseList("https://bad.x|https://good.x")
	var (
		mu     sync.Mutex
		events []string
	)
	r := &Router{Proxies: list, Client: &Client{}, HedgeDelay: -1, DemoteAfter: 1,
		Policy: retry.Policy{MaxAttempts: 2, Initial: time.Millisecond, Max: time.Millisecond},
		OnEvent: func(p Proxy, event string) {
			mu.Lock()
			events = append(events, p.String()+" "+event)
			mu.Unlock()
		}}
	_, _, err := Ask(context.Background(), r, "example.com/m", func(ctx context.Context, base *url.URL) (string, error) {
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
	mu.Lock()
	got := strings.Join(events, "; ")
	mu.Unlock()
	if got != "https://bad.x retry; https://bad.x failure; https://bad.x demoted" {
		t.Errorf("events: %s", got)
	}
}
