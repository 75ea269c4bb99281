package template

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"aigateway/internal/adapter"
)

const (
	streamHello      = `{"model":"my-llm","stream":true,"messages":[{"role":"user","content":"Hello"}]}`
	streamHelloUsage = `{"model":"my-llm","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hello"}]}`
)

// serveBody answers with a fixed body and content type, flushing after every
// piece so the client sees them arrive separately.
func serveBody(contentType string, pieces ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		for _, p := range pieces {
			w.Write([]byte(p))
			w.(http.Flusher).Flush()
		}
	}
}

type streamCase struct {
	name       string
	format     string
	done       string
	client     string
	upstream   []string
	want       []string
	wantCode   string // "" for a proper end
	wantMsg    string // substring of the error message
	wantUsage  adapter.Usage
	maxRespond int
}

func runStreamCases(t *testing.T, tests []streamCase) {
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := "text/event-stream"
			if tt.format == "jsonl" {
				ct = "application/x-ndjson"
			}
			api := newFakeAPI(t, serveBody(ct, tt.upstream...))
			o := exampleOptions(api.URL)
			o.Stream.Format, o.Stream.Done = tt.format, tt.done
			o.Stream.PromptTokens, o.Stream.CompletionTokens = "usage.input", "usage.output"
			o.Upstream.MaxResponseBytes = tt.maxRespond
			client := tt.client
			if client == "" {
				client = streamHello
			}
			resp, err := send(newAdapter(t, o), client)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if resp.Stream == nil {
				t.Fatal("no stream")
			}
			res := drain(t, resp.Stream)
			if diff := cmp.Diff(tt.want, res.events); diff != "" {
				t.Errorf("chunks (-want +got):\n%s", diff)
			}
			if tt.wantCode == "" {
				if res.err != nil {
					t.Errorf("stream error %v, want a proper end", res.err)
				}
			} else {
				ae := adapterError(t, res.err)
				if ae.Err.Code != tt.wantCode || !strings.Contains(ae.Err.Message, tt.wantMsg) {
					t.Errorf("stream error %+v, want code %s with %q", ae.Err, tt.wantCode, tt.wantMsg)
				}
			}
			if got := resp.Stream.Usage(); got != tt.wantUsage {
				t.Errorf("Usage = %+v, want %+v", got, tt.wantUsage)
			}
			if body := api.last(t).Body; !strings.Contains(body, `"stream":true`) {
				t.Errorf("stream request body lacks the stream keys: %s", body)
			}
		})
	}
}

func TestStreamSSE(t *testing.T) {
	runStreamCases(t, []streamCase{
		{
			name: "text, pings, usage and [DONE]", format: "sse", done: "[DONE]", client: streamHelloUsage,
			upstream: []string{
				": ping\n\n",
				"event: start\ndata: {\"meta\":{\"id\":1}}\n\n",
				"data: {\"token\":{\"text\":\"Hel\"}}\n\n",
				"data: {\"token\":{\"text\":\"\"}}\n\ndata: {\"token\":{\"text\":\"lo \\\"there\\\"\"}}\n\n",
				"data: {\"token\":{\"text\":\"!\"},\"usage\":{\"input\":4,\"output\":2}}\n\n",
				"data: {\"usage\":{\"input\":4,\"output\":3}}\n\n",
				"data: [DONE]\n\n",
			},
			// The upstream's ping is a sign of life; the events that yield
			// nothing (start, an empty token) come within the same second.
			want:      []string{"comment:keep-alive", "role", "content:Hel", `content:lo "there"`, "content:!", "finish:stop", "usage:4/3/7"},
			wantUsage: adapter.Usage{PromptTokens: 4, CompletionTokens: 3, TotalTokens: 7},
		},
		{
			name: "no usage chunk unless asked; finish from the response path", wantUsage: adapter.Usage{PromptTokens: 27, CompletionTokens: 1, TotalTokens: 28, Estimated: true}, format: "sse", done: "[DONE]",
			upstream: []string{
				"data: {\"token\":{\"text\":\"a\"}}\n\n",
				"data: {\"token\":{\"text\":\"b\"},\"output\":{\"stop_reason\":\"max_new_tokens\"}}\n\n",
				"data: [DONE]\n\n",
			},
			want: []string{"role", "content:a", "content:b", "finish:length"},
		},
		{
			name: "empty stream still has role and finish", wantUsage: adapter.Usage{PromptTokens: 27, CompletionTokens: 0, TotalTokens: 27, Estimated: true}, format: "sse", done: "[DONE]", client: streamHelloUsage,
			upstream: []string{"data: [DONE]\n\n"},
			want:     []string{"role", "finish:stop", "usage:27/0/27"}, // estimated from the body sent
		},
		{
			name: "EOF before [DONE] is incomplete", wantUsage: adapter.Usage{PromptTokens: 27, CompletionTokens: 1, TotalTokens: 28, Estimated: true}, format: "sse", done: "[DONE]",
			upstream: []string{"data: {\"token\":{\"text\":\"a\"}}\n\n"},
			want:     []string{"role", "content:a"},
			wantCode: "stream_incomplete", wantMsg: "ended the stream before it was complete",
		},
		{
			name: "without done the stream ends at EOF", format: "sse", client: streamHelloUsage,
			upstream:  []string{"data: {\"token\":{\"text\":\"a\"}}\n\n", "data: {\"token\":{\"text\":\"b\"},\"usage\":{\"input\":1,\"output\":2}}"},
			want:      []string{"role", "content:a", "content:b", "finish:stop", "usage:1/2/3"},
			wantUsage: adapter.Usage{PromptTokens: 1, CompletionTokens: 2, TotalTokens: 3},
		},
		{
			name: "in-band error", format: "sse", wantUsage: adapter.Usage{PromptTokens: 27, CompletionTokens: 1, TotalTokens: 28, Estimated: true}, done: "[DONE]",
			upstream: []string{"data: {\"token\":{\"text\":\"a\"}}\n\n", "event: error\ndata: {\"error\":{\"message\":\"overloaded\"}}\n\n"},
			want:     []string{"role", "content:a"},
			wantCode: "upstream_error", wantMsg: `model "my-llm": the upstream reported an error in the stream: overloaded`,
		},
		{
			name: "non-JSON event", wantUsage: adapter.Usage{PromptTokens: 27, CompletionTokens: 0, TotalTokens: 27, Estimated: true}, format: "sse", done: "[DONE]",
			upstream: []string{"data: hello\n\n"},
			wantCode: "upstream_invalid_response", wantMsg: "not JSON",
		},
		{
			name: "oversized event", wantUsage: adapter.Usage{PromptTokens: 27, CompletionTokens: 0, TotalTokens: 27, Estimated: true}, format: "sse", done: "[DONE]", maxRespond: 64,
			upstream: []string{"data: {\"token\":{\"text\":\"" + strings.Repeat("x", 100) + "\"}}\n\n"},
			wantCode: "upstream_response_too_large",
		},
	})
}

