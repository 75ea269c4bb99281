package gemini

import (
	"encoding/json"
	"fmt"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
	"aigateway/internal/toolcallid"
)

// RequestOptions configure ConvertRequest.
type RequestOptions struct {
	// FetchImage, when non-nil, downloads an http(s) image URL and returns
	// it base64-encoded (standard encoding) with its MIME type; an empty
	// MIME type is sniffed from the data. The model entry opted in to
	// fetching, and the integrator enforces the limits: a limit error of
	// this package's fetcher is told to the client, an *adapter.Error
	// reaches the client as is, and any other error becomes one generic
	// 400 naming the part, its detail kept for the log. When nil, an http(s)
	// image URL is a 400 explaining that Gemini cannot take image URLs and
	// how to opt in ("fetch_images": true on the model entry).
	FetchImage func(url string) (base64Data, mimeType string, err error)
	// Params refuses, or with Params.Drop drops, the parameters Gemini has
	// no field for (logit_bias). Nil refuses them.
	Params *adapter.Unsupported
}

// ConvertRequest turns an OpenAI chat request into a Gemini
// GenerateContentRequest body (JSON). The model and stream-ness go in the
// URL, which the integrator builds. Errors are *adapter.Error (400, param
// named).
//
// Fields without a Gemini counterpart that do not change the answer are
// ignored: user and safety_identifier (abuse tracking), message names,
// tools[].function.strict (Gemini always follows the declared schema as
// best it can, and has no opt-out to honour), image_url.detail, stream and
// stream_options (the URL and the translator handle them). Fields that
// would change the answer and cannot be mapped are a 400: logit_bias
// (dropped instead with o.Params.Drop), parallel_tool_calls:false while
// tools may be called, tool types other than function, unknown
// reasoning_effort values.
func ConvertRequest(req *openai.ChatRequest, o RequestOptions) ([]byte, error) {
	if req == nil {
		return nil, badParam("", "invalid_value", "empty request")
	}
	system, contents, err := convertMessages(req.Messages, &o)
	if err != nil {
		return nil, err
	}
	signUnsignedCalls(contents)
	out := generateContentRequest{Contents: contents, SystemInstruction: system}
	budget := newSchemaBudget(schemaBytes(req))
	if out.Tools, out.ToolConfig, err = convertTools(req, budget); err != nil {
		return nil, err
	}
	if out.GenerationConfig, err = convertGenerationConfig(req, budget, o.Params); err != nil {
		return nil, err
	}
	b, err := json.Marshal(&out)
	if err != nil {
		return nil, fmt.Errorf("gemini: encoding the request: %w", err)
	}
	return b, nil
}

// knownCall is what a request needs to know about an earlier assistant tool
// call to answer it.
type knownCall struct {
	name     string
	geminiID string
}

// convertMessages splits the messages into the system instruction and the
// contents. Consecutive messages that map to the same Gemini role (user and
// tool messages both become "user") are merged into one Content, parts in
// order, because Gemini expects turns to alternate.
func convertMessages(msgs []openai.Message, o *RequestOptions) (*content, []content, error) {
	if len(msgs) == 0 {
		return nil, nil, badParam("messages", "invalid_value", "messages must be a non-empty array")
	}
	var system []part
	var contents []content
	calls := map[string]knownCall{} // by OpenAI tool call id without its signature; later calls win
	for i := range msgs {
		m := &msgs[i]
		var role string
		var parts []part
		var err error
		switch m.Role {
		case "system", "developer":
			p, err := contentParts(&m.Content, i, false, o)
			if err != nil {
				return nil, nil, err
			}
			system = append(system, p...)
			continue
		case "user":
			role = "user"
			parts, err = contentParts(&m.Content, i, true, o)
		case "assistant":
			role = "model"
			parts, err = assistantParts(m, i, calls, o)
		case "tool":
			role = "user"
			parts, err = toolResultParts(m, i, calls)
		default:
			return nil, nil, badParam(fmt.Sprintf("messages[%d].role", i), "invalid_value",
				"messages[%d].role: %q is not supported; use system, developer, user, assistant or tool", i, m.Role)
		}
		if err != nil {
			return nil, nil, err
		}
		if len(parts) == 0 {
			continue // nothing to say; Gemini rejects a Content without parts
		}
		if n := len(contents); n > 0 && contents[n-1].Role == role {
			contents[n-1].Parts = append(contents[n-1].Parts, parts...)
			continue
		}
		contents = append(contents, content{Role: role, Parts: parts})
	}
	var si *content
	if len(system) > 0 {
		si = &content{Parts: system}
	}
	if len(contents) == 0 && si != nil {
		// Only system messages: OpenAI answers them, Gemini requires
		// contents. Sending the instructions as the user turn is the closest
		// request Gemini accepts (bifrost does the same for Anthropic).
		return nil, []content{{Role: "user", Parts: system}}, nil
	}
	if len(contents) == 0 {
		return nil, nil, badParam("messages", "invalid_value", "messages contain no text or media to send")
	}
	return si, contents, nil
}

