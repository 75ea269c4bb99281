// Package tracing builds the gateway's OpenTelemetry tracer from the
// standard OTEL_* environment variables, and carries the W3C trace context
// to the upstreams. Tracing is off unless an OTLP endpoint or
// OTEL_TRACES_EXPORTER is set: then FromEnv returns nil, and every caller
// checks for nil, so that a gateway without tracing does no work for it.
package tracing

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// ServiceName is service.name when OTEL_SERVICE_NAME (or service.name in
// OTEL_RESOURCE_ATTRIBUTES) does not set it.
const ServiceName = "aigateway"

// instrumentation names the tracer, as the conventions ask: the code that
// makes the spans.
const instrumentation = "aigateway"

// Tracing is a tracer and the propagator that reads and writes the trace
// context of HTTP headers. A nil *Tracing is tracing off.
type Tracing struct {
	provider   *sdktrace.TracerProvider
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
}

// New returns the Tracing of a tracer provider; tests use it with the SDK's
// in-memory exporter. A nil propagator means W3C trace context and baggage.
func New(tp *sdktrace.TracerProvider, p propagation.TextMapPropagator) *Tracing {
	if p == nil {
		p = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	}
	return &Tracing{provider: tp, tracer: tp.Tracer(instrumentation), propagator: p}
}

// Tracer is the tracer of the gateway's spans.
func (t *Tracing) Tracer() trace.Tracer { return t.tracer }

// Propagator reads the trace context of incoming requests and writes it
// into outgoing ones.
func (t *Tracing) Propagator() propagation.TextMapPropagator { return t.propagator }

// Shutdown exports the spans still buffered and stops the exporters; ctx
// bounds how long that may take. It is a no-op on nil.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	if err := t.provider.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: flushing spans: %w", err)
	}
	return nil
}

// FromEnv builds the tracing the OTEL_* variables of getenv ask for, or nil
// when tracing is off: OTEL_SDK_DISABLED=true, OTEL_TRACES_EXPORTER=none,
// or neither OTEL_TRACES_EXPORTER nor an OTLP endpoint
// (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) set.
// The OTLP exporters read their own variables (endpoint, headers, timeout,
// certificates, compression) from the process environment, and the batch
// span processor its OTEL_BSP_* ones. A value FromEnv cannot use is an
// error that names the variable.
func FromEnv(ctx context.Context, getenv func(string) string) (*Tracing, error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return nil, nil
	}
	exporters, err := exporterNames(getenv)
	if err != nil || len(exporters) == 0 {
		return nil, err
	}
	sampler, err := samplerFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	prop, err := propagatorFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", ServiceName)),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
		resource.WithTelemetrySDK())
	if err != nil {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithSampler(sampler), sdktrace.WithResource(res)}
	var made []sdktrace.SpanExporter
	for _, name := range exporters {
		exp, err := newExporter(ctx, name, getenv)
		if err != nil {
			for _, e := range made { // a gRPC exporter holds a connection
				e.Shutdown(ctx) //nolint:errcheck // failing already
			}
			return nil, err
		}
		made = append(made, exp)
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	return New(sdktrace.NewTracerProvider(opts...), prop), nil
}

// exporterNames reads OTEL_TRACES_EXPORTER (a comma-separated list; "otlp"
// when only an endpoint is set). None means tracing is off.
func exporterNames(getenv func(string) string) ([]string, error) {
	v := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))
	if v == "" {
		if getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
			return nil, nil
		}
		return []string{"otlp"}, nil
	}
	var names []string
	for name := range strings.SplitSeq(v, ",") {
		switch name = strings.TrimSpace(name); name {
		case "none":
			return nil, nil
		case "otlp", "console":
			names = append(names, name)
		default:
			return nil, fmt.Errorf("OTEL_TRACES_EXPORTER: %q is not otlp, console or none", name)
		}
	}
	return names, nil
}

