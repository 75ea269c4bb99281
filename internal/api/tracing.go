package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"aigateway/internal/adapter"
	"aigateway/internal/config"
	"aigateway/internal/registry"
	"aigateway/internal/tracing"
)

// Spans follow the OpenTelemetry GenAI semantic conventions: a server span
// per request named "{gen_ai.operation.name} {gen_ai.request.model}", and a
// client span per upstream attempt named after the model sent upstream.
// Every function here runs only when tracing is on (s.tracer or rec.span
// not nil): a gateway without tracing pays one nil check per request and
// one per attempt.

// maxSpanValue bounds the attributes a client chooses (the path, the
// model): a span is one record in a tracing backend, not a copy of the
// request.
const maxSpanValue = 256

// startSpan starts the server span of a request, as a child of the
// client's own span when it sent a traceparent, and returns the request
// carrying it. Probes, /metrics and the dashboard get none: they would
// drown the traces of the requests.
func (s *Server) startSpan(r *http.Request, rec *record) *http.Request {
	if !traced(r.URL.Path) {
		return r
	}
	ctx := s.propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, span := s.tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(rec.start),
		trace.WithAttributes(
			attribute.String("http.request.method", r.Method),
			attribute.String("url.path", truncateForLog(r.URL.Path, maxSpanValue)),
			attribute.String("aigateway.request_id", rec.id)))
	rec.span = span
	return r.WithContext(ctx)
}

// traced reports whether requests to path get a span.
func traced(path string) bool {
	return !isProbePath(path) && path != "/ui" && !strings.HasPrefix(path, "/ui/")
}

// endSpan ends a request's server span with what the request record
// learned: the GenAI attributes of a model request, the status, and an
// error status for a 5xx or a stream that failed after it started.
func (s *Server) endSpan(rec *record, status int) {
	span := rec.span
	if !span.IsRecording() { // not sampled
		span.End()
		return
	}
	attrs := make([]attribute.KeyValue, 0, 16)
	attrs = append(attrs, attribute.Int("http.response.status_code", status))
	if rec.endpoint != "" {
		op := operationOf(rec.endpoint)
		name := op
		if _, ok := s.router.Registry().Lookup(rec.model); ok { // a span name is never a client's raw input
			name += " " + rec.model
		}
		span.SetName(name)
		attrs = append(attrs, attribute.String("gen_ai.operation.name", op),
			attribute.String("gen_ai.request.model", truncateForLog(rec.model, maxSpanValue)))
		if rec.provider != "" {
			attrs = append(attrs, attribute.String("gen_ai.provider.name", rec.provider))
		}
		if rec.attempts > 0 {
			attrs = append(attrs, attribute.String("aigateway.deployment", rec.deployment),
				attribute.String("aigateway.answered_by", rec.answeredBy), attribute.Int("aigateway.attempts", rec.attempts))
			if status < 400 {
				attrs = append(attrs, attribute.String("gen_ai.response.model", rec.upstreamModel))
			}
		}
		attrs = appendUsage(attrs, rec.usage)
		if rec.stream {
			attrs = append(attrs, attribute.Bool("aigateway.stream", true))
		}
	}
	if rec.key != nil {
		attrs = append(attrs, attribute.String("aigateway.key", rec.key.Name))
	}
	switch {
	case status >= 500:
		attrs = append(attrs, attribute.String("error.type", strconv.Itoa(status)))
		span.SetStatus(codes.Error, errText(rec.err))
	case status < 300 && rec.err != nil: // a stream that broke off after it started
		attrs = append(attrs, attribute.String("error.type", "stream_error"))
		span.SetStatus(codes.Error, rec.err.Error())
	}
	span.SetAttributes(attrs...)
	span.End()
}

func appendUsage(attrs []attribute.KeyValue, u adapter.Usage) []attribute.KeyValue {
	if u.PromptTokens == 0 && u.CompletionTokens == 0 && u.TotalTokens == 0 {
		return attrs // not reported
	}
	return append(attrs, attribute.Int64("gen_ai.usage.input_tokens", u.PromptTokens),
		attribute.Int64("gen_ai.usage.output_tokens", u.CompletionTokens))
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// startAttempt starts the client span of attempt rec.attempts on d (model
// is the model id it serves, a fallback maybe). The returned context
// carries it: the gateway's transport writes it into the upstream
// request's traceparent, and a local program gets it as TRACEPARENT.
func (s *Server) startAttempt(ctx context.Context, rec *record, model string, d *registry.Deployment) (context.Context, trace.Span) {
	op := operationOf(rec.endpoint)
	ctx, span := s.tracer.Start(ctx, op+" "+d.Model, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String("gen_ai.operation.name", op),
		attribute.String("gen_ai.provider.name", providerOf(d)),
		attribute.String("gen_ai.request.model", d.Model),
		attribute.String("aigateway.model", model),
		attribute.String("aigateway.deployment", d.Label),
		attribute.String("aigateway.upstream", d.Upstream),
		attribute.Int("aigateway.attempt", rec.attempts)))
	if d.AdapterType == config.AdapterProcess {
		ctx = adapter.WithTraceParent(ctx, tracing.TraceParent(ctx))
	}
	return ctx, span
}

// endAttempt ends an attempt's span, or, for a stream that started, hands
// it to the stream, which ends it when the stream ends.
func endAttempt(ctx context.Context, span trace.Span, resp *adapter.Response, first streamHead, err error, outcome string) {
	if err == nil && resp.Stream != nil && !first.ended {
		resp.Stream = &spanStream{Stream: resp.Stream, ctx: ctx, span: span}
		return
	}
	var u adapter.Usage
	if err == nil && resp.Stream == nil {
		u = resp.Usage
	}
	finishAttempt(span, err, outcome, u)
}

// finishAttempt sets how an attempt ended and ends its span.
func finishAttempt(span trace.Span, err error, outcome string, u adapter.Usage) {
	if span.IsRecording() {
		status := http.StatusOK
		var ae *adapter.Error
		switch {
		case errors.As(err, &ae):
			status = ae.Status
		case err != nil:
			status = 0 // no answer
		}
		attrs := make([]attribute.KeyValue, 0, 6)
		attrs = append(attrs, attribute.String("aigateway.attempt.outcome", outcome))
		if status != 0 {
			attrs = append(attrs, attribute.Int("http.response.status_code", status))
		}
		attrs = appendUsage(attrs, u)
		if err != nil && outcome != "client_gone" {
			et := "error"
			if status != 0 {
				et = strconv.Itoa(status)
			}
			attrs = append(attrs, attribute.String("error.type", et))
			span.SetStatus(codes.Error, err.Error())
		}
		span.SetAttributes(attrs...)
	}
	span.End()
}

// spanStream ends a started stream's attempt span when the stream ends:
// at the upstream's end (success), at its failure, or when the gateway
// closes it first (the client left, or a shutdown cut it: "closed").
type spanStream struct {
	adapter.Stream
	ctx   context.Context
	span  trace.Span
	ended bool
}

func (t *spanStream) Next() (adapter.Chunk, error) {
	c, err := t.Stream.Next()
	if err != nil && !t.ended {
		t.ended = true
		if err == io.EOF {
			finishAttempt(t.span, nil, "success", t.Stream.Usage())
		} else {
			finishAttempt(t.span, err, attemptOutcome(t.ctx, err), t.Stream.Usage())
		}
	}
	return c, err
}

func (t *spanStream) Close() error {
	if !t.ended {
		t.ended = true
		finishAttempt(t.span, nil, "closed", t.Stream.Usage())
	}
	return t.Stream.Close()
}
