package openaicompat

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
)

// The idle timeout is upstream silence only: a caller that takes longer
// than it between two reads (a relay blocked on a slow client) must not
// find the stream cut as a timeout, and so must not get the deployment
// blamed for it.
func TestSlowCallerIsNotUpstreamSilence(t *testing.T) {
	const chunks = 20000
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// More than the connection buffers hold: the upstream is blocked
		// on the caller, not silent.
		w.Header().Set("Content-Type", "text/event-stream")
		event := "data: " + `{"choices":[{"index":0,"delta":{"content":"` + strings.Repeat("x", 1000) + `"}}]}` + "\n\n"
		for i := 0; i < chunks; i++ {
			if _, err := io.WriteString(w, event); err != nil {
				return
			}
		}
		io.WriteString(w, "data: [DONE]\n\n") //nolint:errcheck
	}))
	defer up.Close()
	a := New(Options{ID: "m", BaseURL: up.URL + "/v1", Model: "m", Timeout: 200 * time.Millisecond})
	body := []byte(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	f, perr := openai.Peek(body)
	if perr != nil {
		t.Fatal(perr)
	}
	resp, err := a.Send(context.Background(), &adapter.Request{Op: adapter.OpChat, Body: body, Fields: f})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Stream.Close()
	if _, err := resp.Stream.Next(); err != nil {
		t.Fatalf("first chunk: %v", err)
	}
	time.Sleep(600 * time.Millisecond) // three idle timeouts, spent by the caller
	n := 0
	for {
		_, err := resp.Stream.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after a slow caller the stream failed: %v", err)
		}
		n++
	}
	if n != chunks-1 {
		t.Fatalf("got %d more chunks; want %d", n, chunks-1)
	}
}
