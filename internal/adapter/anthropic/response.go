package anthropic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
)

// ConvertResponse turns a non-streamed Anthropic Message into an OpenAI
// chat.completion JSON body. created is the unix time to put in "created".
//
// Text blocks are joined without a separator (as the stream delivers them),
// whatever block comes first (one-api read only content[0]). tool_use blocks
// become tool_calls. thinking and redacted_thinking blocks are dropped, as
// the request did not ask for reasoning (see ConvertResponseWithReasoning).
// Server tool blocks are dropped too: Anthropic runs those tools itself and
// the client has nothing to call.
func ConvertResponse(body []byte, created int64) ([]byte, adapter.Usage, error) {
	return convertResponse(body, created, false)
}

// ConvertResponseWithReasoning is ConvertResponse for a request that asked
// for reasoning: the text of the thinking blocks becomes the message's
// reasoning_content and their signatures (and the data of
// redacted_thinking blocks, see redactedPrefix) its reasoning_signature.
func ConvertResponseWithReasoning(body []byte, created int64) ([]byte, adapter.Usage, error) {
	return convertResponse(body, created, true)
}

func convertResponse(body []byte, created int64, reasoning bool) ([]byte, adapter.Usage, error) {
	var m messageResponse
	if err := adapter.DecodeJSON(body, &m); err != nil {
		return nil, adapter.Usage{}, badUpstream("the upstream response is not a valid Messages API response", err)
	}
	if m.Type == "error" && m.Error != nil {
		return nil, adapter.Usage{}, streamError(m.Error)
	}
	if m.Type != "message" && m.Content == nil { // null, {}, or some other object
		return nil, adapter.Usage{}, badUpstream("the upstream response is not a Messages API message", nil)
	}
	var text, thought strings.Builder
	var sigs signatures
	var calls []openai.ToolCall
	for _, b := range m.Content {
		switch b.Type {
		case "thinking":
			if reasoning {
				thought.WriteString(b.Thinking)
				sigs.add(b.Signature)
			}
		case "redacted_thinking":
			if reasoning && b.Data != "" {
				sigs.add(redactedPrefix + b.Data)
			}
		case "text":
			text.WriteString(b.Text)
		case "tool_use":
			calls = append(calls, openai.ToolCall{ID: b.ID, Type: "function",
				Function: openai.FunctionCall{Name: b.Name, Arguments: compactInput(b.Input)}})
		}
	}
	msg := openai.ResponseMessage{Role: "assistant", ToolCalls: calls,
		ReasoningContent: thought.String(), ReasoningSignature: sigs.b.String()}
	// content is null only for a pure tool call, as OpenAI sends it.
	if s := text.String(); s != "" || len(calls) == 0 {
		msg.Content = &s
	}
	var c counts
	c.assign(&m.Usage)
	u := c.openai()
	out := openai.ChatCompletion{
		ID: "chatcmpl-" + m.ID, Object: "chat.completion", Created: created, Model: m.Model,
		Choices: []openai.Choice{{Message: msg, FinishReason: finishReason(m.StopReason)}},
		Usage:   &u,
	}
	buf, err := json.Marshal(out)
	if err != nil {
		return nil, adapter.Usage{}, fmt.Errorf("anthropic: encoding the response: %w", err)
	}
	return buf, c.adapter(), nil
}

// finishReason maps stop_reason (PROTOCOLS.md 6.3). Unknown and missing values
// become "stop": clients switch on finish_reason, and a raw Anthropic value
// (one-api passed "refusal" through) matches none of their cases.
func finishReason(r *string) string {
	if r == nil {
		return "stop"
	}
	switch *r {
	case "max_tokens", "model_context_window_exceeded":
		return "length"
	case "tool_use":
		return "tool_calls"
	case "refusal":
		return "content_filter"
	}
	return "stop" // end_turn, stop_sequence, pause_turn, anything new
}

// compactInput returns a tool_use input as compact JSON arguments; a missing
// input is a call without arguments.
func compactInput(in json.RawMessage) string {
	var b bytes.Buffer
	if len(bytes.TrimSpace(in)) == 0 || bytes.Equal(bytes.TrimSpace(in), []byte("null")) || json.Compact(&b, in) != nil {
		return "{}"
	}
	return b.String()
}

// counts is the usage of a response, kept as Anthropic reports it.
type counts struct {
	input, output, cacheWrite, cacheRead int64
}

// assign sets the counts that u carries. message_delta counts are
// cumulative, so they replace earlier values and are never added to them
// (one-api's += counted input twice, PROTOCOLS.md 8).
func (c *counts) assign(u *usage) {
	for _, f := range [...]struct {
		dst *int64
		src *int64
	}{{&c.input, u.InputTokens}, {&c.output, u.OutputTokens}, {&c.cacheWrite, u.CacheCreationInputTokens}, {&c.cacheRead, u.CacheReadInputTokens}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
}

// prompt is the whole input: input_tokens excludes the cached parts.
func (c *counts) prompt() int64 { return c.input + c.cacheWrite + c.cacheRead }

// openai returns the usage per PROTOCOLS.md 6.4. Reasoning tokens are not
// reported separately by Anthropic (they are inside output_tokens), so
// reasoning_tokens is 0.
func (c *counts) openai() openai.Usage {
	return openai.Usage{
		PromptTokens:            c.prompt(),
		CompletionTokens:        c.output,
		TotalTokens:             c.prompt() + c.output,
		PromptTokensDetails:     &openai.PromptTokensDetails{CachedTokens: c.cacheRead, CacheWriteTokens: c.cacheWrite},
		CompletionTokensDetails: &openai.CompletionTokensDetails{},
	}
}

func (c *counts) adapter() adapter.Usage {
	return adapter.Usage{PromptTokens: c.prompt(), CompletionTokens: c.output, TotalTokens: c.prompt() + c.output, CachedTokens: c.cacheRead}
}

// badUpstream is the error for an upstream answer that does not follow the
// protocol.
func badUpstream(msg string, cause error) *adapter.Error {
	if adapter.TooDeep(cause) {
		msg = adapter.TooDeepMessage()
	}
	e := adapter.Errorf(http.StatusBadGateway, openai.TypeUpstream, "upstream_invalid_response", "%s", msg)
	e.Cause = cause
	return e
}
