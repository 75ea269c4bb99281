// Package inbound is the contract between the gateway's HTTP handlers and
// the converters of its inbound APIs: Anthropic Messages (inbound/messages),
// OpenAI Responses (inbound/responses) and Gemini generateContent
// (inbound/geminiapi).
//
// The gateway's internal representation is OpenAI Chat Completions, the
// contract every adapter already serves. A request in another protocol is
// converted to a Chat Completions body for the deployment the router picked,
// and the Chat Completions answer (JSON or chunks) is converted back. When the
// deployment speaks the client's protocol natively (adapter.Native), nothing
// is converted: the body passes through with its model rewritten, and so does
// the answer.
//
// Converters are pure: no I/O, no clock, no randomness beyond what a Request
// is built with, so that golden tests pin them down.
package inbound

import (
	"context"
	"net/http"
	"time"

	"aigateway/internal/adapter"
)

// Dialect is one inbound protocol: it parses requests and writes errors in
// the protocol's own shapes. Implementations are stateless and safe for
// concurrent use.
type Dialect interface {
	// Protocol is the protocol the dialect's clients speak.
	Protocol() adapter.Protocol
	// Parse reads a client's request. Parsing is lenient: a field the
	// converter does not know is mapped, passed on or dropped, never an
	// error. Only a body that is not the protocol's JSON at all, or
	// lacks what any answer needs (the model, the messages), is refused:
	// an *Error with status 400.
	Parse(body []byte, r *http.Request) (Request, error)
	// WriteError writes e as the protocol's error response with status.
	WriteError(w http.ResponseWriter, e *Error)
	// StreamError returns the in-band events that report e to a client
	// whose stream already started (Anthropic "event: error", Responses
	// "response.failed", Gemini an error object).
	StreamError(e *Error) []adapter.Chunk
	// StreamEnd is written after the last event of a stream that ended
	// properly (OpenAI's "data: [DONE]"); nil for none.
	StreamEnd() []byte
}

// Error is a failure as every inbound protocol can express it: an HTTP
// status, an OpenAI-style type and code (the converter maps them to its
// own error types by status and type), and the message.
type Error struct {
	Status  int
	Type    string // OpenAI error type, e.g. invalid_request_error
	Code    string // optional
	Param   string // optional
	Message string
}

func (e *Error) Error() string { return e.Message }

// Request is one parsed client request.
type Request interface {
	// Model is the model id the client asked for (the gateway's id).
	Model() string
	// Stream reports whether the client asked for a stream.
	Stream() bool
	// Native returns the request to pass through to a deployment that
	// speaks the client's protocol.
	Native() *adapter.NativeRequest
	// Chat converts the request to a Chat Completions body for a
	// deployment described by t. The body carries "stream" as the client
	// asked, and for a stream "stream_options": {"include_usage": true}
	// so that the answer's usage is known. An error is the client's (an
	// *Error, 400): something the upstream cannot be asked at all.
	Chat(t Target) ([]byte, error)
	// Response converts a Chat Completions JSON answer of the deployment
	// t into the client's protocol.
	Response(t Target, chat []byte) ([]byte, error)
	// NewStream returns the converter for a Chat Completions stream from
	// the deployment t.
	NewStream(t Target) Stream
}

// Stream converts one Chat Completions stream into the client's events.
type Stream interface {
	// Chunk converts one chunk's JSON (the data of one "data:" line, never
	// [DONE]) and returns the events it yields, possibly none. The
	// returned slices may be reused by the next call.
	Chunk(data []byte) ([]adapter.Chunk, error)
	// End returns the closing events after the upstream ended the stream
	// properly (Anthropic message_delta and message_stop, Responses
	// response.completed).
	End() []adapter.Chunk
	// Usage returns the usage seen so far, in the gateway's terms.
	Usage() adapter.Usage
}

// Target describes the deployment a converted request goes to: what its
// adapter does with a Chat Completions body.
type Target struct {
	// Upstream is the protocol the adapter speaks upstream:
	// ProtocolChat (openai_compat), ProtocolMessages (anthropic),
	// ProtocolGemini (gemini) or ProtocolText (template, process).
	Upstream adapter.Protocol
	// Deployment is the deployment's label (for signatures that must
	// return to the deployment that made them).
	Deployment string
	// MaxOutputTokens is the entry's max_output_tokens; 0: no cap.
	MaxOutputTokens int64
}

// Counter is a Dialect with a token-counting endpoint
// (/v1/messages/count_tokens, Gemini's :countTokens).
type Counter interface {
	// ParseCount reads a count request. Its Native() is sent with
	// adapter.NativeCountTokens to a deployment that speaks the protocol;
	// for another deployment its Chat(t) body is counted by the adapter
	// when it can count (Gemini's countTokens), else EstimateInputTokens.
	ParseCount(body []byte, r *http.Request) (Request, error)
	// CountAnswer is the endpoint's answer for n input tokens.
	CountAnswer(n int64) []byte
}

// Estimator is a Request that can estimate its own input tokens, for
// count requests no upstream can answer exactly.
type Estimator interface {
	EstimateInputTokens() int64
}

// Lister is a Dialect with a model list of its own format (Anthropic's
// /v1/models for clients that send anthropic-version, Gemini's
// /v1beta/models).
type Lister interface {
	// ListModels returns the list body for the models, which the gateway
	// has served since created.
	ListModels(models []Model, created time.Time) []byte
	// ModelObject returns the body for one model, for GET .../models/{id}.
	ModelObject(m Model, created time.Time) []byte
}

// Model is a model as the inbound model lists describe it.
type Model struct {
	ID string
	// ContextWindow and MaxOutputTokens are the entry's context_window
	// and max_output_tokens; 0: not configured, left out of the list.
	ContextWindow, MaxOutputTokens int64
}

// Getter is a Dialect that keeps answers for a later GET (Responses'
// GET /v1/responses/{id}).
type Getter interface {
	// Get returns the stored object's JSON; found is false for an unknown
	// or expired id.
	Get(ctx context.Context, id string) (body []byte, found bool, err error)
}

// SSEKeepAliver is a Dialect whose stream clients fail on SSE comments:
// the Google Gen AI SDKs take any line of an alt=sse stream that is not
// "data:" for an error (go-genai) or never match it (js-genai, which
// Gemini CLI uses). The handler writes SSEKeepAlive instead of a comment,
// for its own keep-alives and for the comments of an upstream stream.
type SSEKeepAliver interface {
	SSEKeepAlive() []byte
}

// StreamFailer is a Stream that reports a failure after its stream began
// itself, continuing its own numbering and naming its own response
// (Responses' response.failed with the next sequence_number); the handler
// prefers it to Dialect.StreamError, which knows neither.
type StreamFailer interface {
	Fail(e *Error) []adapter.Chunk
}

// ToolDropper is a Request that leaves out tools a target cannot run
// (Anthropic's server tools such as web_search for any other upstream).
// The handler logs their names, so that an operator can tell why a model
// never searched.
type ToolDropper interface {
	DroppedTools(t Target) []string
}
