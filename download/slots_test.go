package download

import (
	"context"
	"testing"
	"time"
)

// TestSizeSlotsLargestFirst: with every slot taken, the freed slot goes
// to the largest waiting job, whatever the order they came in; a waiter
// whose context ends leaves the queue and takes no slot.
func TestSizeSlotsLargestFirst(t *testing.T) {
	s := newSizeSlots(1)
	if err := s.acquire(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	order := make(chan int64, 3)
	cancelled, cancel := context.WithCancel(context.Background())
	gone := make(chan error, 1)
	go func() { gone <- s.acquire(cancelled, 1000) }()
	for _, size := range []int64{10, 500, 50} {
		go func() {
			if err := s.acquire(context.Background(), size); err != nil {
				t.Error(err)
				return
			}
			order <- size
			time.Sleep(10 * time.Millisecond)
			s.release()
		}()
	}
	// Wait until all four are queued.
	for deadline := time.Now().Add(5 * time.Second); ; {
		s.mu.Lock()
		n := len(s.waiting)
		s.mu.Unlock()
		if n == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d waiters queued, want 4", n)
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-gone; err == nil {
		t.Fatal("a cancelled waiter got a slot")
	}
	s.release()
	var got []int64
	for range 3 {
		got = append(got, <-order)
	}
	if got[0] != 500 || got[1] != 50 || got[2] != 10 {
		t.Errorf("slots went to %v; want largest first [500 50 10]", got)
	}
	// The last job releases its slot after it reported.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		s.mu.Lock()
		free, n := s.free, len(s.waiting)
		s.mu.Unlock()
		if free == 1 && n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("free=%d waiting=%d after all released; want 1 and 0", free, n)
		}
	}
}
