package anthropic

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
	"aigateway/internal/sse"
)

// Speaks implements adapter.Native: the upstream speaks Messages.
func (a *Adapter) Speaks(p adapter.Protocol) bool { return p == adapter.ProtocolMessages }

// SendNative implements adapter.Native: a Messages request (or a
// count_tokens request) passes through with only its model rewritten and
// its max_tokens lowered to the entry's max_output_tokens. Fields the
// gateway has never heard of survive, and so do cache_control, thinking
// blocks and their signatures. The client's anthropic-version (the
// adapter's own when absent) and anthropic-beta go with it: Claude Code
// needs its betas (INBOUND-PITFALLS 6). Errors carry the upstream's own
// Anthropic error body, scrubbed of secrets, for the Messages client, and
// an OpenAI-shaped Err for a client of another protocol.
func (a *Adapter) SendNative(ctx context.Context, req *adapter.NativeRequest) (*adapter.Response, error) {
	resp, err := a.sendNative(ctx, req)
	if err != nil {
		return nil, a.up.RedactError(err)
	}
	return resp, nil
}

func (a *Adapter) sendNative(ctx context.Context, req *adapter.NativeRequest) (*adapter.Response, error) {
	if req.Protocol != adapter.ProtocolMessages {
		return nil, adapter.Errorf(http.StatusBadRequest, openai.TypeInvalidRequest, "unsupported_endpoint",
			"model %q is an Anthropic model and does not speak the %s protocol", a.up.ID, req.Protocol)
	}
	url := a.url
	if req.Op == adapter.NativeCountTokens {
		url = a.countURL
	}
	stream := req.Stream && req.Op == adapter.NativeGenerate
	h := a.header.Clone()
	if v := req.Header.Get("Anthropic-Version"); v != "" {
		h.Set("Anthropic-Version", v)
	}
	if betas := req.Header.Values("Anthropic-Beta"); len(betas) > 0 {
		if own := h.Get("Anthropic-Beta"); own != "" {
			betas = append([]string{own}, betas...)
		}
		h.Set("Anthropic-Beta", strings.Join(betas, ","))
	}
	if stream {
		h.Set("Accept", "text/event-stream")
	}
	if req.RequestID != "" {
		h.Set("X-Request-Id", req.RequestID)
	}
	call, err := a.up.Send(ctx, http.MethodPost, url, h, a.nativeBody(req))
	if err != nil {
		return nil, err
	}
	if !call.OK() {
		status := call.Resp.StatusCode
		retry := call.RetryHeaders()
		return nil, nativeError(status, call.ReadErrorBody(), retry)
	}
	if stream && strings.HasPrefix(call.Resp.Header.Get("Content-Type"), "text/event-stream") {
		r := sse.NewReader(call.Body(), a.up.MaxResponse())
		r.ReturnComments()
		return &adapter.Response{Stream: &nativeStream{call: call, r: r}}, nil
	}
	raw, err := call.ReadBody()
	if err != nil {
		return nil, err
	}
	if gjson.GetBytes(raw, "type").Str == "error" {
		return nil, nativeError(http.StatusOK, raw, nil)
	}
	var u counts
	u.read(gjson.GetBytes(raw, "usage"))
	return &adapter.Response{Body: raw, Usage: u.adapter()}, nil
}

// nativeBody returns the client's body with the upstream model name and
// the capped max_tokens in place; the client's body itself is not modified
// (later attempts send it again).
func (a *Adapter) nativeBody(req *adapter.NativeRequest) []byte {
	return req.Rewrite(openai.QuoteString(a.model), a.maxOutput)
}

// nativeError is the error for an Anthropic error response (or a 200 body
// or stream event of type error, status 200): Err for clients of other
// protocols as ConvertError makes it, Body the upstream's own error body
// when it has the Anthropic shape. Anthropic's 529 stays 529 here: only a
// Messages client sends native requests, and its SDK retries 529.
func nativeError(status int, body []byte, retry http.Header) *adapter.Error {
	e := ConvertError(status, body)
	e.Header = retry
	typ := gjson.GetBytes(body, "error.type").Str
	if status == statusOverloaded || (status == http.StatusOK && typ == "overloaded_error") {
		e.Status = statusOverloaded
	} else if status == http.StatusOK {
		e.Status = statusForType(typ)
	}
	if gjson.GetBytes(body, "type").Str == "error" && typ != "" {
		e.Body, e.BodyProtocol = body, adapter.ProtocolMessages
	}
	if e.Cause == nil {
		e.Cause = fmt.Errorf("upstream answered HTTP %d", status)
	}
	return e
}

// nativeStream relays a Messages stream event by event, with its event
// names, and the upstream's comments; pings pass as events. It tracks the
// usage of message_start and message_delta (assigned, never added:
// PROTOCOLS.md 4.5). An error event ends the stream as an *adapter.Error
// carrying the event's body, scrubbed of secrets.
type nativeStream struct {
	call  *adapter.Call
	r     *sse.Reader
	usage counts
	done  bool // message_stop was relayed
}

var (
	typeMessageStart = []byte(`"message_start"`)
	typeMessageDelta = []byte(`"message_delta"`)
	typeMessageStop  = []byte(`"message_stop"`)
	typeError        = []byte(`"error"`)
)

func (s *nativeStream) Next() (adapter.Chunk, error) {
	if s.done {
		return adapter.Chunk{}, io.EOF
	}
	ev, err := s.r.Next()
	if err != nil {
		return adapter.Chunk{}, s.call.StreamError(err)
	}
	if ev.Comment {
		return adapter.Chunk{Data: ev.Data, Comment: true}, nil
	}
	name := string(ev.Name)
	// The type in the data decides when the event: line is missing, as
	// some compatible servers leave it out.
	switch {
	case name == "error" || (name == "" && bytes.Contains(ev.Data, typeError) && gjson.GetBytes(ev.Data, "type").Str == "error"):
		body := s.call.Redact(ev.Data)
		e := nativeError(http.StatusOK, body, nil)
		e.Cause = fmt.Errorf("anthropic stream error event %s", gjson.GetBytes(body, "error.type").Str)
		return adapter.Chunk{}, e
	case name == "message_start" || (name == "" && bytes.Contains(ev.Data, typeMessageStart)):
		s.usage.read(gjson.GetBytes(ev.Data, "message.usage"))
	case name == "message_delta" || (name == "" && bytes.Contains(ev.Data, typeMessageDelta)):
		s.usage.read(gjson.GetBytes(ev.Data, "usage"))
	case name == "message_stop" || (name == "" && bytes.Contains(ev.Data, typeMessageStop)):
		s.done = true
		s.call.Finished()
	}
	return adapter.Chunk{Event: ev.Name, Data: ev.Data}, nil
}

func (s *nativeStream) Buffered() bool { return !s.done && s.r.Buffered() }

func (s *nativeStream) Usage() adapter.Usage { return s.usage.adapter() }

func (s *nativeStream) Close() error { return s.call.Close() }

var (
	_ adapter.Stream = (*nativeStream)(nil)
	_ adapter.Native = (*Adapter)(nil)
)

// read assigns the counts of a usage object read with gjson (the native
// path does not decode whole events).
func (c *counts) read(u gjson.Result) {
	if !u.IsObject() {
		return
	}
	for _, f := range [...]struct {
		dst *int64
		key string
	}{{&c.input, "input_tokens"}, {&c.output, "output_tokens"}, {&c.cacheWrite, "cache_creation_input_tokens"}, {&c.cacheRead, "cache_read_input_tokens"}} {
		if v := u.Get(f.key); v.Type == gjson.Number {
			*f.dst = v.Int()
		}
	}
}
