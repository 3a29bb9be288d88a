package proxy

import (
	"sync"

	"gomodfetch/retry"
)

// ProxyStats is what a Router did with one GOPROXY entry in a run.
type ProxyStats struct {
	Proxy string // redacted
	// Requests asked of the proxy (each with its own retries).
	Requests int64
	// Failures counts failed attempts by retry class (transient,
	// permanent, not found): those retried and each request's last. An
	// attempt cut because another proxy answered first is not a failure.
	Failures map[string]int64 `json:",omitempty"`
	// Retries is the attempts retried.
	Retries int64
	// HedgesWon is the requests the proxy won when asked as a hedge (after
	// another proxy of its run was slow or failing).
	HedgesWon int64
	// Demotions is how often the proxy was moved to the end of its run.
	Demotions int64
}

// ProxyStats returns the counters of every proxy asked so far, in GOPROXY
// order.
func (r *Router) ProxyStats() []ProxyStats {
	r.counters.mu.Lock()
	defer r.counters.mu.Unlock()
	var out []ProxyStats
	for _, name := range r.counters.order {
		s := *r.counters.m[name]
		if s.Failures != nil {
			f := make(map[string]int64, len(s.Failures))
			for k, v := range s.Failures {
				f[k] = v
			}
			s.Failures = f
		}
		out = append(out, s)
	}
	return out
}

// counters are the Router's per-proxy counts.
type counters struct {
	mu    sync.Mutex
	m     map[string]*ProxyStats
	order []string // first asked first
}

func (c *counters) get(p Proxy) *ProxyStats {
	name := p.String()
	if c.m == nil {
		c.m = map[string]*ProxyStats{}
	}
	s, ok := c.m[name]
	if !ok {
		s = &ProxyStats{Proxy: name}
		c.m[name] = s
		c.order = append(c.order, name)
	}
	return s
}

func (c *counters) add(p Proxy, fn func(s *ProxyStats)) {
	c.mu.Lock()
	fn(c.get(p))
	c.mu.Unlock()
}

func (c *counters) request(p Proxy)  { c.add(p, func(s *ProxyStats) { s.Requests++ }) }
func (c *counters) hedgeWon(p Proxy) { c.add(p, func(s *ProxyStats) { s.HedgesWon++ }) }
func (c *counters) demoted(p Proxy)  { c.add(p, func(s *ProxyStats) { s.Demotions++ }) }

func (c *counters) retried(p Proxy, err error) {
	c.add(p, func(s *ProxyStats) {
		s.Retries++
		s.fail(err)
	})
}

func (c *counters) failed(p Proxy, err error) { c.add(p, func(s *ProxyStats) { s.fail(err) }) }

func (s *ProxyStats) fail(err error) {
	if s.Failures == nil {
		s.Failures = map[string]int64{}
	}
	s.Failures[retry.Classify(err).String()]++
}
