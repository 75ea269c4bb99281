package gemini

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
	"aigateway/internal/redact"
)

// Options configure an Adapter. Zero values mean the documented defaults.
type Options struct {
	ID      string // model id clients use, for messages
	BaseURL string // e.g. https://generativelanguage.googleapis.com (a trailing /v1beta or /v1 is kept); a query is kept
	APIKey  string // sent as x-goog-api-key, unless Headers carry their own credential (adapter.SetsCredential)
	Model   string // upstream model name
	// Temperature and MaxTokens are defaults for requests that do not set them.
	Temperature *float64
	MaxTokens   *int
	// MaxOutputTokens is the entry's max_output_tokens: a native request's
	// larger generationConfig.maxOutputTokens is lowered to it. 0: no cap.
	MaxOutputTokens int64
	Headers         map[string]string // extra upstream headers
	// Secrets are other values (from ENV: headers) to keep out of error
	// messages, like the API key.
	Secrets []string
	// FetchImages lets the gateway download http(s) image URLs, which
	// Gemini cannot take, as Fetch configures.
	FetchImages bool
	Fetch       FetchOptions
	Timeout     time.Duration
	// Timeouts refine Timeout per phase (connect, first byte, idle, total).
	Timeouts  adapter.Timeouts
	Transport http.RoundTripper
	// DropParams drops the request parameters Gemini cannot carry, instead
	// of refusing the request (see adapter.Unsupported), and logs their
	// names at debug level to Logger (nil means slog.Default()).
	DropParams bool
	Logger     *slog.Logger
}

// Adapter serves OpenAI chat and embeddings requests from the Gemini API.
type Adapter struct {
	up          adapter.Upstream
	generateURL string // the model's generateContent, streamGenerateContent and batchEmbedContents
	streamURL   string
	embedURL    string
	countURL    string
	header      http.Header
	model       string
	temperature *float64
	maxTokens   *int
	maxOutput   int64    // 0: no cap on a native request's maxOutputTokens
	images      *fetcher // nil: image URLs are refused
	dropParams  bool
	log         *slog.Logger
}

// New returns an Adapter.
func New(o Options) *Adapter {
	root, query := adapter.CutQuery(o.BaseURL)
	if !strings.HasSuffix(root, "/v1beta") && !strings.HasSuffix(root, "/v1") {
		root += "/v1beta"
	}
	versioned := root + query
	methodURL := func(method string) string {
		return adapter.JoinURL(versioned, "/models/"+url.PathEscape(o.Model)+":"+method)
	}
	a := &Adapter{
		up:          adapter.Upstream{ID: o.ID, Transport: o.Transport, Timeout: o.Timeout, Timeouts: o.Timeouts},
		generateURL: methodURL("generateContent"),
		streamURL:   methodURL("streamGenerateContent?alt=sse"),
		embedURL:    methodURL("batchEmbedContents"),
		countURL:    methodURL("countTokens"),
		model:       o.Model,
		temperature: o.Temperature,
		maxTokens:   o.MaxTokens,
		maxOutput:   o.MaxOutputTokens,
		header:      http.Header{"Content-Type": {"application/json"}},
		dropParams:  o.DropParams,
		log:         o.Logger,
	}
	if o.APIKey != "" && !adapter.SetsCredential(o.Headers) {
		a.header.Set("X-Goog-Api-Key", o.APIKey)
	}
	for k, v := range o.Headers {
		a.header.Set(k, v)
	}
	a.up.Redactor = redact.New(append([]string{o.APIKey}, o.Secrets...)...)
	if o.FetchImages {
		a.images = newFetcher(o.Fetch)
	}
	return a
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
	switch req.Op {
	case adapter.OpEmbedding:
		return a.embed(ctx, req)
	case adapter.OpChat:
	default:
		return nil, adapter.Errorf(http.StatusBadRequest, openai.TypeInvalidRequest, "unsupported_endpoint",
			"model %q is a Gemini model and supports only /v1/chat/completions and /v1/embeddings", a.up.ID)
	}
	creq, perr := openai.DecodeChatRequest(req.Body)
	if perr != nil {
		return nil, &adapter.Error{Status: http.StatusBadRequest, Err: *perr}
	}
	if creq.Temperature == nil {
		creq.Temperature = a.temperature
	}
	if creq.MaxOutputTokens() == nil && a.maxTokens != nil {
		n := int64(*a.maxTokens)
		creq.MaxTokens = &n
	}
	// Image downloads run under the request's context; canceling the
	// request cancels them. The quota counts this request's downloads.
	params := adapter.Unsupported{Drop: a.dropParams}
	opts := RequestOptions{Params: &params}
	if a.images != nil {
		q := &imageQuota{f: a.images}
		opts.FetchImage = func(u string) (string, string, error) { return q.fetch(ctx, u) }
	}
	body, err := ConvertRequest(creq, opts)
	if err != nil {
		return nil, err
	}
	params.LogDropped(ctx, a.log, a.up.ID, req.RequestID)
	h := a.header.Clone()
	target := a.generateURL
	if creq.Stream {
		h.Set("Accept", "text/event-stream")
		target = a.streamURL
	}
	if req.RequestID != "" {
		h.Set("X-Request-Id", req.RequestID)
	}
	call, err := a.up.Send(ctx, http.MethodPost, target, h, body)
	if err != nil {
		return nil, err
	}
	if !call.OK() {
		return nil, a.upstreamError(call)
	}
	created := time.Now().Unix()
	if creq.Stream && strings.HasPrefix(call.Resp.Header.Get("Content-Type"), "text/event-stream") {
		return &adapter.Response{Stream: adapter.NewTranslatedStream(call, NewTranslatorOptions(TranslatorOptions{
			Model: a.model, IncludeUsage: creq.IncludeUsage(), Created: created, Reasoning: reasoningAsked(creq), PromptBytes: len(body)}))}, nil
	}
	raw, err := call.ReadBody()
	if err != nil {
		return nil, err
	}
	out, usage, err := convertResponse(raw, a.model, created, reasoningAsked(creq))
	if err != nil {
		return nil, err
	}
	return &adapter.Response{Body: out, Usage: usage}, nil
}

func (a *Adapter) embed(ctx context.Context, req *adapter.Request) (*adapter.Response, error) {
	body, base64Output, err := ConvertEmbeddingsRequest(req.Body, a.model)
	if err != nil {
		return nil, err
	}
	call, err := a.up.Send(ctx, http.MethodPost, a.embedURL, a.header, body)
	if err != nil {
		return nil, err
	}
	if !call.OK() {
		return nil, a.upstreamError(call)
	}
	raw, err := call.ReadBody()
	if err != nil {
		return nil, err
	}
	out, usage, err := ConvertEmbeddingsResponse(raw, req.Fields.Model, base64Output)
	if err != nil {
		return nil, err
	}
	return &adapter.Response{Body: out, Usage: usage}, nil
}

func (a *Adapter) upstreamError(call *adapter.Call) error {
	status := call.Resp.StatusCode
	retry := call.RetryHeaders()
	e := ConvertError(status, call.ReadErrorBody())
	e.Header = retry
	if e.Cause == nil {
		e.Cause = fmt.Errorf("upstream answered HTTP %d", status)
	}
	return e
}

var _ adapter.Adapter = (*Adapter)(nil)
