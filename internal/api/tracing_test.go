package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"aigateway/internal/mockllm"
	"aigateway/internal/tracing"
)

// startTraced starts a gateway whose spans go to an in-memory exporter as
// each one ends.
func startTraced(t *testing.T, o gatewayOptions) (*gateway, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { tp.Shutdown(context.Background()) }) //nolint:errcheck // in memory
	o.tracing = tracing.New(tp, nil)
	return startGateway(t, o), exp
}

// waitSpans waits until n server spans ended (the server span ends after
// the response reached the client) and returns every span.
func waitSpans(t *testing.T, exp *tracetest.InMemoryExporter, n int) tracetest.SpanStubs {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		spans := exp.GetSpans()
		if len(byKind(spans, trace.SpanKindServer)) >= n {
			return spans
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d server spans after 5s, want %d: %+v", len(byKind(spans, trace.SpanKindServer)), n, spans)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func byKind(spans tracetest.SpanStubs, k trace.SpanKind) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range spans {
		if s.SpanKind == k {
			out = append(out, s)
		}
	}
	return out
}

// attr is the span's attribute key; an invalid Value when it is missing.
func attr(s tracetest.SpanStub, key string) attribute.Value {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// wantAttrs checks attributes by their printed values.
func wantAttrs(t *testing.T, s tracetest.SpanStub, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := attr(s, k); got.String() != v {
			t.Errorf("span %q: %s = %q (%s), want %q", s.Name, k, got.String(), got.Type(), v)
		}
	}
}

// A chat request makes a server span with the GenAI attributes and one
// client span for its attempt, whose context the upstream receives in
// traceparent; the access log line carries the trace id.
func TestTracingSpans(t *testing.T) {
	g, exp := startTraced(t, gatewayOptions{})
	status, h, _ := g.post(t, "/v1/chat/completions", `{"model": "chat", "messages": [{"role": "user", "content": "hi"}]}`)
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	spans := waitSpans(t, exp, 1)
	servers, clients := byKind(spans, trace.SpanKindServer), byKind(spans, trace.SpanKindClient)
	if len(servers) != 1 || len(clients) != 1 {
		t.Fatalf("%d server and %d client spans, want 1 and 1", len(servers), len(clients))
	}
	srv, att := servers[0], clients[0]
	if srv.Name != "chat chat" || att.Name != "chat mock-model" {
		t.Errorf("span names %q and %q, want \"chat chat\" and \"chat mock-model\"", srv.Name, att.Name)
	}
	wantAttrs(t, srv, map[string]string{
		"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "chat",
		"gen_ai.response.model": "mock-model", "http.request.method": "POST", "http.response.status_code": "200",
		"url.path": "/v1/chat/completions", "aigateway.request_id": h.Get("X-Request-Id"), "aigateway.deployment": "models[0]",
		"aigateway.attempts": "1",
	})
	if attr(srv, "gen_ai.usage.input_tokens").AsInt64() <= 0 || attr(srv, "gen_ai.usage.output_tokens").AsInt64() <= 0 {
		t.Errorf("server span usage: %v, %v", attr(srv, "gen_ai.usage.input_tokens"), attr(srv, "gen_ai.usage.output_tokens"))
	}
	if srv.Parent.IsValid() {
		t.Errorf("the server span has a parent %v, but the client sent no traceparent", srv.Parent)
	}
	wantAttrs(t, att, map[string]string{
		"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "mock-model",
		"aigateway.model": "chat", "aigateway.deployment": "models[0]", "aigateway.attempt": "1",
		"aigateway.attempt.outcome": "success", "http.response.status_code": "200",
	})
	if att.Parent.SpanID() != srv.SpanContext.SpanID() || att.SpanContext.TraceID() != srv.SpanContext.TraceID() {
		t.Errorf("the attempt span is not the server span's child: parent %v, server %v", att.Parent, srv.SpanContext)
	}
	tid := srv.SpanContext.TraceID().String()
	want := "00-" + tid + "-" + att.SpanContext.SpanID().String() + "-01"
	if got := g.lastUpstream(t).Header.Get("Traceparent"); got != want {
		t.Errorf("upstream traceparent %q, want %q (the attempt span)", got, want)
	}
	if !strings.Contains(g.logs.String(), "trace_id="+tid) {
		t.Errorf("the access log has no trace_id=%s:\n%s", tid, g.logs.String())
	}
}

