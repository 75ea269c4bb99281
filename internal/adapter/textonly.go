package adapter

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"

	"aigateway/internal/openai"
)

// BadRequest returns a 400 invalid_request_error naming param.
func BadRequest(param, code, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Err: openai.Error{
		Type: openai.TypeInvalidRequest, Param: param, Code: code, Message: fmt.Sprintf(format, args...)}}
}

// TextTurn is a chat message reduced to its text, for upstreams that take
// text only (template APIs, local programs).
type TextTurn struct {
	Role string // "system", "user" or "assistant"; "developer" becomes "system"
	Name string
	Text string
}

// TextOnly checks requests for an upstream that carries text only, so that
// what it cannot honour is refused with a 400 rather than dropped.
type TextOnly struct {
	ID   string // the model id, for messages
	Kind string // the adapter, for messages: "template", "process"
}

// TextLimits are the differences between text-only upstreams.
type TextLimits struct {
	Stop bool // stop sequences can be passed on
	// Strict also refuses logit_bias and a max_tokens below 1, which a
	// local program would otherwise receive silently.
	Strict bool
}

// Check refuses the request fields a text-only upstream cannot honour.
func (t TextOnly) Check(req *openai.ChatRequest, lim TextLimits) error {
	if req.N != nil && *req.N > 1 {
		return BadRequest("n", "unsupported_value", "model %q (%s) returns one choice; n must be 1, got %d", t.ID, t.Kind, *req.N)
	}
	if len(req.Tools) > 0 {
		return BadRequest("tools", "unsupported_parameter", "model %q (%s) does not support tools", t.ID, t.Kind)
	}
	tc, oerr := openai.ParseToolChoice(req.ToolChoice)
	if oerr != nil {
		return &Error{Status: http.StatusBadRequest, Err: *oerr}
	}
	if tc.Mode == "required" || tc.Mode == "function" { // "auto" and "none" without tools ask for nothing
		return BadRequest("tool_choice", "unsupported_parameter", "model %q (%s) does not support tools, so tool_choice cannot be honoured", t.ID, t.Kind)
	}
	if rf := req.ResponseFormat; rf != nil && rf.Type != "" && rf.Type != "text" {
		return BadRequest("response_format", "unsupported_parameter", "model %q (%s) does not support response_format %q", t.ID, t.Kind, rf.Type)
	}
	if (req.Logprobs != nil && *req.Logprobs) || req.TopLogprobs != nil {
		return BadRequest("logprobs", "unsupported_parameter", "model %q (%s) does not return logprobs", t.ID, t.Kind)
	}
	if len(req.Stop) > 0 && !lim.Stop {
		return BadRequest("stop", "unsupported_parameter", "model %q (%s) cannot honour stop sequences", t.ID, t.Kind)
	}
	if !lim.Strict {
		return nil
	}
	if lb := bytes.TrimSpace(req.LogitBias); len(lb) > 0 && !bytes.Equal(lb, []byte("null")) && !bytes.Equal(lb, []byte("{}")) {
		return BadRequest("logit_bias", "unsupported_parameter", "model %q (%s) does not support logit_bias", t.ID, t.Kind)
	}
	if n := req.MaxOutputTokens(); n != nil && *n < 1 {
		param := "max_tokens"
		if req.MaxCompletionTokens != nil {
			param = "max_completion_tokens"
		}
		return BadRequest(param, "invalid_value", "%s must be at least 1, got %d", param, *n)
	}
	return nil
}

// Turns returns the messages as text. Only system, developer (as system),
// user and assistant messages with text content are accepted.
func (t TextOnly) Turns(msgs []openai.Message) ([]TextTurn, error) {
	out := make([]TextTurn, 0, len(msgs))
	for i, m := range msgs {
		text, onlyText := m.Content.PlainText()
		if !onlyText {
			return nil, BadRequest(fmt.Sprintf("messages[%d].content", i), "unsupported_value", "model %q (%s) accepts text only", t.ID, t.Kind)
		}
		role := m.Role
		switch role {
		case "developer":
			role = "system"
		case "system", "user":
		case "assistant":
			if len(m.ToolCalls) > 0 {
				return nil, BadRequest(fmt.Sprintf("messages[%d].tool_calls", i), "unsupported_value", "model %q (%s) does not support tool calls", t.ID, t.Kind)
			}
		case "tool", "function":
			return nil, BadRequest(fmt.Sprintf("messages[%d].role", i), "unsupported_value", "model %q (%s) does not support %s messages", t.ID, t.Kind, role)
		default:
			return nil, BadRequest(fmt.Sprintf("messages[%d].role", i), "invalid_value", "messages[%d].role: unknown role %q", i, role)
		}
		out = append(out, TextTurn{Role: role, Name: m.Name, Text: text})
	}
	return out, nil
}

// PlainPrompt renders turns as one text: the system text first as
// "System: ...", then "User: ..." and "Assistant: ..." separated by blank
// lines, ending with "Assistant:" for the model to continue. A lone user
// message is just its text.
func PlainPrompt(turns []TextTurn) string {
	if len(turns) == 1 && turns[0].Role == "user" {
		return turns[0].Text
	}
	var sys []string
	for _, t := range turns {
		if t.Role == "system" {
			sys = append(sys, t.Text)
		}
	}
	var b strings.Builder
	if s := strings.Join(sys, "\n\n"); s != "" {
		b.WriteString("System: ")
		b.WriteString(s)
		b.WriteString("\n\n")
	}
	for _, t := range turns {
		switch t.Role {
		case "user":
			b.WriteString("User: ")
		case "assistant":
			b.WriteString("Assistant: ")
		default:
			continue
		}
		b.WriteString(t.Text)
		b.WriteString("\n\n")
	}
	b.WriteString("Assistant:")
	return b.String()
}
