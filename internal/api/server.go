// Package api is the gateway's HTTP surface: the OpenAI-compatible endpoints,
// /health, request ids and the access log. Handlers read the request body
// once, peek at the fields they route on, and hand the bytes to the adapter
// the router picks.
package api

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"aigateway/internal/adapter"
	"aigateway/internal/dashboard"
	"aigateway/internal/inbound"
	"aigateway/internal/limits"
	"aigateway/internal/metrics"
	"aigateway/internal/openai"
	"aigateway/internal/router"
	"aigateway/internal/tracing"
)

// DefaultMaxBodyBytes is the default request body limit: large enough for
// several base64 images in one chat request.
const DefaultMaxBodyBytes = 32 << 20

// Options configure a Server. Zero values mean the documented defaults.
type Options struct {
	// Router resolves model ids; required.
	Router *router.Router
	// Logger receives one line per request; nil means slog.Default().
	Logger *slog.Logger
	// MaxBodyBytes bounds request bodies; larger ones get 413. Zero means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// BodyReadTimeout is how long a request body may take to start
	// arriving; zero means DefaultBodyReadTimeout.
	BodyReadTimeout time.Duration
	// BodyMinRate is the average rate, in bytes per second, at which the
	// rest of a body must arrive; zero means DefaultBodyMinRate.
	BodyMinRate int64
	// Retry shapes the wait between attempts; zero fields mean the defaults
	// of RetryPolicy.
	Retry RetryPolicy
	// WriteTimeout bounds how long a write of a chat, completion or
	// embedding response to the client may block. A client that stops
	// reading loses its connection after it, the upstream request is
	// canceled (a local program is stopped) and the access log shows 499.
	// Zero means DefaultWriteTimeout.
	WriteTimeout time.Duration
	// TrustedProxies are the addresses of the proxies whose X-Forwarded-For
	// names the client in the access log; nil trusts none, and the log
	// shows the connection's peer.
	TrustedProxies []netip.Prefix
	// Dialects are the inbound APIs served besides OpenAI's.
	Dialects Dialects
	// Limiter enforces the gateway keys' limits and budgets; nil: none
	// are enforced.
	Limiter limits.Limiter
	// Ledger records every model request; nil: none are recorded.
	Ledger Ledger
	// Usage reads the ledger back for /admin; nil: /admin answers 404.
	Usage UsageReader
	// Metrics records the Prometheus series and serves them at /metrics;
	// nil: none are recorded and /metrics answers 404.
	Metrics *metrics.Metrics
	// Activity keeps the last minutes of traffic for the dashboard at /ui;
	// nil: nothing is kept and /ui answers 404.
	Activity *dashboard.Activity
	// Tracing makes a span per request and per upstream attempt; nil:
	// none (see tracing.FromEnv).
	Tracing *tracing.Tracing
}

// RetryPolicy is the wait between two attempts of one request: exponential
// backoff with full jitter from Base, capped at Max, or the upstream's
// Retry-After when that is longer, capped at MaxRetryAfter.
type RetryPolicy struct {
	Base          time.Duration // default 100ms
	Max           time.Duration // default 2s
	MaxRetryAfter time.Duration // default 10s
}

// Server serves the gateway's HTTP API.
type Server struct {
	router       *router.Router
	log          *slog.Logger
	maxBody      int64
	retry        RetryPolicy
	writeTimeout time.Duration
	bodyTimeout  time.Duration
	bodyRate     int64
	// trustedProxies: see Options.TrustedProxies.
	trustedProxies []netip.Prefix
	writers        sync.Pool // of *streamWriter
	// draining is set by Drain: /health and /ready answer 503.
	draining atomic.Bool
	// ending is canceled by EndStreams; every stream's upstream context
	// is canceled with its cause.
	ending     context.Context
	endStreams context.CancelCauseFunc
	dialects   Dialects
	// started is when the server was made: the creation time of every
	// model in the Anthropic model list.
	started time.Time
	limiter limits.Limiter
	ledger  Ledger
	usage   UsageReader
	metrics *metrics.Metrics
	// activity: see Options.Activity.
	activity *dashboard.Activity
	// tracer and propagator are Options.Tracing's; tracer is nil when
	// tracing is off.
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
}

