package mockllm

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"aigateway/internal/openai"
)

// Anthropic Messages wire format: /v1/messages and /v1/messages/count_tokens.
// See PROTOCOLS.md section 4.

const anthropicMessages = "/v1/messages"

func anthropicRoute(path string) (route, bool) {
	rt := route{method: http.MethodPost, fail: writeAnthropicError, auth: checkAnthropicKey, begin: anthropicRequestID}
	switch path {
	case anthropicMessages:
		rt.serve = (*call).anthropicMessages
		return rt, true
	case anthropicMessages + "/count_tokens":
		rt.serve = (*call).anthropicCountTokens
		return rt, true
	}
	if strings.HasPrefix(path, anthropicMessages+"/") {
		return rt, false
	}
	return route{}, false
}

// anthropicRequestID sets the request-id header every Anthropic response
// carries; writeAnthropicError repeats it in the body.
func anthropicRequestID(h http.Header, seq int64) {
	h.Set("request-id", "req_mock_"+strconv.FormatInt(seq, 10))
}

func checkAnthropicKey(r *http.Request, key string) (int, apiError) {
	got := r.Header.Get("x-api-key")
	switch {
	case got == "":
		return http.StatusUnauthorized, apiError{Type: "authentication_error", Message: "x-api-key header is required"}
	case !keyEqual(got, key):
		return http.StatusUnauthorized, apiError{Type: "authentication_error", Message: "invalid x-api-key"}
	}
	return 0, apiError{}
}

// anthropicErrorType maps a status to error.type (PROTOCOLS.md 4.6).
func anthropicErrorType(status int) string {
	switch status {
	case 400:
		return "invalid_request_error"
	case 401:
		return "authentication_error"
	case 402:
		return "billing_error"
	case 403:
		return "permission_error"
	case 404:
		return "not_found_error"
	case 409:
		return "conflict_error"
	case 413:
		return "request_too_large"
	case 429:
		return "rate_limit_error"
	case 504:
		return "timeout_error"
	case 529:
		return "overloaded_error"
	}
	if status >= 500 {
		return "api_error"
	}
	return "invalid_request_error"
}

// anthropicStatus is the HTTP status of an error type; unknown types are 500.
func anthropicStatus(errType string) int {
	for _, status := range [...]int{400, 401, 402, 403, 404, 409, 413, 429, 504, 529} {
		if anthropicErrorType(status) == errType {
			return status
		}
	}
	return http.StatusInternalServerError
}

// writeAnthropicError writes
// {"type":"error","error":{"type","message"},"request_id"}.
func writeAnthropicError(w http.ResponseWriter, status int, e apiError) {
	if e.Type == "" {
		e.Type = anthropicErrorType(status)
	}
	b := appendAnthropicError(make([]byte, 0, 96+len(e.Message)), e.Type, e.Message)
	if id := w.Header().Get("request-id"); id != "" {
		b = append(b[:len(b)-1], `,"request_id":`...)
		b = openai.AppendString(b, id)
		b = append(b, '}')
	}
	b = append(b, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func appendAnthropicError(dst []byte, errType, msg string) []byte {
	dst = append(dst, `{"type":"error","error":{"type":`...)
	dst = openai.AppendString(dst, errType)
	dst = append(dst, `,"message":`...)
	dst = openai.AppendString(dst, msg)
	return append(dst, "}}"...)
}

type anthropicRequest struct {
	Model     string             `json:"model"`
	MaxTokens *int               `json:"max_tokens"`
	System    json.RawMessage    `json:"system"`
	Messages  []anthropicMessage `json:"messages"`
	Stream    bool               `json:"stream"`
	Mock      *Directive         `json:"mock"`
}

type anthropicMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// anthropicBlock is the part of a content block the mock counts: text
// blocks, and tool_result blocks whose content is a string or blocks.
type anthropicBlock struct {
	Text    string          `json:"text"`
	Content json.RawMessage `json:"content"`
}

// anthropicWords counts the words of a string-or-blocks content value.
func anthropicWords(raw json.RawMessage) int {
	switch {
	case len(raw) == 0:
	case raw[0] == '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return countWords(s)
		}
	case raw[0] == '[':
		var blocks []anthropicBlock
		if json.Unmarshal(raw, &blocks) == nil {
			n := 0
			for _, b := range blocks {
				n += countWords(b.Text) + anthropicWords(b.Content)
			}
			return n
		}
	}
	return 0
}

func (req *anthropicRequest) promptWords() int {
	n := anthropicWords(req.System)
	for _, m := range req.Messages {
		n += anthropicWords(m.Content)
	}
	return n
}

// anthropicPrelude checks the anthropic-version header and decodes the
// body, answering 400 if either is wrong.
func (c *call) anthropicPrelude(req *anthropicRequest) bool {
	if c.r.Header.Get("anthropic-version") == "" {
		_ = c.badRequest("anthropic-version: header is required", "")
		return false
	}
	if err := json.Unmarshal(c.body, req); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) || len(c.body) == 0 {
			_ = c.badRequest("There was an error parsing the body of your request: invalid JSON", "")
		} else {
			_ = c.badRequest("Invalid request body: "+err.Error(), "")
		}
		return false
	}
	switch {
	case req.Model == "":
		_ = c.badRequest("model: Field required", "")
	case len(req.Messages) == 0:
		_ = c.badRequest("messages: Field required", "")
	default:
		return true
	}
	return false
}

