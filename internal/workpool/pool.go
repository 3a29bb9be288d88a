// Package workpool runs functions on a bounded set of goroutines that take
// queued work in order, so a run of many short tasks reuses a few
// goroutines (and their grown stacks) instead of starting one per task.
package workpool

import "sync"

// A Pool runs the functions given to Go on at most limit goroutines at a
// time, taking them in the order they were given. The zero Pool is not usable: make
// one with New.
type Pool struct {
	limit   int
	mu      sync.Mutex
	queue   []func()
	head    int
	running int
	wg      sync.WaitGroup
}

// New returns a Pool that runs at most limit functions at once (at least
// one).
func New(limit int) *Pool {
	return &Pool{limit: max(limit, 1)}
}

// Go queues f. It never blocks, so a running function may call it.
func (p *Pool) Go(f func()) {
	p.mu.Lock()
	if p.running < p.limit {
		p.running++
		p.wg.Add(1)
		p.mu.Unlock()
		go p.work(f)
		return
	}
	p.queue = append(p.queue, f)
	p.mu.Unlock()
}

func (p *Pool) work(f func()) {
	defer p.wg.Done()
	for f != nil {
		f()
		p.mu.Lock()
		f = nil
		if p.head < len(p.queue) {
			f = p.queue[p.head]
			p.queue[p.head] = nil
			p.head++
			if p.head == len(p.queue) {
				p.queue, p.head = p.queue[:0], 0
			}
		} else {
			p.running--
		}
		p.mu.Unlock()
	}
}

// Wait waits until every function given to Go, including those given by
// running functions, has returned.
func (p *Pool) Wait() { p.wg.Wait() }
