// Package template is the custom_http adapter's "template" protocol: it
// serves chat completions from any JSON HTTP API by rendering the request
// body from a JSON template and reading the answer with gjson paths.
//
// # Request body
//
// The body template is a JSON object. A string that is exactly one
// placeholder is replaced by the JSON value; a placeholder inside a longer
// string is interpolated as text. Placeholders (spaces inside the braces are
// allowed, keys cannot hold placeholders, and there is no escape for a
// literal "{{"):
//
//	{{model}}        the upstream model name (a string)
//	{{prompt}}       the messages as one text (see below)
//	{{messages}}     the messages as a JSON array of {"role","content"[,"name"]}
//	                 with string content; "developer" becomes "system"
//	{{max_tokens}}   the client's max_completion_tokens, else max_tokens,
//	                 else the configured max_tokens (a number)
//	{{temperature}}  the client's temperature, else the configured one (a number)
//	{{top_p}}, {{seed}}, {{presence_penalty}}, {{frequency_penalty}}
//	                 the client's values (numbers)
//	{{stop}}         the client's stop sequences (an array of strings)
//	{{user}}         the client's user (a string)
//
// When a value is absent (no max_tokens from the client and no default, no
// temperature, no stop, no user, ...), a key whose value is exactly that
// placeholder is left out of its object, and such an array element is left
// out of its array. Interpolated into a longer string, an absent value is
// empty text, numbers are written as in JSON and arrays as JSON text.
// Numbers and other literals of the template are sent exactly as written.
//
// {{prompt}} renders the system and developer messages first, as
// "System: <text>", then each message as "User: <text>" or
// "Assistant: <text>", separated by blank lines, and ends with "Assistant:".
// A conversation of one user message renders as just its text.
//
// # What is rejected (HTTP 400)
//
// A template can only carry text, so a request the upstream could not
// answer faithfully is refused instead of being changed silently: other
// endpoints than /v1/chat/completions; a sampling parameter (temperature,
// top_p, max_tokens, seed, the penalties, stop) whose placeholder the body
// that is sent lacks; what adapter.TextOnly refuses for every text-only
// upstream (tools, tool_choice "required" or a named function, n > 1,
// logprobs, logit_bias, response_format other than "text", fields that are
// no OpenAI parameter, ...); content parts other than text (images, audio,
// files), tool and function messages and assistant messages with tool
// calls. With DropParams the parameters (not the message content) are
// dropped instead and their names logged at debug level.
//
// # Response
//
// A non-2xx upstream answer becomes an error with the same status (a 1xx or
// 3xx becomes 502), code "upstream_error", and the upstream's message: the
// string at "error", "message", "detail" or "error.message" of a JSON body,
// else the start of the body. A 2xx answer must be JSON with a string at
// response.text, else the client gets 502 "the upstream response has no
// text at <path>". prompt_tokens and completion_tokens are read when their
// paths are set and hold numbers; the response has a usage object only when
// one of them was found. finish_reason comes from its path: a value
// containing "length" or "max" (any case) becomes "length", any other
// value "stop"; the default is "stop".
//
// # Streaming
//
// A client stream with a stream section in the template sends the body with
// stream.body's top-level keys merged in (replacing keys of the same name)
// and Accept: text/event-stream ("sse") or application/x-ndjson ("jsonl")
// unless the configured headers set Accept. Each SSE event's data, or each
// non-empty line, is JSON; the text at stream.text becomes a content chunk,
// the token paths are read from every event (the last values win), and the
// response's finish_reason path is read too. An event with a top-level
// "error" and no text is an upstream error. The stream ends at stream.done
// (for "sse" an exact data payload such as "[DONE]", for "jsonl" a gjson path
// whose value is true, non-zero or "true" on the last line, whose text still
// counts), or at the end of the body when done is empty; with done set, an
// upstream that closes before it is a broken stream (stream_incomplete).
// An "sse" upstream that answers a stream request with application/json is
// read as a non-stream response. The client gets OpenAI chunks: the role
// first, the text, a finish chunk, and a usage chunk when it asked for
// stream_options.include_usage (zeros when the upstream reported none).
//
// A client stream without a stream section is served from one non-stream
// upstream call, returned as the same chunk sequence.
package template

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
)

// Options configure an Adapter.
type Options struct {
	// ID is the model id clients use; it appears in error messages.
	ID string
	// URL is the full upstream URL (base_url + template path).
	URL string
	// Model is the upstream model name for {{model}} and the model of the
	// responses. Empty means ID.
	Model string
	// Header holds the complete outbound headers (credentials and extra
	// headers). Content-Type defaults to application/json.
	Header http.Header
	// Body is the body template, a JSON object.
	Body json.RawMessage
	// Response says where the answer is in a non-stream response.
	Response ResponsePaths
	// Stream configures streaming; nil means the upstream cannot stream.
	Stream *StreamConfig
	// Temperature and MaxTokens are used when the client sent none. Nil means
	// no default.
	Temperature *float64
	MaxTokens   *int
	// Upstream is the transport, timeout, limits and the redactor of the
	// secrets. An empty Upstream.ID is set to ID.
	Upstream adapter.Upstream
	// DropParams drops the request parameters the template cannot carry,
	// instead of refusing the request (see adapter.Unsupported), and logs
	// their names at debug level to Logger (nil means slog.Default()).
	DropParams bool
	Logger     *slog.Logger
}

// ResponsePaths are gjson paths (github.com/tidwall/gjson syntax) into a
// non-stream response. Text is required; the others are optional.
type ResponsePaths struct {
	Text, PromptTokens, CompletionTokens, FinishReason string
}

