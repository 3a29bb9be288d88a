package serve

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"gomodfetch/download"
)

// metrics are the server's Prometheus metrics. Upstream counters come
// from the Fetcher (Stats) and from the Router's events (see
// UpstreamEvent).
type metrics struct {
	requests *prometheus.CounterVec   // endpoint, code
	cache    *prometheus.CounterVec   // endpoint, outcome
	bytes    *prometheus.CounterVec   // endpoint
	latency  *prometheus.HistogramVec // endpoint
	stale    *prometheus.CounterVec   // what
	prefetch *prometheus.CounterVec   // started, queued, skipped
	events   *prometheus.CounterVec   // proxy, event

	limited            *prometheus.CounterVec   // bound
	abandoned          *prometheus.CounterVec   // prefetched, cancelled
	flights            prometheus.Gauge         // upstream operations in progress
	rememberedFailures prometheus.Counter       // answered from the failure memory
	rememberedAbsent   prometheus.Counter       // answered from absent (-absent-ttl)
	authRefused        *prometheus.CounterVec   // requests refused by authorize, by reason
	policy             *prometheus.CounterVec   // policy decisions other than a plain allow
	gateWaits          *prometheus.HistogramVec // class
	conns              *prometheus.GaugeVec     // state
	connsRefused       *prometheus.CounterVec   // reason
	connsEvicted       *prometheus.CounterVec   // reason
	damaged            *prometheus.CounterVec   // what
	changed            prometheus.Counter       // versions refused for bytes that differ from their recorded hash
}

