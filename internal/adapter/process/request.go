package process

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
)

// job is one run of the program, ready to start.
type job struct {
	argv         []string // the arguments after the program
	prompt       string
	stdin        bool  // the prompt goes to standard input
	promptTokens int64 // estimated
}

// badRequest is a 400 for a request the program cannot honour.
func badRequest(param, code, format string, args ...any) *adapter.Error {
	return &adapter.Error{Status: http.StatusBadRequest, Err: openai.Error{
		Type: openai.TypeInvalidRequest, Param: param, Code: code, Message: fmt.Sprintf(format, args...)}}
}

// job checks req and renders the prompt and the arguments.
func (a *Adapter) job(req *openai.ChatRequest) (*job, error) {
	if err := a.checkFields(req); err != nil {
		return nil, err
	}
	msgs, err := a.messages(req.Messages)
	if err != nil {
		return nil, err
	}
	prompt, err := a.prompt(msgs)
	if err != nil {
		return nil, err
	}
	v := &values{prompt: prompt, model: a.o.Model, maxTokens: DefaultMaxTokens, temperature: DefaultTemperature}
	if a.o.MaxTokens != nil {
		v.maxTokens = int64(*a.o.MaxTokens)
	}
	if n := req.MaxOutputTokens(); n != nil {
		v.maxTokens = *n
	}
	if a.o.Temperature != nil {
		v.temperature = *a.o.Temperature
	}
	if req.Temperature != nil {
		v.temperature = *req.Temperature
	}
	if a.promptArg && strings.IndexByte(prompt, 0) >= 0 {
		return nil, badRequest("messages", "invalid_value", "model %q (process) passes the prompt as a command-line argument, which cannot hold a NUL character", a.o.ID)
	}
	j := &job{prompt: prompt, stdin: !a.promptArg, promptTokens: estimateTokens(len(prompt)), argv: make([]string, len(a.args))}
	for i, ar := range a.args {
		j.argv[i] = ar.render(v)
	}
	return j, nil
}

// checkFields rejects the request fields a program cannot honour.
func (a *Adapter) checkFields(req *openai.ChatRequest) error {
	id := a.o.ID
	if req.N != nil && *req.N > 1 {
		return badRequest("n", "unsupported_value", "model %q (process) returns one choice; n must be 1, got %d", id, *req.N)
	}
	if len(req.Tools) > 0 {
		return badRequest("tools", "unsupported_parameter", "model %q (process) does not support tools", id)
	}
	tc, oerr := openai.ParseToolChoice(req.ToolChoice)
	if oerr != nil {
		return &adapter.Error{Status: http.StatusBadRequest, Err: *oerr}
	}
	if tc.Mode == "required" || tc.Mode == "function" { // "auto" and "none" without tools ask for nothing
		return badRequest("tool_choice", "unsupported_parameter", "model %q (process) does not support tools, so tool_choice cannot be honoured", id)
	}
	if rf := req.ResponseFormat; rf != nil && rf.Type != "" && rf.Type != "text" {
		return badRequest("response_format", "unsupported_parameter", "model %q (process) does not support response_format %q", id, rf.Type)
	}
	if (req.Logprobs != nil && *req.Logprobs) || req.TopLogprobs != nil {
		return badRequest("logprobs", "unsupported_parameter", "model %q (process) does not return logprobs", id)
	}
	if lb := bytes.TrimSpace(req.LogitBias); len(lb) > 0 && !bytes.Equal(lb, []byte("null")) && !bytes.Equal(lb, []byte("{}")) {
		return badRequest("logit_bias", "unsupported_parameter", "model %q (process) does not support logit_bias", id)
	}
	if len(req.Stop) > 0 {
		return badRequest("stop", "unsupported_parameter", "model %q (process) cannot honour stop sequences", id)
	}
	if n := req.MaxOutputTokens(); n != nil && *n < 1 {
		param := "max_tokens"
		if req.MaxCompletionTokens != nil {
			param = "max_completion_tokens"
		}
		return badRequest(param, "invalid_value", "%s must be at least 1, got %d", param, *n)
	}
	return nil
}

// messages checks the messages and returns their text. Only system,
// developer (as system), user and assistant messages with text are accepted.
func (a *Adapter) messages(msgs []openai.Message) ([]PromptMessage, error) {
	id := a.o.ID
	out := make([]PromptMessage, 0, len(msgs))
	for i, m := range msgs {
		text, onlyText := m.Content.PlainText()
		if !onlyText {
			return nil, badRequest(fmt.Sprintf("messages[%d].content", i), "unsupported_value", "model %q (process) accepts text only", id)
		}
		role := m.Role
		switch role {
		case "developer":
			role = "system"
		case "system", "user":
		case "assistant":
			if len(m.ToolCalls) > 0 {
				return nil, badRequest(fmt.Sprintf("messages[%d].tool_calls", i), "unsupported_value", "model %q (process) does not support tool calls", id)
			}
		case "tool", "function":
			return nil, badRequest(fmt.Sprintf("messages[%d].role", i), "unsupported_value", "model %q (process) does not support %s messages", id, role)
		default:
			return nil, badRequest(fmt.Sprintf("messages[%d].role", i), "invalid_value", "messages[%d].role: unknown role %q", i, role)
		}
		out = append(out, PromptMessage{Role: role, Content: text, Name: m.Name})
	}
	return out, nil
}

// prompt renders the messages with the template or the format.
func (a *Adapter) prompt(msgs []PromptMessage) (string, error) {
	d := newPromptData(msgs, a.o.Model)
	if a.tmpl == nil {
		return formats[a.o.PromptFormat](d), nil
	}
	var b strings.Builder
	if err := a.tmpl.Execute(&b, d); err != nil {
		return "", &adapter.Error{Status: http.StatusInternalServerError, Cause: err, Err: openai.Error{
			Type: openai.TypeServer, Code: "prompt_template_failed",
			Message: fmt.Sprintf("model %q: the configured prompt_template failed on this request: %v", a.o.ID, err)}}
	}
	return b.String(), nil
}

// estimateTokens estimates a token count from a byte count: one token per
// 4 bytes, rounded up, which is close for English text.
func estimateTokens(n int) int64 { return int64(n+3) / 4 }
