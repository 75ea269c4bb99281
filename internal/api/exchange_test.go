package api_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/api"
	"aigateway/internal/inbound"
	"aigateway/internal/mockllm"
)

// echoDialect is an inbound API made up for testing the plumbing apart from
// the real converters: a request {"model", "stream", "text", "mock"}
// becomes one user message; the answer is {"echo": text}, a stream is one
// "text" event per content delta and an "end" event; errors are
// {"kind":"error","status","type","message"}.
type echoDialect struct{ protocol adapter.Protocol }

type echoRequest struct {
	ModelID   string          `json:"model"`
	IsStream  bool            `json:"stream"`
	Text      string          `json:"text"`
	Mock      json.RawMessage `json:"mock,omitempty"`
	estimated int64
}

func (d echoDialect) Protocol() adapter.Protocol { return d.protocol }

func (d echoDialect) Parse(body []byte, r *http.Request) (inbound.Request, error) {
	var req echoRequest
	if err := json.Unmarshal(body, &req); err != nil || req.ModelID == "" {
		return nil, &inbound.Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Message: "not an echo request"}
	}
	if strings.HasSuffix(r.URL.Path, ":streamGenerateContent") {
		req.IsStream = true
	}
	req.estimated = int64(len(req.Text))
	return &req, nil
}

func (d echoDialect) ParseCount(body []byte, r *http.Request) (inbound.Request, error) {
	return d.Parse(body, r)
}

func (d echoDialect) CountAnswer(n int64) []byte {
	return []byte(`{"tokens":` + strconv.FormatInt(n, 10) + `}`)
}

func (d echoDialect) WriteError(w http.ResponseWriter, e *inbound.Error) {
	b, _ := json.Marshal(map[string]any{"kind": "error", "status": e.Status, "type": e.Type, "message": e.Message})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	w.Write(b)
}

func (d echoDialect) StreamError(e *inbound.Error) []adapter.Chunk {
	b, _ := json.Marshal(map[string]any{"kind": "error", "status": e.Status, "message": e.Message})
	return []adapter.Chunk{{Event: []byte("error"), Data: b}}
}

func (d echoDialect) StreamEnd() []byte { return nil }

func (r *echoRequest) Model() string                  { return r.ModelID }
func (r *echoRequest) Stream() bool                   { return r.IsStream }
func (r *echoRequest) Native() *adapter.NativeRequest { return &adapter.NativeRequest{} }
func (r *echoRequest) EstimateInputTokens() int64     { return r.estimated }

func (r *echoRequest) Chat(t inbound.Target) ([]byte, error) {
	m := map[string]any{"model": r.ModelID, "stream": r.IsStream, "messages": []any{map[string]any{"role": "user", "content": r.Text}}}
	if r.Mock != nil {
		m["mock"] = r.Mock
	}
	return json.Marshal(m)
}

func (r *echoRequest) Response(t inbound.Target, chat []byte) ([]byte, error) {
	return json.Marshal(map[string]string{"echo": gjson.GetBytes(chat, "choices.0.message.content").String()})
}

func (r *echoRequest) NewStream(t inbound.Target) inbound.Stream { return &echoStream{} }

type echoStream struct{ usage adapter.Usage }

func (s *echoStream) Chunk(data []byte) ([]adapter.Chunk, error) {
	c := gjson.GetBytes(data, "choices.0.delta.content")
	if c.String() == "" {
		return nil, nil
	}
	b, _ := json.Marshal(map[string]string{"t": c.String()})
	return []adapter.Chunk{{Event: []byte("text"), Data: b}}, nil
}

func (s *echoStream) End() []adapter.Chunk {
	return []adapter.Chunk{{Event: []byte("end"), Data: []byte(`{}`)}}
}

func (s *echoStream) Usage() adapter.Usage { return s.usage }

func echoGateway(t *testing.T, o gatewayOptions) *gateway {
	d := echoDialect{protocol: adapter.ProtocolMessages}
	g := echoDialect{protocol: adapter.ProtocolGemini}
	o.dialects = &api.Dialects{Messages: d, Gemini: g}
	return startGateway(t, o)
}

// A request of an inbound API is converted to chat completions for an
// openai_compat deployment, and the answer converted back, stream or not.
func TestInboundConvertsForChatUpstreams(t *testing.T) {
	g := echoGateway(t, gatewayOptions{})
	status, h, body := g.post(t, "/v1/messages", `{"model":"chat","text":"hello there"}`)
	if status != http.StatusOK || gjson.Get(body, "echo").String() != "w0 w1 w2 " {
		t.Fatalf("status %d, body %s", status, body)
	}
	if h.Get("X-Aigateway-Deployment") != "models[0]" {
		t.Errorf("route headers missing: %v", h)
	}
	up := g.lastUpstream(t)
	if got := gjson.GetBytes(up.Body, "messages.0.content").String(); got != "hello there" || gjson.GetBytes(up.Body, "model").String() != "mock-model" {
		t.Errorf("upstream got %s", up.Body)
	}

	status, h, body = g.post(t, "/v1/messages", `{"model":"chat","text":"hi","stream":true}`)
	want := "event: text\ndata: {\"t\":\"w0 \"}\n\nevent: text\ndata: {\"t\":\"w1 \"}\n\nevent: text\ndata: {\"t\":\"w2 \"}\n\nevent: end\ndata: {}\n\n"
	if status != http.StatusOK || body != want || h.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: status %d %q, body\n%q\nwant\n%q", status, h.Get("Content-Type"), body, want)
	}
	if !strings.Contains(g.logs.String(), `path=/v1/messages`) {
		t.Errorf("no access log line for /v1/messages:\n%s", g.logs.String())
	}
}

