// Package metrics owns the gateway's Prometheus series: their names (the
// OpenTelemetry GenAI conventions in Prometheus form, beside the gateway's
// own aigateway_ series), their buckets, and the small API the HTTP
// handlers call. Every series lives on a registry the Metrics owns, never
// the global one. A nil *Metrics is valid and records nothing, so the
// handlers need no checks when metrics are off.
package metrics

import (
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"aigateway/internal/breaker"
	"aigateway/internal/ledger"
	"aigateway/internal/registry"
)

// UnknownModel is the model label of a request for a model the gateway
// does not serve: label values are configured ids only, never a client's
// raw input, so that a client cannot grow the series without bound.
const UnknownModel = "unknown"

// The OpenTelemetry GenAI semantic conventions' recommended buckets.
var (
	durationBuckets = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92}
	ttftBuckets     = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0}
	tpotBuckets     = []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5}
	tokenBuckets    = []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864}
)

// Sources are what the scrape reads at its own time rather than on the
// request path.
type Sources struct {
	// Registry returns the registry serving now (reloads replace it), whose
	// breakers aigateway_breaker_state reports; nil: no breaker series.
	Registry func() *registry.Registry
	// Ledger returns the ledger writer's counters; nil: no ledger series.
	Ledger func() ledger.WriterStats
}

// Metrics records the gateway's series. Its methods are safe for
// concurrent use and do nothing on a nil *Metrics.
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler

	duration, ttft, tpot, tokens *prometheus.HistogramVec
	requests, attempts           *prometheus.CounterVec
	retries, fallbacks           *prometheus.CounterVec
	cost, rateLimited            *prometheus.CounterVec
	inFlight, inFlightStreams    prometheus.Gauge

	// The children of the labelled series, cached: WithLabelValues hashes
	// the labels and allocates, a map lookup under a read lock does not.
	mu       sync.RWMutex
	series   map[requestKey]*requestSeries
	attempt  map[attemptKey]prometheus.Counter
	perModel map[modelKey]prometheus.Counter
}

// New returns Metrics on a new registry with the Go runtime and process
// collectors, and the scrape-time series of src.
func New(src Sources) *Metrics {
	genai := []string{"gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model"}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gen_ai_server_request_duration_seconds",
			Help: "Time from the request's arrival to its last byte.", Buckets: durationBuckets}, genai),
		ttft: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gen_ai_server_time_to_first_token_seconds",
			Help: "Time from a stream's arrival to its first byte to the client.", Buckets: ttftBuckets}, genai),
		tpot: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gen_ai_server_time_per_output_token_seconds",
			Help: "A stream's time per output token after the first.", Buckets: tpotBuckets}, genai),
		tokens: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gen_ai_client_token_usage",
			Help: "Tokens per request, by gen_ai_token_type (input or output).", Buckets: tokenBuckets},
			append(genai[:3:3], "gen_ai_token_type")),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aigateway_requests_total",
			Help: "Model requests by model, answering deployment, endpoint, key name and status class."},
			[]string{"model", "deployment", "endpoint", "key", "status_class"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aigateway_upstream_attempts_total",
			Help: "Upstream attempts by model, deployment and outcome."}, []string{"model", "deployment", "outcome"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aigateway_retries_total",
			Help: "Attempts after the first on the requested model."}, []string{"model"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aigateway_fallbacks_total",
			Help: "Attempts on a fallback model, by the requested model."}, []string{"model"}),
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aigateway_cost_usd_total",
			Help: "Cost of the answered requests in USD, at the configured prices."}, []string{"model", "key"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aigateway_rate_limit_rejections_total",
			Help: "Requests refused by a key's limits, by key name and the limit reached."}, []string{"key", "reason"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "aigateway_in_flight_requests",
			Help: "Model requests being served."}),
		inFlightStreams: prometheus.NewGauge(prometheus.GaugeOpts{Name: "aigateway_in_flight_streams",
			Help: "Streams being relayed to clients."}),
		series:   map[requestKey]*requestSeries{},
		attempt:  map[attemptKey]prometheus.Counter{},
		perModel: map[modelKey]prometheus.Counter{},
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.duration, m.ttft, m.tpot, m.tokens, m.requests, m.attempts, m.retries, m.fallbacks, m.cost, m.rateLimited,
		m.inFlight, m.inFlightStreams)
	if src.Registry != nil {
		m.reg.MustRegister(&registryCollector{registry: src.Registry})
	}
	if src.Ledger != nil {
		m.reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "aigateway_ledger_queue_depth",
				Help: "Ledger records accepted and not written yet."}, func() float64 { return float64(src.Ledger().Queued) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "aigateway_ledger_dropped_total",
				Help: "Ledger records dropped: the queue was full or the writer closed."}, func() float64 { return float64(src.Ledger().Dropped) }))
	}
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler { return m.handler }

