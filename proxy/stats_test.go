package proxy

import (
	"context"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"testing"
	"time"

	"gomodfetch/retry"
)

// TestProxyStats: a failing proxy's retries and failures, the hedges its
// neighbour won and its demotion are counted per proxy; so is a final
// "not found".
func TestProxyStats(t *testing.T) {
	list, _ := ParseList("https://bad.x|https://good.x")
	r := &Router{Proxies: list, Client: &Client{}, HedgeDelay: -1, DemoteAfter: 2,
		Policy: retry.Policy{MaxAttempts: 2, Initial: 5 * time.Second, Max: 5 * time.Second}}
	for range 3 {
		_, _, err := Ask(context.Background(), r, "example.com/m", func(ctx context.Context, base *url.URL) (string, error) {
			if base.Host == "bad.x" {
				return "", &HTTPError{Status: "503", StatusCode: 503}
			}
			return "ok", nil
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	want := []ProxyStats{
		{Proxy: "https://bad.x", Requests: 2, Retries: 2, Failures: map[string]int64{"transient": 2}, Demotions: 1},
		{Proxy: "https://good.x", Requests: 3, HedgesWon: 2},
	}
	if got := r.ProxyStats(); !reflect.DeepEqual(got, want) {
		t.Fatalf("ProxyStats:\n got %+v\nwant %+v", got, want)
	}

	list, _ = ParseList("https://only.x")
	r = &Router{Proxies: list, Client: &Client{}, Policy: retry.Policy{MaxAttempts: -1}}
	Ask(context.Background(), r, "example.com/m", func(ctx context.Context, base *url.URL) (string, error) {
		return "", &HTTPError{Status: "404 Not Found", StatusCode: 404}
	}, nil)
	want = []ProxyStats{{Proxy: "https://only.x", Requests: 1, Failures: map[string]int64{"not found": 1}}}
	if got := r.ProxyStats(); !reflect.DeepEqual(got, want) {
		t.Fatalf("ProxyStats after a 404:\n got %+v\nwant %+v", got, want)
	}
}

// TestProxyStatsSame: with HedgeSame, a proxy alone in its run counts a
// request's last failed attempt (a "not found", a 502 after its retries)
// as TestProxyStats's does, and a request that failed as a failure
// event: ending the request's other lanes must not hide its own error.
func TestProxyStatsSame(t *testing.T) {
	for _, tc := range []struct {
		status int
		class  string
		event  bool // a "failure" event
	}{
		{404, "not found", false},
		{502, "transient", true},
	} {
		list, _ := ParseList("https://only.x")
		var events []string
		r := &Router{Proxies: list, Client: &Client{}, HedgeSame: true, HedgeDelay: time.Minute,
			Policy:  retry.Policy{MaxAttempts: 1},
			OnEvent: func(p Proxy, e string) { events = append(events, e) }}
		_, _, err := Ask(context.Background(), r, "example.com/m", func(ctx context.Context, base *url.URL) (string, error) {
			return "", &HTTPError{Status: http.StatusText(tc.status), StatusCode: tc.status}
		}, nil)
		if err == nil {
			t.Fatalf("%d: Ask succeeded", tc.status)
		}
		want := []ProxyStats{{Proxy: "https://only.x", Requests: 1, Failures: map[string]int64{tc.class: 1}}}
		if got := r.ProxyStats(); !reflect.DeepEqual(got, want) {
			t.Errorf("ProxyStats after a %d:\n got %+v\nwant %+v", tc.status, got, want)
		}
		if got := slices.Contains(events, "failure"); got != tc.event {
			t.Errorf("after a %d: events %q; want a failure event: %v", tc.status, events, tc.event)
		}
	}
}
