package openaicompat

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
	"aigateway/internal/sse"
)

// Speaks implements adapter.Native: an entry with "responses": "native"
// takes Responses requests as they are, at {base_url}/responses.
func (a *Adapter) Speaks(p adapter.Protocol) bool {
	return p == adapter.ProtocolResponses && a.nativeResponses
}

// SendNative implements adapter.Native for the Responses API: the client's
// body goes to {base_url}/responses with its model rewritten (and
// max_output_tokens lowered to the entry's max_output_tokens), and the
// answer comes back as it is, event by event for a stream.
func (a *Adapter) SendNative(ctx context.Context, req *adapter.NativeRequest) (*adapter.Response, error) {
	resp, err := a.sendNative(ctx, req)
	if err != nil {
		return nil, a.up.RedactError(err)
	}
	return resp, nil
}

func (a *Adapter) sendNative(ctx context.Context, req *adapter.NativeRequest) (*adapter.Response, error) {
	if !a.Speaks(req.Protocol) || req.Op != adapter.NativeGenerate {
		return nil, adapter.Errorf(http.StatusBadRequest, openai.TypeInvalidRequest, "unsupported_protocol",
			"model %q does not serve %s requests natively", a.up.ID, req.Protocol)
	}
	body := a.patchNative(req)
	h := make(http.Header, len(a.header)+2)
	for k, v := range a.header {
		h[k] = v
	}
	if req.Stream {
		h["Accept"] = acceptSSE
	} else {
		h["Accept"] = acceptJSON
	}
	if req.RequestID != "" {
		h["X-Request-Id"] = []string{req.RequestID}
	}
	call, err := a.up.Send(ctx, http.MethodPost, a.responsesURL, h, body)
	if err != nil {
		return nil, err
	}
	if !call.OK() {
		err := a.upstreamError(call)
		if e, ok := err.(*adapter.Error); ok && e.Body != nil {
			e.BodyProtocol = adapter.ProtocolResponses
		}
		return nil, err
	}
	if req.Stream && isEventStream(call.Resp.Header.Get("Content-Type")) {
		return &adapter.Response{Stream: newResponsesStream(call, a.up.MaxResponse())}, nil
	}
	buf, err := call.ReadBody()
	if err != nil {
		return nil, err
	}
	if err := checkAnswer(buf); err != nil {
		return nil, a.invalidAnswer(call, buf, err)
	}
	return &adapter.Response{Body: buf, Usage: responsesUsage(gjson.GetBytes(buf, "usage"))}, nil
}

// patchNative returns the body with the upstream's model name and the
// output token cap applied, copying only when something changes: the
// client's body is sent again by later attempts.
func (a *Adapter) patchNative(req *adapter.NativeRequest) []byte {
	return req.Rewrite(a.modelJSON, a.maxOutputTokens)
}

// responsesUsage reads a Responses usage object.
func responsesUsage(u gjson.Result) adapter.Usage {
	if !u.IsObject() {
		return adapter.Usage{}
	}
	return adapter.Usage{
		PromptTokens:     u.Get("input_tokens").Int(),
		CompletionTokens: u.Get("output_tokens").Int(),
		TotalTokens:      u.Get("total_tokens").Int(),
		CachedTokens:     u.Get("input_tokens_details.cached_tokens").Int(),
		ReasoningTokens:  u.Get("output_tokens_details.reasoning_tokens").Int(),
	}
}

// responsesStream relays a Responses event stream event by event, names
// included. The stream has no [DONE]: its terminal event
// (response.completed, .incomplete or .failed) ends it, and an EOF before
// one is a cut stream. Nothing is read after the terminal event: a client
// such as Codex hangs up as soon as it has it, and waiting for the
// upstream's EOF would turn a finished answer into a client that left.
type responsesStream struct {
	call     *adapter.Call
	r        *sse.Reader
	usage    adapter.Usage
	terminal bool
}

func newResponsesStream(call *adapter.Call, maxEvent int) *responsesStream {
	r := sse.NewReader(call.Body(), maxEvent)
	r.ReturnComments()
	return &responsesStream{call: call, r: r}
}

func (s *responsesStream) Next() (adapter.Chunk, error) {
	if s.terminal {
		s.call.Finished()
		return adapter.Chunk{}, io.EOF
	}
	ev, err := s.r.Next()
	if err != nil {
		if err == io.EOF {
			err = fmt.Errorf("the upstream ended the stream before response.completed: %w", io.ErrUnexpectedEOF)
		}
		return adapter.Chunk{}, s.call.StreamError(err)
	}
	if ev.Comment {
		return adapter.Chunk{Data: ev.Data, Comment: true}, nil
	}
	switch string(ev.Name) {
	case "response.completed", "response.incomplete", "response.failed":
		s.terminal = true
		s.usage = responsesUsage(gjson.GetBytes(ev.Data, "response.usage"))
		if string(ev.Name) == "response.failed" {
			return adapter.Chunk{Event: ev.Name, Data: s.call.Redact(ev.Data)}, nil
		}
	case "error":
		return adapter.Chunk{Event: ev.Name, Data: s.call.Redact(ev.Data)}, nil
	}
	return adapter.Chunk{Event: ev.Name, Data: ev.Data}, nil
}

func (s *responsesStream) Buffered() bool { return !s.terminal && s.r.Buffered() }

func (s *responsesStream) Usage() adapter.Usage { return s.usage }

func (s *responsesStream) Close() error { return s.call.Close() }

var (
	_ adapter.Native = (*Adapter)(nil)
	_ adapter.Stream = (*responsesStream)(nil)
)
