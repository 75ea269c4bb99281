package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// The types below are the Chat Completions wire format, for adapters that
// convert to and from another protocol. The openai_compat passthrough never
// decodes a body into them.

// ChatRequest is a decoded POST /v1/chat/completions body. Fields the
// converters do not know are ignored by DecodeChatRequest; converters must
// reject (not drop) known fields that change the answer and that their
// provider cannot honour.
type ChatRequest struct {
	Model               string          `json:"model"`
	Messages            []Message       `json:"messages"`
	Stream              bool            `json:"stream,omitempty"`
	StreamOptions       *StreamOptions  `json:"stream_options,omitempty"`
	Temperature         *float64        `json:"temperature,omitempty"`
	TopP                *float64        `json:"top_p,omitempty"`
	MaxTokens           *int64          `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int64          `json:"max_completion_tokens,omitempty"`
	Stop                StringOrList    `json:"stop,omitempty"`
	N                   *int64          `json:"n,omitempty"`
	Seed                *int64          `json:"seed,omitempty"`
	User                string          `json:"user,omitempty"`
	SafetyIdentifier    string          `json:"safety_identifier,omitempty"`
	Tools               []Tool          `json:"tools,omitempty"`
	ToolChoice          json.RawMessage `json:"tool_choice,omitempty"`
	ParallelToolCalls   *bool           `json:"parallel_tool_calls,omitempty"`
	ResponseFormat      *ResponseFormat `json:"response_format,omitempty"`
	PresencePenalty     *float64        `json:"presence_penalty,omitempty"`
	FrequencyPenalty    *float64        `json:"frequency_penalty,omitempty"`
	Logprobs            *bool           `json:"logprobs,omitempty"`
	TopLogprobs         *int64          `json:"top_logprobs,omitempty"`
	LogitBias           json.RawMessage `json:"logit_bias,omitempty"`
	ReasoningEffort     string          `json:"reasoning_effort,omitempty"`
}

// StreamOptions is the stream_options object.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage,omitempty"`
}

// IncludeUsage reports whether the client asked for the final usage chunk.
func (r *ChatRequest) IncludeUsage() bool {
	return r.StreamOptions != nil && r.StreamOptions.IncludeUsage
}

// MaxOutputTokens returns max_completion_tokens, else max_tokens, else nil.
func (r *ChatRequest) MaxOutputTokens() *int64 {
	if r.MaxCompletionTokens != nil {
		return r.MaxCompletionTokens
	}
	return r.MaxTokens
}

// Message is one chat message of any role.
type Message struct {
	Role       string         `json:"role"`
	Content    MessageContent `json:"content"`
	Name       string         `json:"name,omitempty"`
	ToolCalls  []ToolCall     `json:"tool_calls,omitempty"`
	ToolCallID string         `json:"tool_call_id,omitempty"`
	Refusal    *string        `json:"refusal,omitempty"`
	// ReasoningContent and ReasoningSignature are the gateway's extension
	// of Chat Completions (README, "Reasoning"): an assistant message's
	// reasoning, replayed to the upstream that made it. The signature is
	// the upstream's (Anthropic's thinking signature); reasoning without
	// one is replayed only to OpenAI-compatible upstreams.
	ReasoningContent   string `json:"reasoning_content,omitempty"`
	ReasoningSignature string `json:"reasoning_signature,omitempty"`
}

// MessageContent is a message's content: a string, an array of parts, or
// null/absent (assistant messages with tool calls).
type MessageContent struct {
	Text  *string // set when the content was a string
	Parts []ContentPart
}

// UnmarshalJSON accepts a string, an array of parts, or null.
func (c *MessageContent) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*c = MessageContent{}
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*c = MessageContent{Text: &s}
		return nil
	case len(b) > 0 && b[0] == '[':
		var parts []ContentPart
		if err := json.Unmarshal(b, &parts); err != nil {
			return err
		}
		*c = MessageContent{Parts: parts}
		return nil
	}
	return fmt.Errorf("content must be a string, an array of parts or null")
}