// New returns a Server.
func New(o Options) *Server {
	s := &Server{router: o.Router, log: o.Logger, maxBody: o.MaxBodyBytes, retry: o.Retry, writeTimeout: o.WriteTimeout,
		bodyTimeout: o.BodyReadTimeout, bodyRate: o.BodyMinRate, trustedProxies: o.TrustedProxies,
		dialects: o.Dialects, started: time.Now().UTC().Truncate(time.Second), limiter: o.Limiter, ledger: o.Ledger, usage: o.Usage,
		metrics: o.Metrics, activity: o.Activity}
	s.ending, s.endStreams = context.WithCancelCause(context.Background())
	if o.Tracing != nil {
		s.tracer, s.propagator = o.Tracing.Tracer(), o.Tracing.Propagator()
	}
	if s.writeTimeout <= 0 {
		s.writeTimeout = DefaultWriteTimeout
	}
	if s.bodyTimeout <= 0 {
		s.bodyTimeout = DefaultBodyReadTimeout
	}
	if s.bodyRate <= 0 {
		s.bodyRate = DefaultBodyMinRate
	}
	if s.retry.Base <= 0 {
		s.retry.Base = 100 * time.Millisecond
	}
	if s.retry.Max <= 0 {
		s.retry.Max = 2 * time.Second
	}
	if s.retry.MaxRetryAfter <= 0 {
		s.retry.MaxRetryAfter = 10 * time.Second
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	return s
}

// ServeHTTP gives the request an id, dispatches it, and writes its access log
// line when it is done.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &record{start: time.Now(), id: requestID(r)}
	lw := &logWriter{ResponseWriter: w, rec: rec}
	w.Header()["X-Request-Id"] = []string{rec.id}
	if s.draining.Load() {
		w.Header()["Connection"] = connClose
	}
	if s.tracer != nil {
		r = s.startSpan(r, rec)
	}
	defer s.finish(lw, r)
	s.dispatch(lw, r, rec)
}

func (s *Server) dispatch(w *logWriter, r *http.Request, rec *record) {
	path := r.URL.Path
	switch path {
	case "/v1/chat/completions":
		if allow(w, r, http.MethodPost) {
			s.inference(w, r, rec, adapter.OpChat)
		}
	case "/v1/completions":
		if allow(w, r, http.MethodPost) {
			s.inference(w, r, rec, adapter.OpCompletion)
		}
	case "/v1/embeddings":
		if allow(w, r, http.MethodPost) {
			s.inference(w, r, rec, adapter.OpEmbedding)
		}
	case "/v1/models":
		if allow(w, r, http.MethodGet) {
			if anthropicClient(r) && s.dialects.Messages != nil {
				rec.dialect = s.dialects.Messages
			} else if geminiClient(r) && s.dialects.Gemini != nil {
				rec.dialect = s.dialects.Gemini
			}
			if !s.authenticate(w, r, rec) {
				return
			}
			if l, ok := s.dialects.Messages.(inbound.Lister); ok && anthropicClient(r) {
				s.listModels(w, rec, l)
				return
			}
			if l, ok := s.dialects.Gemini.(inbound.Lister); ok && geminiClient(r) {
				s.listModels(w, rec, l)
				return
			}
			s.openAIModels(w, rec)
		}
	case "/v1/messages":
		if s.dialects.Messages != nil && allow(w, r, http.MethodPost) {
			s.inboundAPI(w, r, rec, s.dialects.Messages, false)
		} else if s.dialects.Messages == nil {
			s.notFound(w, r, rec)
		}
	case "/v1/messages/count_tokens":
		if s.dialects.Messages != nil && allow(w, r, http.MethodPost) {
			s.inboundAPI(w, r, rec, s.dialects.Messages, true)
		} else if s.dialects.Messages == nil {
			s.notFound(w, r, rec)
		}
	case "/v1/responses":
		if s.dialects.Responses != nil && allow(w, r, http.MethodPost) {
			s.inboundAPI(w, r, rec, s.dialects.Responses, false)
		} else if s.dialects.Responses == nil {
			s.notFound(w, r, rec)
		}
	case "/v1beta/models":
		if l, ok := s.dialects.Gemini.(inbound.Lister); ok {
			rec.dialect = s.dialects.Gemini
			if allow(w, r, http.MethodGet) && s.authenticate(w, r, rec) {
				s.listModels(w, rec, l)
			}
			return
		}
		s.notFound(w, r, rec)
	case "/health":
		if allow(w, r, http.MethodGet) {
			s.health(w, r)
		}
	case "/admin/usage":
		if allow(w, r, http.MethodGet) {
			s.adminUsage(w, r)
		}
	case "/admin/requests":
		if allow(w, r, http.MethodGet) {
			s.adminRequests(w, r)
		}
	case "/metrics":
		if s.metrics == nil {
			s.notFound(w, r, rec)
		} else if allow(w, r, http.MethodGet) && s.adminAllowed(w, r) {
			s.metrics.Handler().ServeHTTP(w, r)
		}
	case "/ready":
		if allow(w, r, http.MethodGet) {
			s.ready(w)
		}
	default:
		s.dispatchPrefixed(w, r, rec)
	}
}

