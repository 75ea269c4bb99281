// Package adapter is the contract between the gateway's HTTP handlers and the
// adapters that talk to upstream providers. It holds no provider code: each
// adapter lives in its own package below this one and imports only this
// package, internal/openai and internal/sse.
//
// The lingua franca is OpenAI Chat Completions: a request arrives as the
// client's OpenAI JSON body and a response leaves as OpenAI JSON or OpenAI
// stream chunks. Adapters for other protocols convert on both sides; the
// openai_compat adapter passes bytes through.
package adapter

import (
	"context"

	"aigateway/internal/openai"
)

// Adapter sends requests to one upstream deployment of one model.
// Implementations must be safe for concurrent use.
type Adapter interface {
	// Send sends req upstream and returns the response. Errors the client
	// should see are *Error values; a canceled ctx yields an error that wraps
	// ctx.Err(). Canceling ctx must abort the upstream request, including a
	// stream that is being read.
	Send(ctx context.Context, req *Request) (*Response, error)
}

// Op is the kind of OpenAI request.
type Op uint8

// The operations the gateway serves.
const (
	OpChat       Op = iota // POST /v1/chat/completions
	OpCompletion           // POST /v1/completions
	OpEmbedding            // POST /v1/embeddings
)

// Path returns the operation's path below an OpenAI API root such as
// https://api.openai.com/v1.
func (op Op) Path() string {
	switch op {
	case OpCompletion:
		return "/completions"
	case OpEmbedding:
		return "/embeddings"
	default:
		return "/chat/completions"
	}
}

// Request is one client request, read and checked by the handler.
type Request struct {
	Op Op
	// Body is the client's JSON body exactly as received. Adapters must not
	// modify it: later attempts (retries, fallbacks) send it again.
	Body []byte
	// Fields are the top-level fields the handler peeked at, with the byte
	// span of the model value so that adapters can patch it without decoding
	// the whole body.
	Fields openai.Fields
	// RequestID is the gateway's id for the request, sent upstream for
	// correlation.
	RequestID string
}

// Response is a successful upstream response in OpenAI format. Exactly one of
// Body and Stream is set.
type Response struct {
	// Body is a complete OpenAI JSON response.
	Body []byte
	// Stream yields the chunks of a streamed response. The caller must Close it.
	Stream Stream
	// Usage is the token usage of a non-streamed response, when the upstream
	// reported it. For streams, see Stream.Usage.
	Usage Usage
}

// Stream is a streamed response, read on the handler's goroutine: no
// goroutine is needed to produce it, so none can leak.
type Stream interface {
	// Next returns the next item of the stream: an event for the client, or
	// a comment that shows the upstream is alive. It returns io.EOF once the
	// upstream finished the stream properly; any other error means the
	// stream did not finish and the client must be told. The Chunk's slices
	// are valid until the next call.
	Next() (Chunk, error)
	// Buffered reports whether Next can return a chunk without waiting on the
	// upstream. The handler flushes to the client only when it cannot.
	Buffered() bool
	// Usage returns the usage reported so far (the final usage chunk arrives
	// only when the client asked for stream_options.include_usage).
	Usage() Usage
	// Close releases the upstream connection; an unfinished upstream request
	// is aborted.
	Close() error
}

// Chunk is one item of a stream as the client gets it: an SSE event (an
// optional name and its data) or an SSE comment. The handler writes an
// event as "event: <Event>\n" (when Event is set), then "data: <Data>\n\n",
// and a comment as ": <Data>\n\n".
//
// Comments keep a connection that carries no data from looking idle to the
// client and to the proxies in between, which drop connections silent for
// 30 to 100 seconds while a reasoning model thinks. Every SSE client ignores
// them. A stream returns one for an upstream's own comment (passed on as it
// came) and for an upstream event that yields nothing for the client (a
// ping, a thinking delta; see NewTranslatedStream).
type Chunk struct {
	// Event is the SSE event name; empty for the unnamed events of an
	// OpenAI stream. Unused for a comment.
	Event []byte
	// Data is the event's payload (for OpenAI, a chunk's JSON), or the
	// text of a comment, possibly empty (line breaks in it are dropped
	// when it is written: a comment is one line).
	Data []byte
	// Comment marks a comment rather than an event.
	Comment bool
}

// KeepAlive returns the comment a stream sends for an upstream event that
// yields nothing for the client.
func KeepAlive() Chunk { return Chunk{Data: keepAliveText, Comment: true} }

var keepAliveText = []byte("keep-alive")

// Usage is token usage as OpenAI reports it.
type Usage struct {
	PromptTokens     int64
	CompletionTokens int64
	TotalTokens      int64
	// CachedTokens are the prompt tokens read from the upstream's prompt
	// cache (OpenAI prompt_tokens_details.cached_tokens, Anthropic
	// cache_read_input_tokens, Gemini cachedContentTokenCount); they are
	// part of PromptTokens.
	CachedTokens int64
	// ReasoningTokens are the completion tokens spent thinking (OpenAI
	// completion_tokens_details.reasoning_tokens, Gemini
	// thoughtsTokenCount); they are part of CompletionTokens.
	ReasoningTokens int64
	// Estimated is true when some count is the gateway's estimate
	// (EstimateTokens), not the upstream's: a local program, or a
	// template whose upstream does not report that count.
	Estimated bool
}

// EstimateTokens estimates a token count from a byte count: one token per
// 4 bytes, rounded up, which is close for English text. It stands in for a
// count the upstream does not report, so that usage is never a zero that
// reads like a real count.
func EstimateTokens(n int) int64 { return int64(n+3) / 4 }
