package anthropic

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"

	"aigateway/internal/adapter"
	"aigateway/internal/jsonlimit"
	"aigateway/internal/openai"
)

// convertMessages returns the top-level system text and the turns.
//
//   - system and developer messages, wherever they are, go to the top-level
//     system, joined in order with "\n\n" (one-api kept only the first one,
//     PROTOCOLS.md 8). The text parts of one message are concatenated as
//     they are, like openai.MessageContent.PlainText does.
//   - A conversation of system messages only is sent as one user message,
//     since the Messages API needs at least one turn.
//   - Consecutive turns of the same role are merged; tool messages become
//     user turns of tool_result blocks, so a run of tool messages and the
//     user message after it form one turn.
//   - Empty and whitespace-only text is dropped, and a turn left with no
//     block is dropped: the API rejects empty text blocks (PROTOCOLS.md 4.2).
//   - A message's name is dropped: the Messages API has no participant names.
func convertMessages(msgs []openai.Message) (string, []message, *adapter.Error) {
	var system []string
	var turns []message
	for i, m := range msgs {
		p := fmt.Sprintf("messages[%d]", i)
		var blocks []block
		var e *adapter.Error
		role := "user"
		switch m.Role {
		case "system", "developer":
			var text string
			if text, e = systemText(m, p); e == nil && !blank(text) {
				system = append(system, text)
			}
		case "user":
			blocks, e = userBlocks(m, p)
		case "assistant":
			role = "assistant"
			blocks, e = assistantBlocks(m, p)
		case "tool":
			var b block
			if b, e = toolResult(m, p); e == nil {
				blocks = []block{b}
			}
		default:
			e = invalid(p+".role", adapter.CodeUnsupportedParameter, "%s.role %q is not supported by this model", p, m.Role)
		}
		if e != nil {
			return "", nil, e
		}
		turns = appendTurn(turns, role, blocks)
	}
	sys := strings.Join(system, "\n\n")
	if len(turns) == 0 {
		if sys == "" {
			return "", nil, invalid("messages", "invalid_value", "messages has no content to send: every message is empty")
		}
		// bifrost does the same: the instructions are all there is.
		return "", []message{{Role: "user", Content: []block{{Type: "text", Text: sys}}}}, nil
	}
	return sys, trimPrefill(turns), nil
}

// appendTurn adds blocks as a turn of role, merged into the previous turn
// when it has the same role. In a merged user turn the tool_result blocks
// stay first, as the API requires them before any other content.
func appendTurn(turns []message, role string, blocks []block) []message {
	if len(blocks) == 0 {
		return turns
	}
	n := len(turns)
	if n == 0 || turns[n-1].Role != role {
		return append(turns, message{Role: role, Content: blocks})
	}
	prev := turns[n-1].Content
	merged := make([]block, 0, len(prev)+len(blocks))
	for _, results := range [...]bool{true, false} {
		for _, list := range [...][]block{prev, blocks} {
			for _, b := range list {
				if (b.Type == "tool_result") == results {
					merged = append(merged, b)
				}
			}
		}
	}
	turns[n-1].Content = merged
	return turns
}

// trimPrefill strips trailing whitespace from a final assistant turn: the
// API treats it as a prefill and rejects one that ends in whitespace.
func trimPrefill(turns []message) []message {
	last := &turns[len(turns)-1]
	k := len(last.Content) - 1
	if last.Role != "assistant" || last.Content[k].Type != "text" {
		return turns
	}
	last.Content[k].Text = strings.TrimRightFunc(last.Content[k].Text, unicode.IsSpace)
	return turns
}

// systemText concatenates the text of a system or developer message.
func systemText(m openai.Message, p string) (string, *adapter.Error) {
	if m.Content.Text != nil {
		return *m.Content.Text, nil
	}
	var b strings.Builder
	for j, part := range m.Content.Parts {
		if !isText(part.Type) {
			return "", badPart(p, j, part.Type)
		}
		b.WriteString(part.Text)
	}
	return b.String(), nil
}