func TestStreamJSONL(t *testing.T) {
	runStreamCases(t, []streamCase{
		{
			name: "lines to the done line", format: "jsonl", done: "done", client: streamHelloUsage,
			upstream: []string{
				"{\"token\":{\"text\":\"Hel\"},\"done\":false}\n",
				"\n",
				"{\"token\":{\"text\":\"lo\"},\"done\":fal", "se}\r\n",
				"{\"token\":{\"text\":\"!\"},\"done\":true,\"usage\":{\"input\":5,\"output\":3}}\n",
				"{\"token\":{\"text\":\"after done\"}}\n",
			},
			want:      []string{"role", "content:Hel", "content:lo", "content:!", "finish:stop", "usage:5/3/8"},
			wantUsage: adapter.Usage{PromptTokens: 5, CompletionTokens: 3, TotalTokens: 8},
		},
		{
			name: "done as a string and the finish path", wantUsage: adapter.Usage{PromptTokens: 27, CompletionTokens: 1, TotalTokens: 28, Estimated: true}, format: "jsonl", done: "status.final",
			upstream: []string{"{\"token\":{\"text\":\"a\"}}\n", "{\"status\":{\"final\":\"true\"},\"output\":{\"stop_reason\":\"length\"}}\n"},
			want:     []string{"role", "content:a", "finish:length"},
		},
		{
			name: "EOF before the done line is incomplete", wantUsage: adapter.Usage{PromptTokens: 27, CompletionTokens: 1, TotalTokens: 28, Estimated: true}, format: "jsonl", done: "done",
			upstream: []string{"{\"token\":{\"text\":\"a\"},\"done\":false}\n"},
			want:     []string{"role", "content:a"},
			wantCode: "stream_incomplete", wantMsg: "ended the stream before it was complete",
		},
		{
			name: "without done: EOF ends it, last line without newline", wantUsage: adapter.Usage{PromptTokens: 27, CompletionTokens: 1, TotalTokens: 28, Estimated: true}, format: "jsonl",
			upstream: []string{"{\"token\":{\"text\":\"a\"}}\n", "{\"token\":{\"text\":\"b\"}}"},
			want:     []string{"role", "content:a", "content:b", "finish:stop"},
		},
		{
			name: "non-JSON line", wantUsage: adapter.Usage{PromptTokens: 27, CompletionTokens: 1, TotalTokens: 28, Estimated: true}, format: "jsonl",
			upstream: []string{"{\"token\":{\"text\":\"a\"}}\n", "oops\n"},
			want:     []string{"role", "content:a"},
			wantCode: "upstream_invalid_response", wantMsg: `not JSON: "oops"`,
		},
		{
			name: "in-band error", format: "jsonl", wantUsage: adapter.Usage{PromptTokens: 27, CompletionTokens: 0, TotalTokens: 27, Estimated: true},
			upstream: []string{"{\"error\":\"model crashed\"}\n"},
			wantCode: "upstream_error", wantMsg: "model crashed",
		},
		{
			name: "oversized line", wantUsage: adapter.Usage{PromptTokens: 27, CompletionTokens: 1, TotalTokens: 28, Estimated: true}, format: "jsonl", maxRespond: 64,
			upstream: []string{"{\"token\":{\"text\":\"a\"}}\n", "{\"token\":{\"text\":\"" + strings.Repeat("x", 5000) + "\"}}\n"},
			want:     []string{"role", "content:a"},
			wantCode: "upstream_response_too_large",
		},
	})
}