// assistantParts converts an assistant message: its text, then one
// functionCall part per tool call, with the Gemini id that the call's
// extra_content carries, and the thought signature from extra_content or,
// when the client dropped that field, from the tool call id (package
// toolcallid).
func assistantParts(m *openai.Message, i int, calls map[string]knownCall, o *RequestOptions) ([]part, error) {
	parts, err := contentParts(&m.Content, i, true, o)
	if err != nil {
		return nil, err
	}
	if m.Refusal != nil && *m.Refusal != "" && m.Content.IsEmpty() {
		parts = append(parts, part{Text: *m.Refusal})
	}
	for j := range m.ToolCalls {
		tc := &m.ToolCalls[j]
		param := fmt.Sprintf("messages[%d].tool_calls[%d]", i, j)
		if tc.Type != "" && tc.Type != "function" {
			return nil, badParam(param+".type", adapter.CodeUnsupportedParameter, "%s.type: %q tool calls are not supported for Gemini models", param, tc.Type)
		}
		if tc.Function.Name == "" {
			return nil, badParam(param+".function.name", "invalid_value", "%s.function.name is required", param)
		}
		args, err := callArgs(tc.Function.Arguments)
		if err != nil {
			return nil, badParam(param+".function.arguments", "invalid_value",
				"%s.function.arguments must be a JSON object: %v", param, err)
		}
		extra := parseExtraContent(tc.ExtraContent)
		base, signature := toolcallid.Split(tc.ID)
		if extra.ThoughtSignature != "" {
			signature = extra.ThoughtSignature
		}
		parts = append(parts, part{
			FunctionCall:     &functionCall{ID: extra.FunctionCallID, Name: tc.Function.Name, Args: args},
			ThoughtSignature: signature,
		})
		if base != "" {
			calls[base] = knownCall{name: tc.Function.Name, geminiID: extra.FunctionCallID}
		}
	}
	return parts, nil
}

// callArgs parses a tool call's JSON-encoded arguments into the object
// Gemini wants. An empty string means no arguments.
func callArgs(s string) (json.RawMessage, error) {
	if s == "" {
		return json.RawMessage("{}"), nil
	}
	var obj map[string]json.RawMessage
	if err := adapter.DecodeJSON([]byte(s), &obj); err != nil {
		return nil, err
	}
	if obj == nil { // "null"
		return json.RawMessage("{}"), nil
	}
	return json.RawMessage(s), nil
}

// toolResultParts converts a tool message into a functionResponse. OpenAI
// tool messages have no function name, which Gemini requires, so it comes
// from the assistant tool call the message answers.
func toolResultParts(m *openai.Message, i int, calls map[string]knownCall) ([]part, error) {
	param := fmt.Sprintf("messages[%d].tool_call_id", i)
	if m.ToolCallID == "" {
		return nil, badParam(param, "missing_required_parameter", "%s is required", param)
	}
	call, ok := calls[toolcallid.Base(m.ToolCallID)]
	if !ok {
		return nil, badParam(param, "invalid_value",
			"%s: %q does not match any tool call of an earlier assistant message", param, m.ToolCallID)
	}
	text, onlyText := m.Content.PlainText()
	if !onlyText {
		return nil, badParam(fmt.Sprintf("messages[%d].content", i), "invalid_value",
			"messages[%d].content: tool messages can only contain text", i)
	}
	resp, err := json.Marshal(struct {
		Output json.RawMessage `json:"output"`
	}{toolOutput(text)})
	if err != nil {
		return nil, fmt.Errorf("gemini: encoding a tool result: %w", err)
	}
	return []part{{FunctionResponse: &functionResponse{ID: call.geminiID, Name: call.name, Response: resp}}}, nil
}

// toolOutput is the tool result as Gemini's "output": the object itself when
// the text is a JSON object (so the model sees structure, not an escaped
// string), else the text as a JSON string.
func toolOutput(text string) json.RawMessage {
	var obj map[string]json.RawMessage
	if adapter.DecodeJSON([]byte(text), &obj) == nil && obj != nil {
		return json.RawMessage(text)
	}
	b, _ := json.Marshal(text) // a string always encodes
	return b
}