// MarshalJSON writes the string, the parts, or null.
func (c MessageContent) MarshalJSON() ([]byte, error) {
	switch {
	case c.Text != nil:
		return json.Marshal(*c.Text)
	case c.Parts != nil:
		return json.Marshal(c.Parts)
	}
	return []byte("null"), nil
}

// IsEmpty reports whether the content has no text and no parts.
func (c *MessageContent) IsEmpty() bool { return c.Text == nil && len(c.Parts) == 0 }

// PlainText joins the content's text (the string, or the text parts in
// order) and reports whether it held anything other than text.
func (c *MessageContent) PlainText() (text string, onlyText bool) {
	if c.Text != nil {
		return *c.Text, true
	}
	var b strings.Builder
	onlyText = true
	for _, p := range c.Parts {
		switch p.Type {
		case "text", "input_text":
			b.WriteString(p.Text)
		default:
			onlyText = false
		}
	}
	return b.String(), onlyText
}

// ContentPart is one element of an array content.
type ContentPart struct {
	Type       string          `json:"type"`
	Text       string          `json:"text,omitempty"`
	ImageURL   *ImageURL       `json:"image_url,omitempty"`
	InputAudio json.RawMessage `json:"input_audio,omitempty"`
	File       json.RawMessage `json:"file,omitempty"`
	Refusal    string          `json:"refusal,omitempty"`
}

// ImageURL is an image_url part: an http(s) URL or a data: URL.
type ImageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

// ToolCall is an assistant tool call, in a request's history or a response.
type ToolCall struct {
	// Index is set only in stream deltas.
	Index    *int         `json:"index,omitempty"`
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"`
	Function FunctionCall `json:"function"`
	// ExtraContent carries provider data that must survive the round trip
	// through an OpenAI client, such as Gemini's thought signature
	// ({"google":{"thought_signature":"..."}}, the convention of Gemini's own
	// OpenAI-compatible endpoint).
	ExtraContent json.RawMessage `json:"extra_content,omitempty"`
}

// FunctionCall is a tool call's function: its name and JSON-encoded arguments.
type FunctionCall struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// Tool is a tool definition. Only type "function" is convertible.
type Tool struct {
	Type     string      `json:"type"`
	Function FunctionDef `json:"function"`
}

// FunctionDef is a function tool's definition.
type FunctionDef struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// ResponseFormat is the response_format object.
type ResponseFormat struct {
	Type       string      `json:"type"` // text, json_object, json_schema
	JSONSchema *JSONSchema `json:"json_schema,omitempty"`
}

// JSONSchema is response_format.json_schema.
type JSONSchema struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// StringOrList is a field that is a string or an array of strings (stop).
type StringOrList []string

// UnmarshalJSON accepts a string, an array of strings, or null.
func (s *StringOrList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*s = nil
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = StringOrList{one}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("must be a string or an array of strings")
	}
	*s = list
	return nil
}

// ToolChoice is a parsed tool_choice.
type ToolChoice struct {
	// Mode is "" (not given), "auto", "none", "required" or "function".
	Mode string
	// Name is the function to call when Mode is "function".
	Name string
}

// ParseToolChoice parses tool_choice: "auto" | "none" | "required" |
// {"type":"function","function":{"name":...}}. Other forms (allowed_tools,
// custom) return an error ready for the client.
func ParseToolChoice(raw json.RawMessage) (ToolChoice, *Error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return ToolChoice{}, nil
	}
	bad := func(msg string) (ToolChoice, *Error) {
		return ToolChoice{}, &Error{Type: TypeInvalidRequest, Param: "tool_choice", Code: "invalid_value", Message: msg}
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return bad("tool_choice must be a string or an object")
		}
		switch s {
		case "auto", "none", "required":
			return ToolChoice{Mode: s}, nil
		}
		return bad(fmt.Sprintf("tool_choice %q is not one of auto, none, required", s))
	}
	var obj struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return bad("tool_choice must be a string or an object")
	}
	if obj.Type != "function" || obj.Function.Name == "" {
		return bad(fmt.Sprintf(`tool_choice of type %q is not supported for this model; use "auto", "none", "required" or {"type":"function","function":{"name":...}}`, obj.Type))
	}
	return ToolChoice{Mode: "function", Name: obj.Function.Name}, nil
}

