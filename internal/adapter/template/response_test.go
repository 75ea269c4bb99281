package template

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
)

const hello = `{"model":"my-llm","messages":[{"role":"user","content":"Hello"}]}`

// TestResponse checks text, usage and finish_reason extraction.
func TestResponse(t *testing.T) {
	tests := []struct {
		name      string
		upstream  string
		want      string // the completion, without id and created
		wantUsage adapter.Usage
	}{
		{
			name:      "everything",
			upstream:  `{"output":{"text":"Hi there","stop_reason":"end"},"usage":{"input":3,"output":5}}`,
			want:      `{"object":"chat.completion","model":"big-1","choices":[{"index":0,"message":{"role":"assistant","content":"Hi there","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}`,
			wantUsage: adapter.Usage{PromptTokens: 3, CompletionTokens: 5, TotalTokens: 8},
		},
		{
			name:      "no usage, no finish reason",
			upstream:  `{"output":{"text":""}}`,
			want:      `{"object":"chat.completion","model":"big-1","choices":[{"index":0,"message":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":23,"completion_tokens":0,"total_tokens":23}}`,
			wantUsage: adapter.Usage{PromptTokens: 23, CompletionTokens: 0, TotalTokens: 23, Estimated: true}, // estimated from the body sent
		},
		{
			name:      "only completion tokens; max_tokens is length",
			upstream:  `{"output":{"text":"cut","stop_reason":"MAX_TOKENS"},"usage":{"input":"n/a","output":7}}`,
			want:      `{"object":"chat.completion","model":"big-1","choices":[{"index":0,"message":{"role":"assistant","content":"cut","refusal":null},"logprobs":null,"finish_reason":"length"}],"usage":{"prompt_tokens":23,"completion_tokens":7,"total_tokens":30}}`,
			wantUsage: adapter.Usage{PromptTokens: 23, CompletionTokens: 7, TotalTokens: 30, Estimated: true},
		},
		{
			name:      "length in any case",
			upstream:  `{"output":{"text":"cut","stop_reason":"Length"}}`,
			want:      `{"object":"chat.completion","model":"big-1","choices":[{"index":0,"message":{"role":"assistant","content":"cut","refusal":null},"logprobs":null,"finish_reason":"length"}],"usage":{"prompt_tokens":23,"completion_tokens":1,"total_tokens":24}}`,
			wantUsage: adapter.Usage{PromptTokens: 23, CompletionTokens: 1, TotalTokens: 24, Estimated: true},
		},
		{
			name:      "null finish reason is the default",
			upstream:  `{"output":{"text":"x","stop_reason":null}}`,
			want:      `{"object":"chat.completion","model":"big-1","choices":[{"index":0,"message":{"role":"assistant","content":"x","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":23,"completion_tokens":1,"total_tokens":24}}`,
			wantUsage: adapter.Usage{PromptTokens: 23, CompletionTokens: 1, TotalTokens: 24, Estimated: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, tt.upstream) })
			before := time.Now().Unix()
			resp, err := send(newAdapter(t, exampleOptions(api.URL)), hello)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if resp.Stream != nil {
				t.Fatal("got a stream for a non-stream request")
			}
			var got map[string]any
			if err := json.Unmarshal(resp.Body, &got); err != nil {
				t.Fatalf("body %s: %v", resp.Body, err)
			}
			id, _ := got["id"].(string)
			created, _ := got["created"].(float64)
			if !strings.HasPrefix(id, "chatcmpl-") || len(id) < len("chatcmpl-")+16 {
				t.Errorf("id = %q", id)
			}
			if int64(created) < before || int64(created) > time.Now().Unix() {
				t.Errorf("created = %v, want now", created)
			}
			delete(got, "id")
			delete(got, "created")
			var want map[string]any
			if err := json.Unmarshal([]byte(tt.want), &want); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("completion (-want +got):\n%s", diff)
			}
			if resp.Usage != tt.wantUsage {
				t.Errorf("Usage = %+v, want %+v", resp.Usage, tt.wantUsage)
			}
		})
	}
}

// TestResponseIDsDiffer checks that ids are unique per response.
func TestResponseIDsDiffer(t *testing.T) {
	api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{"output":{"text":"x"}}`) })
	a := newAdapter(t, exampleOptions(api.URL))
	ids := map[string]bool{}
	for range 3 {
		resp, err := send(a, hello)
		if err != nil {
			t.Fatal(err)
		}
		var c openai.ChatCompletion
		json.Unmarshal(resp.Body, &c)
		ids[c.ID] = true
	}
	if len(ids) != 3 {
		t.Errorf("ids repeat: %v", ids)
	}
}

// TestBadUpstreamAnswer checks 2xx answers the template cannot read.
func TestBadUpstreamAnswer(t *testing.T) {
	tests := []struct{ name, upstream, wantMsg string }{
		{"missing text", `{"output":{"txt":"x"}}`, `model "my-llm": the upstream response has no text at output.text`},
		{"text not a string", `{"output":{"text":42}}`, `model "my-llm": the upstream response has no text at output.text`},
		{"not JSON", `<html>hi</html>`, `model "my-llm": the upstream response is not JSON`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, tt.upstream) })
			_, err := send(newAdapter(t, exampleOptions(api.URL)), hello)
			ae := adapterError(t, err)
			if ae.Status != http.StatusBadGateway || ae.Err.Message != tt.wantMsg || ae.Err.Type != openai.TypeUpstream {
				t.Errorf("got %d %+v, want 502 %q", ae.Status, ae.Err, tt.wantMsg)
			}
		})
	}
}

// TestUpstreamError checks that error statuses are kept with the upstream's
// message, its Retry-After, and the key redacted.
func TestUpstreamError(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       string
		retryAfter string
		wantStatus int
		wantMsg    string
	}{
		{"error string", 429, `{"error":"slow down"}`, "7", 429, `model "my-llm": the upstream answered HTTP 429: slow down`},
		{"error object", 401, `{"error":{"message":"bad key ` + upstreamKey + `","type":"auth"}}`, "", 401, `model "my-llm": the upstream answered HTTP 401: bad key [redacted]`},
		{"message", 400, `{"message":"prompt too long"}`, "", 400, `model "my-llm": the upstream answered HTTP 400: prompt too long`},
		{"detail", 422, `{"detail":"field required"}`, "", 422, `model "my-llm": the upstream answered HTTP 422: field required`},
		{"text", 503, "overloaded, try later\n", "", 503, `model "my-llm": the upstream answered HTTP 503: "overloaded, try later"`},
		{"empty", 500, "", "", 500, `model "my-llm": the upstream answered HTTP 500: (empty body)`},
		{"redirect", 302, "", "", 502, `model "my-llm": the upstream answered HTTP 302: (empty body)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				writeJSON(w, tt.status, tt.body)
			})
			for _, body := range []string{hello, `{"model":"my-llm","stream":true,"messages":[{"role":"user","content":"Hello"}]}`} {
				_, err := send(newAdapter(t, exampleOptions(api.URL)), body)
				ae := adapterError(t, err)
				if ae.Status != tt.wantStatus || ae.Err.Message != tt.wantMsg || ae.Err.Code != "upstream_error" {
					t.Errorf("got %d %+v, want %d %q", ae.Status, ae.Err, tt.wantStatus, tt.wantMsg)
				}
				if got := ae.Header.Get("Retry-After"); got != tt.retryAfter {
					t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
				}
			}
		})
	}
}
