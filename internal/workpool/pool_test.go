package workpool

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestLimit(t *testing.T) {
	const limit, n = 3, 200
	p := New(limit)
	var (
		mu      sync.Mutex
		started []int
		running atomic.Int32
		peak    atomic.Int32
	)
	for i := range n {
		p.Go(func() {
			mu.Lock()
			started = append(started, i)
			mu.Unlock()
			r := running.Add(1)
			for {
				old := peak.Load()
				if r <= old || peak.CompareAndSwap(old, r) {
					break
				}
			}
			time.Sleep(50 * time.Microsecond)
			running.Add(-1)
		})
	}
	p.Wait()
	if len(started) != n {
		t.Fatalf("%d functions ran, want %d", len(started), n)
	}
	if got := peak.Load(); got > limit || got < 1 {
		t.Errorf("peak concurrency %d, want 1..%d", got, limit)
	}
}

// With one goroutine, functions run one at a time in the order given.
func TestOrder(t *testing.T) {
	p := New(1)
	var got []int
	for i := range 100 {
		p.Go(func() { got = append(got, i) }) // no race: one at a time
	}
	p.Wait()
	for i, v := range got {
		if v != i {
			t.Fatalf("function %d ran in place %d: %v", v, i, got)
		}
	}
	if len(got) != 100 {
		t.Fatalf("%d functions ran, want 100", len(got))
	}
}

// Functions that queue more work (a graph walk) neither deadlock when the
// pool is full nor are missed by Wait.
func TestNestedGo(t *testing.T) {
	p := New(2)
	var count atomic.Int32
	var walk func(depth int)
	walk = func(depth int) {
		count.Add(1)
		if depth == 0 {
			return
		}
		for range 3 {
			p.Go(func() { walk(depth - 1) })
		}
	}
	p.Go(func() { walk(6) })
	done := make(chan struct{})
	go func() { p.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Wait did not return: the pool deadlocked")
	}
	// 1 + 3 + 9 + ... + 3^6
	if got, want := count.Load(), int32(1093); got != want {
		t.Errorf("%d functions ran, want %d", got, want)
	}
	// The pool is reusable after Wait.
	ran := false
	p.Go(func() { ran = true })
	p.Wait()
	if !ran {
		t.Error("a function given after Wait did not run")
	}
}

func TestLimitBelowOne(t *testing.T) {
	p := New(0)
	var n atomic.Int32
	for range 10 {
		p.Go(func() { n.Add(1) })
	}
	p.Wait()
	if n.Load() != 10 {
		t.Errorf("%d functions ran, want 10", n.Load())
	}
}