// A client's traceparent makes the server span its child, in the client's
// trace, which the upstream then receives, with the client's baggage.
func TestTracingTraceparent(t *testing.T) {
	g, exp := startTraced(t, gatewayOptions{})
	const tid, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	status, _, _ := g.post(t, "/v1/chat/completions", `{"model": "chat", "messages": [{"role": "user", "content": "hi"}]}`,
		"Traceparent", "00-"+tid+"-"+parent+"-01", "Baggage", "tenant=acme")
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	if got := g.lastUpstream(t).Header.Get("Baggage"); got != "tenant=acme" {
		t.Errorf("upstream baggage %q, want the client's", got)
	}
	srv := byKind(waitSpans(t, exp, 1), trace.SpanKindServer)[0]
	if srv.SpanContext.TraceID().String() != tid || srv.Parent.SpanID().String() != parent || !srv.Parent.IsRemote() {
		t.Errorf("server span in trace %s with parent %s (remote %v), want trace %s, parent %s",
			srv.SpanContext.TraceID(), srv.Parent.SpanID(), srv.Parent.IsRemote(), tid, parent)
	}
	if got := g.lastUpstream(t).Header.Get("Traceparent"); !strings.HasPrefix(got, "00-"+tid+"-") || strings.Contains(got, parent) {
		t.Errorf("upstream traceparent %q, want the client's trace %s with the gateway's span", got, tid)
	}
}

// A retry after a 500 is a second attempt span; the first one failed.
func TestTracingRetrySpans(t *testing.T) {
	g, exp := startTraced(t, gatewayOptions{mock: mockllm.Options{Script: failFirst(1, 500, "")}})
	if status, _, _ := g.post(t, "/v1/chat/completions", `{"model": "chat", "messages": [{"role": "user", "content": "hi"}]}`); status != 200 {
		t.Fatalf("status %d", status)
	}
	spans := waitSpans(t, exp, 1)
	srv, atts := byKind(spans, trace.SpanKindServer)[0], byKind(spans, trace.SpanKindClient)
	if len(atts) != 2 {
		t.Fatalf("%d attempt spans, want 2", len(atts))
	}
	wantAttrs(t, atts[0], map[string]string{"aigateway.attempt": "1", "aigateway.attempt.outcome": "retry",
		"http.response.status_code": "500", "error.type": "500"})
	if atts[0].Status.Code != codes.Error {
		t.Errorf("the failed attempt's status is %v, want Error", atts[0].Status)
	}
	wantAttrs(t, atts[1], map[string]string{"aigateway.attempt": "2", "aigateway.attempt.outcome": "success"})
	for _, a := range atts {
		if a.Parent.SpanID() != srv.SpanContext.SpanID() {
			t.Errorf("attempt %s is not the server span's child", attr(a, "aigateway.attempt").String())
		}
	}
	wantAttrs(t, srv, map[string]string{"aigateway.attempts": "2", "http.response.status_code": "200"})
	if srv.Status.Code == codes.Error {
		t.Errorf("the request succeeded, its span says %v", srv.Status)
	}
}

// A request that fails with a 5xx has a server span with an error status.
func TestTracingServerError(t *testing.T) {
	g, exp := startTraced(t, gatewayOptions{mock: mockllm.Options{Script: failFirst(1000, 500, "")}})
	status, _, _ := g.post(t, "/v1/chat/completions", `{"model": "chat", "messages": [{"role": "user", "content": "hi"}]}`)
	if status < 500 {
		t.Fatalf("status %d, want a 5xx", status)
	}
	srv := byKind(waitSpans(t, exp, 1), trace.SpanKindServer)[0]
	if srv.Status.Code != codes.Error || attr(srv, "error.type").String() == "" {
		t.Errorf("server span status %v, error.type %q; want Error and the status", srv.Status, attr(srv, "error.type").String())
	}
	wantAttrs(t, srv, map[string]string{"http.response.status_code": strconv.Itoa(status)})
}

