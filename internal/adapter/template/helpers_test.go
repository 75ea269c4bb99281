package template

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
	"aigateway/internal/redact"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// upstreamKey is the configured key; no error message may contain it.
const upstreamKey = "secret-key-123"

// recorded is one request the fake upstream received.
type recorded struct {
	Method, Path string
	Header       http.Header
	Body         string
}

// fakeAPI is a made-up LLM API over real HTTP: POST /v2/generate answers
// with whatever the test's handler writes.
type fakeAPI struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

func newFakeAPI(t *testing.T, h http.HandlerFunc) *fakeAPI {
	t.Helper()
	f := &fakeAPI{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, recorded{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: string(body)})
		f.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

// requests returns what the upstream received so far.
func (f *fakeAPI) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

// last returns the only request the upstream received.
func (f *fakeAPI) last(t *testing.T) recorded {
	t.Helper()
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("upstream got %d requests, want 1", len(reqs))
	}
	return reqs[0]
}

const exampleBody = `{"model": "{{model}}", "input": "{{prompt}}", "history": "{{messages}}",
	"params": {"max_new_tokens": "{{max_tokens}}", "temperature": "{{temperature}}"}}`

// exampleOptions are the options of the README example, pointing at url.
func exampleOptions(url string) Options {
	return Options{
		ID: "my-llm", URL: url + "/v2/generate", Model: "big-1",
		Header: http.Header{"Authorization": {"Token " + upstreamKey}},
		Body:   json.RawMessage(exampleBody),
		Response: ResponsePaths{Text: "output.text", PromptTokens: "usage.input",
			CompletionTokens: "usage.output", FinishReason: "output.stop_reason"},
		Stream:   &StreamConfig{Format: "sse", Body: json.RawMessage(`{"stream": true}`), Text: "token.text", Done: "[DONE]"},
		Upstream: adapter.Upstream{Timeout: 5 * time.Second, Redactor: redact.New(upstreamKey)},
	}
}

func newAdapter(t *testing.T, o Options) *Adapter {
	t.Helper()
	a, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

// send sends a chat request with the given client body.
func send(a *Adapter, body string) (*adapter.Response, error) {
	return sendOp(context.Background(), a, adapter.OpChat, body)
}

func sendOp(ctx context.Context, a *Adapter, op adapter.Op, body string) (*adapter.Response, error) {
	return a.Send(ctx, &adapter.Request{Op: op, Body: []byte(body), RequestID: "req_0123456789abcdef"})
}

// adapterError returns err as an *adapter.Error or fails.
func adapterError(t *testing.T, err error) *adapter.Error {
	t.Helper()
	var ae *adapter.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *adapter.Error", err, err)
	}
	return ae
}

// streamResult is a drained stream: its chunks in a compact form and the
// error that ended it (nil for a proper end).
type streamResult struct {
	events []string
	err    error
}

// drain reads a stream to its end and checks that every chunk has the same
// id, created and model, as clients expect.
func drain(t *testing.T, s adapter.Stream) streamResult {
	t.Helper()
	defer s.Close()
	var res streamResult
	var first *openai.Chunk
	for i := 0; ; i++ {
		if i > 1000 {
			t.Fatal("stream does not end")
		}
		item, err := s.Next()
		if err == io.EOF {
			return res
		}
		if err != nil {
			res.err = err
			return res
		}
		if item.Comment {
			res.events = append(res.events, "comment:"+string(item.Data))
			continue
		}
		data := item.Data
		var c openai.Chunk
		if err := json.Unmarshal(data, &c); err != nil {
			t.Fatalf("chunk %s: %v", data, err)
		}
		if c.Object != "chat.completion.chunk" || !strings.HasPrefix(c.ID, "chatcmpl-") || c.Model != "big-1" {
			t.Errorf("chunk header: %s", data)
		}
		if first == nil {
			first = &c
		} else if c.ID != first.ID || c.Created != first.Created {
			t.Errorf("chunk %d has id/created %s/%d, first had %s/%d", i, c.ID, c.Created, first.ID, first.Created)
		}
		res.events = append(res.events, describe(t, &c, data))
	}
}

// describe renders a chunk as "role", "content:<text>", "finish:<reason>" or
// "usage:<prompt>/<completion>/<total>".
func describe(t *testing.T, c *openai.Chunk, raw []byte) string {
	t.Helper()
	if c.Usage != nil {
		if len(c.Choices) != 0 || !strings.Contains(string(raw), `"choices":[]`) {
			t.Errorf("usage chunk must have empty choices: %s", raw)
		}
		return fmt.Sprintf("usage:%d/%d/%d", c.Usage.PromptTokens, c.Usage.CompletionTokens, c.Usage.TotalTokens)
	}
	if len(c.Choices) != 1 {
		t.Fatalf("chunk with %d choices: %s", len(c.Choices), raw)
	}
	ch := c.Choices[0]
	switch {
	case ch.FinishReason != nil:
		return "finish:" + *ch.FinishReason
	case ch.Delta.Role != "":
		if ch.Delta.Role != "assistant" || ch.Delta.Content == nil || *ch.Delta.Content != "" {
			t.Errorf("role chunk: %s", raw)
		}
		return "role"
	case ch.Delta.Content != nil:
		return "content:" + *ch.Delta.Content
	}
	t.Fatalf("unexpected chunk %s", raw)
	return ""
}

// writeJSON answers with a JSON body.
func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}
