package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/inbound"
	"aigateway/internal/openai"
	"aigateway/internal/registry"
	"aigateway/internal/sse"
)

// exchange is one inference request on its way through its attempts: what
// is sent to each deployment, and how the answer reaches the client. A
// chat completions (or completions, embeddings) request goes to every
// deployment as it came. A request of an inbound API (Anthropic Messages,
// Responses, Gemini) passes through to a deployment that speaks its
// protocol (adapter.Native) and is converted to chat completions for any
// other, with the answer converted back.
type exchange struct {
	model  string
	stream bool
	// chat is the request of the OpenAI endpoints.
	chat *adapter.Request
	// in is the request of an inbound API, protocol its protocol.
	in       inbound.Request
	protocol adapter.Protocol
	// counter is set for a count-tokens request.
	counter inbound.Counter
	// jsonArray streams the answer as a JSON array rather than SSE
	// (Gemini's streamGenerateContent without alt=sse).
	jsonArray bool
	requestID string
	// log receives a line for tools a conversion leaves out.
	log *slog.Logger

	// local is set by sendTo when the gateway answered without asking
	// the upstream (an estimated token count).
	local bool
	// target and converted cache the last conversion: attempts on
	// deployments of one kind share it.
	target    inbound.Target
	converted *adapter.Request
	// conv converts the stream of the last attempt, which is the one
	// relayed; nil when it passed through.
	conv inbound.Stream
}

// chatCounter is an adapter that counts the input tokens of a chat
// completions request with its upstream's own counter (Gemini's
// countTokens).
type chatCounter interface {
	CountChatTokens(ctx context.Context, chatBody []byte) (int64, error)
}

// sendTo makes one attempt on d.
func (x *exchange) sendTo(ctx context.Context, d *registry.Deployment) (*adapter.Response, error) {
	x.local, x.conv = false, nil
	if x.in == nil {
		return d.Adapter.Send(ctx, x.chat)
	}
	if n, ok := d.Adapter.(adapter.Native); ok && n.Speaks(x.protocol) {
		nr := x.in.Native()
		nr.Protocol, nr.RequestID = x.protocol, x.requestID
		if x.counter != nil {
			nr.Op, nr.Stream = adapter.NativeCountTokens, false
		}
		return n.SendNative(ctx, nr)
	}
	t := inbound.Target{Upstream: d.Protocol, Deployment: d.Label, MaxOutputTokens: d.MaxOutputTokens}
	if x.counter != nil {
		return x.count(ctx, d, t)
	}
	req, err := x.convert(t)
	if err != nil {
		return nil, err
	}
	resp, err := d.Adapter.Send(ctx, req)
	if err != nil {
		return nil, err
	}
	if resp.Stream != nil {
		x.conv = x.in.NewStream(t)
		resp.Stream = &convertedStream{Stream: resp.Stream, conv: x.conv}
		return resp, nil
	}
	body, err := x.in.Response(t, resp.Body)
	if err != nil {
		return nil, &adapter.Error{Status: http.StatusBadGateway, Fault: adapter.FaultFinal, Cause: fmt.Errorf("converting the answer: %w", err),
			Err: openai.Error{Type: openai.TypeUpstream, Code: "upstream_invalid_response", Message: "the upstream's answer could not be converted"}}
	}
	resp.Body = body
	return resp, nil
}

// convert returns the chat completions request for target t.
func (x *exchange) convert(t inbound.Target) (*adapter.Request, error) {
	if x.converted != nil && x.target == t {
		return x.converted, nil
	}
	body, err := x.in.Chat(t)
	if err != nil {
		return nil, clientError(err)
	}
	f, perr := openai.Peek(body)
	if perr != nil { // the converter wrote something the gateway cannot read: a bug
		return nil, fmt.Errorf("converting a %s request: the chat completions body is invalid: %s", x.protocol, perr.Message)
	}
	x.target, x.converted = t, &adapter.Request{Op: adapter.OpChat, Body: body, Fields: f, RequestID: x.requestID}
	if d, ok := x.in.(inbound.ToolDropper); ok && x.log != nil {
		if names := d.DroppedTools(t); len(names) > 0 {
			x.log.Info("tools left out: the upstream cannot run them", "request_id", x.requestID, "deployment", t.Deployment, "tools", names)
		}
	}
	return x.converted, nil
}

// count answers a count-tokens request for a deployment that does not
// speak the client's protocol: its upstream's own count when the adapter
// has one, else the converter's estimate.
func (x *exchange) count(ctx context.Context, d *registry.Deployment, t inbound.Target) (*adapter.Response, error) {
	if c, ok := d.Adapter.(chatCounter); ok {
		req, err := x.convert(t)
		if err != nil {
			return nil, err
		}
		n, err := c.CountChatTokens(ctx, req.Body)
		if err != nil {
			return nil, err
		}
		return &adapter.Response{Body: x.counter.CountAnswer(n)}, nil
	}
	x.local = true
	var n int64
	if e, ok := x.in.(inbound.Estimator); ok {
		n = e.EstimateInputTokens()
	}
	return &adapter.Response{Body: x.counter.CountAnswer(n)}, nil
}