// userBlocks converts a user message's content: text and images.
func userBlocks(m openai.Message, p string) ([]block, *adapter.Error) {
	if m.Content.Text != nil {
		return textBlock(nil, *m.Content.Text), nil
	}
	var out []block
	for j, part := range m.Content.Parts {
		switch {
		case isText(part.Type):
			out = textBlock(out, part.Text)
		case part.Type == "image_url":
			b, e := imageBlock(part.ImageURL, fmt.Sprintf("%s.content[%d].image_url.url", p, j))
			if e != nil {
				return nil, e
			}
			out = append(out, b)
		default:
			return nil, badPart(p, j, part.Type)
		}
	}
	return out, nil
}

// assistantBlocks converts an assistant message: its replayed thinking
// (reasoningBlocks), its text (a refusal is kept as text, so that the model
// sees what it said), then its tool calls.
func assistantBlocks(m openai.Message, p string) ([]block, *adapter.Error) {
	// Anthropic wants the thinking blocks first, before any tool_use.
	out := reasoningBlocks(m)
	if m.Content.Text != nil {
		out = textBlock(out, *m.Content.Text)
	}
	for j, part := range m.Content.Parts {
		switch {
		case isText(part.Type):
			out = textBlock(out, part.Text)
		case part.Type == "refusal":
			out = textBlock(out, part.Refusal)
		default:
			return nil, badPart(p, j, part.Type)
		}
	}
	if len(out) == 0 && m.Refusal != nil {
		out = textBlock(out, *m.Refusal)
	}
	for j, tc := range m.ToolCalls {
		b, e := toolUse(tc, fmt.Sprintf("%s.tool_calls[%d]", p, j))
		if e != nil {
			return nil, e
		}
		out = append(out, b)
	}
	return out, nil
}

// toolUse converts one assistant tool call; input is the parsed arguments.
func toolUse(tc openai.ToolCall, p string) (block, *adapter.Error) {
	if tc.Type != "" && tc.Type != "function" {
		return block{}, invalid(p+".type", adapter.CodeUnsupportedParameter, "%s.type %q is not supported by this model", p, tc.Type)
	}
	if tc.ID == "" {
		return block{}, invalid(p+".id", "missing_required_parameter", "%s.id is required", p)
	}
	if tc.Function.Name == "" {
		return block{}, invalid(p+".function.name", "missing_required_parameter", "%s.function.name is required", p)
	}
	args := bytes.TrimSpace([]byte(tc.Function.Arguments))
	switch {
	case len(args) == 0:
		args = []byte("{}") // a call without arguments
	case jsonlimit.Validate(args) != nil:
		// Wrapping it as {"raw": ...} (some gateways do) would show the
		// model a call it never made.
		return block{}, invalid(p+".function.arguments", "invalid_value",
			"%s.function.arguments is not valid JSON (or nests deeper than %d levels)", p, jsonlimit.MaxDepth)
	case args[0] != '{':
		return block{}, invalid(p+".function.arguments", "invalid_value", "%s.function.arguments must be a JSON object", p)
	}
	return block{Type: "tool_use", ID: sanitizeID(tc.ID), Name: tc.Function.Name, Input: args}, nil
}

// toolResult converts a tool message. Its content stays a string when it was
// one; empty content is left out rather than sent as an empty text.
func toolResult(m openai.Message, p string) (block, *adapter.Error) {
	if m.ToolCallID == "" {
		return block{}, invalid(p+".tool_call_id", "missing_required_parameter", "%s.tool_call_id is required", p)
	}
	b := block{Type: "tool_result", ToolUseID: sanitizeID(m.ToolCallID)}
	if m.Content.Text != nil {
		if !blank(*m.Content.Text) {
			b.Content = *m.Content.Text
		}
		return b, nil
	}
	var texts []block
	for j, part := range m.Content.Parts {
		if !isText(part.Type) {
			return block{}, badPart(p, j, part.Type)
		}
		texts = textBlock(texts, part.Text)
	}
	if len(texts) > 0 {
		b.Content = texts
	}
	return b, nil
}

// textBlock appends a text block unless text is empty or whitespace only.
func textBlock(dst []block, text string) []block {
	if blank(text) {
		return dst
	}
	return append(dst, block{Type: "text", Text: text})
}

func blank(s string) bool { return strings.TrimSpace(s) == "" }

func isText(typ string) bool { return typ == "text" || typ == "input_text" }

func badPart(p string, j int, typ string) *adapter.Error {
	param := fmt.Sprintf("%s.content[%d].type", p, j)
	return invalid(param, adapter.CodeUnsupportedParameter, "%s: content part type %q is not supported here by this model", param, typ)
}