// dispatchPrefixed routes the paths that carry an id.
func (s *Server) dispatchPrefixed(w *logWriter, r *http.Request, rec *record) {
	path := r.URL.Path
	if path == "/ui" || strings.HasPrefix(path, "/ui/") {
		s.dashboardUI(w, r, rec)
		return
	}
	if model, method, ok := geminiMethod(path); ok && s.dialects.Gemini != nil {
		rec.model = model
		s.gemini(w, r, rec, method)
		return
	}
	if id, ok := strings.CutPrefix(path, "/v1beta/models/"); ok && id != "" && s.dialects.Gemini != nil {
		rec.dialect = s.dialects.Gemini
		if l, ok := s.dialects.Gemini.(inbound.Lister); ok && allow(w, r, http.MethodGet) && s.authenticate(w, r, rec) {
			s.modelObject(w, r, rec, l, strings.TrimPrefix(id, "models/"))
		}
		return
	}
	if id, ok := strings.CutPrefix(path, "/v1/models/"); ok && id != "" {
		if allow(w, r, http.MethodGet) {
			if anthropicClient(r) && s.dialects.Messages != nil {
				rec.dialect = s.dialects.Messages
			} else if geminiClient(r) && s.dialects.Gemini != nil {
				rec.dialect = s.dialects.Gemini
			}
			if !s.authenticate(w, r, rec) {
				return
			}
			if l, ok := s.dialects.Messages.(inbound.Lister); ok && anthropicClient(r) {
				s.modelObject(w, r, rec, l, id)
				return
			}
			if l, ok := s.dialects.Gemini.(inbound.Lister); ok && geminiClient(r) {
				s.modelObject(w, r, rec, l, strings.TrimPrefix(id, "models/"))
				return
			}
			s.model(w, r, rec, id)
		}
		return
	}
	if id, ok := strings.CutPrefix(path, "/v1/responses/"); ok && id != "" && s.dialects.Responses != nil {
		rec.dialect = s.dialects.Responses
		if g, ok := s.dialects.Responses.(inbound.Getter); ok && allow(w, r, http.MethodGet) && s.authenticate(w, r, rec) {
			s.storedResponse(w, r, rec, g, id)
		} else if !ok {
			s.notFound(w, r, rec)
		}
		return
	}
	s.notFound(w, r, rec)
}

// allow answers 405 unless r uses method (GET routes also take HEAD).
func allow(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method || (method == http.MethodGet && r.Method == http.MethodHead) {
		return true
	}
	w.Header().Set("Allow", method)
	openai.WriteError(w, http.StatusMethodNotAllowed, &openai.Error{
		Type: openai.TypeInvalidRequest, Code: "method_not_allowed",
		Message: "Method " + r.Method + " is not allowed for " + r.URL.Path + "; use " + method})
	return false
}

// finish recovers a panicking handler and writes the access log line.
func (s *Server) finish(w *logWriter, r *http.Request) {
	if p := recover(); p != nil {
		if p == http.ErrAbortHandler { // deliberate abort of a broken stream
			s.logRequest(w, r)
			s.account(w, r)
			panic(p)
		}
		s.log.Error("handler panic", "request_id", w.rec.id, "panic", p, "stack", string(debug.Stack()))
		if !w.wroteHeader {
			s.writeError(w, w.rec, http.StatusInternalServerError, &openai.Error{
				Type: openai.TypeServer, Code: "internal_error", Message: "internal gateway error"})
		}
	}
	s.logRequest(w, r)
	s.account(w, r)
}

// writeJSON writes a JSON response. A failed write means the client left;
// callers that care get the error.
func writeJSON(w http.ResponseWriter, status int, body []byte) error {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, err := w.Write(body)
	return err
}

var jsonContentType = []string{"application/json"}

// requestID returns the client's X-Request-Id when it is sane, else a new id.
func requestID(r *http.Request) string {
	if v := r.Header["X-Request-Id"]; len(v) > 0 && validRequestID(v[0]) {
		return v[0]
	}
	const hex = "0123456789abcdef"
	var b [20]byte
	copy(b[:], "req_")
	n := rand.Uint64()
	for i := len(b) - 1; i >= 4; i-- {
		b[i] = hex[n&0xf]
		n >>= 4
	}
	return string(b[:])
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}
