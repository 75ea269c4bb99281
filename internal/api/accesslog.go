package api

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"aigateway/internal/adapter"
	"aigateway/internal/config"
	"aigateway/internal/inbound"
	"aigateway/internal/keys"
	"aigateway/internal/limits"
)

// record is what the access log line reports about one request. Handlers
// fill in what they learn.
type record struct {
	start    time.Time
	id       string
	model    string
	upstream string
	// upstreamModel is the model name the last attempt sent upstream (the
	// entry's "model").
	upstreamModel string
	// attempts counts upstream attempts; answeredBy and deployment name the
	// model (a fallback, maybe) and entry of the last one.
	attempts   int
	answeredBy string
	deployment string
	stream     bool
	bytesIn    int
	usage      adapter.Usage
	// status overrides the written status in the log: 499 when the client
	// went away first.
	status int
	err    error
	// dialect is the inbound API the client speaks (nil: OpenAI's), whose
	// error shape every error of the request takes.
	dialect inbound.Dialect
	// key is the gateway key the client sent; nil when the gateway is
	// open or the key was not checked (yet).
	key *keys.Key
	// endpoint is the path of a model request, which the ledger records;
	// "" for every other request.
	endpoint string
	// ticket is the request's hold on its key's limits, settled when the
	// request ends.
	ticket *limits.Ticket
	// price is the answering deployment's price; nil: unknown.
	price *config.Price
	// outcome overrides how the ledger says the request ended (limited,
	// rejected); "" derives it from the status and error.
	outcome string
	// provider is the last attempt's adapter or protocol, for the metrics.
	provider string
	// span is the request's server span; nil when tracing is off or the
	// path is not traced.
	span trace.Span
}

// logWriter records the status, bytes and time to first byte of a response.
// It implements Flush, FlushError and Unwrap so that streaming and
// http.ResponseController (write deadlines) keep working through it.
type logWriter struct {
	http.ResponseWriter
	rec         *record
	wroteHeader bool
	status      int
	bytes       int64
	firstByte   time.Duration
}

func (w *logWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.wroteHeader = true
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *logWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.bytes == 0 && len(p) > 0 {
		w.firstByte = time.Since(w.rec.start)
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

func (w *logWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// FlushError is Flush that reports a failed write: the client left, or a
// write deadline passed. http.ResponseController.Flush prefers it.
func (w *logWriter) FlushError() error {
	if f, ok := w.ResponseWriter.(interface{ FlushError() error }); ok {
		return f.FlushError()
	}
	w.Flush()
	return nil
}

func (w *logWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// statusClientClosed is the nginx convention for "the client closed the
// connection before the response was complete".
const statusClientClosed = 499

func (s *Server) logRequest(w *logWriter, r *http.Request) {
	rec := w.rec
	status := w.status
	if rec.status != 0 {
		status = rec.status
	}
	if status == 0 {
		status = http.StatusOK
	}
	// Probes come every few seconds from load balancers and orchestrators:
	// at INFO they would drown the requests.
	level := slog.LevelInfo
	if isProbePath(r.URL.Path) {
		level = slog.LevelDebug
	}
	if rec.err != nil && level == slog.LevelInfo && (status >= 500 || status == http.StatusOK) { // 200: a stream that failed after it started
		level = slog.LevelWarn
	}
	if !s.log.Enabled(context.Background(), level) {
		return
	}
	attrs := make([]slog.Attr, 0, 20)
	attrs = append(attrs,
		slog.String("request_id", rec.id),
	)
	if rec.span != nil {
		if sc := rec.span.SpanContext(); sc.IsValid() {
			attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()))
		}
	}
	attrs = append(attrs,
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Float64("latency_ms", millis(time.Since(rec.start))),
		slog.String("client", clientAddr(r, s.trustedProxies)),
	)
	if ua := r.Header["User-Agent"]; len(ua) > 0 {
		attrs = append(attrs, slog.String("user_agent", truncateForLog(ua[0], maxUserAgentLog)))
	}
	if rec.key != nil {
		attrs = append(attrs, slog.String("key", rec.key.Name))
	}
	if rec.model != "" {
		attrs = append(attrs, slog.String("model", rec.model))
	}
	if rec.attempts > 0 {
		if rec.answeredBy != rec.model {
			attrs = append(attrs, slog.String("answered_by", rec.answeredBy))
		}
		attrs = append(attrs, slog.String("deployment", rec.deployment), slog.String("upstream", rec.upstream),
			slog.String("upstream_model", rec.upstreamModel))
		if rec.attempts > 1 {
			attrs = append(attrs, slog.Int("attempts", rec.attempts))
		}
	}
	if rec.stream {
		attrs = append(attrs, slog.Bool("stream", true))
	}
	if w.bytes > 0 {
		attrs = append(attrs, slog.Float64("ttfb_ms", millis(w.firstByte)))
	}
	attrs = append(attrs, slog.Int("bytes_in", rec.bytesIn), slog.Int64("bytes_out", w.bytes))
	if u := rec.usage; u.TotalTokens > 0 || u.PromptTokens > 0 {
		attrs = append(attrs, slog.Int64("prompt_tokens", u.PromptTokens), slog.Int64("completion_tokens", u.CompletionTokens))
		if u.Estimated {
			attrs = append(attrs, slog.Bool("usage_estimated", true))
		}
	}
	if rec.err != nil {
		attrs = append(attrs, slog.String("error", rec.err.Error()))
	}
	s.log.LogAttrs(context.Background(), level, "request", attrs...)
}

// isProbePath reports whether path is a health, readiness or metrics
// endpoint, or the dashboard (which polls every 2 seconds), whose access
// lines are logged at DEBUG.
func isProbePath(path string) bool {
	return path == "/health" || path == "/ready" || path == "/metrics" || strings.HasPrefix(path, "/ui/")
}

// maxUserAgentLog bounds the user agent in the log: it is the client's to
// choose, and one log line must stay one readable line.
const maxUserAgentLog = 256

// truncateForLog cuts s to at most n bytes, marking the cut.
func truncateForLog(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// millis is d in milliseconds, to the microsecond: logs carry durations as
// numbers with the unit in the key (latency_ms), which JSON log pipelines
// can aggregate, instead of Go duration strings or bare nanoseconds.
func millis(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}
