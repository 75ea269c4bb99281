package anthropic

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
// reply (SSE) and returns the stream read to its end, and the size of the
// body the upstream got.
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
	a := New(Options{ID: "claude", BaseURL: srv.URL, APIKey: "k", Model: "claude-x"})
	body := []byte(`{"model":"claude","stream":true,"messages":[{"role":"user","content":"hello there"}]}`)
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
	startWithCache = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m1\",\"model\":\"claude-x\",\"usage\":{\"input_tokens\":10,\"cache_creation_input_tokens\":200,\"cache_read_input_tokens\":3000,\"output_tokens\":1}}}\n\n"
	textStart      = "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
	textDelta      = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello, world!\"}}\n\n"
	messageEnd     = "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":40}}\n\n" +
		"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
)

// Anthropic's input_tokens leaves out the cached parts: the prompt is
// input + cache writes + cache reads, and the cache reads are CachedTokens.
func TestStreamUsageWithCache(t *testing.T) {
	st, _ := sendStream(t, startWithCache+textStart+textDelta+messageEnd)
	want := adapter.Usage{PromptTokens: 3210, CompletionTokens: 40, TotalTokens: 3250, CachedTokens: 3000}
	if u := st.Usage(); u != want {
		t.Errorf("Usage = %+v, want %+v", u, want)
	}
}

// A stream cut after message_start keeps the prompt Anthropic reported and
// estimates the output from the text seen, not message_start's placeholder.
func TestCutStreamUsage(t *testing.T) {
	st, _ := sendStream(t, startWithCache+textStart+textDelta)
	want := adapter.Usage{PromptTokens: 3210, CachedTokens: 3000, CompletionTokens: adapter.EstimateTokens(len("Hello, world!")), Estimated: true}
	want.TotalTokens = want.PromptTokens + want.CompletionTokens
	if u := st.Usage(); u != want {
		t.Errorf("Usage = %+v, want %+v", u, want)
	}

	// Cut before message_start: the prompt too is an estimate.
	st, sent := sendStream(t, "event: ping\ndata: {\"type\":\"ping\"}\n\n")
	want = adapter.Usage{PromptTokens: adapter.EstimateTokens(sent), Estimated: true}
	want.TotalTokens = want.PromptTokens
	if u := st.Usage(); u != want {
		t.Errorf("Usage = %+v, want %+v", u, want)
	}
}
