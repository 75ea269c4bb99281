// Package openaicompat is the adapter for OpenAI-compatible upstreams (OpenAI,
// DeepSeek, Groq, Mistral, Ollama, vLLM, LM Studio, ...). It is a byte-level
// passthrough: the client's body goes upstream with only "model" rewritten
// (and configured defaults added, and tool call ids that carry a Gemini
// thought signature cut back to the id), and the upstream's JSON or SSE
// events come back unchanged. Nothing is decoded and re-encoded on this path.
package openaicompat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/jsonlimit"
	"aigateway/internal/openai"
	"aigateway/internal/redact"
)

// Options configure an Adapter. Zero values mean the documented defaults.
type Options struct {
	// ID is the model id clients use; it appears in error messages.
	ID string
	// BaseURL is the API root including its version, without a trailing
	// slash, e.g. https://api.openai.com/v1. It may end with a query
	// (Azure OpenAI's ?api-version=...), which every upstream URL keeps.
	BaseURL string
	// APIKey is sent as "Authorization: Bearer <APIKey>", unless Headers
	// carry their own credential (see adapter.SetsCredential); empty sends
	// none.
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
	// Timeouts refine Timeout per phase (connect, first byte, idle, total).
	Timeouts adapter.Timeouts
	// Headers are extra upstream headers, set after the gateway's own.
	Headers map[string]string
	// Secrets are other values (from ENV: headers) to keep out of error
	// messages, like the API key.
	Secrets []string
	// Transport sends the requests; nil means http.DefaultTransport.
	Transport http.RoundTripper
	// NativeResponses says the upstream serves the Responses API at
	// {BaseURL}/responses: /v1/responses requests pass through to it
	// (see SendNative) instead of being converted to chat completions.
	NativeResponses bool
	// MaxOutputTokens caps max_output_tokens of a Responses request
	// passed through; zero means no cap.
	MaxOutputTokens int64
	// ShortToolCallIDs rewrites the conversation's tool call ids to the
	// 9 letters and digits Mistral requires (see shortenToolCallIDs).
	ShortToolCallIDs bool
	// NoStreamUsage leaves a stream's stream_options as the client
	// sent them. By default the gateway asks for the usage chunk
	// (stream_options.include_usage) so that it learns every stream's
	// usage, and keeps that chunk from a client that did not ask; an
	// upstream that refuses stream_options needs this.
	NoStreamUsage bool
}

// Adapter sends requests to one OpenAI-compatible upstream.
type Adapter struct {
	up          adapter.Upstream
	urls        [3]string // by adapter.Op
	header      http.Header
	modelJSON   []byte // the upstream model name as a JSON string
	temperature *float64
	maxTokens   *int

	nativeResponses bool
	responsesURL    string
	maxOutputTokens int64
	shortIDs        bool
	noStreamUsage   bool
}

// New returns an Adapter for the given options.
func New(o Options) *Adapter {
	a := &Adapter{
		up:          adapter.Upstream{ID: o.ID, Transport: o.Transport, Timeout: o.Timeout, Timeouts: o.Timeouts},
		modelJSON:   openai.QuoteString(o.Model),
		temperature: o.Temperature,
		maxTokens:   o.MaxTokens,
		header:      http.Header{"Content-Type": {"application/json"}},

		nativeResponses: o.NativeResponses,
		responsesURL:    adapter.JoinURL(o.BaseURL, "/responses"),
		maxOutputTokens: o.MaxOutputTokens,
		shortIDs:        o.ShortToolCallIDs,
		noStreamUsage:   o.NoStreamUsage,
	}
	for op := adapter.OpChat; op <= adapter.OpEmbedding; op++ {
		a.urls[op] = adapter.JoinURL(o.BaseURL, op.Path())
	}
	if o.APIKey != "" && !adapter.SetsCredential(o.Headers) {
		a.header.Set("Authorization", "Bearer "+o.APIKey)
	}
	for k, v := range o.Headers {
		a.header.Set(k, v)
	}
	a.up.Redactor = redact.New(append([]string{o.APIKey}, o.Secrets...)...)
	return a
}

// Send implements adapter.Adapter. Every error it returns has been
// through the redactor, whatever upstream text it quotes.
func (a *Adapter) Send(ctx context.Context, req *adapter.Request) (*adapter.Response, error) {
	resp, err := a.send(ctx, req)
	if err != nil {
		return nil, a.up.RedactError(err)
	}
	return resp, nil
}

