package mockllm

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// outline names the events of a raw SSE stream in order: "ping" for a
// keep-alive (an SSE comment or an Anthropic ping), the event name for a
// named event, "data" for an unnamed one and "[DONE]".
func outline(raw string) []string {
	var out []string
	for _, ev := range strings.Split(strings.ReplaceAll(raw, "\r\n", "\n"), "\n\n") {
		switch {
		case ev == "":
		case ev == ": keep-alive", strings.HasPrefix(ev, "event: ping\n"):
			out = append(out, "ping")
		case strings.HasPrefix(ev, "event: "):
			out = append(out, strings.TrimPrefix(ev[:strings.IndexByte(ev, '\n')], "event: "))
		case ev == "data: [DONE]":
			out = append(out, "[DONE]")
		default:
			out = append(out, "data")
		}
	}
	return out
}

func readStream(t *testing.T, path, body, contentType string, headers ...string) string {
	t.Helper()
	_, hs := newTestServer(t, Options{})
	resp := streamResponse(t, context.Background(), hs, path, body, contentType, headers...)
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// pings_before_first sends keep-alives before the first event, and
// ping_every_ms fills each chunk delay with them, in every protocol's own
// keep-alive.
func TestKeepAliveDirectives(t *testing.T) {
	// 3 pings, then per body chunk a 25 ms delay with a ping at 10 and 20 ms.
	const mock = `"mock":{"chunks":2,"pings_before_first":3,"ping_every_ms":10,"chunk_delay_ms":25}`
	tests := []struct {
		name, path, body, contentType string
		headers                       []string
		want                          []string
	}{
		{
			name: "openai chat", path: "/v1/chat/completions", body: chatBody + `,"stream":true,` + mock + "}", contentType: "text/event-stream",
			want: []string{"ping", "ping", "ping", "data", "ping", "ping", "data", "ping", "ping", "data", "data", "[DONE]"},
		},
		{
			name: "openai completions", path: "/v1/completions", body: `{"model":"m","prompt":"hi","stream":true,` + mock + "}", contentType: "text/event-stream",
			want: []string{"ping", "ping", "ping", "ping", "ping", "data", "ping", "ping", "data", "data", "[DONE]"},
		},
		{
			name: "anthropic", path: "/v1/messages", body: anthropicBody + `,"stream":true,` + mock + "}", contentType: "text/event-stream", headers: anthropicHeaders,
			want: []string{"ping", "ping", "ping", "message_start", "content_block_start", "ping", "ping", "content_block_delta",
				"ping", // the one the real API sends after the first delta
				"ping", "ping", "content_block_delta", "content_block_stop", "message_delta", "message_stop"},
		},
		{
			name: "gemini sse", path: geminiStream + "?alt=sse", body: geminiBody + `,` + mock + "}", contentType: "text/event-stream",
			want: []string{"ping", "ping", "ping", "ping", "ping", "data", "ping", "ping", "data", "data"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := readStream(t, tt.path, tt.body, tt.contentType, tt.headers...)
			if diff := cmp.Diff(tt.want, outline(raw)); diff != "" {
				t.Errorf("events (-want +got):\n%s\nraw:\n%s", diff, raw)
			}
		})
	}
	t.Run("gemini JSON array has no room for keep-alives", func(t *testing.T) {
		raw := readStream(t, geminiStream, geminiBody+`,`+mock+"}", geminiJSON)
		if strings.Contains(raw, "keep-alive") || !strings.HasPrefix(raw, "[") {
			t.Errorf("stream: %s", raw)
		}
	})
	t.Run("no keep-alives unless asked", func(t *testing.T) {
		raw := readStream(t, "/v1/chat/completions", chatBody+`,"stream":true,"mock":{"chunks":2,"chunk_delay_ms":25}}`, "text/event-stream")
		if strings.Contains(raw, "keep-alive") {
			t.Errorf("stream: %s", raw)
		}
	})
}
