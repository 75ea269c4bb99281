package template

import (
	"fmt"
	"net/http"
	"strings"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
)

// badRequest is a 400 for a request the template cannot honour.
func badRequest(param, code, format string, args ...any) *adapter.Error {
	return &adapter.Error{Status: http.StatusBadRequest, Err: openai.Error{
		Type: openai.TypeInvalidRequest, Param: param, Code: code, Message: fmt.Sprintf(format, args...)}}
}

// values checks that the template can honour req, and returns what its
// placeholders stand for. Fields that would change the answer and that no
// placeholder carries are rejected, not dropped.
func (a *Adapter) values(req *openai.ChatRequest) (*values, error) {
	if err := a.checkFields(req); err != nil {
		return nil, err
	}
	v := &values{model: a.model, stop: req.Stop, user: req.User, temperature: req.Temperature, maxTokens: req.MaxOutputTokens()}
	if v.temperature == nil {
		v.temperature = a.temperature
	}
	if v.maxTokens == nil && a.maxTokens != nil {
		n := int64(*a.maxTokens)
		v.maxTokens = &n
	}
	conv, err := a.conversation(req.Messages)
	if err != nil {
		return nil, err
	}
	if a.tmpl.uses&(1<<phPrompt) != 0 {
		v.prompt = conv.prompt()
	}
	if a.tmpl.uses&(1<<phMessages) != 0 {
		v.messages = conv.json()
	}
	return v, nil
}

// checkFields rejects the request fields a template cannot honour.
func (a *Adapter) checkFields(req *openai.ChatRequest) error {
	id := a.up.ID
	if req.N != nil && *req.N > 1 {
		return badRequest("n", "unsupported_value", "model %q (template) returns one choice; n must be 1, got %d", id, *req.N)
	}
	if len(req.Tools) > 0 {
		return badRequest("tools", "unsupported_parameter", "model %q (template) does not support tools", id)
	}
	tc, oerr := openai.ParseToolChoice(req.ToolChoice)
	if oerr != nil {
		return &adapter.Error{Status: http.StatusBadRequest, Err: *oerr}
	}
	if tc.Mode == "required" || tc.Mode == "function" { // "auto" and "none" without tools ask for nothing
		return badRequest("tool_choice", "unsupported_parameter", "model %q (template) does not support tools, so tool_choice cannot be honoured", id)
	}
	if rf := req.ResponseFormat; rf != nil && rf.Type != "" && rf.Type != "text" {
		return badRequest("response_format", "unsupported_parameter", "model %q (template) does not support response_format %q", id, rf.Type)
	}
	if (req.Logprobs != nil && *req.Logprobs) || req.TopLogprobs != nil {
		return badRequest("logprobs", "unsupported_parameter", "model %q (template) does not return logprobs", id)
	}
	if len(req.Stop) > 0 && a.tmpl.uses&(1<<phStop) == 0 {
		return badRequest("stop", "unsupported_parameter", "model %q (template) cannot honour stop: its template has no {{stop}} placeholder", id)
	}
	return nil
}

// turn is one message of the conversation as plain text.
type turn struct {
	role string // system, user or assistant
	name string
	text string
}

// conversation is the client's messages as text turns.
type conversation []turn

// conversation checks the messages and returns their text. Only system,
// developer (treated as system), user and assistant messages with text
// content are accepted.
func (a *Adapter) conversation(msgs []openai.Message) (conversation, error) {
	id := a.up.ID
	conv := make(conversation, 0, len(msgs))
	for i, m := range msgs {
		text, onlyText := m.Content.PlainText()
		if !onlyText {
			return nil, badRequest(fmt.Sprintf("messages[%d].content", i), "unsupported_value", "model %q (template) accepts text only", id)
		}
		role := m.Role
		switch role {
		case "developer":
			role = "system"
		case "system", "user":
		case "assistant":
			if len(m.ToolCalls) > 0 {
				return nil, badRequest(fmt.Sprintf("messages[%d].tool_calls", i), "unsupported_value", "model %q (template) does not support tool calls", id)
			}
		case "tool", "function":
			return nil, badRequest(fmt.Sprintf("messages[%d].role", i), "unsupported_value", "model %q (template) does not support %s messages", id, role)
		default:
			return nil, badRequest(fmt.Sprintf("messages[%d].role", i), "invalid_value", "messages[%d].role: unknown role %q", i, role)
		}
		conv = append(conv, turn{role: role, name: m.Name, text: text})
	}
	return conv, nil
}

// prompt renders the conversation as one text: the system text first as
// "System: ...", then "User: ..." and "Assistant: ..." separated by blank
// lines, ending with "Assistant:" for the model to continue. A lone user
// message is just its text.
func (c conversation) prompt() string {
	if len(c) == 1 && c[0].role == "user" {
		return c[0].text
	}
	var sys []string
	for _, t := range c {
		if t.role == "system" {
			sys = append(sys, t.text)
		}
	}
	var b strings.Builder
	if len(sys) > 0 {
		b.WriteString("System: ")
		b.WriteString(strings.Join(sys, "\n\n"))
		b.WriteString("\n\n")
	}
	for _, t := range c {
		switch t.role {
		case "user":
			b.WriteString("User: ")
		case "assistant":
			b.WriteString("Assistant: ")
		default:
			continue
		}
		b.WriteString(t.text)
		b.WriteString("\n\n")
	}
	b.WriteString("Assistant:")
	return b.String()
}

// json renders the conversation as an OpenAI messages array with string
// content: [{"role":"user","content":"..."}], "name" kept when given.
func (c conversation) json() []byte {
	b := []byte{'['}
	for i, t := range c {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"role":`...)
		b = openai.AppendString(b, t.role)
		b = append(b, `,"content":`...)
		b = openai.AppendString(b, t.text)
		if t.name != "" {
			b = append(b, `,"name":`...)
			b = openai.AppendString(b, t.name)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}
