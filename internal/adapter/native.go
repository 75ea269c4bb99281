package adapter

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
)

// Protocol names a wire protocol: the one a client speaks to the gateway,
// or the one an adapter's upstream speaks.
type Protocol uint8

// The protocols. Every adapter serves ProtocolChat through Send; the inbound
// APIs (/v1/messages, /v1/responses, Gemini's generateContent) convert to
// and from it, unless the deployment speaks the client's protocol natively
// (see Native), in which case the request passes through.
const (
	ProtocolChat      Protocol = iota // OpenAI Chat Completions
	ProtocolMessages                  // Anthropic Messages
	ProtocolResponses                 // OpenAI Responses
	ProtocolGemini                    // Google Gemini generateContent
	ProtocolText                      // text in, text out: templates and local programs
)

func (p Protocol) String() string {
	switch p {
	case ProtocolMessages:
		return "messages"
	case ProtocolResponses:
		return "responses"
	case ProtocolGemini:
		return "gemini"
	case ProtocolText:
		return "text"
	}
	return "chat"
}

// Native is implemented by adapters whose upstream speaks a client protocol
// other than Chat Completions natively (the Anthropic adapter speaks
// Messages, the Gemini adapter Gemini, an openai_compat entry with
// "responses": "native" Responses). A request in that protocol passes
// through: only the model is rewritten.
type Native interface {
	// Speaks reports whether the upstream takes p as it is.
	Speaks(p Protocol) bool
	// SendNative sends a request in one of the protocols Speaks accepts.
	// A Response's Body is the upstream's JSON answer and its Stream
	// yields the upstream's SSE events as they came (Chunk.Event set for
	// named events). Errors are *Error values whose Err is filled in (the
	// client of another protocol needs it) and whose Body, when set, is the
	// upstream's own error body in protocol req.Protocol, scrubbed of
	// secrets, with NativeBody set.
	SendNative(ctx context.Context, req *NativeRequest) (*Response, error)
}

// NativeOp is what a native request asks for.
type NativeOp uint8

const (
	NativeGenerate    NativeOp = iota // a model answer (Messages, Responses, generateContent)
	NativeCountTokens                 // /v1/messages/count_tokens, :countTokens
)

// NativeRequest is a client's request in the upstream's own protocol.
type NativeRequest struct {
	Protocol Protocol
	Op       NativeOp
	// Stream asks for a streamed answer (for Gemini, the adapter calls
	// :streamGenerateContent?alt=sse; for the others it is the body's own
	// "stream" field).
	Stream bool
	// Body is the client's JSON body exactly as received. Adapters must
	// not modify it: later attempts send it again.
	Body []byte
	// ModelStart and ModelEnd are the byte span of the "model" value in
	// Body (the JSON string with its quotes), to be replaced by the
	// deployment's upstream model name; both 0 when the body has no model
	// (Gemini carries it in the URL).
	ModelStart, ModelEnd int
	// MaxTokensStart and MaxTokensEnd are the span of the body's output
	// token limit value (Messages "max_tokens", Responses
	// "max_output_tokens", Gemini "generationConfig.maxOutputTokens"),
	// both 0 when absent; MaxTokens is its value. An adapter whose entry
	// sets max_output_tokens lowers a larger value to it.
	MaxTokensStart, MaxTokensEnd int
	MaxTokens                    int64
	// Header holds the client headers the upstream protocol defines and
	// the adapter may forward (anthropic-version, anthropic-beta), never
	// credentials.
	Header http.Header
	// RequestID is the gateway's id for the request.
	RequestID string
}

// Rewrite returns Body with the model value replaced by modelJSON (a JSON
// string) and, when maxOutput is set and the client asked for more, the
// output token limit lowered to maxOutput. Body itself is not modified:
// later attempts send it again. Without a change it returns Body as is.
func (r *NativeRequest) Rewrite(modelJSON []byte, maxOutput int64) []byte {
	type edit struct {
		start, end int
		val        []byte
	}
	var edits [2]edit
	n := 0
	if r.ModelEnd > r.ModelStart && !bytes.Equal(r.Body[r.ModelStart:r.ModelEnd], modelJSON) {
		edits[n] = edit{r.ModelStart, r.ModelEnd, modelJSON}
		n++
	}
	if maxOutput > 0 && r.MaxTokens > maxOutput && r.MaxTokensEnd > r.MaxTokensStart {
		edits[n] = edit{r.MaxTokensStart, r.MaxTokensEnd, strconv.AppendInt(nil, maxOutput, 10)}
		n++
	}
	if n == 0 {
		return r.Body
	}
	if n == 2 && edits[1].start < edits[0].start {
		edits[0], edits[1] = edits[1], edits[0]
	}
	out := make([]byte, 0, len(r.Body)+len(modelJSON))
	at := 0
	for _, e := range edits[:n] {
		out = append(out, r.Body[at:e.start]...)
		out = append(out, e.val...)
		at = e.end
	}
	return append(out, r.Body[at:]...)
}
