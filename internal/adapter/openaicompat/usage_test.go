package openaicompat

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
)

// upstream is an OpenAI-compatible server that answers every request with
// one canned reply and keeps the bodies it got.
type upstream struct {
	contentType string
	reply       string

	mu     sync.Mutex
	bodies []string
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.bodies = append(u.bodies, string(b))
	u.mu.Unlock()
	w.Header().Set("Content-Type", u.contentType)
	io.WriteString(w, u.reply)
}

func (u *upstream) lastBody() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.bodies[len(u.bodies)-1]
}

func serve(t *testing.T, contentType, reply string) (*upstream, string) {
	up := &upstream{contentType: contentType, reply: reply}
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	return up, srv.URL + "/v1"
}

func chatRequest(t *testing.T, body string) *adapter.Request {
	t.Helper()
	f, err := openai.Peek([]byte(body))
	if err != nil {
		t.Fatal(err.Message)
	}
	return &adapter.Request{Op: adapter.OpChat, Body: []byte(body), Fields: f}
}

// drain reads a stream to its end and returns the data of its events and
// the error that ended it (nil for a proper end).
func drain(t *testing.T, st adapter.Stream) ([]string, error) {
	t.Helper()
	var out []string
	for {
		c, err := st.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if !c.Comment {
			out = append(out, string(c.Data))
		}
	}
}

const (
	chunk1     = `{"id":"c1","object":"chat.completion.chunk","model":"up","choices":[{"index":0,"delta":{"role":"assistant","content":"Hello"},"finish_reason":null}]}`
	chunk2     = `{"id":"c1","object":"chat.completion.chunk","model":"up","choices":[{"index":0,"delta":{"content":" world"},"finish_reason":"stop"}]}`
	usageChunk = `{"id":"c1","object":"chat.completion.chunk","model":"up","choices":[],"usage":{"prompt_tokens":30,"completion_tokens":12,"total_tokens":42,"prompt_tokens_details":{"cached_tokens":20},"completion_tokens_details":{"reasoning_tokens":9}}}`
)

func sseBody(events ...string) string {
	var b strings.Builder
	for _, e := range events {
		b.WriteString("data: " + e + "\n\n")
	}
	return b.String()
}

var wantUsage = adapter.Usage{PromptTokens: 30, CompletionTokens: 12, TotalTokens: 42, CachedTokens: 20, ReasoningTokens: 9}