func newExporter(ctx context.Context, name string, getenv func(string) string) (sdktrace.SpanExporter, error) {
	if name == "console" { // standard output: the spans do not mix with the log on standard error
		exp, err := stdouttrace.New(stdouttrace.WithWriter(os.Stdout))
		if err != nil {
			return nil, fmt.Errorf("OTEL_TRACES_EXPORTER: console: %w", err)
		}
		return exp, nil
	}
	variable, protocol := "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if protocol == "" {
		variable, protocol = "OTEL_EXPORTER_OTLP_PROTOCOL", getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	var exp sdktrace.SpanExporter
	var err error
	switch protocol {
	case "", "http/protobuf":
		exp, err = otlptracehttp.New(ctx)
	case "grpc":
		exp, err = otlptracegrpc.New(ctx)
	default:
		return nil, fmt.Errorf("%s: %q is not http/protobuf or grpc", variable, protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	return exp, nil
}

// samplerFromEnv reads OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG;
// the default is parentbased_always_on: every request is traced, unless
// the client's traceparent says it was not sampled.
func samplerFromEnv(getenv func(string) string) (sdktrace.Sampler, error) {
	name := strings.TrimSpace(getenv("OTEL_TRACES_SAMPLER"))
	ratio := func() (float64, error) {
		arg := strings.TrimSpace(getenv("OTEL_TRACES_SAMPLER_ARG"))
		if arg == "" {
			return 1, nil
		}
		f, err := strconv.ParseFloat(arg, 64)
		if err != nil || f < 0 || f > 1 {
			return 0, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG: %q is not a ratio from 0 to 1", arg)
		}
		return f, nil
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "traceidratio", "parentbased_traceidratio":
		f, err := ratio()
		if err != nil {
			return nil, err
		}
		if name == "traceidratio" {
			return sdktrace.TraceIDRatioBased(f), nil
		}
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(f)), nil
	}
	return nil, fmt.Errorf("OTEL_TRACES_SAMPLER: %q is not one of always_on, always_off, traceidratio, "+
		"parentbased_always_on, parentbased_always_off, parentbased_traceidratio", name)
}

// propagatorFromEnv reads OTEL_PROPAGATORS: tracecontext and baggage by
// default, none for neither.
func propagatorFromEnv(getenv func(string) string) (propagation.TextMapPropagator, error) {
	v := strings.TrimSpace(getenv("OTEL_PROPAGATORS"))
	if v == "" {
		v = "tracecontext,baggage"
	}
	var props []propagation.TextMapPropagator
	for name := range strings.SplitSeq(v, ",") {
		switch name = strings.TrimSpace(name); name {
		case "tracecontext":
			props = append(props, propagation.TraceContext{})
		case "baggage":
			props = append(props, propagation.Baggage{})
		case "none":
		default:
			return nil, fmt.Errorf("OTEL_PROPAGATORS: %q is not tracecontext, baggage or none", name)
		}
	}
	return propagation.NewCompositeTextMapPropagator(props...), nil
}

// Transport returns next wrapped so that each request carries the trace
// context of its context's span (traceparent, and what else the
// propagator writes), or next itself when t is nil.
func (t *Tracing) Transport(next http.RoundTripper) http.RoundTripper {
	if t == nil {
		return next
	}
	if next == nil {
		next = http.DefaultTransport
	}
	return &injector{next: next, propagator: t.propagator}
}

// injector is Transport's RoundTripper.
type injector struct {
	next       http.RoundTripper
	propagator propagation.TextMapPropagator
}

func (i *injector) RoundTrip(r *http.Request) (*http.Response, error) {
	if !trace.SpanContextFromContext(r.Context()).IsValid() {
		return i.next.RoundTrip(r)
	}
	// A RoundTripper must not modify the request it was given.
	out := *r
	out.Header = r.Header.Clone()
	if out.Header == nil {
		out.Header = http.Header{}
	}
	i.propagator.Inject(r.Context(), propagation.HeaderCarrier(out.Header))
	return i.next.RoundTrip(&out)
}

// CloseIdleConnections closes the wrapped transport's idle connections.
func (i *injector) CloseIdleConnections() {
	if c, ok := i.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// TraceParent is the W3C traceparent of ctx's span ("" when ctx has no
// valid span), for what is not HTTP: a local program's TRACEPARENT.
func TraceParent(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	flags := "00"
	if sc.IsSampled() {
		flags = "01"
	}
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + flags
}
