package adapter

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"

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
	// Placeholder writes a placeholder as the configuration does, for
	// messages: "{{%s}}" in a template, "{%s}" in a command.
	Placeholder string
	// Where names what holds the placeholders, for messages: "template",
	// "command".
	Where string
	// Known are the placeholders the adapter kind has at all; a parameter
	// without one is refused as one the kind cannot honour, not as one this
	// model's configuration leaves out.
	Known TextParams
}

// TextParams lists the sampling parameters a text-only upstream may carry,
// each through a placeholder of the same name (max_tokens for
// max_completion_tokens too).
type TextParams struct {
	Temperature, TopP, MaxTokens, Stop, Seed, PresencePenalty, FrequencyPenalty bool
}

// Check refuses the request parameters that a text-only upstream cannot
// carry: a sampling parameter without its placeholder in carried, and every
// parameter no text-only upstream can honour (tools, n > 1, logprobs,
// logit_bias, response_format other than text, reasoning_effort, audio,
// web search, fields that are no OpenAI parameter). With u.Drop they are
// dropped instead (see Unsupported); their values are then not used.
//
// Values that change nothing pass, as the OpenAI defaults they are: n 1,
// top_p 1, penalties 0, logprobs false, top_logprobs 0, an empty
// logit_bias or stop, tool_choice auto or none, modalities ["text"].
// Fields that only identify or bill the request, and do not change the
// answer, are ignored: user and safety_identifier (unless the template
// sends {{user}}), metadata, store, service_tier, prompt_cache_key,
// prompt_cache_retention, prediction, parallel_tool_calls. body is the
// request as sent, already checked by openai.Peek, for the fields that
// ChatRequest does not decode.
func (t TextOnly) Check(req *openai.ChatRequest, body []byte, carried TextParams, u *Unsupported) error {
	for _, p := range [...]struct {
		param, placeholder string
		sent               bool
		known, carried     bool
	}{
		{"temperature", "temperature", req.Temperature != nil, t.Known.Temperature, carried.Temperature},
		{"top_p", "top_p", req.TopP != nil && *req.TopP != 1, t.Known.TopP, carried.TopP},
		{"max_completion_tokens", "max_tokens", req.MaxCompletionTokens != nil, t.Known.MaxTokens, carried.MaxTokens},
		{"max_tokens", "max_tokens", req.MaxTokens != nil, t.Known.MaxTokens, carried.MaxTokens},
		{"stop", "stop", len(req.Stop) > 0, t.Known.Stop, carried.Stop},
		{"seed", "seed", req.Seed != nil, t.Known.Seed, carried.Seed},
		{"presence_penalty", "presence_penalty", req.PresencePenalty != nil && *req.PresencePenalty != 0, t.Known.PresencePenalty, carried.PresencePenalty},
		{"frequency_penalty", "frequency_penalty", req.FrequencyPenalty != nil && *req.FrequencyPenalty != 0, t.Known.FrequencyPenalty, carried.FrequencyPenalty},
	} {
		switch {
		case !p.sent || p.carried:
		case p.known:
			ph := fmt.Sprintf(t.Placeholder, p.placeholder)
			if e := u.Refuse(p.param, "model %q (%s) cannot honour %s: its %s has no %s placeholder", t.ID, t.Kind, p.param, t.Where, ph); e != nil {
				return e
			}
		default:
			if e := u.Refuse(p.param, "model %q (%s) cannot honour %s", t.ID, t.Kind, p.param); e != nil {
				return e
			}
		}
	}
	if err := t.checkFeatures(req, u); err != nil {
		return err
	}
	return t.checkOtherFields(body, u)
}

// checkFeatures refuses the decoded parameters that no text-only upstream
// can honour.
func (t TextOnly) checkFeatures(req *openai.ChatRequest, u *Unsupported) error {
	if req.N != nil && *req.N != 1 {
		if e := u.Refuse("n", "model %q (%s) returns one choice; n must be 1, got %d", t.ID, t.Kind, *req.N); e != nil {
			return e
		}
	}
	if len(req.Tools) > 0 {
		if e := u.Refuse("tools", "model %q (%s) does not support tools", t.ID, t.Kind); e != nil {
			return e
		}
	}
	tc, oerr := openai.ParseToolChoice(req.ToolChoice)
	if oerr != nil {
		return &Error{Status: http.StatusBadRequest, Err: *oerr}
	}
	if tc.Mode == "required" || tc.Mode == "function" { // "auto" and "none" without tools ask for nothing
		if e := u.Refuse("tool_choice", "model %q (%s) does not support tools, so tool_choice cannot be honoured", t.ID, t.Kind); e != nil {
			return e
		}
	}
	if rf := req.ResponseFormat; rf != nil && rf.Type != "" && rf.Type != "text" {
		if e := u.Refuse("response_format", "model %q (%s) does not support response_format %q", t.ID, t.Kind, rf.Type); e != nil {
			return e
		}
	}
	if req.Logprobs != nil && *req.Logprobs {
		if e := u.Refuse("logprobs", "model %q (%s) does not return logprobs", t.ID, t.Kind); e != nil {
			return e
		}
	}
	if req.TopLogprobs != nil && *req.TopLogprobs != 0 {
		if e := u.Refuse("top_logprobs", "model %q (%s) does not return logprobs", t.ID, t.Kind); e != nil {
			return e
		}
	}
	if lb := bytes.TrimSpace(req.LogitBias); len(lb) > 0 && !bytes.Equal(lb, []byte("null")) && !bytes.Equal(lb, []byte("{}")) {
		if e := u.Refuse("logit_bias", "model %q (%s) does not support logit_bias", t.ID, t.Kind); e != nil {
			return e
		}
	}
	if req.ReasoningEffort != "" {
		if e := u.Refuse("reasoning_effort", "model %q (%s) has no reasoning effort to set", t.ID, t.Kind); e != nil {
			return e
		}
	}
	return nil
}