func (c *call) anthropicCountTokens() error {
	var req anthropicRequest
	if !c.anthropicPrelude(&req) {
		return nil
	}
	d, ok := c.directive(req.Mock)
	if !ok {
		return nil
	}
	if done, err := c.start(d, false); done {
		return err
	}
	n := max(req.promptWords(), 1)
	if d.PromptTokens != nil {
		n = *d.PromptTokens
	}
	b := append(appendInt(append(make([]byte, 0, 32), `{"input_tokens":`...), int64(n)), "}\n"...)
	return c.writeWhole(d, "application/json", b)
}

func (c *call) anthropicMessages() error {
	var req anthropicRequest
	if !c.anthropicPrelude(&req) {
		return nil
	}
	if req.MaxTokens == nil {
		return c.badRequest("max_tokens: Field required", "")
	}
	d, ok := c.directive(req.Mock)
	if !ok {
		return nil
	}
	if done, err := c.start(d, req.Stream); done {
		return err
	}
	if d.StreamError != "" && !req.Stream {
		// Without a stream to carry it, the same failure is an HTTP error.
		c.fail(c.w, anthropicStatus(d.StreamError), apiError{Type: d.StreamError, Message: streamErrorMessage(d)})
		return nil
	}
	rp := c.s.plan(d, req.promptWords(), true)
	for i := range rp.calls {
		rp.calls[i].id = "toolu_mock_" + strconv.Itoa(i)
	}
	m := anthropicHead{id: "msg_mock_" + strconv.FormatInt(c.seq, 10), model: req.Model, reasoning: d.Reasoning, signature: d.ReasoningSignature}
	if m.reasoning != "" && m.signature == "" {
		m.signature = "mock-signature-" + strconv.FormatInt(c.seq, 10)
	}
	if req.Stream {
		return c.anthropicStream(d, &rp, &m)
	}
	if err := c.generate(d, &rp); err != nil {
		return err
	}
	bp := c.s.getBuf()
	defer c.s.putBuf(bp)
	b := m.appendMessage((*bp)[:0], &rp)
	b = append(b, '\n')
	*bp = b
	return c.writeWhole(d, "application/json", b)
}

func streamErrorMessage(d *Directive) string {
	switch {
	case d.ErrorMessage != "":
		return d.ErrorMessage
	case d.StreamError == "overloaded_error":
		return "Overloaded"
	}
	return "mockllm: scripted " + d.StreamError
}

// anthropicStopReason maps the planned finish reason to a stop_reason.
func anthropicStopReason(finish string) string {
	switch finish {
	case "stop":
		return "end_turn"
	case "tool_calls":
		return "tool_use"
	case "length":
		return "max_tokens"
	}
	return finish
}

// appendJSONArgs appends tool arguments as a JSON value: {} when empty, the
// arguments themselves when they are JSON, else a JSON string.
func appendJSONArgs(dst []byte, args string) []byte {
	switch {
	case args == "":
		return append(dst, "{}"...)
	case json.Valid([]byte(args)):
		return append(dst, args...)
	}
	return openai.AppendString(dst, args)
}

// anthropicHead holds the fields of the Message a response describes.
type anthropicHead struct {
	id, model string
	// reasoning, when set, is sent as a leading thinking block signed with
	// signature.
	reasoning, signature string
}

// appendMessage appends the complete non-streamed Message.
func (m *anthropicHead) appendMessage(dst []byte, rp *reply) []byte {
	dst = append(dst, `{"id":`...)
	dst = openai.AppendString(dst, m.id)
	dst = append(dst, `,"type":"message","role":"assistant","model":`...)
	dst = openai.AppendString(dst, m.model)
	dst = append(dst, `,"content":[`...)
	comma := false
	if m.reasoning != "" {
		dst = append(dst, `{"type":"thinking","thinking":`...)
		dst = openai.AppendString(dst, m.reasoning)
		dst = append(dst, `,"signature":`...)
		dst = openai.AppendString(dst, m.signature)
		dst = append(dst, '}')
		comma = true
	}
	if rp.hasText {
		if comma {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"type":"text","text":`...)
		dst = rp.appendText(dst)
		dst = append(dst, '}')
		comma = true
	}
	for i, tc := range rp.calls {
		if i > 0 || comma {
			dst = append(dst, ',')
		}
		dst = appendToolUse(dst, &tc, false)
	}
	dst = append(dst, `],"stop_reason":`...)
	dst = openai.AppendString(dst, anthropicStopReason(rp.finish))
	dst = append(dst, `,"stop_sequence":null,"usage":`...)
	dst = appendAnthropicUsage(dst, rp.promptTokens, rp.completionTokens)
	return append(dst, '}')
}

// appendToolUse appends a tool_use block; empty gives the input {} that
// starts a streamed block.
func appendToolUse(dst []byte, tc *plannedCall, empty bool) []byte {
	dst = append(dst, `{"type":"tool_use","id":`...)
	dst = openai.AppendString(dst, tc.id)
	dst = append(dst, `,"name":`...)
	dst = openai.AppendString(dst, tc.name)
	dst = append(dst, `,"input":`...)
	if empty {
		dst = append(dst, "{}"...)
	} else {
		dst = appendJSONArgs(dst, tc.args)
	}
	return append(dst, '}')
}

func appendAnthropicUsage(dst []byte, input, output int) []byte {
	dst = append(dst, `{"input_tokens":`...)
	dst = appendInt(dst, int64(input))
	dst = append(dst, `,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":`...)
	dst = appendInt(dst, int64(output))
	return append(dst, '}')
}
