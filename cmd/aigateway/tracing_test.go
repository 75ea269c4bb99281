package main

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"aigateway/internal/mockllm"
)

// otlpReceiver is an OTLP/HTTP trace receiver: it keeps the spans of every
// export it is sent, with their resource's service.name.
type otlpReceiver struct {
	mu      sync.Mutex
	spans   []*tracepb.Span
	service []string
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/traces" || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	var req coltracepb.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(b, &req)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	for _, rs := range req.ResourceSpans {
		name := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.Key == "service.name" {
				name = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			o.spans = append(o.spans, ss.Spans...)
			for range ss.Spans {
				o.service = append(o.service, name)
			}
		}
	}
	o.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out) //nolint:errcheck // the exporter's problem
}

// spanAttr is the string attribute key of s; "" when missing.
func spanAttr(s *tracepb.Span, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return kv.GetValue().GetStringValue()
		}
	}
	return ""
}

// The real binary with OTEL_EXPORTER_OTLP_ENDPOINT exports a request's
// server span (in the client's trace) and its attempt span over OTLP/HTTP.
// The batch delay is a minute: the spans can only arrive through the flush
// at SIGTERM.
func TestExportsSpansOnShutdown(t *testing.T) {
	upstream := httptest.NewServer(mockllm.New(mockllm.Options{}))
	defer upstream.Close()
	recv := &otlpReceiver{}
	collector := httptest.NewServer(recv)
	defer collector.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "AIGATEWAY_TEST_RUN_MAIN=1",
		"AIGATEWAY_TEST_ARGS=--port 0 --drain-delay 0 --config "+writeConfig(t, upstream.URL),
		"OTEL_EXPORTER_OTLP_ENDPOINT="+collector.URL, "OTEL_BSP_SCHEDULE_DELAY=60000", "OTEL_SERVICE_NAME=gw-under-test")
	logs := &lockedBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() //nolint:errcheck // already exited in the normal case
	url := waitListening(t, logs)

	const tid, parent = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/chat/completions",
		strings.NewReader(`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Traceparent", "00-"+tid+"-"+parent+"-01")
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body) //nolint:errcheck // the status matters
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	recv.mu.Lock()
	early := len(recv.spans)
	recv.mu.Unlock()
	if early != 0 {
		t.Fatalf("%d spans exported before the shutdown; the test cannot tell the flush works", early)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the gateway exited with %v; log:\n%s", err, logs.String())
	}

	recv.mu.Lock()
	defer recv.mu.Unlock()
	var server, attempt *tracepb.Span
	for i, s := range recv.spans {
		if recv.service[i] != "gw-under-test" {
			t.Errorf("span %q of service %q, want OTEL_SERVICE_NAME's", s.Name, recv.service[i])
		}
		switch s.Kind {
		case tracepb.Span_SPAN_KIND_SERVER:
			server = s
		case tracepb.Span_SPAN_KIND_CLIENT:
			attempt = s
		}
	}
	if server == nil || attempt == nil {
		t.Fatalf("received %d spans, want a server and a client span; log:\n%s", len(recv.spans), logs.String())
	}
	if got := hex.EncodeToString(server.TraceId); got != tid || hex.EncodeToString(server.ParentSpanId) != parent {
		t.Errorf("server span in trace %s under %x, want trace %s under %s", got, server.ParentSpanId, tid, parent)
	}
	if server.Name != "chat chat" || spanAttr(server, "gen_ai.request.model") != "chat" {
		t.Errorf("server span %q, gen_ai.request.model %q", server.Name, spanAttr(server, "gen_ai.request.model"))
	}
	if !bytes.Equal(attempt.ParentSpanId, server.SpanId) || !bytes.Equal(attempt.TraceId, server.TraceId) {
		t.Errorf("the attempt span is not the server span's child")
	}
	if !strings.Contains(logs.String(), "trace_id="+tid) {
		t.Errorf("the access log has no trace_id=%s:\n%s", tid, logs.String())
	}
}

// A sampler the gateway does not know stops it at start, naming the
// variable.
func TestTracingStartupError(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "AIGATEWAY_TEST_RUN_MAIN=1",
		"AIGATEWAY_TEST_ARGS=--port 0 --config "+writeConfig(t, "http://127.0.0.1:1"),
		"OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:1", "OTEL_TRACES_SAMPLER=bogus")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1; output:\n%s", err, out)
	}
	if want := `aigateway: tracing: OTEL_TRACES_SAMPLER: "bogus" is not one of`; !strings.Contains(string(out), want) {
		t.Errorf("output does not say %q:\n%s", want, out)
	}
	if strings.Contains(string(out), "listening") {
		t.Errorf("the gateway listened:\n%s", out)
	}
}
