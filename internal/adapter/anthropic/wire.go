// Package anthropic converts between OpenAI Chat Completions and the Anthropic
// Messages API (POST /v1/messages): requests one way, responses, stream events
// and errors the other. It is pure conversion: sending, reading and timeouts
// belong to the caller.
//
// The mapping follows PROTOCOLS.md sections 4 and 6 (6.1 requests, 6.3 stop
// reasons, 6.4 usage, 6.5 streams, 6.8 errors). What the Messages API cannot
// honour is rejected with a 400 naming the parameter, never silently dropped.
package anthropic

import "encoding/json"

// The types below are the parts of the Messages API wire format this package
// writes (request) and reads (response, stream events, errors).

// request is a Messages API request body. Field order is the order of the
// JSON output, which keeps golden files readable.
type request struct {
	Model         string        `json:"model"`
	MaxTokens     int64         `json:"max_tokens"`
	System        string        `json:"system,omitempty"`
	Messages      []message     `json:"messages"`
	Tools         []tool        `json:"tools,omitempty"`
	ToolChoice    *toolChoice   `json:"tool_choice,omitempty"`
	Temperature   *float64      `json:"temperature,omitempty"`
	TopP          *float64      `json:"top_p,omitempty"`
	StopSequences []string      `json:"stop_sequences,omitempty"`
	Metadata      *metadata     `json:"metadata,omitempty"`
	OutputConfig  *outputConfig `json:"output_config,omitempty"`
	Thinking      *thinking     `json:"thinking,omitempty"`
	Stream        bool          `json:"stream"`
}

// thinking turns extended thinking on: {type: "enabled", budget_tokens}.
type thinking struct {
	Type         string `json:"type"`
	BudgetTokens int64  `json:"budget_tokens"`
}

// message is one turn. Content is always written as blocks (never the string
// shorthand) so that every turn has one shape.
type message struct {
	Role    string  `json:"role"`
	Content []block `json:"content"`
}

// block is a request content block: text, image, tool_use or tool_result.
// Unused fields are omitted, which is why text must never be empty here (an
// empty text block is invalid upstream anyway, PROTOCOLS.md 4.2).
type block struct {
	Type      string          `json:"type"`
	Text      string          `json:"text,omitempty"`
	Source    *imageSource    `json:"source,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
	ToolUseID string          `json:"tool_use_id,omitempty"`
	// Content is a tool_result's content: a string or []block; nil omits it.
	Content any `json:"content,omitempty"`
	// Thinking and Signature make a replayed thinking block, Data a
	// redacted_thinking block. Signature is always written for a thinking
	// block, whose text may be empty.
	Thinking  *string `json:"thinking,omitempty"`
	Signature string  `json:"signature,omitempty"`
	Data      string  `json:"data,omitempty"`
}

// imageSource is an image block's source: base64 data or a URL.
type imageSource struct {
	Type      string `json:"type"` // "base64" or "url"
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
}

// tool is a client tool definition.
type tool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema"`
	// Strict is sent only when the client asked for it; false is the default.
	Strict *bool `json:"strict,omitempty"`
}

// toolChoice is {type: auto|any|tool|none, name?, disable_parallel_tool_use?}.
type toolChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
}

type metadata struct {
	UserID string `json:"user_id"`
}

// outputConfig carries structured output: output_config.format is
// {type:"json_schema", schema} in the current SDKs (anthropic-sdk-python
// OutputConfigParam / JSONOutputFormatParam, PROTOCOLS.md 4.1). The older beta
// spelling, top-level output_format, is not used.
type outputConfig struct {
	Format *outputFormat `json:"format,omitempty"`
}

type outputFormat struct {
	Type   string          `json:"type"`
	Schema json.RawMessage `json:"schema"`
}

// messageResponse is a Message (non-streamed response, or the message of a
// message_start event). Type "error" means the body is an error instead.
type messageResponse struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Model      string          `json:"model"`
	Content    []responseBlock `json:"content"`
	StopReason *string         `json:"stop_reason"`
	Usage      usage           `json:"usage"`
	Error      *apiError       `json:"error"`
}

// responseBlock is a response content block, or the content_block of a
// content_block_start event. Only text, tool_use, thinking and
// redacted_thinking are read.
type responseBlock struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	Thinking  string          `json:"thinking"`
	Signature string          `json:"signature"`
	Data      string          `json:"data"`
}

// usage is Anthropic usage. The fields are pointers because a message_delta
// assigns only the counts it carries (PROTOCOLS.md 4.5).
type usage struct {
	InputTokens              *int64 `json:"input_tokens"`
	OutputTokens             *int64 `json:"output_tokens"`
	CacheCreationInputTokens *int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int64 `json:"cache_read_input_tokens"`
}

// apiError is the error object of an error body or an error stream event.
type apiError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// errorBody is {"type":"error","error":{...},"request_id":...}.
type errorBody struct {
	Error     *apiError `json:"error"`
	RequestID string    `json:"request_id"`
}

// streamEvent is the data of any stream event; which fields are set depends
// on Type.
type streamEvent struct {
	Type         string           `json:"type"`
	Message      *messageResponse `json:"message"`
	Index        int              `json:"index"`
	ContentBlock *responseBlock   `json:"content_block"`
	Delta        *streamDelta     `json:"delta"`
	Usage        *usage           `json:"usage"`
	Error        *apiError        `json:"error"`
}

// streamDelta is the delta of a content_block_delta (Type set) or of a
// message_delta (StopReason set).
type streamDelta struct {
	Type        string  `json:"type"`
	Text        string  `json:"text"`
	PartialJSON string  `json:"partial_json"`
	Thinking    string  `json:"thinking"`
	Signature   string  `json:"signature"`
	StopReason  *string `json:"stop_reason"`
}