// A stream's attempt span lasts until the stream ended, not until its
// first chunk.
func TestTracingStreamSpan(t *testing.T) {
	const chunks, delay = 6, 30 * time.Millisecond
	g, exp := startTraced(t, gatewayOptions{mock: mockllm.Options{Chunks: chunks, ChunkDelay: delay}})
	status, _, body := g.post(t, "/v1/chat/completions",
		`{"model": "chat", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "hi"}]}`)
	if status != 200 || !strings.Contains(body, "[DONE]") {
		t.Fatalf("status %d: %s", status, body)
	}
	spans := waitSpans(t, exp, 1)
	srv, att := byKind(spans, trace.SpanKindServer)[0], byKind(spans, trace.SpanKindClient)[0]
	if took := att.EndTime.Sub(att.StartTime); took < (chunks-1)*delay {
		t.Errorf("the attempt span lasted %v, less than the stream's %v", took, (chunks-1)*delay)
	}
	if att.EndTime.After(srv.EndTime) {
		t.Errorf("the attempt span ended after the request's")
	}
	wantAttrs(t, att, map[string]string{"aigateway.attempt.outcome": "success"})
	if attr(att, "gen_ai.usage.output_tokens").AsInt64() <= 0 {
		t.Errorf("the stream's attempt span has no usage: %v", att.Attributes)
	}
	wantAttrs(t, srv, map[string]string{"aigateway.stream": "true"})
}

// Probes and /metrics make no span; other requests do.
func TestTracingSkipsProbes(t *testing.T) {
	g, exp := startTraced(t, gatewayOptions{metrics: true})
	c := &http.Client{Transport: &http.Transport{}} // one connection: each request ends before the next is read
	defer c.CloseIdleConnections()
	for _, path := range []string{"/health", "/ready", "/metrics", "/v1/models"} {
		resp, err := c.Get(g.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body) //nolint:errcheck // only the spans matter
		resp.Body.Close()
	}
	spans := waitSpans(t, exp, 1)
	if len(spans) != 1 || attr(spans[0], "url.path").String() != "/v1/models" || spans[0].Name != "GET" {
		for _, s := range spans {
			t.Logf("span %q %s", s.Name, attr(s, "url.path").String())
		}
		t.Errorf("%d spans, want only GET /v1/models's", len(spans))
	}
}

// A local program gets its attempt's trace context as TRACEPARENT.
func TestTracingProcessTraceparent(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd, _ := json.Marshal([]string{self, "-test.run=^$", "{prompt}"})
	g, exp := startTraced(t, gatewayOptions{extraModels: `{"id": "local", "adapter": "process", "command": ` + string(cmd) +
		`, "env": {"AIGW_TEST_PROGRAM": "traceparent"}, "timeout": 20}`})
	status, _, body := g.post(t, "/v1/chat/completions", `{"model": "local", "messages": [{"role": "user", "content": "hi"}]}`)
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	att := byKind(waitSpans(t, exp, 1), trace.SpanKindClient)[0]
	want := "traceparent=00-" + att.SpanContext.TraceID().String() + "-" + att.SpanContext.SpanID().String() + "-01"
	if !strings.Contains(body, want) {
		t.Errorf("the program answered %s, want %s", body, want)
	}
}

// Without tracing the access log has no trace_id and upstreams get no
// traceparent.
func TestTracingOff(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	status, _, _ := g.post(t, "/v1/chat/completions", `{"model": "chat", "messages": [{"role": "user", "content": "hi"}]}`,
		"Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	if strings.Contains(g.logs.String(), "trace_id") {
		t.Errorf("trace_id logged with tracing off:\n%s", g.logs.String())
	}
	if got := g.lastUpstream(t).Header.Get("Traceparent"); got != "" {
		t.Errorf("upstream traceparent %q with tracing off", got)
	}
}
