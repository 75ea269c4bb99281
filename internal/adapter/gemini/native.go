package gemini

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
)

// Speaks implements adapter.Native: a Gemini upstream takes the Gemini
// inbound API's requests as they are.
func (a *Adapter) Speaks(p adapter.Protocol) bool { return p == adapter.ProtocolGemini }

// SendNative implements adapter.Native: a generateContent request passes
// through to the entry's model, as :streamGenerateContent?alt=sse when the
// client asked for a stream (whatever framing it asked for: the handler
// frames the events for it), and a countTokens request to :countTokens.
// The body goes as the client sent it, except that a countTokens body's
// generateContentRequest.model names the entry's model and a
// maxOutputTokens above the entry's max_output_tokens is lowered to it.
func (a *Adapter) SendNative(ctx context.Context, req *adapter.NativeRequest) (*adapter.Response, error) {
	resp, err := a.sendNative(ctx, req)
	if err != nil {
		return nil, a.up.RedactError(err)
	}
	return resp, nil
}

func (a *Adapter) sendNative(ctx context.Context, req *adapter.NativeRequest) (*adapter.Response, error) {
	if req.Protocol != adapter.ProtocolGemini {
		return nil, adapter.Errorf(http.StatusBadRequest, openai.TypeInvalidRequest, "unsupported_endpoint",
			"model %q is a Gemini model and cannot take %s requests as they are", a.up.ID, req.Protocol)
	}
	body := a.nativeBody(req)
	h := a.header.Clone()
	if req.RequestID != "" {
		h.Set("X-Request-Id", req.RequestID)
	}
	target := a.generateURL
	switch {
	case req.Op == adapter.NativeCountTokens:
		target = a.countURL
	case req.Stream:
		target = a.streamURL
		h.Set("Accept", "text/event-stream")
	}
	call, err := a.up.Send(ctx, http.MethodPost, target, h, body)
	if err != nil {
		return nil, err
	}
	if !call.OK() {
		return nil, a.nativeError(call)
	}
	if req.Op == adapter.NativeGenerate && req.Stream {
		return &adapter.Response{Stream: newNativeStream(call)}, nil
	}
	raw, err := call.ReadBody()
	if err != nil {
		return nil, err
	}
	if e := gjson.GetBytes(raw, "error"); e.IsObject() {
		return nil, nativeInBandError(call, raw)
	}
	var u usageTotals
	if req.Op == adapter.NativeCountTokens {
		u.prompt = gjson.GetBytes(raw, "totalTokens").Int()
		u.total, u.hasTotal = u.prompt, true
	} else {
		u.updateJSON(gjson.GetBytes(raw, "usageMetadata"))
	}
	return &adapter.Response{Body: raw, Usage: u.adapter()}, nil
}

// nativeBody is the request body for the upstream: the client's body with
// the model span replaced by "models/<entry model>" and the max tokens
// span lowered to the entry's max_output_tokens. The client's body itself
// is left alone, since later attempts send it again.
func (a *Adapter) nativeBody(req *adapter.NativeRequest) []byte {
	type edit struct {
		start, end int
		value      []byte
	}
	var edits []edit
	if req.ModelEnd > req.ModelStart && req.ModelEnd <= len(req.Body) {
		edits = append(edits, edit{req.ModelStart, req.ModelEnd, openai.AppendString(nil, "models/"+a.model)})
	}
	if a.maxOutput > 0 && req.MaxTokens > a.maxOutput && req.MaxTokensEnd > req.MaxTokensStart && req.MaxTokensEnd <= len(req.Body) {
		edits = append(edits, edit{req.MaxTokensStart, req.MaxTokensEnd, strconv.AppendInt(nil, a.maxOutput, 10)})
	}
	if len(edits) == 0 {
		return req.Body
	}
	if len(edits) == 2 && edits[1].start < edits[0].start {
		edits[0], edits[1] = edits[1], edits[0]
	}
	out := make([]byte, 0, len(req.Body)+len(a.model)+16)
	pos := 0
	for _, e := range edits {
		if e.start < pos { // overlapping spans: a broken request; send it as it came
			return req.Body
		}
		out = append(out, req.Body[pos:e.start]...)
		out = append(out, e.value...)
		pos = e.end
	}
	return append(out, req.Body[pos:]...)
}

