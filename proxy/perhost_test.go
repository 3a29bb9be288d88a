package proxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

// TestPerHostBound: however many requests a run makes at once, no more
// than PerHost are in flight to one host.
func TestPerHostBound(t *testing.T) {
	var (
		mu          sync.Mutex
		now, most   int
		firstTwoIn  = make(chan struct{})
		releaseBody = make(chan struct{})
		once        sync.Once
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		now++
		most = max(most, now)
		if now == 2 {
			once.Do(func() { close(firstTwoIn) })
		}
		mu.Unlock()
		<-releaseBody
		w.Write([]byte("ok"))
		mu.Lock()
		now--
		mu.Unlock()
	}))
	defer srv.Close()
	c := &Client{HTTP: srv.Client(), PerHost: 2} // the transport itself has no bound
	u, _ := url.Parse(srv.URL + "/x")
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.GetBytes(context.Background(), u, 10)
			errs <- err
		}()
	}
	select {
	case <-firstTwoIn:
	case <-time.After(10 * time.Second):
		t.Fatal("the first two requests never arrived")
	}
	close(releaseBody)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if most > 2 {
		t.Errorf("%d requests in flight to one host at once; PerHost is 2", most)
	}
}

// TestPerHostWaitEndsWithContext: a request waiting for a slot gives up
// when its context does.
func TestPerHostWaitEndsWithContext(t *testing.T) {
	c := &Client{PerHost: 1}
	release, err := c.acquire(context.Background(), "h")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := c.acquire(ctx, "h"); err == nil {
		t.Fatal("a second slot was granted with PerHost 1")
	}
}

// holdGate holds back the requests whose context carries holdKey until
// release is closed, and admits the others at once.
type holdGate struct {
	held    chan struct{} // a request is held
	release chan struct{}
}

type holdKey struct{}

func (g *holdGate) Enter(ctx context.Context) (func(), error) {
	if ctx.Value(holdKey{}) != nil {
		g.held <- struct{}{}
		select {
		case <-g.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return func() {}, nil
}

// TestGateHoldsNoHostSlot: a request the Gate holds back does not hold
// one of the host's PerHost slots meanwhile, so the requests the Gate
// lets go do not wait behind it.
func TestGateHoldsNoHostSlot(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	g := &holdGate{held: make(chan struct{}, 1), release: make(chan struct{})}
	c := &Client{HTTP: srv.Client(), PerHost: 1, Gate: g}
	u, _ := url.Parse(srv.URL + "/x")
	heldErr := make(chan error, 1)
	go func() {
		_, err := c.GetBytes(context.WithValue(context.Background(), holdKey{}, true), u, 10)
		heldErr <- err
	}()
	select {
	case <-g.held:
	case <-time.After(10 * time.Second):
		t.Fatal("the first request never reached the gate")
	}
	// A bound on a hang, not on speed: behind the held request's slot,
	// this one would wait until the context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.GetBytes(ctx, u, 10); err != nil {
		t.Fatalf("a request the gate let go waited for the slot of one it holds back: %v", err)
	}
	close(g.release)
	if err := <-heldErr; err != nil {
		t.Fatal(err)
	}
}