func (a *Adapter) send(ctx context.Context, req *adapter.Request) (*adapter.Response, error) {
	var temperature *float64
	var maxTokens *int
	if req.Op != adapter.OpEmbedding { // sampling defaults mean nothing to embeddings
		temperature, maxTokens = a.temperature, a.maxTokens
	}
	// A chat or completions stream asks for its usage, which the gateway
	// needs for every request; the client sees the usage chunk only if it
	// asked too.
	askUsage := (req.Op == adapter.OpChat || req.Op == adapter.OpCompletion) && req.Fields.Stream && !a.noStreamUsage && req.Fields.CanIncludeUsage()
	body := openai.PatchRequest(req.Body, &req.Fields, openai.Edit{ModelJSON: a.modelJSON, Temperature: temperature, MaxTokens: maxTokens, IncludeUsage: askUsage})
	if req.Op == adapter.OpChat {
		if a.shortIDs {
			body = shortenToolCallIDs(body)
		} else {
			body = stripSignatures(body)
		}
	}

	// The outbound headers are built here, never copied from the client, so
	// that client credentials and hop-by-hop headers cannot reach the upstream.
	h := make(http.Header, len(a.header)+2)
	for k, v := range a.header {
		h[k] = v
	}
	if req.Fields.Stream {
		h["Accept"] = acceptSSE
	} else {
		h["Accept"] = acceptJSON
	}
	if req.RequestID != "" {
		h["X-Request-Id"] = []string{req.RequestID}
	}
	call, err := a.up.Send(ctx, http.MethodPost, a.urls[req.Op], h, body)
	if err != nil {
		return nil, err
	}
	if !call.OK() {
		return nil, a.upstreamError(call)
	}
	if req.Fields.Stream && isEventStream(call.Resp.Header.Get("Content-Type")) {
		return &adapter.Response{Stream: newStream(call, a.up.MaxResponse(), len(body), askUsage)}, nil
	}
	buf, err := call.ReadBody()
	if err != nil {
		return nil, err
	}
	if err := checkAnswer(buf); err != nil {
		return nil, a.invalidAnswer(call, buf, err)
	}
	return &adapter.Response{Body: buf, Usage: usageOf(buf)}, nil
}

// errNotObject is checkAnswer's complaint about valid JSON that is not an
// object (every OpenAI response body is one).
var errNotObject = errors.New("not a JSON object")

// checkAnswer reports why a 200 body cannot be relayed as an OpenAI
// response: it is not valid JSON of bounded depth, or not an object. A
// captive portal or a misrouted base_url answers 200 with an HTML page,
// which clients would otherwise fail to parse with a confusing message.
func checkAnswer(body []byte) error {
	if err := jsonlimit.Validate(body); err != nil {
		return err
	}
	if first := bytes.TrimLeft(body, " \t\r\n"); len(first) == 0 || first[0] != '{' {
		return errNotObject
	}
	return nil
}

// invalidAnswer is the 502 for a 200 whose body checkAnswer refused. It
// names the content type, the usual tell (text/html), and quotes the start
// of the body with the secrets removed first.
func (a *Adapter) invalidAnswer(call *adapter.Call, body []byte, err error) error {
	ct := call.Resp.Header.Get("Content-Type")
	if ct == "" {
		ct = "none"
	}
	msg := fmt.Sprintf("model %q: the upstream answered 200 with a body that is not a JSON object (Content-Type: %s): %s",
		a.up.ID, ct, adapter.ErrorText(call.Redact(body)))
	if adapter.TooDeep(err) {
		msg = fmt.Sprintf("model %q: %s", a.up.ID, adapter.TooDeepMessage())
	}
	return &adapter.Error{Status: http.StatusBadGateway, Cause: fmt.Errorf("checking the upstream answer: %w", err),
		Err: openai.Error{Type: openai.TypeUpstream, Code: "upstream_invalid_response", Message: msg}}
}

var (
	acceptJSON = []string{"application/json"}
	acceptSSE  = []string{"text/event-stream"}
)

// upstreamError turns an upstream error response into an *adapter.Error with
// the upstream's status. An OpenAI-shaped body is passed on as is; anything
// else is wrapped into one.
func (a *Adapter) upstreamError(call *adapter.Call) error {
	status := call.Resp.StatusCode
	e := &adapter.Error{Status: status, Header: call.RetryHeaders(), Cause: fmt.Errorf("upstream answered HTTP %d", status)}
	body := call.ReadErrorBody()
	if status < 400 { // redirects and 1xx are not ours to pass on
		e.Status = http.StatusBadGateway
	}
	// Only a valid body of bounded depth is passed on as the client's error:
	// gjson finds error.message in a body that is broken further on.
	if msg := gjson.GetBytes(body, "error.message"); msg.Type == gjson.String && status >= 400 && jsonlimit.Validate(body) == nil {
		e.Body = body
		e.Err = openai.Error{Message: msg.Str, Type: gjson.GetBytes(body, "error.type").String()}
		return e
	}
	e.Err = openai.Error{Type: openai.TypeUpstream, Code: "upstream_error",
		Message: fmt.Sprintf("model %q: the upstream answered HTTP %d: %s", a.up.ID, status, adapter.ErrorText(body))}
	return e
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
		CachedTokens:     u.Get("prompt_tokens_details.cached_tokens").Int(),
		ReasoningTokens:  u.Get("completion_tokens_details.reasoning_tokens").Int(),
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

var _ adapter.Adapter = (*Adapter)(nil)