// StreamConfig describes the upstream's stream.
type StreamConfig struct {
	// Format is "sse" or "jsonl" (one JSON object per line).
	Format string
	// Body is a JSON object whose top-level keys are merged into the
	// rendered body of stream requests, e.g. {"stream": true}. Nil adds none.
	Body json.RawMessage
	// Text is the gjson path of the text delta in each event or line.
	Text string
	// Done marks the end of the stream: for "sse" an exact data payload such
	// as "[DONE]", for "jsonl" a gjson path whose truthy value marks the last
	// line. Empty means the stream ends at EOF.
	Done string
	// PromptTokens and CompletionTokens are optional gjson paths read from
	// every event; the last values seen win.
	PromptTokens, CompletionTokens string
}

// Adapter serves chat completions from one templated upstream. It is safe
// for concurrent use.
type Adapter struct {
	up          adapter.Upstream
	url         string
	model       string
	header      http.Header
	tmpl        *compiled
	resp        ResponsePaths
	stream      *StreamConfig
	temperature *float64
	maxTokens   *int
	text        adapter.TextOnly
	dropParams  bool
	log         *slog.Logger
}

// New validates o (see Validate) and returns an Adapter.
func New(o Options) (*Adapter, error) {
	c, err := compile(&o)
	if err != nil {
		return nil, err
	}
	a := &Adapter{up: o.Upstream, url: o.URL, model: o.Model, header: o.Header.Clone(), tmpl: c,
		resp: o.Response, temperature: o.Temperature, maxTokens: o.MaxTokens, dropParams: o.DropParams, log: o.Logger}
	if a.up.ID == "" {
		a.up.ID = o.ID
	}
	a.text = textOnly(a.up.ID)
	if a.model == "" {
		a.model = o.ID
	}
	if a.header == nil {
		a.header = http.Header{}
	}
	if a.header.Get("Content-Type") == "" {
		a.header.Set("Content-Type", "application/json")
	}
	if o.Stream != nil {
		s := *o.Stream
		a.stream = &s
	}
	return a, nil
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
	if req.Op != adapter.OpChat {
		return nil, adapter.BadRequest("", "unsupported_endpoint", "model %q (template) does not support /v1%s", a.up.ID, req.Op.Path())
	}
	cr, oerr := openai.DecodeChatRequest(req.Body)
	if oerr != nil {
		return nil, &adapter.Error{Status: http.StatusBadRequest, Err: *oerr}
	}
	streamUp := cr.Stream && a.stream != nil
	tree, uses, accept := a.tmpl.body, a.tmpl.bodyUses, "application/json"
	if streamUp {
		tree, uses, accept = a.tmpl.stream, a.tmpl.streamUses, "text/event-stream"
		if a.stream.Format == "jsonl" {
			accept = "application/x-ndjson"
		}
	}
	params := adapter.Unsupported{Drop: a.dropParams}
	v, err := a.values(cr, req.Body, uses, &params)
	if err != nil {
		return nil, err
	}
	params.LogDropped(ctx, a.log, a.up.ID, req.RequestID)
	body := render(make([]byte, 0, 512), tree, v)
	call, err := a.up.Send(ctx, http.MethodPost, a.url, a.headers(accept, req.RequestID), body)
	if err != nil {
		return nil, err
	}
	if !call.OK() {
		return nil, a.upstreamError(call)
	}
	cw := openai.ChunkWriter{ID: "chatcmpl-" + rand.Text(), Created: time.Now().Unix(), Model: a.model}
	if streamUp && !(a.stream.Format == "sse" && isJSON(call.Resp.Header.Get("Content-Type"))) {
		t := newTranslator(a, cw, cr.IncludeUsage(), len(body))
		if a.stream.Format == "jsonl" {
			return &adapter.Response{Stream: adapter.NewTranslatedLines(call, t)}, nil
		}
		return &adapter.Response{Stream: adapter.NewTranslatedStream(call, t)}, nil
	}
	buf, err := call.ReadBody()
	if err != nil {
		return nil, err
	}
	ans, err := a.answer(buf, len(body))
	if err != nil {
		return nil, err
	}
	if cr.Stream {
		return &adapter.Response{Stream: newSyntheticStream(cw, ans, cr.IncludeUsage())}, nil
	}
	return &adapter.Response{Body: ans.chatCompletion(cw), Usage: ans.usage()}, nil
}

// headers returns the outbound headers of one request. They come from the
// configuration only, never from the client.
func (a *Adapter) headers(accept, requestID string) http.Header {
	h := make(http.Header, len(a.header)+2)
	for k, v := range a.header {
		h[k] = v
	}
	if h.Get("Accept") == "" {
		h.Set("Accept", accept)
	}
	if requestID != "" {
		h.Set("X-Request-Id", requestID)
	}
	return h
}

// isJSON reports whether a Content-Type is application/json.
func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

// upstreamError turns a non-2xx upstream response into an *adapter.Error
// with the upstream's status and message.
func (a *Adapter) upstreamError(call *adapter.Call) error {
	status := call.Resp.StatusCode
	e := &adapter.Error{Status: status, Header: call.RetryHeaders(), Cause: fmt.Errorf("upstream answered HTTP %d", status)}
	body := call.ReadErrorBody()
	if status < 400 { // redirects and 1xx are not ours to pass on
		e.Status = http.StatusBadGateway
	}
	e.Err = openai.Error{Type: openai.TypeUpstream, Code: "upstream_error",
		Message: fmt.Sprintf("model %q: the upstream answered HTTP %d: %s", a.up.ID, status, adapter.ErrorText(body))}
	return e
}

var _ adapter.Adapter = (*Adapter)(nil)
