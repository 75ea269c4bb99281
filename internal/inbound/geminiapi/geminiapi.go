// Package geminiapi is the inbound Gemini API: generateContent,
// streamGenerateContent and countTokens as Gemini CLI and the Google Gen AI
// SDKs send them, served by any configured model.
//
// A request for a Gemini deployment passes through (inbound.Request.Native);
// for any other it is converted to Chat Completions (Chat) and the answer
// back to a GenerateContentResponse (Response, NewStream). Choices that
// neither wire format dictates:
//
//   - Tool call ids: a functionCall's own id is the Chat id; a call without
//     one gets "call_<content>_<part>" (its position in contents), which is
//     deterministic, so the same history converts the same way every turn.
//     A functionResponse goes to the call with its id, else to the earliest
//     unanswered call of the same name, which is how Gemini itself pairs
//     them. A response that answers no call becomes user text, since a tool
//     message without its call is rejected by every Chat upstream.
//   - Thought signatures ride in the tool call id (package toolcallid) when
//     the target is a Gemini deployment, and come back from a Chat answer's
//     tool call id to the functionCall part's thoughtSignature. Gemini CLI's
//     placeholder "skip_thought_signature_validator" is not a signature and
//     is not kept.
//   - Thought parts (text with thought:true) are dropped on the way in: no
//     other upstream can take a Gemini model's thoughts. On the way out,
//     reasoning_content becomes thought parts when the client asked for
//     thoughts (thinkingConfig.includeThoughts), as Gemini does.
//   - A functionResponse whose response is {"output": "<text>"} (what Gemini
//     CLI sends) becomes that text; any other response its JSON.
//   - thinkingConfig becomes reasoning_effort for OpenAI-compatible
//     deployments (see reasoningEffort) and Anthropic ones (see
//     anthropicEffort).
package geminiapi

import (
	"bytes"
	"net/http"
	"strings"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/inbound"
	"aigateway/internal/jsonlimit"
)

// The methods of /v1beta/models/{model}:{method}.
const (
	MethodGenerate       = "generateContent"
	MethodStream         = "streamGenerateContent"
	MethodCountTokens    = "countTokens"
	methodEmbed          = "embedContent"
	methodBatchEmbed     = "batchEmbedContents"
	methodPredict        = "predict"
	methodPredictLong    = "predictLongRunning"
	methodBatchGenerate  = "batchGenerateContent"
	methodAsyncBatchEmbd = "asyncBatchEmbedContent"
)

// isMethod reports whether s is a method Google serves under
// models/{model}:, so that a colon in a model id ("qwen3:8b") is not taken
// for one.
func isMethod(s string) bool {
	switch s {
	case MethodGenerate, MethodStream, MethodCountTokens, methodEmbed, methodBatchEmbed,
		methodPredict, methodPredictLong, methodBatchGenerate, methodAsyncBatchEmbd:
		return true
	}
	return false
}

// SplitPath splits a Gemini API path, /v1beta/models/{model}:{method} (or
// /v1/...), into the model and the method. The model may be written with
// the "models/" prefix again (some clients send models/models/x) and may
// itself contain colons or slashes; only a known method after the last
// colon counts as the method, so /v1beta/models/qwen3:8b is the model
// "qwen3:8b" with method "" (a GET of the model). ok is false for a path
// outside models/ or without a model.
func SplitPath(path string) (model, method string, ok bool) {
	rest, found := strings.CutPrefix(path, "/v1beta/models/")
	if !found {
		if rest, found = strings.CutPrefix(path, "/v1/models/"); !found {
			return "", "", false
		}
	}
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && isMethod(rest[i+1:]) {
		rest, method = rest[:i], rest[i+1:]
	}
	rest = strings.TrimPrefix(rest, "models/")
	if rest == "" {
		return "", "", false
	}
	return rest, method, true
}

// Dialect is the Gemini inbound protocol. The zero value is ready to use.
type Dialect struct{}

// Protocol implements inbound.Dialect.
func (Dialect) Protocol() adapter.Protocol { return adapter.ProtocolGemini }

// Parse implements inbound.Dialect. The model and the method come from the
// URL path (SplitPath); streamGenerateContent asks for a stream whatever
// alt says (the framing is the handler's), countTokens parses a count
// request (ParseCountTokens).
func (Dialect) Parse(body []byte, r *http.Request) (inbound.Request, error) {
	model, method, ok := SplitPath(r.URL.Path)
	if !ok {
		return nil, badRequest("the URL must name a model: /v1beta/models/{model}:generateContent")
	}
	switch method {
	case MethodCountTokens:
		return ParseCountTokens(body, model)
	case MethodGenerate, MethodStream:
		return ParseGemini(body, model, method == MethodStream)
	}
	return nil, &inbound.Error{Status: http.StatusNotFound, Type: "not_found_error",
		Message: "method " + method + " is not served; use generateContent, streamGenerateContent or countTokens"}
}

