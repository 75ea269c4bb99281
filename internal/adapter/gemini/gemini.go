// Package gemini converts between OpenAI Chat Completions / Embeddings and
// the Google Gemini API (generateContent, streamGenerateContent?alt=sse,
// batchEmbedContents). It holds pure conversion code: the integrator builds
// the URL (model, stream-ness), sends the request and feeds the responses in.
//
// Choices that are not dictated by either wire format:
//
//   - Tool schemas go out as parametersJsonSchema (plain JSON Schema), not as
//     the OpenAPI-subset "parameters", which rejects $schema,
//     additionalProperties, const, type arrays and more (schema.go).
//   - Tool call ids: a functionCall.id from Gemini is used as the OpenAI id;
//     otherwise the id is minted as "call_<responseId>_<candidate>_<n>", which
//     is deterministic per response and unique within it (ids.go).
//   - Thought signatures and Gemini's own call ids ride on the OpenAI tool
//     call's extra_content, {"google":{"thought_signature":"…",
//     "function_call_id":"…"}}, the convention of Gemini's OpenAI-compatible
//     endpoint, and are restored on the next request (ids.go).
//   - Thought summaries (parts with thought:true) become reasoning_content
//     (the gateway's extension of chat completions, README "Reasoning")
//     when the request set reasoning_effort, which also asks Gemini for them
//     (includeThoughts); otherwise they are not sent to the client.
package gemini

import (
	"net/http"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
)

// badParam returns the 400 a client gets for a request field Gemini cannot
// take or that is malformed. code is an OpenAI error code such as
// "invalid_value" or adapter.CodeUnsupportedParameter.
func badParam(param, code, format string, args ...any) *adapter.Error {
	e := adapter.Errorf(http.StatusBadRequest, openai.TypeInvalidRequest, code, format, args...)
	e.Err.Param = param
	return e
}

// badUpstream returns the 502 for a Gemini response this package cannot read.
func badUpstream(cause error, format string, args ...any) *adapter.Error {
	if adapter.TooDeep(cause) {
		format, args = "%s", []any{adapter.TooDeepMessage()}
	}
	e := adapter.Errorf(http.StatusBadGateway, openai.TypeUpstream, "upstream_invalid_response", format, args...)
	e.Cause = cause
	return e
}
