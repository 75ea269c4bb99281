package anthropic

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
	"aigateway/internal/redact"
)

// APIVersion is the anthropic-version header the conversion is written
// against.
const APIVersion = "2023-06-01"

// Options configure an Adapter. Zero values mean the documented defaults.
type Options struct {
	ID      string // model id clients use, for messages
	BaseURL string // e.g. https://api.anthropic.com (a trailing /v1 is accepted); a query is kept
	APIKey  string // sent as x-api-key, unless Headers carry their own credential (adapter.SetsCredential)
	Model   string // upstream model name
	// Temperature and MaxTokens are defaults for requests that do not set
	// them; MaxTokens also replaces DefaultMaxTokens, since Anthropic
	// requires max_tokens.
	Temperature *float64
	MaxTokens   *int
	// MaxOutputTokens is the entry's max_output_tokens: a native request's
	// larger max_tokens is lowered to it. Zero means no cap.
	MaxOutputTokens int64
	Headers         map[string]string // extra upstream headers
	// Secrets are other values (from ENV: headers) to keep out of error
	// messages, like the API key.
	Secrets []string
	Timeout time.Duration
	// Timeouts refine Timeout per phase (connect, first byte, idle, total).
	Timeouts  adapter.Timeouts
	Transport http.RoundTripper
	// DropParams drops the request parameters the Messages API cannot
	// carry, instead of refusing the request (see adapter.Unsupported), and
	// logs their names at debug level to Logger (nil means slog.Default()).
	DropParams bool
	Logger     *slog.Logger
}

// Adapter serves OpenAI chat requests from the Anthropic Messages API.
type Adapter struct {
	up          adapter.Upstream
	url         string
	countURL    string // the count_tokens endpoint
	maxOutput   int64  // Options.MaxOutputTokens
	header      http.Header
	model       string
	temperature *float64
	maxTokens   int64
	dropParams  bool
	log         *slog.Logger
}

// New returns an Adapter.
func New(o Options) *Adapter {
	a := &Adapter{
		up:          adapter.Upstream{ID: o.ID, Transport: o.Transport, Timeout: o.Timeout, Timeouts: o.Timeouts},
		url:         messagesURL(o.BaseURL),
		countURL:    countTokensURL(o.BaseURL),
		maxOutput:   o.MaxOutputTokens,
		model:       o.Model,
		temperature: o.Temperature,
		maxTokens:   DefaultMaxTokens,
		dropParams:  o.DropParams,
		log:         o.Logger,
		header: http.Header{
			"Content-Type":      {"application/json"},
			"Anthropic-Version": {APIVersion},
		},
	}
	if o.MaxTokens != nil {
		a.maxTokens = int64(*o.MaxTokens)
	}
	if o.APIKey != "" && !adapter.SetsCredential(o.Headers) {
		a.header.Set("X-Api-Key", o.APIKey)
	}
	for k, v := range o.Headers {
		a.header.Set(k, v)
	}
	a.up.Redactor = redact.New(append([]string{o.APIKey}, o.Secrets...)...)
	return a
}

// messagesURL is the Messages endpoint under base, whose path may or may
// not end with the API version and which may have a query.
func messagesURL(base string) string {
	root, query := adapter.CutQuery(base)
	return adapter.JoinURL(strings.TrimSuffix(root, "/v1")+query, "/v1/messages")
}

// countTokensURL is the count_tokens endpoint under base.
func countTokensURL(base string) string {
	root, query := adapter.CutQuery(base)
	return adapter.JoinURL(strings.TrimSuffix(root, "/v1")+query, "/v1/messages/count_tokens")
}

// Send implements adapter.Adapter. Every error it returns has been
// through the redactor: an error body, and an error inside a 200 response,
// are provider text that may echo the key.
func (a *Adapter) Send(ctx context.Context, req *adapter.Request) (*adapter.Response, error) {
	resp, err := a.send(ctx, req)
	if err != nil {
		return nil, a.up.RedactError(err)
	}
	return resp, nil
}

func (a *Adapter) send(ctx context.Context, req *adapter.Request) (*adapter.Response, error) {
	if req.Op != adapter.OpChat {
		return nil, adapter.Errorf(http.StatusBadRequest, openai.TypeInvalidRequest, "unsupported_endpoint",
			"model %q is an Anthropic model and supports only /v1/chat/completions", a.up.ID)
	}
	creq, perr := openai.DecodeChatRequest(req.Body)
	if perr != nil {
		return nil, &adapter.Error{Status: http.StatusBadRequest, Err: *perr}
	}
	if creq.Temperature == nil {
		creq.Temperature = a.temperature
	}
	params := adapter.Unsupported{Drop: a.dropParams}
	out, e := convertRequest(creq, RequestOptions{Model: a.model, DefaultMaxTokens: a.maxTokens, Params: &params})
	if e != nil {
		return nil, e
	}
	body, err := encodeRequest(out)
	if err != nil {
		return nil, err
	}
	params.LogDropped(ctx, a.log, a.up.ID, req.RequestID)
	if drops := thinkingDrops(creq, out); len(drops) > 0 {
		a.logger().DebugContext(ctx, "dropped sampling parameters that Anthropic refuses with extended thinking",
			"model", a.up.ID, "request_id", req.RequestID, "params", drops)
	}
	reasoning := out.Thinking != nil
	h := a.header.Clone()
	if creq.Stream {
		h.Set("Accept", "text/event-stream")
	}
	if req.RequestID != "" {
		h.Set("X-Request-Id", req.RequestID)
	}
	call, err := a.up.Send(ctx, http.MethodPost, a.url, h, body)
	if err != nil {
		return nil, err
	}
	if !call.OK() {
		status := call.Resp.StatusCode
		retry := call.RetryHeaders()
		e := ConvertError(status, call.ReadErrorBody())
		e.Header = retry
		if e.Cause == nil {
			e.Cause = fmt.Errorf("upstream answered HTTP %d", status)
		}
		return nil, e
	}
	created := time.Now().Unix()
	if creq.Stream && strings.HasPrefix(call.Resp.Header.Get("Content-Type"), "text/event-stream") {
		return &adapter.Response{Stream: adapter.NewTranslatedStream(call, NewTranslatorOptions(TranslatorOptions{IncludeUsage: creq.IncludeUsage(), Created: created, Reasoning: reasoning,
			PromptBytes: len(body)}))}, nil
	}
	raw, err := call.ReadBody()
	if err != nil {
		return nil, err
	}
	resp, usage, err := convertResponse(raw, created, reasoning)
	if err != nil {
		return nil, err
	}
	return &adapter.Response{Body: resp, Usage: usage}, nil
}

func (a *Adapter) logger() *slog.Logger {
	if a.log == nil {
		return slog.Default()
	}
	return a.log
}

var _ adapter.Adapter = (*Adapter)(nil)