// checkOtherFields goes through the top-level fields that ChatRequest does
// not decode: it refuses the OpenAI parameters a text-only upstream cannot
// honour and every field that is no OpenAI Chat Completions parameter (a
// vendor extension such as top_k, or a typo), which no placeholder carries.
func (t TextOnly) checkOtherFields(body []byte, u *Unsupported) error {
	if len(body) == 0 {
		return nil
	}
	var err error
	// Peek validated the body's depth, so gjson may read it. Aliasing the
	// body avoids copying it; it is not modified while doc is in use.
	doc := gjson.Result{Type: gjson.JSON, Raw: unsafe.String(unsafe.SliceData(body), len(body))}
	doc.ForEach(func(key, value gjson.Result) bool {
		if value.Type == gjson.Null {
			return true // null is absent
		}
		name := key.Str
		why := ""
		switch name {
		case "model", "messages", "stream", "stream_options", "temperature", "top_p", "max_tokens",
			"max_completion_tokens", "stop", "n", "seed", "tools", "tool_choice", "response_format",
			"presence_penalty", "frequency_penalty", "logprobs", "top_logprobs", "logit_bias",
			"reasoning_effort": // decoded and checked above
		case "user", "safety_identifier", "metadata", "store", "service_tier", "prompt_cache_key",
			"prompt_cache_retention", "prediction", "parallel_tool_calls": // do not change the answer
		case "functions":
			if !emptyArray(value) {
				why = "does not support functions (nor tools)"
			}
		case "function_call":
			if value.Type != gjson.String || value.Str != "none" && value.Str != "auto" {
				why = "does not support functions, so function_call cannot be honoured"
			}
		case "modalities":
			if !isTextOnly(value) {
				why = "answers with text only"
			}
		case "audio":
			why = "does not produce audio"
		case "web_search_options":
			why = "cannot search the web"
		case "verbosity":
			why = "has no verbosity setting"
		default:
			why = "has no such parameter (it is not an OpenAI Chat Completions parameter, and no placeholder carries it)"
		}
		if why != "" {
			name = strings.Clone(shortParam(name)) // not an alias of the body
			if e := u.Refuse(name, "model %q (%s) does not support %q: it %s", t.ID, t.Kind, name, why); e != nil {
				err = e
				return false
			}
		}
		return true
	})
	return err
}

// emptyArray reports whether value is an array without elements.
func emptyArray(value gjson.Result) bool {
	if !value.IsArray() {
		return false
	}
	empty := true
	value.ForEach(func(_, _ gjson.Result) bool {
		empty = false
		return false
	})
	return empty
}

// isTextOnly reports whether a modalities value asks for text only: an
// array of "text" elements, or an empty one.
func isTextOnly(value gjson.Result) bool {
	if !value.IsArray() {
		return false
	}
	only := true
	value.ForEach(func(_, m gjson.Result) bool {
		only = m.Type == gjson.String && m.Str == "text"
		return only
	})
	return only
}

// Turns returns the messages as text. Only system, developer (as system),
// user and assistant messages with text content are accepted.
func (t TextOnly) Turns(msgs []openai.Message) ([]TextTurn, error) {
	out := make([]TextTurn, 0, len(msgs))
	for i, m := range msgs {
		text, onlyText := m.Content.PlainText()
		if !onlyText {
			return nil, BadRequest(fmt.Sprintf("messages[%d].content", i), CodeUnsupportedParameter, "model %q (%s) accepts text only", t.ID, t.Kind)
		}
		role := m.Role
		switch role {
		case "developer":
			role = "system"
		case "system", "user":
		case "assistant":
			if len(m.ToolCalls) > 0 {
				return nil, BadRequest(fmt.Sprintf("messages[%d].tool_calls", i), CodeUnsupportedParameter, "model %q (%s) does not support tool calls", t.ID, t.Kind)
			}
		case "tool", "function":
			return nil, BadRequest(fmt.Sprintf("messages[%d].role", i), CodeUnsupportedParameter, "model %q (%s) does not support %s messages", t.ID, t.Kind, role)
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