// Registry is the registry the series live on, for tests and embedding.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Request is one finished model request, as the ledger records it.
type Request struct {
	// Operation is the GenAI operation name: "chat", "text_completion" or
	// "embeddings".
	Operation string
	// Provider is the answering deployment's adapter or protocol
	// ("openai", "anthropic", ...); "" when no upstream was tried.
	Provider string
	// Model is the configured model id the client asked for, or
	// UnknownModel.
	Model      string
	Deployment string
	Endpoint   string
	// Key is the gateway key's configured name; "" when the gateway is open.
	Key    string
	Status int
	// Duration is to the last byte; TTFT is to a stream's first byte (0:
	// not a stream, or none written), in seconds.
	Duration, TTFT float64
	// InputTokens and OutputTokens are the usage (0: unknown).
	InputTokens, OutputTokens int64
	CostUSD                   float64
}

type requestKey struct {
	op, provider, model, deployment, endpoint, key string
	class                                          uint8
}

// requestSeries are the children one kind of request records into.
type requestSeries struct {
	requests, cost                      prometheus.Counter
	duration, ttft, tpot, input, output prometheus.Observer
}

var statusClasses = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// Request records a finished model request.
func (m *Metrics) Request(r Request) {
	if m == nil {
		return
	}
	class := uint8(min(max(r.Status/100, 1), 5) - 1)
	s := m.requestSeries(requestKey{op: r.Operation, provider: r.Provider, model: r.Model, deployment: r.Deployment,
		endpoint: r.Endpoint, key: r.Key, class: class})
	s.requests.Inc()
	s.duration.Observe(r.Duration)
	if r.CostUSD > 0 {
		s.cost.Add(r.CostUSD)
	}
	if r.InputTokens > 0 {
		s.input.Observe(float64(r.InputTokens))
	}
	if r.OutputTokens > 0 {
		s.output.Observe(float64(r.OutputTokens))
	}
	if r.TTFT > 0 {
		s.ttft.Observe(r.TTFT)
		if r.OutputTokens > 1 && r.Duration > r.TTFT {
			s.tpot.Observe((r.Duration - r.TTFT) / float64(r.OutputTokens-1))
		}
	}
}