func newMetrics(reg *prometheus.Registry, f *download.Fetcher) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gomodfetch_serve_requests_total", Help: "Requests answered, by endpoint and status code.",
		}, []string{"endpoint", "code"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gomodfetch_serve_cache_total", Help: "Module requests by cache outcome: hit, miss (asked upstream), stale (upstream failed, cache served), offline.",
		}, []string{"endpoint", "outcome"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gomodfetch_serve_response_bytes_total", Help: "Response body bytes sent, by endpoint.",
		}, []string{"endpoint"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gomodfetch_serve_request_duration_seconds", Help: "Time to answer a request, by endpoint.",
			Buckets: []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}, []string{"endpoint"}),
		stale: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gomodfetch_serve_stale_total", Help: "Answers served stale from the cache because upstream failed.",
		}, []string{"what"}),
		prefetch: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gomodfetch_serve_prefetch_total", Help: "Background prefetches started, queued for a free slot, or skipped: skipped-recent (prefetched lately), deferred (the client owes -prefetch-per-client; started when it settles one), skipped-client-budget (too many deferred), skipped-queue-full; build-list and zip-candidates count the zips considered for an unpruned client's build list or for the go.mod files a build read; speculative counts go.mod files guessed from a pruned go.mod's requirements, speculative-read and speculative-wrong the guesses a client's read then proved right or wrong.",
		}, []string{"result"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gomodfetch_upstream_events_total", Help: "Upstream retries, failed requests (after retries) and demotions, per proxy.",
		}, []string{"proxy", "event"}),
		changed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gomodfetch_serve_changed_refused_total", Help: "Upstream answers refused because their bytes differ from a hash recorded for that version (the checksum database's, or the first served of a private version): a moved tag, a rebuilt zip, tampering.",
		}),
		damaged: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gomodfetch_serve_damaged_total", Help: "Cache files not served: not a regular file (a symlink, a special file), or a zip whose bytes do not match its recorded hash.",
		}, []string{"what"}),
	}
	m.limited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gomodfetch_serve_limited_total", Help: "Times a bound on clients bit: write-timeout (a response cut), client-upstream (a client waited for its own fetches).",
	}, []string{"bound"})
	m.abandoned = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gomodfetch_serve_abandoned_total", Help: "Upstream operations whose every waiter went away: carried on as a prefetch, or cancelled.",
	}, []string{"result"})
	m.flights = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "gomodfetch_serve_upstream_operations", Help: "Upstream operations (a module file, list or checksum-database read, with its retries) in progress.",
	})
	m.rememberedFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gomodfetch_serve_remembered_failures_total", Help: "Requests answered with an upstream failure remembered from a recent attempt (-failure-ttl).",
	})
	m.rememberedAbsent = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gomodfetch_serve_remembered_absent_total", Help: "Requests answered \"not found\" for an exact module version upstream said it does not have, remembered across restarts (-absent-ttl).",
	})
	m.authRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gomodfetch_serve_auth_refused_total", Help: "Requests refused for their credential: missing (401), wrong (401), scope (404: a restricted path the credential does not cover).",
	}, []string{"reason"})
	m.policy = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gomodfetch_serve_policy_decisions_total", Help: "Policy decisions other than a plain allow, by action (deny, warn), kind (rule, default, vuln, vulndb, cooldown, latest), endpoint (list, latest, info, zip, query) and dry_run.",
	}, []string{"action", "kind", "endpoint", "dry_run"})
	m.gateWaits = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "gomodfetch_serve_upstream_wait_seconds", Help: "Time an upstream request waited for one of the -upstream places, by class (client, prefetch).",
		Buckets: []float64{.001, .01, .1, .5, 1, 5, 10, 30, 60},
	}, []string{"class"})
	m.conns = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "gomodfetch_serve_connections", Help: "Client connections open, by state: new (no request yet), active, idle (kept alive between requests).",
	}, []string{"state"})
	m.connsRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gomodfetch_serve_connections_refused_total", Help: "Client connections answered 503 and closed at a bound: per-client (-max-conns-per-client) or total (-max-conns).",
	}, []string{"reason"})
	m.connsEvicted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gomodfetch_serve_connections_evicted_total", Help: "Idle kept-alive connections closed to make room for a new one, by the bound that was reached.",
	}, []string{"reason"})
	reg.MustRegister(m.changed, m.limited, m.abandoned, m.flights, m.rememberedFailures, m.rememberedAbsent, m.authRefused, m.policy, m.gateWaits, m.conns, m.connsRefused, m.connsEvicted)
	reg.MustRegister(m.requests, m.cache, m.bytes, m.latency, m.stale, m.prefetch, m.events, m.damaged,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if f != nil {
		stat := func(get func(download.Stats) float64) func() float64 {
			return func() float64 { return get(f.Stats()) }
		}
		reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gomodfetch_upstream_requests_total", Help: "HTTP requests sent upstream."},
				stat(func(s download.Stats) float64 { return float64(s.Requests) })),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gomodfetch_upstream_bytes_total", Help: "Response bytes received from upstream."},
				stat(func(s download.Stats) float64 { return float64(s.Bytes) })),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gomodfetch_upstream_retries_total", Help: "Upstream attempts retried."},
				stat(func(s download.Stats) float64 { return float64(s.Retries) })),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gomodfetch_upstream_zips_total", Help: "Zips downloaded from upstream and verified."},
				stat(func(s download.Stats) float64 { return float64(s.Zips) })),
		)
	}
	return m
}

func (m *metrics) observe(endpoint string, code int, outcome string, n int64, d time.Duration) {
	m.requests.WithLabelValues(endpoint, strconv.Itoa(code)).Inc()
	if outcome != "" {
		m.cache.WithLabelValues(endpoint, outcome).Inc()
	}
	m.bytes.WithLabelValues(endpoint).Add(float64(n))
	m.latency.WithLabelValues(endpoint).Observe(d.Seconds())
}

// UpstreamEvent counts a Router event (proxy.Router.OnEvent).
func (s *Server) UpstreamEvent(proxy, event string) {
	s.metrics.events.WithLabelValues(proxy, event).Inc()
}

// gateWait observes how long an upstream request waited at the gate.
func (m *metrics) gateWait(prefetch bool, d time.Duration) {
	class := "client"
	if prefetch {
		class = "prefetch"
	}
	m.gateWaits.WithLabelValues(class).Observe(d.Seconds())
}
