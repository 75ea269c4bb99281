package tracing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFromEnv(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		on      bool
		sampled bool   // a new root span is recorded
		wantErr string // a substring of the error; "" means none
	}{
		{name: "nothing set: off", env: nil},
		{name: "only other OTEL variables: off", env: map[string]string{"OTEL_SERVICE_NAME": "gw", "OTEL_TRACES_SAMPLER": "always_on"}},
		{name: "OTLP endpoint: on over HTTP", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, on: true, sampled: true},
		{name: "traces endpoint: on", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, on: true, sampled: true},
		{name: "grpc", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, on: true, sampled: true},
		{name: "traces protocol wins", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "bogus", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}, on: true, sampled: true},
		{name: "console", env: map[string]string{"OTEL_TRACES_EXPORTER": "console"}, on: true, sampled: true},
		{name: "console and otlp", env: map[string]string{"OTEL_TRACES_EXPORTER": "console, otlp"}, on: true, sampled: true},
		{name: "exporter none: off", env: map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}},
		{name: "SDK disabled: off", env: map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}},
		{name: "sampler always_off", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "always_off"}, on: true},
		{name: "sampler ratio 0", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"}, on: true},
		{name: "sampler ratio 1", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1"}, on: true, sampled: true},
		{name: "propagators none", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_PROPAGATORS": "none"}, on: true, sampled: true},
		{name: "bad exporter", env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, wantErr: `OTEL_TRACES_EXPORTER: "zipkin" is not otlp, console or none`},
		{name: "bad protocol", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, wantErr: `OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" is not http/protobuf or grpc`},
		{name: "bad traces protocol", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "udp"}, wantErr: "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: \"udp\""},
		{name: "bad sampler", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "bogus"}, wantErr: `OTEL_TRACES_SAMPLER: "bogus" is not one of`},
		{name: "bad sampler arg", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"}, wantErr: `OTEL_TRACES_SAMPLER_ARG: "2" is not a ratio from 0 to 1`},
		{name: "bad propagator", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_PROPAGATORS": "tracecontext,b3"}, wantErr: `OTEL_PROPAGATORS: "b3" is not tracecontext, baggage or none`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := FromEnv(context.Background(), func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				if tr != nil {
					t.Errorf("a Tracing along with the error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (tr != nil) != tc.on {
				t.Fatalf("tracing on: %v, want %v", tr != nil, tc.on)
			}
			if tr == nil {
				return
			}
			defer tr.Shutdown(context.Background()) //nolint:errcheck // nothing was exported
			_, span := tr.Tracer().Start(context.Background(), "probe")
			if span.IsRecording() != tc.sampled {
				t.Errorf("a root span is recorded: %v, want %v", span.IsRecording(), tc.sampled)
			}
		})
	}
}

// The transport writes the span's traceparent into a copy of the request,
// and passes requests without a span as they are.
func TestTransport(t *testing.T) {
	got := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.Header.Get("Traceparent") }))
	defer srv.Close()
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background()) //nolint:errcheck // nothing to export
	tr := New(tp, nil)
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	c := &http.Client{Transport: tr.Transport(base)}

	ctx, span := tr.Tracer().Start(context.Background(), "attempt")
	defer span.End()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := TraceParent(ctx)
	if h := <-got; h != want || !strings.HasPrefix(want, "00-"+span.SpanContext().TraceID().String()+"-"+span.SpanContext().SpanID().String()) {
		t.Errorf("upstream traceparent %q, want %q", h, want)
	}
	if len(req.Header) != 0 {
		t.Errorf("the caller's request was modified: %v", req.Header)
	}

	req, _ = http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL, nil)
	if resp, err = c.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if h := <-got; h != "" {
		t.Errorf("traceparent %q on a request without a span", h)
	}
	var off *Tracing
	if off.Transport(base) != http.RoundTripper(base) {
		t.Errorf("a nil Tracing wraps the transport")
	}
}