// A client that did not ask for the usage chunk: the gateway asks for it
// upstream, reads it, and keeps it from the client.
func TestStreamAsksForUsageAndHidesIt(t *testing.T) {
	up, base := serve(t, "text/event-stream", sseBody(chunk1, chunk2, usageChunk, "[DONE]"))
	a := New(Options{ID: "m", BaseURL: base, Model: "up"})
	resp, err := a.Send(context.Background(), chatRequest(t, `{"model":"m","stream":true,"stream_options":{"x":1},"messages":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Stream.Close()
	got, err := drain(t, resp.Stream)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != chunk1 || got[1] != chunk2 {
		t.Errorf("client got %q, want the two content chunks only", got)
	}
	if u := resp.Stream.Usage(); u != wantUsage {
		t.Errorf("Usage = %+v, want %+v", u, wantUsage)
	}
	sent := up.lastBody()
	if !gjson.Get(sent, "stream_options.include_usage").Bool() || gjson.Get(sent, "stream_options.x").Int() != 1 {
		t.Errorf("upstream body %s: want stream_options.include_usage true and x kept", sent)
	}
}

// A legacy completions stream asks for its usage like a chat stream, so
// that the ledger counts its real tokens, and hides the usage chunk from a
// client that did not ask for it.
func TestCompletionStreamAsksForUsage(t *testing.T) {
	const (
		text1 = `{"id":"cmpl-1","object":"text_completion","created":1,"model":"up","choices":[{"index":0,"text":"Hello","logprobs":null,"finish_reason":null}]}`
		text2 = `{"id":"cmpl-1","object":"text_completion","created":1,"model":"up","choices":[{"index":0,"text":" there","logprobs":null,"finish_reason":"stop"}]}`
		usage = `{"id":"cmpl-1","object":"text_completion","created":1,"model":"up","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2,"total_tokens":9}}`
	)
	up, base := serve(t, "text/event-stream", sseBody(text1, text2, usage, "[DONE]"))
	a := New(Options{ID: "m", BaseURL: base, Model: "up"})
	req := chatRequest(t, `{"model":"m","prompt":"Say hello","stream":true}`)
	req.Op = adapter.OpCompletion
	resp, err := a.Send(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Stream.Close()
	got, err := drain(t, resp.Stream)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != text1 || got[1] != text2 {
		t.Errorf("client got %q, want the two text chunks only", got)
	}
	if u := resp.Stream.Usage(); u != (adapter.Usage{PromptTokens: 7, CompletionTokens: 2, TotalTokens: 9}) {
		t.Errorf("Usage = %+v, want the upstream's 7 + 2", u)
	}
	if sent := up.lastBody(); !gjson.Get(sent, "stream_options.include_usage").Bool() {
		t.Errorf("upstream body %s: want stream_options.include_usage true", sent)
	}
}

// A client that asked for the usage chunk gets it, and the body goes
// upstream as it was (with the model rewritten).
func TestStreamKeepsUsageTheClientAskedFor(t *testing.T) {
	up, base := serve(t, "text/event-stream", sseBody(chunk1, chunk2, usageChunk, "[DONE]"))
	a := New(Options{ID: "m", BaseURL: base, Model: "up"})
	const body = `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[]}`
	resp, err := a.Send(context.Background(), chatRequest(t, body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Stream.Close()
	got, _ := drain(t, resp.Stream)
	if len(got) != 3 || got[2] != usageChunk {
		t.Errorf("client got %q, want the usage chunk last", got)
	}
	if u := resp.Stream.Usage(); u != wantUsage {
		t.Errorf("Usage = %+v, want %+v", u, wantUsage)
	}
	if sent := up.lastBody(); sent != strings.Replace(body, `"m"`, `"up"`, 1) {
		t.Errorf("upstream body %s", sent)
	}
}

// Usage on a chunk that also has choices is not the extra chunk: the
// client gets it.
func TestStreamKeepsUsageOnAChunkWithChoices(t *testing.T) {
	withUsage := strings.Replace(chunk2, `"finish_reason":"stop"}]`, `"finish_reason":"stop"}],"usage":{"prompt_tokens":30,"completion_tokens":12,"total_tokens":42}`, 1)
	_, base := serve(t, "text/event-stream", sseBody(chunk1, withUsage, "[DONE]"))
	a := New(Options{ID: "m", BaseURL: base, Model: "up"})
	resp, err := a.Send(context.Background(), chatRequest(t, `{"model":"m","stream":true,"messages":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Stream.Close()
	got, _ := drain(t, resp.Stream)
	if len(got) != 2 || got[1] != withUsage {
		t.Errorf("client got %q", got)
	}
	if u := resp.Stream.Usage(); u.PromptTokens != 30 || u.CompletionTokens != 12 || u.Estimated {
		t.Errorf("Usage = %+v", u)
	}
}

// "stream_usage": false sends stream_options as the client did; without
// a usage chunk the usage is an estimate from the body and the text.
func TestNoStreamUsage(t *testing.T) {
	up, base := serve(t, "text/event-stream", sseBody(chunk1, chunk2, "[DONE]"))
	a := New(Options{ID: "m", BaseURL: base, Model: "m", NoStreamUsage: true})
	const body = `{"model":"m","stream":true,"messages":[{"role":"user","content":"say hello world"}]}`
	resp, err := a.Send(context.Background(), chatRequest(t, body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Stream.Close()
	if _, err := drain(t, resp.Stream); err != nil {
		t.Fatal(err)
	}
	if sent := up.lastBody(); sent != body {
		t.Errorf("upstream body %s, want the client's", sent)
	}
	want := adapter.Usage{PromptTokens: adapter.EstimateTokens(len(body)), CompletionTokens: adapter.EstimateTokens(len("Hello world")), Estimated: true}
	want.TotalTokens = want.PromptTokens + want.CompletionTokens
	if u := resp.Stream.Usage(); u != want {
		t.Errorf("Usage = %+v, want %+v", u, want)
	}
}

// A stream cut before its usage chunk has an estimated usage: the prompt
// from the body sent upstream, the completion from the text relayed.
func TestCutStreamEstimatesUsage(t *testing.T) {
	up, base := serve(t, "text/event-stream", sseBody(chunk1, chunk2)) // no usage, no [DONE]
	a := New(Options{ID: "m", BaseURL: base, Model: "up"})
	resp, err := a.Send(context.Background(), chatRequest(t, `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Stream.Close()
	if _, err := drain(t, resp.Stream); err == nil {
		t.Fatalf("a stream without [DONE] ended properly, want an error")
	}
	want := adapter.Usage{PromptTokens: adapter.EstimateTokens(len(up.lastBody())), CompletionTokens: adapter.EstimateTokens(len("Hello world")), Estimated: true}
	want.TotalTokens = want.PromptTokens + want.CompletionTokens
	if u := resp.Stream.Usage(); u != want {
		t.Errorf("Usage = %+v, want %+v", u, want)
	}
}

func TestNonStreamUsageDetails(t *testing.T) {
	_, base := serve(t, "application/json", `{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],`+
		`"usage":{"prompt_tokens":30,"completion_tokens":12,"total_tokens":42,"prompt_tokens_details":{"cached_tokens":20},"completion_tokens_details":{"reasoning_tokens":9}}}`)
	a := New(Options{ID: "m", BaseURL: base, Model: "up"})
	resp, err := a.Send(context.Background(), chatRequest(t, `{"model":"m","messages":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Usage != wantUsage {
		t.Errorf("Usage = %+v, want %+v", resp.Usage, wantUsage)
	}
}

const responsesUsageJSON = `{"input_tokens":30,"output_tokens":12,"total_tokens":42,"input_tokens_details":{"cached_tokens":20},"output_tokens_details":{"reasoning_tokens":9}}`

func TestNativeResponsesUsageDetails(t *testing.T) {
	_, base := serve(t, "application/json", `{"id":"r","object":"response","status":"completed","output":[],"usage":`+responsesUsageJSON+`}`)
	a := New(Options{ID: "m", BaseURL: base, Model: "up", NativeResponses: true})
	resp, err := a.SendNative(context.Background(), nativeRequest(`{"model":"m","input":"hi"}`, false))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Usage != wantUsage {
		t.Errorf("Usage = %+v, want %+v", resp.Usage, wantUsage)
	}

	_, base = serve(t, "text/event-stream", "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"r\",\"usage\":"+responsesUsageJSON+"}}\n\n")
	a = New(Options{ID: "m", BaseURL: base, Model: "up", NativeResponses: true})
	resp, err = a.SendNative(context.Background(), nativeRequest(`{"model":"m","input":"hi","stream":true}`, true))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Stream.Close()
	if _, err := drain(t, resp.Stream); err != nil {
		t.Fatal(err)
	}
	if u := resp.Stream.Usage(); u != wantUsage {
		t.Errorf("stream Usage = %+v, want %+v", u, wantUsage)
	}
}
