// Package openaicompat is the adapter for OpenAI-compatible upstreams (OpenAI,
// DeepSeek, Groq, Mistral, Ollama, vLLM, LM Studio, ...). It is a byte-level
// passthrough: the client's body goes upstream with only "model" rewritten
// (and configured defaults added), and the upstream's JSON or SSE events come
// back unchanged. Nothing is decoded and re-encoded on this path.
package openaicompat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/bodyio"
	"aigateway/internal/openai"
)

// Options configure an Adapter. Zero values mean the documented defaults.
type Options struct {
	// ID is the model id clients use; it appears in error messages.
	ID string
	// BaseURL is the API root including its version, without a trailing
	// slash, e.g. https://api.openai.com/v1.
	BaseURL string
	// APIKey is sent as "Authorization: Bearer <APIKey>"; empty sends none.
	APIKey string
	// Model is the upstream model name.
	Model string
	// Temperature and MaxTokens are defaults applied only when the client did
	// not send the field. Nil means no default.
	Temperature *float64
	MaxTokens   *int
	// Timeout bounds the wait for the response headers and every silence
	// between two reads of the response body. Zero means 60s.
	Timeout time.Duration
	// Transport sends the requests; nil means http.DefaultTransport.
	Transport http.RoundTripper
	// MaxResponseBytes bounds a non-streamed response and each stream event.
	// Zero means DefaultMaxResponseBytes.
	MaxResponseBytes int
}

// DefaultMaxResponseBytes bounds a buffered upstream response, so that a
// broken upstream cannot exhaust the gateway's memory.
const DefaultMaxResponseBytes = 64 << 20

// maxErrorBody bounds how much of an upstream error response is read.
const maxErrorBody = 1 << 20

// drainTimeout bounds reading the rest of a finished stream so that the
// connection can be reused.
const drainTimeout = 2 * time.Second

// Adapter sends requests to one OpenAI-compatible upstream.
type Adapter struct {
	id          string
	urls        [3]string // by adapter.Op
	auth        string    // Authorization header value, or ""
	apiKey      []byte    // to scrub upstream error bodies
	modelJSON   []byte    // the upstream model name as a JSON string
	temperature *float64
	maxTokens   *int
	timeout     time.Duration
	transport   http.RoundTripper
	maxResponse int
}

// New returns an Adapter for the given options.
func New(o Options) *Adapter {
	a := &Adapter{
		id:          o.ID,
		modelJSON:   openai.QuoteString(o.Model),
		temperature: o.Temperature,
		maxTokens:   o.MaxTokens,
		timeout:     o.Timeout,
		transport:   o.Transport,
		maxResponse: o.MaxResponseBytes,
	}
	for op := adapter.OpChat; op <= adapter.OpEmbedding; op++ {
		a.urls[op] = o.BaseURL + op.Path()
	}
	if o.APIKey != "" {
		a.auth = "Bearer " + o.APIKey
		a.apiKey = []byte(o.APIKey)
	}
	if a.timeout <= 0 {
		a.timeout = 60 * time.Second
	}
	if a.transport == nil {
		a.transport = http.DefaultTransport
	}
	if a.maxResponse <= 0 {
		a.maxResponse = DefaultMaxResponseBytes
	}
	return a
}

// Send implements adapter.Adapter.
func (a *Adapter) Send(ctx context.Context, req *adapter.Request) (*adapter.Response, error) {
	var temperature *float64
	var maxTokens *int
	if req.Op != adapter.OpEmbedding { // sampling defaults mean nothing to embeddings
		temperature, maxTokens = a.temperature, a.maxTokens
	}
	body := openai.Patch(req.Body, &req.Fields, a.modelJSON, temperature, maxTokens)

	ctx, wd := adapter.StartWatchdog(ctx, a.timeout)
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, a.urls[req.Op], bytes.NewReader(body))
	if err != nil {
		wd.Stop()
		return nil, fmt.Errorf("building upstream request: %w", err)
	}
	// The outbound headers are built here, never copied from the client, so
	// that client credentials and hop-by-hop headers cannot reach the upstream.
	h := hreq.Header
	h["Content-Type"] = contentTypeJSON
	if req.Fields.Stream {
		h["Accept"] = acceptSSE
	} else {
		h["Accept"] = contentTypeJSON
	}
	if a.auth != "" {
		h["Authorization"] = []string{a.auth}
	}
	if req.RequestID != "" {
		h["X-Request-Id"] = []string{req.RequestID}
	}

	resp, err := a.transport.RoundTrip(hreq)
	if err != nil {
		err = a.transportError(ctx, err, "sending the request") // classify before Stop cancels ctx
		wd.Stop()
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer wd.Stop()
		defer resp.Body.Close()
		return nil, a.upstreamError(ctx, resp)
	}
	wd.Kick()
	if req.Fields.Stream && isEventStream(resp.Header.Get("Content-Type")) {
		return &adapter.Response{Stream: newStream(ctx, a, resp.Body, wd)}, nil
	}
	defer wd.Stop()
	defer resp.Body.Close()
	buf, err := bodyio.ReadAll(&kickReader{r: resp.Body, wd: wd}, resp.ContentLength, int64(a.maxResponse))
	if err != nil {
		return nil, a.transportError(ctx, err, "reading the response")
	}
	return &adapter.Response{Body: buf, Usage: usageOf(buf)}, nil
}

var (
	contentTypeJSON = []string{"application/json"}
	acceptSSE       = []string{"text/event-stream"}
)