// StreamEnd implements inbound.Dialect: a Gemini stream ends at EOF (or,
// without alt=sse, with the array's "]", which is the handler's framing).
func (Dialect) StreamEnd() []byte { return nil }

// SSEKeepAlive implements inbound.SSEKeepAliver: a blank line pair. The
// Google Gen AI SDKs fail on SSE comments, but both skip blank lines
// between events: go-genai splits events at "\n\n" and drops empty ones,
// js-genai's event pattern (/^\s*data: .../) skips leading whitespace.
func (Dialect) SSEKeepAlive() []byte { return []byte("\n\n") }

var (
	_ inbound.Dialect       = Dialect{}
	_ inbound.SSEKeepAliver = Dialect{}
)

// request is a parsed generateContent or countTokens request.
type request struct {
	model  string
	stream bool
	count  bool
	// body is the client's body; gen is the GenerateContentRequest in it
	// (the body itself, or a countTokens body's generateContentRequest).
	body []byte
	gen  gjson.Result
	// includeThoughts is generationConfig.thinkingConfig.includeThoughts:
	// only then does Gemini send thought parts, and so does Response.
	includeThoughts bool
}

// ParseGemini parses a generateContent or streamGenerateContent body for
// the model named in the URL. It refuses only a body that is not a JSON
// object or has no contents, as Gemini does.
func ParseGemini(body []byte, model string, stream bool) (inbound.Request, error) {
	if err := checkObject(body); err != nil {
		return nil, err
	}
	root := gjson.ParseBytes(body)
	contents := root.Get("contents")
	if !contents.IsArray() || len(contents.Array()) == 0 {
		return nil, badRequest("* GenerateContentRequest.contents: contents is not specified")
	}
	if err := checkGenerationConfig(root.Get("generationConfig")); err != nil {
		return nil, err
	}
	return newRequest(model, stream, false, body, root), nil
}

// ParseCountTokens parses a countTokens body: {"contents": [...]} or
// {"generateContentRequest": {...}}. Empty contents are allowed (they
// count 0 tokens).
func ParseCountTokens(body []byte, model string) (inbound.Request, error) {
	if err := checkObject(body); err != nil {
		return nil, err
	}
	root := gjson.ParseBytes(body)
	if g := root.Get("generateContentRequest"); g.IsObject() {
		root = g
	}
	if err := checkGenerationConfig(root.Get("generationConfig")); err != nil {
		return nil, err
	}
	return newRequest(model, false, true, body, root), nil
}

func newRequest(model string, stream, count bool, body []byte, gen gjson.Result) *request {
	return &request{
		model: model, stream: stream, count: count, body: body, gen: gen,
		includeThoughts: gen.Get("generationConfig.thinkingConfig.includeThoughts").Bool(),
	}
}

// checkObject refuses a body that is not a JSON object of bounded depth:
// gjson's readers recurse into nested values, so they are safe only on
// such a body (Google's own parser stops at 100 levels).
func checkObject(body []byte) error {
	b := bytes.TrimSpace(body)
	if len(b) == 0 || b[0] != '{' {
		return badRequest("Invalid JSON payload received: the body must be a JSON object")
	}
	if err := jsonlimit.Validate(b); err != nil {
		return badRequest("Invalid JSON payload received: " + err.Error())
	}
	return nil
}

func badRequest(msg string) *inbound.Error {
	return &inbound.Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Message: msg}
}

func (r *request) Model() string { return r.model }
func (r *request) Stream() bool  { return r.stream }

// Native implements inbound.Request. A generate body has no model (it is
// in the URL); a countTokens body's generateContentRequest.model, which
// Gemini requires there, is the model span. The max tokens span is
// generationConfig.maxOutputTokens.
func (r *request) Native() *adapter.NativeRequest {
	n := &adapter.NativeRequest{Protocol: adapter.ProtocolGemini, Stream: r.stream, Body: r.body}
	if r.count {
		n.Op = adapter.NativeCountTokens
		if m := gjson.GetBytes(r.body, "generateContentRequest.model"); m.Type == gjson.String && m.Index > 0 {
			n.ModelStart, n.ModelEnd = m.Index, m.Index+len(m.Raw)
		}
		return n
	}
	if mt := gjson.GetBytes(r.body, "generationConfig.maxOutputTokens"); mt.Type == gjson.Number && mt.Index > 0 {
		n.MaxTokensStart, n.MaxTokensEnd = mt.Index, mt.Index+len(mt.Raw)
		n.MaxTokens = mt.Int()
	}
	return n
}
