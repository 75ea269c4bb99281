package mockllm

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const chatBody = `{"model":"gpt-test","messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"hello there friend"}]}]`

func chatChunk(delta map[string]any, finish any) map[string]any {
	return map[string]any{
		"id": "chatcmpl-mock-1", "object": "chat.completion.chunk", "created": float64(fixedCreated), "model": "gpt-test",
		"choices": []any{map[string]any{"index": 0.0, "delta": delta, "logprobs": nil, "finish_reason": finish}},
		"usage":   nil,
	}
}

func chatUsageChunk(prompt, completion float64) map[string]any {
	return map[string]any{
		"id": "chatcmpl-mock-1", "object": "chat.completion.chunk", "created": float64(fixedCreated), "model": "gpt-test",
		"choices": []any{},
		"usage":   map[string]any{"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
	}
}

func roleChunk() map[string]any {
	return chatChunk(map[string]any{"role": "assistant", "content": ""}, nil)
}

func contentChunk(s string) map[string]any { return chatChunk(map[string]any{"content": s}, nil) }

// decodeEvents checks the stream ends with [DONE] and decodes the rest.
func decodeEvents(t *testing.T, evs []string) []map[string]any {
	t.Helper()
	if len(evs) == 0 || evs[len(evs)-1] != "[DONE]" {
		t.Fatalf("stream does not end with [DONE]: %q", evs)
	}
	out := make([]map[string]any, 0, len(evs)-1)
	for _, ev := range evs[:len(evs)-1] {
		out = append(out, decodeMap(t, []byte(ev)))
	}
	return out
}

func TestChatCompletion(t *testing.T) {
	tests := []struct {
		name               string
		mock               string
		want               map[string]any // choices[0].message
		prompt, completion float64
		finish             string
	}{
		{
			name:   "default text",
			want:   map[string]any{"role": "assistant", "content": "w0 w1 w2 ", "refusal": nil},
			prompt: 5, completion: 3, finish: "stop",
		},
		{
			name:   "content and chunks",
			mock:   `{"content":"Bonjour à tous","chunks":2}`,
			want:   map[string]any{"role": "assistant", "content": "Bonjour à tous", "refusal": nil},
			prompt: 5, completion: 2, finish: "stop",
		},
		{
			name: "tool calls",
			mock: `{"tool_calls":[{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"},{"name":"noop","arguments":{"a": [1, 2]}}]}`,
			want: map[string]any{"role": "assistant", "content": nil, "refusal": nil, "tool_calls": []any{
				map[string]any{"id": "call_mock_0", "type": "function", "function": map[string]any{"name": "get_weather", "arguments": `{"city":"Paris"}`}},
				map[string]any{"id": "call_mock_1", "type": "function", "function": map[string]any{"name": "noop", "arguments": `{"a":[1,2]}`}},
			}},
			prompt: 5, completion: 8, finish: "tool_calls",
		},
		{
			name:   "usage and finish overrides",
			mock:   `{"prompt_tokens":100,"completion_tokens":7,"finish_reason":"length"}`,
			want:   map[string]any{"role": "assistant", "content": "w0 w1 w2 ", "refusal": nil},
			prompt: 100, completion: 7, finish: "length",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, hs := newTestServer(t, Options{})
			body := chatBody
			if tt.mock != "" {
				body += `,"mock":` + tt.mock
			}
			resp, b := post(t, hs, "/v1/chat/completions", body+"}")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			want := map[string]any{
				"id": "chatcmpl-mock-1", "object": "chat.completion", "created": float64(fixedCreated), "model": "gpt-test",
				"choices": []any{map[string]any{"index": 0.0, "message": tt.want, "logprobs": nil, "finish_reason": tt.finish}},
				"usage":   map[string]any{"prompt_tokens": tt.prompt, "completion_tokens": tt.completion, "total_tokens": tt.prompt + tt.completion},
			}
			if diff := cmp.Diff(want, decodeMap(t, b)); diff != "" {
				t.Errorf("response mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestChatCompletionStream(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		body string // appended to chatBody
		want []map[string]any
	}{
		{
			name: "default",
			body: `,"stream":true`,
			want: []map[string]any{roleChunk(), contentChunk("w0 "), contentChunk("w1 "), contentChunk("w2 "), chatChunk(map[string]any{}, "stop")},
		},
		{
			name: "include_usage false",
			body: `,"stream":true,"stream_options":{"include_usage":false},"mock":{"chunks":1}`,
			want: []map[string]any{roleChunk(), contentChunk("w0 "), chatChunk(map[string]any{}, "stop")},
		},
		{
			name: "include_usage",
			body: `,"stream":true,"stream_options":{"include_usage":true}`,
			want: []map[string]any{roleChunk(), contentChunk("w0 "), contentChunk("w1 "), contentChunk("w2 "), chatChunk(map[string]any{}, "stop"), chatUsageChunk(5, 3)},
		},
		{
			name: "options chunks",
			opts: Options{Chunks: 5},
			body: `,"stream":true`,
			want: []map[string]any{roleChunk(), contentChunk("w0 "), contentChunk("w1 "), contentChunk("w2 "), contentChunk("w3 "), contentChunk("w4 "), chatChunk(map[string]any{}, "stop")},
		},
		{
			name: "content split by words",
			body: `,"stream":true,"mock":{"content":"Hello brave new world\n\"quoted\"","chunks":2}`,
			want: []map[string]any{roleChunk(), contentChunk("Hello brave "), contentChunk("new world\n\"quoted\""), chatChunk(map[string]any{}, "stop")},
		},
		{
			name: "content split evenly",
			body: `,"stream":true,"mock":{"content":"abcdé","chunks":2}`,
			want: []map[string]any{roleChunk(), contentChunk("ab"), contentChunk("cdé"), chatChunk(map[string]any{}, "stop")},
		},
		{
			name: "empty content",
			body: `,"stream":true,"stream_options":{"include_usage":true},"mock":{"content":""}`,
			want: []map[string]any{roleChunk(), chatChunk(map[string]any{}, "stop"), chatUsageChunk(5, 0)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, hs := newTestServer(t, tt.opts)
			got := decodeEvents(t, streamEvents(t, hs, "/v1/chat/completions", chatBody+tt.body+"}"))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("stream mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestChatCompletionStreamRaw(t *testing.T) {
	// The exact bytes of one event: compact JSON, one data line, blank line.
	_, hs := newTestServer(t, Options{Chunks: 1})
	_, b := post(t, hs, "/v1/chat/completions", chatBody+`,"stream":true}`)
	want := `data: {"id":"chatcmpl-mock-1","object":"chat.completion.chunk","created":1755000000,"model":"gpt-test","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n" +
		`data: {"id":"chatcmpl-mock-1","object":"chat.completion.chunk","created":1755000000,"model":"gpt-test","choices":[{"index":0,"delta":{"content":"w0 "},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n" +
		`data: {"id":"chatcmpl-mock-1","object":"chat.completion.chunk","created":1755000000,"model":"gpt-test","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}` + "\n\n" +
		"data: [DONE]\n\n"
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("raw stream mismatch (-want +got):\n%s", diff)
	}
}

func TestChatCompletionStreamToolCalls(t *testing.T) {
	calls := []ToolCall{
		{Name: "get_weather", Arguments: `{"city":"Tokyo"}`},
		{Name: "get_weather", Arguments: `{"city":"Londön"}`},
		{Name: "tiny", Arguments: `{}`},
	}
	mock, err := json.Marshal(Directive{ToolCalls: calls})
	if err != nil {
		t.Fatal(err)
	}
	_, hs := newTestServer(t, Options{})
	evs := decodeEvents(t, streamEvents(t, hs, "/v1/chat/completions",
		chatBody+`,"stream":true,"stream_options":{"include_usage":true},"mock":`+string(mock)+"}"))

	if diff := cmp.Diff(roleChunk(), evs[0]); diff != "" {
		t.Errorf("role chunk (-want +got):\n%s", diff)
	}
	args := make([]string, len(calls))
	frags := make([]int, len(calls))
	for _, ev := range evs[1 : len(evs)-2] {
		delta := ev["choices"].([]any)[0].(map[string]any)["delta"].(map[string]any)
		tcs, ok := delta["tool_calls"].([]any)
		if !ok || len(delta) != 1 || len(tcs) != 1 {
			t.Fatalf("want a delta with exactly one tool call, got %v", delta)
		}
		tc := tcs[0].(map[string]any)
		i := int(tc["index"].(float64))
		fn := tc["function"].(map[string]any)
		if _, isFirst := tc["id"]; isFirst {
			want := map[string]any{"index": float64(i), "id": "call_mock_" + string(rune('0'+i)), "type": "function",
				"function": map[string]any{"name": calls[i].Name, "arguments": ""}}
			if diff := cmp.Diff(want, tc); diff != "" {
				t.Errorf("first fragment of call %d (-want +got):\n%s", i, diff)
			}
			if args[i] != "" || frags[i] != 0 {
				t.Errorf("call %d: header after arguments", i)
			}
			continue
		}
		if len(tc) != 2 || len(fn) != 1 {
			t.Errorf("later fragment carries more than index and function.arguments: %v", tc)
		}
		args[i] += fn["arguments"].(string)
		frags[i]++
	}
	for i, c := range calls {
		if args[i] != c.Arguments {
			t.Errorf("call %d: arguments %q, want %q", i, args[i], c.Arguments)
		}
	}
	if diff := cmp.Diff([]int{3, 3, 2}, frags); diff != "" {
		t.Errorf("fragments per call (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(chatChunk(map[string]any{}, "tool_calls"), evs[len(evs)-2]); diff != "" {
		t.Errorf("finish chunk (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(chatUsageChunk(5, 11), evs[len(evs)-1]); diff != "" {
		t.Errorf("usage chunk (-want +got):\n%s", diff)
	}
}

func TestChatCompletionStreamContentThenToolCalls(t *testing.T) {
	_, hs := newTestServer(t, Options{})
	evs := decodeEvents(t, streamEvents(t, hs, "/v1/chat/completions",
		chatBody+`,"stream":true,"mock":{"content":"Checking.","chunks":1,"tool_calls":[{"name":"f","arguments":"{}"}]}}`))
	want := []map[string]any{
		roleChunk(),
		contentChunk("Checking."),
		chatChunk(map[string]any{"tool_calls": []any{map[string]any{"index": 0.0, "id": "call_mock_0", "type": "function", "function": map[string]any{"name": "f", "arguments": ""}}}}, nil),
		chatChunk(map[string]any{"tool_calls": []any{map[string]any{"index": 0.0, "function": map[string]any{"arguments": "{"}}}}, nil),
		chatChunk(map[string]any{"tool_calls": []any{map[string]any{"index": 0.0, "function": map[string]any{"arguments": "}"}}}}, nil),
		chatChunk(map[string]any{}, "tool_calls"),
	}
	if diff := cmp.Diff(want, evs); diff != "" {
		t.Errorf("stream mismatch (-want +got):\n%s", diff)
	}
}

func TestCompletions(t *testing.T) {
	_, hs := newTestServer(t, Options{})
	resp, b := post(t, hs, "/v1/completions", `{"model":"davinci","prompt":"say something nice"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	want := map[string]any{
		"id": "cmpl-mock-1", "object": "text_completion", "created": float64(fixedCreated), "model": "davinci",
		"choices": []any{map[string]any{"text": "w0 w1 w2 ", "index": 0.0, "logprobs": nil, "finish_reason": "stop"}},
		"usage":   map[string]any{"prompt_tokens": 3.0, "completion_tokens": 3.0, "total_tokens": 6.0},
	}
	if diff := cmp.Diff(want, decodeMap(t, b)); diff != "" {
		t.Errorf("response mismatch (-want +got):\n%s", diff)
	}
}

func TestCompletionsStream(t *testing.T) {
	chunk := func(text string, finish any) map[string]any {
		return map[string]any{
			"id": "cmpl-mock-1", "object": "text_completion", "created": float64(fixedCreated), "model": "davinci",
			"choices": []any{map[string]any{"text": text, "index": 0.0, "logprobs": nil, "finish_reason": finish}},
			"usage":   nil,
		}
	}
	usage := map[string]any{
		"id": "cmpl-mock-1", "object": "text_completion", "created": float64(fixedCreated), "model": "davinci",
		"choices": []any{},
		"usage":   map[string]any{"prompt_tokens": 4.0, "completion_tokens": 2.0, "total_tokens": 6.0},
	}
	tests := []struct {
		name, body string
		want       []map[string]any
	}{
		{"no usage", `{"model":"davinci","prompt":[[1,2],[3,4]],"stream":true,"mock":{"chunks":2}}`,
			[]map[string]any{chunk("w0 ", nil), chunk("w1 ", nil), chunk("", "stop")}},
		{"include_usage", `{"model":"davinci","prompt":[[1,2],[3,4]],"stream":true,"stream_options":{"include_usage":true},"mock":{"chunks":2}}`,
			[]map[string]any{chunk("w0 ", nil), chunk("w1 ", nil), chunk("", "stop"), usage}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, hs := newTestServer(t, Options{})
			got := decodeEvents(t, streamEvents(t, hs, "/v1/completions", tt.body))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("stream mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

type embeddingsResponse struct {
	Object string `json:"object"`
	Data   []struct {
		Object    string          `json:"object"`
		Index     int             `json:"index"`
		Embedding json.RawMessage `json:"embedding"`
	} `json:"data"`
	Model string         `json:"model"`
	Usage map[string]int `json:"usage"`
}

func (r *embeddingsResponse) vectors(t *testing.T, b64 bool) [][]float32 {
	t.Helper()
	out := make([][]float32, len(r.Data))
	for i, d := range r.Data {
		if b64 {
			var s string
			if err := json.Unmarshal(d.Embedding, &s); err != nil {
				t.Fatal(err)
			}
			raw, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				t.Fatal(err)
			}
			for j := 0; j+4 <= len(raw); j += 4 {
				out[i] = append(out[i], math.Float32frombits(binary.LittleEndian.Uint32(raw[j:])))
			}
			continue
		}
		if err := json.Unmarshal(d.Embedding, &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestEmbeddings(t *testing.T) {
	tests := []struct {
		name   string
		extra  string // extra request fields
		input  string
		n      int
		dims   int
		tokens int
		b64    bool
	}{
		{name: "string", input: `"one two three"`, n: 1, dims: 8, tokens: 3},
		{name: "strings", input: `["first text","second text","first text"]`, n: 3, dims: 8, tokens: 6},
		{name: "tokens", input: `[1,2,3,4]`, n: 1, dims: 8, tokens: 4},
		{name: "token arrays", input: `[[1,2],[3],[1,2]]`, n: 3, dims: 8, tokens: 5},
		{name: "dimensions", extra: `,"dimensions":4`, input: `["a","b"]`, n: 2, dims: 4, tokens: 2},
		{name: "base64", extra: `,"encoding_format":"base64","dimensions":16`, input: `["a","b","a"]`, n: 3, dims: 16, tokens: 3, b64: true},
		{name: "prompt_tokens directive", extra: `,"mock":{"prompt_tokens":42}`, input: `"x"`, n: 1, dims: 8, tokens: 42},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, hs := newTestServer(t, Options{})
			resp, b := post(t, hs, "/v1/embeddings", `{"model":"emb-1","input":`+tt.input+tt.extra+`}`)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			var r embeddingsResponse
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatal(err)
			}
			if r.Object != "list" || r.Model != "emb-1" {
				t.Errorf("object %q model %q", r.Object, r.Model)
			}
			if diff := cmp.Diff(map[string]int{"prompt_tokens": tt.tokens, "total_tokens": tt.tokens}, r.Usage); diff != "" {
				t.Errorf("usage (-want +got):\n%s", diff)
			}
			if len(r.Data) != tt.n {
				t.Fatalf("got %d embeddings, want %d", len(r.Data), tt.n)
			}
			vecs := r.vectors(t, tt.b64)
			for i, d := range r.Data {
				if d.Index != i || d.Object != "embedding" {
					t.Errorf("data[%d]: index %d object %q", i, d.Index, d.Object)
				}
				if len(vecs[i]) != tt.dims {
					t.Errorf("data[%d]: %d dimensions, want %d", i, len(vecs[i]), tt.dims)
				}
				var sum float64
				for _, f := range vecs[i] {
					sum += float64(f) * float64(f)
				}
				if math.Abs(sum-1) > 1e-4 {
					t.Errorf("data[%d]: squared norm %v, want 1", i, sum)
				}
			}
			// Equal inputs give equal vectors, different inputs differ.
			if tt.n == 3 {
				if !cmp.Equal(vecs[0], vecs[2]) {
					t.Errorf("inputs 0 and 2 are equal but vectors differ")
				}
				if cmp.Equal(vecs[0], vecs[1]) {
					t.Errorf("inputs 0 and 1 differ but vectors are equal")
				}
			}
		})
	}
}

func TestEmbeddingsDeterministic(t *testing.T) {
	_, hs := newTestServer(t, Options{})
	_, b1 := post(t, hs, "/v1/embeddings", `{"model":"m","input":"same text"}`)
	_, b2 := post(t, hs, "/v1/embeddings", `{"model":"m","input":["other","same text"]}`)
	var r1, r2 embeddingsResponse
	if err := json.Unmarshal(b1, &r1); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b2, &r2); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r1.vectors(t, false)[0], r2.vectors(t, false)[1]); diff != "" {
		t.Errorf("same input, different vectors (-first +second):\n%s", diff)
	}
}

func TestModels(t *testing.T) {
	model := func(id string) any {
		return map[string]any{"id": id, "object": "model", "created": 0.0, "owned_by": "mockllm"}
	}
	t.Run("default", func(t *testing.T) {
		_, hs := newTestServer(t, Options{})
		_, b := fetch(t, hs, http.MethodGet, "/v1/models", "")
		want := map[string]any{"object": "list", "data": []any{model("mock-model")}}
		if diff := cmp.Diff(want, decodeMap(t, b)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("configured", func(t *testing.T) {
		_, hs := newTestServer(t, Options{Models: []string{"a", "org/b"}})
		_, b := fetch(t, hs, http.MethodGet, "/v1/models", "")
		want := map[string]any{"object": "list", "data": []any{model("a"), model("org/b")}}
		if diff := cmp.Diff(want, decodeMap(t, b)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		resp, b := fetch(t, hs, http.MethodGet, "/v1/models/org/b", "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if diff := cmp.Diff(model("org/b"), any(decodeMap(t, b))); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		resp, b = fetch(t, hs, http.MethodGet, "/v1/models/nope", "")
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("unknown model: status %d", resp.StatusCode)
		}
		want = map[string]any{"error": map[string]any{"message": "The model 'nope' does not exist", "type": "invalid_request_error", "param": "model", "code": "model_not_found"}}
		if diff := cmp.Diff(want, decodeMap(t, b)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}

func TestRequestErrors(t *testing.T) {
	errBody := func(msg, typ string, param, code any) map[string]any {
		return map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": param, "code": code}}
	}
	tests := []struct {
		name, method, path, body string
		status                   int
		want                     map[string]any // nil: only check the shape
	}{
		{"unknown path", "POST", "/v1/nope", `{}`, 404, errBody("Invalid URL (POST /v1/nope)", "invalid_request_error", nil, nil)},
		{"bad JSON", "POST", "/v1/chat/completions", `{"model":`, 400, nil},
		{"empty body", "POST", "/v1/chat/completions", ``, 400, nil},
		{"wrong type", "POST", "/v1/chat/completions", `{"model":5}`, 400, nil},
		{"missing model", "POST", "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}]}`, 400,
			errBody("you must provide a model parameter", "invalid_request_error", "model", nil)},
		{"no messages", "POST", "/v1/chat/completions", `{"model":"m","messages":[]}`, 400, nil},
		{"wrong method", "GET", "/v1/chat/completions", ``, 405, nil},
		{"bad embeddings input", "POST", "/v1/embeddings", `{"model":"m","input":{}}`, 400, nil},
		{"empty embeddings input", "POST", "/v1/embeddings", `{"model":"m","input":[]}`, 400, nil},
		{"empty embeddings string", "POST", "/v1/embeddings", `{"model":"m","input":["a",""]}`, 400, nil},
		{"bad dimensions", "POST", "/v1/embeddings", `{"model":"m","input":"a","dimensions":-1}`, 400, nil},
		{"bad encoding_format", "POST", "/v1/embeddings", `{"model":"m","input":"a","encoding_format":"hex"}`, 400, nil},
		{"bad prompt", "POST", "/v1/completions", `{"model":"m","prompt":{}}`, 400, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, hs := newTestServer(t, Options{})
			resp, b := fetch(t, hs, tt.method, tt.path, tt.body)
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			got := decodeMap(t, b)
			if tt.want != nil {
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
				return
			}
			e, ok := got["error"].(map[string]any)
			if !ok || len(got) != 1 {
				t.Fatalf("not an OpenAI error: %s", b)
			}
			for _, k := range []string{"message", "type", "param", "code"} {
				if _, ok := e[k]; !ok {
					t.Errorf("error lacks %q: %s", k, b)
				}
			}
			if e["type"] != "invalid_request_error" {
				t.Errorf("type %v", e["type"])
			}
		})
	}
}

func TestAPIKey(t *testing.T) {
	tests := []struct {
		name, auth string
		status     int
	}{
		{"missing", "", 401},
		{"wrong", "Bearer sk-wrong", 401},
		{"not bearer", "Basic c2stdGVzdA==", 401},
		{"empty bearer", "Bearer ", 401},
		{"right", "Bearer sk-test", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, hs := newTestServer(t, Options{APIKey: "sk-test"})
			var hdr []string
			if tt.auth != "" {
				hdr = []string{"Authorization", tt.auth}
			}
			for _, path := range []string{"/v1/models", "/v1/chat/completions"} {
				method, body := http.MethodGet, ""
				if path != "/v1/models" {
					method, body = http.MethodPost, chatBody+"}"
				}
				resp, b := fetch(t, hs, method, path, body, hdr...)
				if resp.StatusCode != tt.status {
					t.Fatalf("%s: status %d, want %d: %s", path, resp.StatusCode, tt.status, b)
				}
				if tt.status != 401 {
					continue
				}
				e := decodeMap(t, b)["error"].(map[string]any)
				if e["code"] != "invalid_api_key" || e["type"] != "invalid_request_error" || !strings.Contains(e["message"].(string), "API key") {
					t.Errorf("%s: error %v", path, e)
				}
			}
		})
	}
}