// transportError classifies a failed round trip or body read. The client gets
// the kind of failure; the log gets the full error.
func (a *Adapter) transportError(ctx context.Context, err error, doing string) error {
	switch {
	case adapter.TimedOut(ctx):
		return &adapter.Error{
			Status: http.StatusGatewayTimeout,
			Err: openai.Error{Type: openai.TypeTimeout, Code: "upstream_timeout",
				Message: fmt.Sprintf("model %q: the upstream did not answer within %s", a.id, a.timeout)},
			Cause: err,
		}
	case ctx.Err() != nil:
		return fmt.Errorf("%s: %w", doing, context.Cause(ctx))
	}
	var tooBig *bodyio.TooLargeError
	if errors.As(err, &tooBig) {
		return &adapter.Error{
			Status: http.StatusBadGateway,
			Err: openai.Error{Type: openai.TypeUpstream, Code: "upstream_response_too_large",
				Message: fmt.Sprintf("model %q: the upstream response exceeds %d bytes", a.id, tooBig.Limit)},
			Cause: err,
		}
	}
	return &adapter.Error{
		Status: http.StatusBadGateway,
		Err: openai.Error{Type: openai.TypeUpstream, Code: "upstream_unreachable",
			Message: fmt.Sprintf("model %q: the upstream request failed while %s: %s", a.id, doing, reason(err))},
		Cause: err,
	}
}

// reason names a network failure without the URL, which may name internal
// hosts: "connect: connection refused", "EOF", "tls: ...".
func reason(err error) string {
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		if opErr.Op == "dial" {
			return "cannot connect: " + opErr.Err.Error()
		}
		return opErr.Err.Error()
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "DNS lookup failed: " + dnsErr.Err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "the connection was closed early"
	}
	for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(err) {
		err = u
	}
	return err.Error()
}

// upstreamError turns an upstream error response into an *adapter.Error with
// the upstream's status. An OpenAI-shaped body is passed on as is; anything
// else is wrapped into one.
func (a *Adapter) upstreamError(ctx context.Context, resp *http.Response) error {
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if err != nil && len(body) == 0 {
		return a.transportError(ctx, err, fmt.Sprintf("reading an HTTP %d error response", resp.StatusCode))
	}
	if len(a.apiKey) > 0 { // some upstreams echo (part of) the key; never pass it on
		body = bytes.ReplaceAll(body, a.apiKey, []byte("[redacted]"))
	}
	status := resp.StatusCode
	if status < 400 { // redirects and 1xx are not ours to pass on
		status = http.StatusBadGateway
	}
	e := &adapter.Error{Status: status, Cause: fmt.Errorf("upstream answered HTTP %d", resp.StatusCode)}
	for _, k := range [...]string{"Retry-After", "Retry-After-Ms"} {
		if v := resp.Header.Get(k); v != "" {
			if e.Header == nil {
				e.Header = http.Header{}
			}
			e.Header.Set(k, v)
		}
	}
	if msg := gjson.GetBytes(body, "error.message"); msg.Type == gjson.String && status >= 400 {
		e.Body = body
		e.Err = openai.Error{Message: msg.Str, Type: gjson.GetBytes(body, "error.type").String()}
		return e
	}
	e.Err = openai.Error{Type: openai.TypeUpstream, Code: "upstream_error",
		Message: fmt.Sprintf("model %q: the upstream answered HTTP %d: %s", a.id, resp.StatusCode, errorText(body))}
	return e
}

// errorText finds a message in a non-OpenAI error body: {"error":"..."}
// (Ollama, vLLM), {"message":"..."} or {"detail":"..."} (FastAPI), or the
// start of the body as text.
func errorText(body []byte) string {
	if gjson.ValidBytes(body) {
		for _, path := range [...]string{"error", "message", "detail", "error.message"} {
			if v := gjson.GetBytes(body, path); v.Type == gjson.String && v.Str != "" {
				return v.Str
			}
		}
	}
	text := string(bytes.TrimSpace(body))
	if text == "" {
		return "(empty body)"
	}
	const max = 300
	if len(text) > max {
		text = text[:max] + "..."
	}
	return strconv.Quote(text)
}

// usageOf reads the top-level "usage" object of a response, if any.
func usageOf(body []byte) adapter.Usage {
	u := gjson.GetBytes(body, "usage")
	if !u.IsObject() {
		return adapter.Usage{}
	}
	return adapter.Usage{
		PromptTokens:     u.Get("prompt_tokens").Int(),
		CompletionTokens: u.Get("completion_tokens").Int(),
		TotalTokens:      u.Get("total_tokens").Int(),
	}
}

func isEventStream(ct string) bool {
	// Compare the media type only: "text/event-stream; charset=utf-8" is common.
	const want = "text/event-stream"
	return len(ct) >= len(want) && equalFold(ct[:len(want)], want)
}

func equalFold(a, b string) bool {
	for i := 0; i < len(a); i++ {
		ca, cb := a[i], b[i]
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if ca != cb {
			return false
		}
	}
	return true
}

// kickReader kicks the watchdog after every read that made progress.
type kickReader struct {
	r  io.Reader
	wd *adapter.Watchdog
}

func (k *kickReader) Read(p []byte) (int, error) {
	n, err := k.r.Read(p)
	if n > 0 {
		k.wd.Kick()
	}
	return n, err
}

var _ adapter.Adapter = (*Adapter)(nil)