// DecodeChatRequest decodes a chat request for conversion. The error is
// ready for the client (status 400) and names the offending field.
func DecodeChatRequest(body []byte) (*ChatRequest, *Error) {
	var r ChatRequest
	if err := json.Unmarshal(body, &r); err != nil {
		e := &Error{Type: TypeInvalidRequest, Code: "invalid_value", Message: "invalid request: " + err.Error()}
		if te, ok := err.(*json.UnmarshalTypeError); ok {
			e.Param = te.Field
			e.Message = fmt.Sprintf("%s: must be %s, got %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		}
		return nil, e
	}
	return &r, nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "ptr":
		return "a value of another type"
	}
	return "a number"
}

// Response side.

// ChatCompletion is a non-streamed chat response.
type ChatCompletion struct {
	ID      string   `json:"id"`
	Object  string   `json:"object"` // "chat.completion"
	Created int64    `json:"created"`
	Model   string   `json:"model"`
	Choices []Choice `json:"choices"`
	Usage   *Usage   `json:"usage,omitempty"`
}

// Choice is one choice of a ChatCompletion.
type Choice struct {
	Index        int             `json:"index"`
	Message      ResponseMessage `json:"message"`
	Logprobs     json.RawMessage `json:"logprobs"` // nil encodes as null
	FinishReason string          `json:"finish_reason"`
}

// ResponseMessage is the assistant message of a Choice. Content and Refusal
// are written as null when nil, as the schema requires the keys.
type ResponseMessage struct {
	Role      string     `json:"role"`
	Content   *string    `json:"content"`
	Refusal   *string    `json:"refusal"`
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// ReasoningContent and ReasoningSignature carry the upstream's
	// reasoning when the request asked for it (see Message).
	ReasoningContent   string `json:"reasoning_content,omitempty"`
	ReasoningSignature string `json:"reasoning_signature,omitempty"`
}

// Usage is the usage object of a response or of the final stream chunk.
type Usage struct {
	PromptTokens            int64                    `json:"prompt_tokens"`
	CompletionTokens        int64                    `json:"completion_tokens"`
	TotalTokens             int64                    `json:"total_tokens"`
	PromptTokensDetails     *PromptTokensDetails     `json:"prompt_tokens_details,omitempty"`
	CompletionTokensDetails *CompletionTokensDetails `json:"completion_tokens_details,omitempty"`
}

// PromptTokensDetails splits the prompt tokens.
type PromptTokensDetails struct {
	CachedTokens     int64 `json:"cached_tokens"`
	CacheWriteTokens int64 `json:"cache_write_tokens,omitempty"`
}

// CompletionTokensDetails splits the completion tokens.
type CompletionTokensDetails struct {
	ReasoningTokens int64 `json:"reasoning_tokens"`
}

// Chunk is one streamed chunk. Usage is omitted except on the final usage
// chunk, whose Choices is empty (not null).
type Chunk struct {
	ID      string        `json:"id"`
	Object  string        `json:"object"` // "chat.completion.chunk"
	Created int64         `json:"created"`
	Model   string        `json:"model"`
	Choices []ChunkChoice `json:"choices"`
	Usage   *Usage        `json:"usage,omitempty"`
}

// ChunkChoice is one choice of a Chunk. FinishReason is null until the end.
type ChunkChoice struct {
	Index        int             `json:"index"`
	Delta        Delta           `json:"delta"`
	Logprobs     json.RawMessage `json:"logprobs"`
	FinishReason *string         `json:"finish_reason"`
}

// Delta is what a chunk adds to a choice.
type Delta struct {
	Role      string     `json:"role,omitempty"`
	Content   *string    `json:"content,omitempty"`
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// ReasoningContent and ReasoningSignature add to the message's
	// reasoning (see Message); the deltas of each are concatenated.
	ReasoningContent   *string `json:"reasoning_content,omitempty"`
	ReasoningSignature string  `json:"reasoning_signature,omitempty"`
}

// ChunkWriter builds the chunks of one stream: one id, created and model for
// all of them, as clients expect. The common chunks (role, content, finish)
// are written by hand after a cached prefix: a converted stream writes one
// per upstream event, and encoding/json costs several times as much.
type ChunkWriter struct {
	ID      string
	Created int64
	Model   string

	// prefix is `{"id":...,"model":...,"choices":` for the id, created
	// and model it was built for.
	prefix                []byte
	prefixID, prefixModel string
	prefixCreated         int64
}

// start returns a new chunk buffer holding the prefix, with room for n more
// bytes.
func (w *ChunkWriter) start(n int) []byte {
	if w.prefix == nil || w.prefixID != w.ID || w.prefixModel != w.Model || w.prefixCreated != w.Created {
		p := append(make([]byte, 0, 96+len(w.ID)+len(w.Model)), `{"id":`...)
		p = AppendString(p, w.ID)
		p = append(p, `,"object":"chat.completion.chunk","created":`...)
		p = strconv.AppendInt(p, w.Created, 10)
		p = append(p, `,"model":`...)
		p = AppendString(p, w.Model)
		p = append(p, `,"choices":`...)
		w.prefix, w.prefixID, w.prefixModel, w.prefixCreated = p, w.ID, w.Model, w.Created
	}
	return append(make([]byte, 0, len(w.prefix)+n), w.prefix...)
}

func (w *ChunkWriter) chunk(choices []ChunkChoice, u *Usage) []byte {
	b, err := json.Marshal(Chunk{ID: w.ID, Object: "chat.completion.chunk", Created: w.Created, Model: w.Model, Choices: choices, Usage: u})
	if err != nil { // the types above always encode
		panic(fmt.Sprintf("openai: encoding a chunk: %v", err))
	}
	return b
}

// choiceEnd closes a choice without finish reason, the choices and the chunk.
const choiceEnd = `},"logprobs":null,"finish_reason":null}]}`

// Delta returns a chunk for choice 0 with the given delta and no finish reason.
func (w *ChunkWriter) Delta(d Delta) []byte {
	if len(d.ToolCalls) > 0 {
		return w.chunk([]ChunkChoice{{Delta: d}}, nil)
	}
	n := 64 + len(d.Role)
	if d.Content != nil {
		n += len(*d.Content) + len(*d.Content)/8
	}
	if d.ReasoningContent != nil {
		n += len(*d.ReasoningContent) + len(*d.ReasoningContent)/8
	}
	n += len(d.ReasoningSignature)
	b := append(w.start(n), `[{"index":0,"delta":{`...)
	comma := false
	field := func(key string, value string) {
		if comma {
			b = append(b, ',')
		}
		comma = true
		b = append(b, key...)
		b = AppendString(b, value)
	}
	if d.Role != "" {
		field(`"role":`, d.Role)
	}
	if d.Content != nil {
		field(`"content":`, *d.Content)
	}
	if d.ReasoningContent != nil {
		field(`"reasoning_content":`, *d.ReasoningContent)
	}
	if d.ReasoningSignature != "" {
		field(`"reasoning_signature":`, d.ReasoningSignature)
	}
	return append(b, choiceEnd...)
}

// Role returns the first chunk: role assistant and empty content.
func (w *ChunkWriter) Role() []byte {
	empty := ""
	return w.Delta(Delta{Role: "assistant", Content: &empty})
}

// Content returns a chunk adding text.
func (w *ChunkWriter) Content(text string) []byte { return w.Delta(Delta{Content: &text}) }

// Finish returns the chunk with an empty delta and the finish reason.
func (w *ChunkWriter) Finish(reason string) []byte {
	b := append(w.start(64+len(reason)), `[{"index":0,"delta":{},"logprobs":null,"finish_reason":`...)
	b = AppendString(b, reason)
	return append(b, "}]}"...)
}

// Usage returns the final usage chunk: "choices": [] and the usage.
func (w *ChunkWriter) Usage(u Usage) []byte { return w.chunk([]ChunkChoice{}, &u) }
