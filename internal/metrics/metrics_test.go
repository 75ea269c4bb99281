package metrics_test

import (
	"testing"

	"aigateway/internal/metrics"
)

// A nil *Metrics is how the handlers run with metrics off: every method
// must be a no-op.
func TestNilMetricsRecordNothing(t *testing.T) {
	var m *metrics.Metrics
	m.Request(metrics.Request{Model: "chat", Status: 200})
	m.Attempt("chat", "d", "success")
	m.Retry("chat")
	m.Fallback("chat")
	m.RateLimited("k", "requests")
	m.RequestStarted()
	m.RequestEnded()
	m.StreamStarted()
	m.StreamEnded()
}

// BenchmarkRequest is what a finished request costs the hot path: its
// children come from the cache, so it must not allocate.
func BenchmarkRequest(b *testing.B) {
	m := metrics.New(metrics.Sources{})
	r := metrics.Request{Operation: "chat", Provider: "openai", Model: "chat", Deployment: "primary", Endpoint: "/v1/chat/completions",
		Key: "team-a", Status: 200, Duration: 0.2, TTFT: 0.05, InputTokens: 100, OutputTokens: 50, CostUSD: 0.001}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Request(r)
			m.Attempt("chat", "primary", "success")
		}
	})
	if n := testing.AllocsPerRun(100, func() { m.Request(r); m.Attempt("chat", "primary", "success") }); n != 0 {
		b.Errorf("a request allocates %v times", n)
	}
}
