package download

import (
	"container/heap"
	"context"
	"sync"
)

// sizeSlots is a counting semaphore that hands free slots to the largest
// waiting job first: with the unpacking slots, the biggest zip waiting
// is unpacked first, so a run does not end on one long unpack that
// waited behind many small ones (longest job first).
type sizeSlots struct {
	mu      sync.Mutex
	free    int
	waiting sizeQueue
	seq     int64
}

func newSizeSlots(n int) *sizeSlots { return &sizeSlots{free: n} }

type sizeWaiter struct {
	size  int64
	order func() int64 // if not nil, size read anew at each hand-off
	seq   int64        // arrival order, for ties
	ready chan struct{}
	index int
}

// acquire waits for a slot for a job of the given size; it fails only if
// ctx ends first.
func (s *sizeSlots) acquire(ctx context.Context, size int64) error {
	return s.acquireBy(ctx, size, nil)
}

// acquireOrder is acquire for a job whose place may change while it
// waits: order gives its size now, and again each time a slot is handed
// on (a zip someone starts waiting on goes before those no one does). It
// is called with s locked: it must be quick and must not use s.
func (s *sizeSlots) acquireOrder(ctx context.Context, order func() int64) error {
	return s.acquireBy(ctx, order(), order)
}

func (s *sizeSlots) acquireBy(ctx context.Context, size int64, order func() int64) error {
	s.mu.Lock()
	if s.free > 0 && len(s.waiting) == 0 {
		s.free--
		s.mu.Unlock()
		return nil
	}
	s.seq++
	w := &sizeWaiter{size: size, order: order, seq: s.seq, ready: make(chan struct{})}
	heap.Push(&s.waiting, w)
	s.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		if w.index >= 0 {
			heap.Remove(&s.waiting, w.index)
			s.mu.Unlock()
			return ctx.Err()
		}
		s.mu.Unlock()
		s.release() // handed a slot as ctx ended: give it on
		return ctx.Err()
	}
}

// release frees a slot, handing it to the largest waiting job.
func (s *sizeSlots) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.waiting) > 0 {
		s.reorder()
		w := heap.Pop(&s.waiting).(*sizeWaiter)
		close(w.ready)
		return
	}
	s.free++
}

// reorder reads again the sizes of the waiters whose place may change
// (acquireOrder). The caller holds s.mu.
func (s *sizeSlots) reorder() {
	changed := false
	for _, w := range s.waiting {
		if w.order == nil {
			continue
		}
		if n := w.order(); n != w.size {
			w.size, changed = n, true
		}
	}
	if changed {
		heap.Init(&s.waiting)
	}
}

// sizeQueue is a max-heap of waiters by size (then arrival).
type sizeQueue []*sizeWaiter

func (q sizeQueue) Len() int { return len(q) }
func (q sizeQueue) Less(i, j int) bool {
	if q[i].size != q[j].size {
		return q[i].size > q[j].size
	}
	return q[i].seq < q[j].seq
}
func (q sizeQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *sizeQueue) Push(x any) {
	w := x.(*sizeWaiter)
	w.index = len(*q)
	*q = append(*q, w)
}
func (q *sizeQueue) Pop() any {
	old := *q
	w := old[len(old)-1]
	old[len(old)-1] = nil
	w.index = -1
	*q = old[:len(old)-1]
	return w
}