// clientError turns a converter's refusal into the error the client sees.
func clientError(err error) error {
	var ie *inbound.Error
	if !errors.As(err, &ie) {
		return err
	}
	status := ie.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	typ := ie.Type
	if typ == "" {
		typ = openai.TypeInvalidRequest
	}
	return &adapter.Error{Status: status, Fault: adapter.FaultFinal, Err: openai.Error{Type: typ, Code: ie.Code, Param: ie.Param, Message: ie.Message}}
}

// convertedStream converts a chat completions stream into the client's
// events as they come. Comments pass as they are.
type convertedStream struct {
	adapter.Stream
	conv  inbound.Stream
	queue []adapter.Chunk
	ended bool // the upstream stream ended properly; queue holds the last events
}

// errorMember marks an in-band error in a chat stream ({"error": {...}}),
// which an openai_compat upstream may send after a 200.
var errorMember = []byte(`"error"`)

func (c *convertedStream) Next() (adapter.Chunk, error) {
	for len(c.queue) == 0 {
		if c.ended {
			return adapter.Chunk{}, io.EOF
		}
		ch, err := c.Stream.Next()
		switch {
		case err == io.EOF:
			c.ended, c.queue = true, c.conv.End()
			continue
		case err != nil:
			return ch, err
		case ch.Comment:
			return ch, nil
		}
		if bytes.Contains(ch.Data, errorMember) {
			if e := gjson.GetBytes(ch.Data, "error"); e.IsObject() && !gjson.GetBytes(ch.Data, "choices").Exists() {
				return adapter.Chunk{}, inBandError(e)
			}
		}
		out, err := c.conv.Chunk(ch.Data)
		if err != nil {
			return adapter.Chunk{}, &adapter.Error{Status: http.StatusBadGateway, Cause: fmt.Errorf("converting a stream chunk: %w", err),
				Err: openai.Error{Type: openai.TypeUpstream, Code: "upstream_invalid_response", Message: "the upstream sent a stream chunk that could not be converted"}}
		}
		c.queue = out
	}
	ch := c.queue[0]
	c.queue = c.queue[1:]
	return ch, nil
}

// inBandError is the error an upstream reported inside its stream.
func inBandError(e gjson.Result) error {
	msg := e.Get("message").String()
	if msg == "" {
		msg = "the upstream reported an error in its stream"
	}
	typ := e.Get("type").String()
	if typ == "" {
		typ = openai.TypeUpstream
	}
	return &adapter.Error{Status: http.StatusBadGateway, Cause: errors.New("in-band stream error"),
		Err: openai.Error{Type: typ, Code: e.Get("code").String(), Message: msg}}
}

func (c *convertedStream) Buffered() bool {
	return len(c.queue) > 0 || c.ended || c.Stream.Buffered()
}

// framing writes a stream in the client's framing: SSE events (with the
// OpenAI [DONE] or the dialect's own end), or the elements of a JSON array.
type framing struct {
	dialect inbound.Dialect
	array   bool
	started bool // array: "[" is written
}

var (
	arrayKeepAlive = []byte("\n")
	arrayNext      = []byte(",\r\n")
)

func (f *framing) contentType() []string {
	if f.array {
		return jsonContentType
	}
	return sseContentType
}

func (f *framing) keepAlive() []byte {
	if f.array {
		return arrayKeepAlive // whitespace is valid JSON between elements
	}
	if k, ok := f.dialect.(inbound.SSEKeepAliver); ok {
		return k.SSEKeepAlive()
	}
	return keepAliveComment
}

func (f *framing) event(dst []byte, c adapter.Chunk) []byte {
	if !f.array {
		return sse.AppendEvent(dst, c.Event, c.Data)
	}
	if f.started {
		dst = append(dst, arrayNext...)
	} else {
		dst, f.started = append(dst, '['), true
	}
	return append(dst, c.Data...)
}

func (f *framing) comment(dst, text []byte) []byte {
	if f.array {
		return append(dst, arrayKeepAlive...)
	}
	if k, ok := f.dialect.(inbound.SSEKeepAliver); ok {
		return append(dst, k.SSEKeepAlive()...)
	}
	return sse.AppendComment(dst, text)
}

func (f *framing) end(dst []byte) []byte {
	switch {
	case f.array:
		if !f.started {
			dst = append(dst, '[')
		}
		return append(dst, ']')
	case f.dialect == nil:
		return append(dst, doneEvent...)
	}
	return append(dst, f.dialect.StreamEnd()...)
}

// failure reports a stream's failure in-band, as its last event: through
// the converter of a converted stream when it can (inbound.StreamFailer),
// else through the dialect.
func (f *framing) failure(dst []byte, conv inbound.Stream, status int, e *openai.Error) []byte {
	if f.dialect == nil {
		return sse.AppendEvent(dst, nil, e.AppendJSON(nil))
	}
	events := func() []adapter.Chunk {
		if sf, ok := conv.(inbound.StreamFailer); ok {
			return sf.Fail(inboundError(status, e))
		}
		return f.dialect.StreamError(inboundError(status, e))
	}
	for _, c := range events() {
		dst = f.event(dst, c)
	}
	if f.array {
		dst = append(dst, ']')
	}
	return dst
}