func (m *Metrics) requestSeries(k requestKey) *requestSeries {
	m.mu.RLock()
	s := m.series[k]
	m.mu.RUnlock()
	if s != nil {
		return s
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s = m.series[k]; s != nil {
		return s
	}
	s = &requestSeries{
		requests: m.requests.WithLabelValues(k.model, k.deployment, k.endpoint, k.key, statusClasses[k.class]),
		cost:     m.cost.WithLabelValues(k.model, k.key),
		duration: m.duration.WithLabelValues(k.op, k.provider, k.model),
		ttft:     m.ttft.WithLabelValues(k.op, k.provider, k.model),
		tpot:     m.tpot.WithLabelValues(k.op, k.provider, k.model),
		input:    m.tokens.WithLabelValues(k.op, k.provider, k.model, "input"),
		output:   m.tokens.WithLabelValues(k.op, k.provider, k.model, "output"),
	}
	m.series[k] = s
	return s
}

type attemptKey struct{ model, deployment, outcome string }

// Attempt records one upstream attempt of model's deployment and how it
// ended (a fixed word: see the README).
func (m *Metrics) Attempt(model, deployment, outcome string) {
	if m == nil {
		return
	}
	k := attemptKey{model, deployment, outcome}
	m.mu.RLock()
	c := m.attempt[k]
	m.mu.RUnlock()
	if c == nil {
		m.mu.Lock()
		if c = m.attempt[k]; c == nil {
			c = m.attempts.WithLabelValues(model, deployment, outcome)
			m.attempt[k] = c
		}
		m.mu.Unlock()
	}
	c.Inc()
}

type modelKey struct {
	vec   *prometheus.CounterVec
	value string
}

// Retry records an attempt after the first on the requested model.
func (m *Metrics) Retry(model string) {
	if m != nil {
		m.counter(m.retries, model).Inc()
	}
}

// Fallback records an attempt on a fallback of the requested model.
func (m *Metrics) Fallback(model string) {
	if m != nil {
		m.counter(m.fallbacks, model).Inc()
	}
}

func (m *Metrics) counter(vec *prometheus.CounterVec, model string) prometheus.Counter {
	k := modelKey{vec, model}
	m.mu.RLock()
	c := m.perModel[k]
	m.mu.RUnlock()
	if c != nil {
		return c
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if c = m.perModel[k]; c == nil {
		c = vec.WithLabelValues(model)
		m.perModel[k] = c
	}
	return c
}

// RateLimited records a request its key's limits refused; reason is the
// limit reached (requests, tokens, concurrency, budget, unavailable).
// Rare enough not to need a cache.
func (m *Metrics) RateLimited(key, reason string) {
	if m != nil {
		m.rateLimited.WithLabelValues(key, reason).Inc()
	}
}

// RequestStarted and RequestEnded bracket a model request.
func (m *Metrics) RequestStarted() {
	if m != nil {
		m.inFlight.Inc()
	}
}

// RequestEnded: see RequestStarted.
func (m *Metrics) RequestEnded() {
	if m != nil {
		m.inFlight.Dec()
	}
}

// StreamStarted and StreamEnded bracket a stream relayed to a client.
func (m *Metrics) StreamStarted() {
	if m != nil {
		m.inFlightStreams.Inc()
	}
}

// StreamEnded: see StreamStarted.
func (m *Metrics) StreamEnded() {
	if m != nil {
		m.inFlightStreams.Dec()
	}
}

// registryCollector reports every deployment's breaker, and the queue of
// those that have one, at scrape time from the registry serving then, so a
// reload's deployments show at once.
type registryCollector struct {
	registry func() *registry.Registry
}

// queueReporter is an adapter with a queue of its own: a local program's.
type queueReporter interface {
	QueueLength() int
}

var (
	breakerDesc = prometheus.NewDesc("aigateway_breaker_state",
		"A deployment's circuit breaker: 0 closed, 1 half-open, 2 open.", []string{"model", "deployment"}, nil)
	queueDesc = prometheus.NewDesc("aigateway_process_queue_length",
		"Requests waiting for a local program's slot.", []string{"model", "deployment"}, nil)
)

func (c *registryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- breakerDesc
	ch <- queueDesc
}

func (c *registryCollector) Collect(ch chan<- prometheus.Metric) {
	reg := c.registry()
	if reg == nil {
		return
	}
	type pair struct{ model, deployment string }
	seen := map[pair]bool{}
	reg.Entries(func(id string, d *registry.Deployment) {
		p := pair{id, d.Label}
		if d.Breaker == nil || d.Adapter == nil || seen[p] {
			return
		}
		seen[p] = true
		ch <- prometheus.MustNewConstMetric(breakerDesc, prometheus.GaugeValue, breakerValue(d.Breaker.Snapshot().State), id, d.Label)
		if q, ok := d.Adapter.(queueReporter); ok {
			ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(q.QueueLength()), id, d.Label)
		}
	})
}

// breakerValue orders the states by how much they keep out.
func breakerValue(s breaker.State) float64 {
	switch s {
	case breaker.HalfOpen:
		return 1
	case breaker.Open:
		return 2
	}
	return 0
}
