package gemini

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
)

// sendStream sends a chat stream request to an upstream that answers with
// reply (SSE), reads the stream to its end and returns it, with the size of
// the body the upstream got.
func sendStream(t *testing.T, reply string) (adapter.Stream, int) {
	t.Helper()
	got := make(chan int, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- len(b)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, reply)
	}))
	t.Cleanup(srv.Close)
	a := New(Options{ID: "gem", BaseURL: srv.URL, APIKey: "k", Model: "gemini-x"})
	body := []byte(`{"model":"gem","stream":true,"messages":[{"role":"user","content":"hello there"}]}`)
	f, perr := openai.Peek(body)
	if perr != nil {
		t.Fatal(perr.Message)
	}
	resp, err := a.Send(context.Background(), &adapter.Request{Op: adapter.OpChat, Body: body, Fields: f})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Stream.Close() })
	for {
		if _, err := resp.Stream.Next(); err != nil {
			break
		}
	}
	return resp.Stream, <-got
}

const (
	textEvent = `data: {"candidates":[{"content":{"role":"model","parts":[{"text":"Hello, world!"}]},"index":0}],"responseId":"r1"}` + "\n\n"
	lastEvent = `data: {"candidates":[{"content":{"role":"model","parts":[{"text":"!"}]},"finishReason":"STOP","index":0}],"responseId":"r1",` +
		`"usageMetadata":{"promptTokenCount":100,"candidatesTokenCount":7,"thoughtsTokenCount":30,"cachedContentTokenCount":60,"totalTokenCount":137}}` + "\n\n"
)

// Thoughts are completion tokens in OpenAI's terms (and ReasoningTokens);
// cached content is part of the prompt (and CachedTokens).
func TestStreamUsageThoughtsAndCache(t *testing.T) {
	st, _ := sendStream(t, textEvent+lastEvent)
	want := adapter.Usage{PromptTokens: 100, CompletionTokens: 37, TotalTokens: 137, CachedTokens: 60, ReasoningTokens: 30}
	if u := st.Usage(); u != want {
		t.Errorf("Usage = %+v, want %+v", u, want)
	}
}

// A stream cut before any usageMetadata estimates both counts: the prompt
// from the body sent, the completion from the text seen.
func TestCutStreamUsage(t *testing.T) {
	st, sent := sendStream(t, textEvent)
	want := adapter.Usage{PromptTokens: adapter.EstimateTokens(sent), CompletionTokens: adapter.EstimateTokens(len("Hello, world!")), Estimated: true}
	want.TotalTokens = want.PromptTokens + want.CompletionTokens
	if u := st.Usage(); u != want {
		t.Errorf("Usage = %+v, want %+v", u, want)
	}
}