// Errors take the dialect's shape: the gateway's own (unknown model, bad
// body) and an upstream's, even when the upstream's body is OpenAI's.
func TestInboundErrorsInTheDialectsShape(t *testing.T) {
	g := echoGateway(t, gatewayOptions{})
	for _, c := range []struct {
		name, body string
		status     int
	}{
		{"unknown model", `{"model":"nope","text":"x"}`, http.StatusNotFound},
		{"unparsable", `[1,2]`, http.StatusBadRequest},
		{"upstream 400", `{"model":"chat","text":"x","mock":{"status":400,"error_message":"bad thing"}}`, http.StatusBadRequest},
		{"upstream 503, retried to the end", `{"model":"chat","text":"x","mock":{"status":503}}`, http.StatusServiceUnavailable},
	} {
		status, _, body := g.post(t, "/v1/messages", c.body)
		if status != c.status || gjson.Get(body, "kind").String() != "error" || gjson.Get(body, "status").Int() != int64(c.status) {
			t.Errorf("%s: status %d, body %s", c.name, status, body)
		}
	}
	// A stream that breaks after it started ends with the dialect's error event.
	status, _, body := g.post(t, "/v1/messages", `{"model":"chat","text":"x","stream":true,"mock":{"cut_after":1}}`)
	if status != http.StatusOK || !strings.Contains(body, "event: error\ndata: {\"kind\":\"error\"") || strings.Contains(body, "[DONE]") {
		t.Errorf("cut stream: status %d, body %q", status, body)
	}
}

// Retries and fallbacks apply to inbound requests as to chat completions:
// the first deployment fails every time, its fallback (another mock) answers.
func TestInboundFallsBack(t *testing.T) {
	g := echoGateway(t, gatewayOptions{
		chatDefaults: `"retries": 0, "fallbacks": ["backup"],`,
		mock:         mockllm.Options{Script: func(_ int64, _ *http.Request, d *mockllm.Directive) { d.Status = 503 }},
		extraModels:  `{"id": "backup", "adapter": "openai_compat", "base_url": "MOCK1/v1", "api_key": "` + upstreamKey + `", "model": "backup-model"}`,
		extraMocks:   []mockllm.Options{{}},
	})
	status, h, body := g.post(t, "/v1/messages", `{"model":"chat","text":"x","stream":true}`)
	if status != http.StatusOK || !strings.HasSuffix(body, "event: end\ndata: {}\n\n") {
		t.Fatalf("status %d, body %q", status, body)
	}
	if h.Get("X-Aigateway-Model") != "backup" || h.Get("X-Aigateway-Attempts") != "2" {
		t.Errorf("route headers: %v", h)
	}
}

// Gemini's streamGenerateContent without alt=sse answers a JSON array,
// element by element; with alt=sse, SSE.
func TestInboundJSONArrayStream(t *testing.T) {
	g := echoGateway(t, gatewayOptions{})
	status, h, body := g.post(t, "/v1beta/models/chat:streamGenerateContent", `{"model":"chat","text":"x"}`)
	if status != http.StatusOK || h.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d %q, body %q", status, h.Get("Content-Type"), body)
	}
	var elems []map[string]string
	if err := json.Unmarshal([]byte(body), &elems); err != nil || len(elems) != 4 || elems[0]["t"] != "w0 " {
		t.Fatalf("not the JSON array of 4 elements: %v %q", err, body)
	}
	status, h, body = g.post(t, "/v1beta/models/chat:streamGenerateContent?alt=sse", `{"model":"chat","text":"x"}`)
	if status != http.StatusOK || h.Get("Content-Type") != "text/event-stream" || !strings.HasPrefix(body, "event: text\ndata: ") {
		t.Fatalf("alt=sse: status %d %q, body %q", status, h.Get("Content-Type"), body)
	}
	// A cut stream still closes the array, with the error as its last element.
	_, _, body = g.post(t, "/v1beta/models/chat:streamGenerateContent", `{"model":"chat","text":"x","mock":{"cut_after":1}}`)
	var cut []map[string]any
	if err := json.Unmarshal([]byte(body), &cut); err != nil || cut[len(cut)-1]["kind"] != "error" {
		t.Fatalf("cut array stream: %v %q", err, body)
	}
}

// A count request for a deployment without a counter of its own is the
// dialect's estimate, made without asking the upstream.
func TestInboundCountEstimate(t *testing.T) {
	g := echoGateway(t, gatewayOptions{})
	status, _, body := g.post(t, "/v1/messages/count_tokens", `{"model":"chat","text":"twelve bytes"}`)
	if status != http.StatusOK || body != `{"tokens":12}` {
		t.Fatalf("status %d, body %s", status, body)
	}
	if n := len(g.mock.Requests()); n != 0 {
		t.Errorf("the upstream got %d requests", n)
	}
	status, _, body = g.post(t, "/v1beta/models/chat:countTokens", `{"model":"chat","text":"abc"}`)
	if status != http.StatusOK || body != `{"tokens":3}` {
		t.Fatalf("gemini count: status %d, body %s", status, body)
	}
}