// TestSSEAnsweredWithJSON checks that an SSE upstream answering a stream
// request with plain JSON is served as a synthetic stream.
func TestSSEAnsweredWithJSON(t *testing.T) {
	api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"output":{"text":"whole"},"usage":{"input":1,"output":1}}`)
	})
	resp, err := send(newAdapter(t, exampleOptions(api.URL)), streamHelloUsage)
	if err != nil {
		t.Fatal(err)
	}
	res := drain(t, resp.Stream)
	if diff := cmp.Diff([]string{"role", "content:whole", "finish:stop", "usage:1/1/2"}, res.events); diff != "" || res.err != nil {
		t.Errorf("chunks (-want +got):\n%s\nerr %v", diff, res.err)
	}
}

// TestSyntheticStream checks a client stream served by a non-stream upstream.
func TestSyntheticStream(t *testing.T) {
	tests := []struct {
		name, client, upstream string
		want                   []string
		wantUsage              adapter.Usage
	}{
		{"with usage", streamHelloUsage, `{"output":{"text":"Hi","stop_reason":"max_len"},"usage":{"input":2,"output":9}}`,
			[]string{"role", "content:Hi", "finish:length", "usage:2/9/11"}, adapter.Usage{PromptTokens: 2, CompletionTokens: 9, TotalTokens: 11}},
		{"without usage", streamHello, `{"output":{"text":"Hi"},"usage":{"input":2,"output":9}}`,
			[]string{"role", "content:Hi", "finish:stop"}, adapter.Usage{PromptTokens: 2, CompletionTokens: 9, TotalTokens: 11}},
		{"empty text", streamHelloUsage, `{"output":{"text":""}}`,
			[]string{"role", "finish:stop", "usage:23/0/23"}, adapter.Usage{PromptTokens: 23, CompletionTokens: 0, TotalTokens: 23, Estimated: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, tt.upstream) })
			o := exampleOptions(api.URL)
			o.Stream = nil
			resp, err := send(newAdapter(t, o), tt.client)
			if err != nil {
				t.Fatal(err)
			}
			if body := api.last(t).Body; strings.Contains(body, "stream") {
				t.Errorf("non-stream upstream got %s", body)
			}
			// Never blocks: every chunk is buffered until the end.
			for i := range len(tt.want) {
				if !resp.Stream.Buffered() {
					t.Fatalf("Buffered false before chunk %d", i)
				}
				if _, err := resp.Stream.Next(); err != nil {
					t.Fatal(err)
				}
			}
			if resp.Stream.Buffered() {
				t.Error("Buffered true after the last chunk")
			}
			resp2, _ := send(newAdapter(t, o), tt.client)
			res := drain(t, resp2.Stream)
			if diff := cmp.Diff(tt.want, res.events); diff != "" || res.err != nil {
				t.Errorf("chunks (-want +got):\n%s\nerr %v", diff, res.err)
			}
			if got := resp2.Stream.Usage(); got != tt.wantUsage {
				t.Errorf("Usage = %+v, want %+v", got, tt.wantUsage)
			}
			resp.Stream.Close()
		})
	}
}

// TestStreamCancel checks that canceling the request unblocks a stream
// waiting on a silent upstream, for both formats.
func TestStreamCancel(t *testing.T) {
	for _, format := range []string{"sse", "jsonl"} {
		t.Run(format, func(t *testing.T) {
			gone := make(chan struct{})
			api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				if format == "jsonl" {
					w.Write([]byte("{\"token\":{\"text\":\"a\"}}\n"))
				} else {
					w.Write([]byte("data: {\"token\":{\"text\":\"a\"}}\n\n"))
				}
				w.(http.Flusher).Flush()
				<-r.Context().Done()
				close(gone)
			})
			o := exampleOptions(api.URL)
			o.Stream.Format = format
			o.Stream.Done = ""
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			resp, err := sendOp(ctx, newAdapter(t, o), adapter.OpChat, streamHello)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Stream.Close()
			for range 2 { // role, content
				if _, err := resp.Stream.Next(); err != nil {
					t.Fatal(err)
				}
			}
			cancel()
			_, err = resp.Stream.Next()
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Next after cancel: %v, want context.Canceled", err)
			}
			resp.Stream.Close()
			<-gone
		})
	}
}