// nativeError is an upstream error for a native request: Err for clients
// of other protocols, and the Google body itself (redacted by
// ReadErrorBody) for the Gemini client. A key Gemini rejected is the
// gateway's key, not the client's: that error goes out as the gateway's
// own 401, without Gemini's "API key not valid", which would send the
// client looking at its own key.
func (a *Adapter) nativeError(call *adapter.Call) error {
	status := call.Resp.StatusCode
	retry := call.RetryHeaders()
	body := call.ReadErrorBody()
	e := ConvertError(status, body)
	e.Header = retry
	if e.Status == status {
		e.Body, e.BodyProtocol = googleErrorBody(body), adapter.ProtocolGemini
	}
	return e
}

// googleErrorBody returns the Google error object in body ({"error":...},
// also when wrapped in an array), or nil when body is not one.
func googleErrorBody(body []byte) []byte {
	b := bytes.TrimSpace(body)
	if len(b) > 0 && b[0] == '[' {
		b = []byte(gjson.GetBytes(b, "0").Raw)
	}
	if !gjson.GetBytes(b, "error").IsObject() {
		return nil
	}
	return b
}

// nativeInBandError is a Google error inside a 200 answer or a stream
// event, redacted, with the Google body kept for the Gemini client.
func nativeInBandError(call *adapter.Call, data []byte) *adapter.Error {
	data = call.Redact(data)
	e := inBandError(int(gjson.GetBytes(googleErrorBody(data), "error.code").Int()), data)
	if body := googleErrorBody(data); body != nil {
		e.Body, e.BodyProtocol = body, adapter.ProtocolGemini
	}
	return e
}

// updateJSON is update for a usageMetadata read with gjson.
func (u *usageTotals) updateJSON(m gjson.Result) {
	if !m.IsObject() {
		return
	}
	m.ForEach(func(k, v gjson.Result) bool {
		if v.Type != gjson.Number {
			return true
		}
		switch k.String() {
		case "promptTokenCount":
			u.prompt, u.hasPrompt = v.Int(), true
		case "candidatesTokenCount":
			u.candidates, u.hasCandidates = v.Int(), true
		case "thoughtsTokenCount":
			u.thoughts = v.Int()
		case "cachedContentTokenCount":
			u.cached = v.Int()
		case "totalTokenCount":
			u.total, u.hasTotal = v.Int(), true
		}
		return true
	})
}

// CountChatTokens counts the input tokens of a Chat Completions body with
// Gemini's countTokens, for a count request of another inbound API
// (/v1/messages/count_tokens) routed to this Gemini model. The body is
// converted as Send converts it (parameters Gemini cannot take are dropped
// rather than refused: they do not change the count) and sent as
// countTokens' generateContentRequest, so that the system instruction and
// the tools are counted too.
func (a *Adapter) CountChatTokens(ctx context.Context, chatBody []byte) (int64, error) {
	n, err := a.countChatTokens(ctx, chatBody)
	if err != nil {
		return 0, a.up.RedactError(err)
	}
	return n, nil
}

func (a *Adapter) countChatTokens(ctx context.Context, chatBody []byte) (int64, error) {
	creq, perr := openai.DecodeChatRequest(chatBody)
	if perr != nil {
		return 0, &adapter.Error{Status: http.StatusBadRequest, Err: *perr}
	}
	creq.Stream = false
	opts := RequestOptions{Params: &adapter.Unsupported{Drop: true}}
	if a.images != nil {
		q := &imageQuota{f: a.images}
		opts.FetchImage = func(u string) (string, string, error) { return q.fetch(ctx, u) }
	}
	gen, err := ConvertRequest(creq, opts)
	if err != nil {
		return 0, err
	}
	body := make([]byte, 0, len(gen)+len(a.model)+64)
	body = append(body, `{"generateContentRequest":{"model":`...)
	body = openai.AppendString(body, "models/"+a.model)
	if len(gen) > 2 {
		body = append(body, ',')
		body = append(body, gen[1:]...)
	} else {
		body = append(body, '}')
	}
	body = append(body, '}')
	call, err := a.up.Send(ctx, http.MethodPost, a.countURL, a.header, body)
	if err != nil {
		return 0, err
	}
	if !call.OK() {
		return 0, a.upstreamError(call)
	}
	raw, err := call.ReadBody()
	if err != nil {
		return 0, err
	}
	total := gjson.GetBytes(raw, "totalTokens")
	if total.Type != gjson.Number {
		return 0, badUpstream(fmt.Errorf("countTokens answer without totalTokens: %s", snippet(raw)), "Gemini sent a countTokens answer without totalTokens")
	}
	return total.Int(), nil
}

var _ adapter.Native = (*Adapter)(nil)
