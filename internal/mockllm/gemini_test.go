package mockllm

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const geminiBody = `{"systemInstruction":{"parts":[{"text":"be brief"}]},"contents":[{"role":"user","parts":[{"text":"hello there"},{"text":"friend"}]}]`

const (
	geminiGenerate = "/v1beta/models/gemini-test:generateContent"
	geminiStream   = "/v1beta/models/gemini-test:streamGenerateContent"
)

// geminiChunk is one expected response object. parts is JSON; finish and
// thoughts are left out when empty / negative.
func geminiChunk(t *testing.T, parts string, finish string, prompt, cand, thoughts int, id string) any {
	t.Helper()
	usage := `"promptTokenCount":` + strconv.Itoa(prompt) + `,"candidatesTokenCount":` + strconv.Itoa(cand) +
		`,"totalTokenCount":` + strconv.Itoa(prompt+cand+max(thoughts, 0))
	if thoughts >= 0 {
		usage += `,"thoughtsTokenCount":` + strconv.Itoa(thoughts)
	}
	cand0 := `"content":{"role":"model","parts":` + parts + `},"index":0`
	if finish != "" {
		cand0 += `,"finishReason":"` + finish + `"`
	}
	return jsonValue(t, `{"candidates":[{`+cand0+`}],"usageMetadata":{`+usage+`},"modelVersion":"gemini-test","responseId":"`+id+`"}`)
}

func TestGeminiGenerateContent(t *testing.T) {
	tests := []struct {
		name string
		mock string
		want func(t *testing.T) any
	}{
		{
			name: "default text",
			want: func(t *testing.T) any { return geminiChunk(t, `[{"text":"w0 w1 w2 "}]`, "STOP", 5, 3, -1, "mock-1") },
		},
		{
			// "Checking." is 3 chunks (split by characters) plus one for the
			// calls.
			name: "text, calls, directive signature on the first call, thoughts",
			mock: `{"content":"Checking.","tool_calls":[{"name":"get_weather","arguments":"{\"city\":\"Tokyo\"}"},{"name":"noop","arguments":""}],"thought_signature":"sig-1","thoughts_tokens":120}`,
			want: func(t *testing.T) any {
				return geminiChunk(t, `[{"text":"Checking."},
					{"functionCall":{"name":"get_weather","args":{"city":"Tokyo"}},"thoughtSignature":"sig-1"},
					{"functionCall":{"name":"noop","args":{}}}]`, "STOP", 5, 4, 120, "mock-1")
			},
		},
		{
			name: "per-call signature",
			mock: `{"tool_calls":[{"name":"a","arguments":{}},{"name":"b","arguments":{"x":[1]},"thought_signature":"sig-b"}],"thought_signature":"sig-a"}`,
			want: func(t *testing.T) any {
				return geminiChunk(t, `[{"functionCall":{"name":"a","args":{}},"thoughtSignature":"sig-a"},
					{"functionCall":{"name":"b","args":{"x":[1]}},"thoughtSignature":"sig-b"}]`, "STOP", 5, 1, -1, "mock-1")
			},
		},
		{
			name: "length and usage overrides",
			mock: `{"finish_reason":"length","prompt_tokens":40,"completion_tokens":7,"thoughts_tokens":0}`,
			want: func(t *testing.T) any {
				return geminiChunk(t, `[{"text":"w0 w1 w2 "}]`, "MAX_TOKENS", 40, 7, 0, "mock-1")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, hs := newTestServer(t, Options{APIKey: "g-key"})
			body := geminiBody
			if tt.mock != "" {
				body += `,"mock":` + tt.mock
			}
			resp, b := fetch(t, hs, http.MethodPost, geminiGenerate, body+"}", "x-goog-api-key", "g-key")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			if got := resp.Header.Get("Content-Type"); got != "application/json; charset=UTF-8" {
				t.Errorf("Content-Type %q", got)
			}
			if diff := cmp.Diff(tt.want(t), jsonValue(t, string(b))); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
			waitIdle(t, s)
		})
	}
}

func TestGeminiStream(t *testing.T) {
	tests := []struct {
		name string
		mock string
		want func(t *testing.T) []any
	}{
		{
			name: "text",
			want: func(t *testing.T) []any {
				return []any{
					geminiChunk(t, `[{"text":"w0 "}]`, "", 5, 1, -1, "mock-1"),
					geminiChunk(t, `[{"text":"w1 "}]`, "", 5, 2, -1, "mock-1"),
					geminiChunk(t, `[{"text":"w2 "}]`, "", 5, 3, -1, "mock-1"),
					geminiChunk(t, `[{"text":""}]`, "STOP", 5, 3, -1, "mock-1"),
				}
			},
		},
		{
			name: "text then all calls whole in one chunk",
			mock: `{"content":"Checking now","chunks":2,"tool_calls":[{"name":"get_weather","arguments":{"city":"Tokyo"}},{"name":"noop","arguments":"{}"}],"thought_signature":"sig-1","thoughts_tokens":10}`,
			want: func(t *testing.T) []any {
				return []any{
					geminiChunk(t, `[{"text":"Checking "}]`, "", 5, 1, 10, "mock-1"),
					geminiChunk(t, `[{"text":"now"}]`, "", 5, 2, 10, "mock-1"),
					geminiChunk(t, `[{"functionCall":{"name":"get_weather","args":{"city":"Tokyo"}},"thoughtSignature":"sig-1"},{"functionCall":{"name":"noop","args":{}}}]`, "", 5, 3, 10, "mock-1"),
					geminiChunk(t, `[{"text":""}]`, "STOP", 5, 3, 10, "mock-1"),
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := geminiBody
			if tt.mock != "" {
				body += `,"mock":` + tt.mock
			}
			body += "}"
			t.Run("sse", func(t *testing.T) {
				s, hs := newTestServer(t, Options{})
				resp := streamResponse(t, context.Background(), hs, geminiStream+"?alt=sse", body, "text/event-stream")
				raw, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				// Google ends every event with CRLF CRLF and sends no [DONE].
				events := strings.Split(strings.TrimSuffix(string(raw), "\r\n\r\n"), "\r\n\r\n")
				for _, ev := range events {
					if !strings.HasPrefix(ev, "data: {") || strings.ContainsAny(ev, "\r\n") {
						t.Errorf("bad event framing %q", ev)
					}
				}
				got, err := readEvents(t, bytes.NewReader(raw))
				if err != nil {
					t.Fatal(err)
				}
				var data []any
				for _, ev := range got {
					if ev.Name != "" {
						t.Errorf("event has a name %q", ev.Name)
					}
					data = append(data, ev.Data)
				}
				if diff := cmp.Diff(tt.want(t), data); diff != "" {
					t.Errorf("events (-want +got):\n%s", diff)
				}
				if st := waitIdle(t, s); st != (Stats{Requests: 1, Completed: 1}) {
					t.Errorf("stats %+v", st)
				}
			})
			t.Run("JSON array without alt=sse", func(t *testing.T) {
				_, hs := newTestServer(t, Options{})
				resp := streamResponse(t, context.Background(), hs, geminiStream, body, "application/json; charset=UTF-8")
				var got []any
				if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want(t), got); diff != "" {
					t.Errorf("array (-want +got):\n%s", diff)
				}
			})
		})
	}
}

func TestGeminiCutAfter(t *testing.T) {
	tests := []struct {
		name  string
		mock  string
		count int // events before the cut
	}{
		{"after 1", `{"chunks":3,"cut_after":1}`, 1},
		{"past the end: before the finishReason chunk", `{"content":"a b","chunks":2,"tool_calls":[{"name":"f","arguments":"{}"}],"cut_after":9}`, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, hs := newTestServer(t, Options{})
			resp := streamResponse(t, context.Background(), hs, geminiStream+"?alt=sse", geminiBody+`,"mock":`+tt.mock+"}", "text/event-stream")
			got, err := readEvents(t, resp.Body)
			if err == nil {
				t.Errorf("stream ended cleanly; want a read error")
			}
			if len(got) != tt.count {
				t.Errorf("%d events before the cut, want %d: %v", len(got), tt.count, got)
			}
			for _, ev := range got {
				if b, _ := json.Marshal(ev.Data); strings.Contains(string(b), "finishReason") {
					t.Errorf("finishReason before the cut: %s", b)
				}
			}
			if st := waitIdle(t, s); st != (Stats{Requests: 1, Aborted: 1}) {
				t.Errorf("stats %+v, want 1 aborted", st)
			}
		})
	}
	t.Run("non-stream", func(t *testing.T) {
		s, hs := newTestServer(t, Options{})
		resp, err := send(t, context.Background(), hs, http.MethodPost, geminiGenerate, geminiBody+`,"mock":{"cut_after":0}}`)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		if err == nil || json.Valid(b) {
			t.Errorf("want a truncated body, got %q (err %v)", b, err)
		}
		if st := waitIdle(t, s); st.Aborted != 1 {
			t.Errorf("stats %+v", st)
		}
	})
}

func TestGeminiStreamCanceled(t *testing.T) {
	s, hs := newTestServer(t, Options{})
	// The deadline turns a missing event into a read error, not a hang.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp := streamResponse(t, ctx, hs, geminiStream+"?alt=sse", geminiBody+`,"mock":{"hang_after_chunks":1}}`, "text/event-stream")
	buf := make([]byte, 4096)
	var got strings.Builder
	for !strings.Contains(got.String(), "\r\n\r\n") {
		n, err := resp.Body.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			t.Fatalf("read: %v after %q", err, got.String())
		}
	}
	cancel()
	_, _ = io.Copy(io.Discard, resp.Body)
	if st := waitIdle(t, s); st != (Stats{Requests: 1, Canceled: 1}) {
		t.Errorf("stats %+v, want 1 canceled", st)
	}
}

func TestGeminiErrors(t *testing.T) {
	const badKey = `{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]}}` + "\n"
	tests := []struct {
		name    string
		opts    Options
		path    string
		body    string
		headers []string
		status  int
		want    string
	}{
		{name: "no key", opts: Options{APIKey: "g"}, status: 400, want: badKey},
		{name: "wrong key", opts: Options{APIKey: "g"}, headers: []string{"x-goog-api-key", "nope"}, status: 400, want: badKey},
		{name: "bearer is not a Google key", opts: Options{APIKey: "g"}, headers: []string{"Authorization", "Bearer g"}, status: 400, want: badKey},
		{name: "key query parameter", opts: Options{APIKey: "g"}, path: geminiGenerate + "?key=g", status: 200},
		{name: "no contents", body: `{"contents":[]}`, status: 400,
			want: `{"error":{"code":400,"message":"* GenerateContentRequest.contents: contents is not specified\n","status":"INVALID_ARGUMENT"}}` + "\n"},
		{name: "bad JSON", body: `{"contents":`, status: 400,
			want: `{"error":{"code":400,"message":"Invalid JSON payload received. Unexpected token.","status":"INVALID_ARGUMENT"}}` + "\n"},
		{name: "error_type overrides status name", body: geminiBody + `,"mock":{"status":400,"error_type":"FAILED_PRECONDITION","error_message":"User location is not supported"}}`, status: 400,
			want: `{"error":{"code":400,"message":"User location is not supported","status":"FAILED_PRECONDITION"}}` + "\n"},
	}
	for _, st := range []struct {
		status int
		name   string
	}{{400, "INVALID_ARGUMENT"}, {403, "PERMISSION_DENIED"}, {404, "NOT_FOUND"}, {429, "RESOURCE_EXHAUSTED"},
		{500, "INTERNAL"}, {503, "UNAVAILABLE"}, {504, "DEADLINE_EXCEEDED"}} {
		tests = append(tests, struct {
			name    string
			opts    Options
			path    string
			body    string
			headers []string
			status  int
			want    string
		}{
			name: "scripted " + strconv.Itoa(st.status), path: geminiStream + "?alt=sse",
			body: geminiBody + `,"mock":{"status":` + strconv.Itoa(st.status) + `}}`, status: st.status,
			want: `{"error":{"code":` + strconv.Itoa(st.status) + `,"message":"mockllm: scripted error (HTTP ` + strconv.Itoa(st.status) + `)","status":"` + st.name + `"}}` + "\n",
		})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, hs := newTestServer(t, tt.opts)
			path, body := tt.path, tt.body
			if path == "" {
				path = geminiGenerate
			}
			if body == "" {
				body = geminiBody + "}"
			}
			resp, b := fetch(t, hs, http.MethodPost, path, body, tt.headers...)
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tt.status, b)
			}
			if tt.want != "" {
				if diff := cmp.Diff(tt.want, string(b)); diff != "" {
					t.Errorf("body (-want +got):\n%s", diff)
				}
				if got := resp.Header.Get("Content-Type"); got != "application/json; charset=UTF-8" {
					t.Errorf("Content-Type %q", got)
				}
			}
			waitIdle(t, s)
		})
	}
}

func TestGeminiEmbeddings(t *testing.T) {
	vector := func(dims int, text string) []float32 {
		v := make([]float32, dims)
		embedVector(v, promptInput{text: text})
		return v
	}
	type values struct {
		Values []float32 `json:"values"`
	}
	tests := []struct {
		name, method, body string
		want               any
	}{
		{
			name: "embedContent", method: "embedContent",
			body: `{"model":"models/emb","content":{"parts":[{"text":"hello"}]}}`,
			want: map[string]values{"embedding": {vector(8, "hello")}},
		},
		{
			name: "embedContent without model, parts joined", method: "embedContent",
			body: `{"content":{"parts":[{"text":"hel"},{"text":"lo"}]},"outputDimensionality":3}`,
			want: map[string]values{"embedding": {vector(3, "hello")}},
		},
		{
			name: "batchEmbedContents", method: "batchEmbedContents",
			body: `{"requests":[{"model":"models/emb","content":{"parts":[{"text":"a"}]}},{"model":"models/emb","content":{"parts":[{"text":"b"}]},"outputDimensionality":4}]}`,
			want: map[string][]values{"embeddings": {{vector(8, "a")}, {vector(4, "b")}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, hs := newTestServer(t, Options{})
			resp, b := post(t, hs, "/v1beta/models/emb:"+tt.method, tt.body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			// Compare as decoded JSON: float32 values print the same way
			// through encoding/json and the mock.
			want, err := json.Marshal(tt.want)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(jsonValue(t, string(want)), jsonValue(t, string(b))); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("same vector as OpenAI embeddings", func(t *testing.T) {
		_, hs := newTestServer(t, Options{})
		_, gb := post(t, hs, "/v1beta/models/emb:embedContent", `{"content":{"parts":[{"text":"same text"}]}}`)
		_, ob := post(t, hs, "/v1/embeddings", `{"model":"emb","input":"same text"}`)
		var g struct{ Embedding values }
		var o struct {
			Data []struct{ Embedding []float32 }
		}
		if json.Unmarshal(gb, &g) != nil || json.Unmarshal(ob, &o) != nil || len(o.Data) != 1 {
			t.Fatalf("bad responses %s %s", gb, ob)
		}
		if diff := cmp.Diff(o.Data[0].Embedding, g.Embedding.Values); diff != "" {
			t.Errorf("vectors differ (-openai +gemini):\n%s", diff)
		}
	})

	for _, tt := range []struct{ name, method, body, msg string }{
		{"batch element without model", "batchEmbedContents", `{"requests":[{"content":{"parts":[{"text":"a"}]}}]}`,
			"* BatchEmbedContentsRequest.requests[0].model: model must be \"models/emb\" as in the URL, got \"\"\n"},
		{"batch element of another model", "batchEmbedContents", `{"requests":[{"model":"models/emb","content":{"parts":[{"text":"a"}]}},{"model":"emb","content":{"parts":[{"text":"b"}]}}]}`,
			"* BatchEmbedContentsRequest.requests[1].model: model must be \"models/emb\" as in the URL, got \"emb\"\n"},
		{"empty batch", "batchEmbedContents", `{"requests":[]}`, "* BatchEmbedContentsRequest.requests: requests is not specified\n"},
		{"no content", "embedContent", `{"model":"models/emb"}`, "* EmbedContentRequest.content: contents is not specified\n"},
		{"empty text", "embedContent", `{"content":{"parts":[{"text":""}]}}`, "* EmbedContentRequest.content: text must not be empty\n"},
		{"bad dimension", "embedContent", `{"content":{"parts":[{"text":"a"}]},"outputDimensionality":0}`,
			"* EmbedContentRequest.output_dimensionality: must be between 1 and 16384\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, hs := newTestServer(t, Options{})
			resp, b := post(t, hs, "/v1beta/models/emb:"+tt.method, tt.body)
			want := `{"error":{"code":400,"message":` + strconv.Quote(tt.msg) + `,"status":"INVALID_ARGUMENT"}}` + "\n"
			if resp.StatusCode != 400 || string(b) != want {
				t.Errorf("status %d body %s\nwant %s", resp.StatusCode, b, want)
			}
		})
	}
}

func TestGeminiCountTokens(t *testing.T) {
	_, hs := newTestServer(t, Options{})
	resp, b := post(t, hs, "/v1beta/models/g:countTokens", geminiBody+"}")
	if resp.StatusCode != 200 || string(b) != `{"totalTokens":5}`+"\n" {
		t.Errorf("status %d body %q", resp.StatusCode, b)
	}
}

func TestGeminiModels(t *testing.T) {
	_, hs := newTestServer(t, Options{Models: []string{"g1", "g2"}})
	model := func(id string) string {
		return `{"name":"models/` + id + `","version":"001","displayName":"` + id + `","inputTokenLimit":1048576,"outputTokenLimit":65536,"supportedGenerationMethods":` + geminiMethods + `}`
	}
	for _, tt := range []struct {
		path   string
		status int
		want   string
	}{
		{"/v1beta/models", 200, `{"models":[` + model("g1") + `,` + model("g2") + `]}`},
		{"/v1beta/models/g2", 200, model("g2")},
		{"/v1beta/models/nope", 404, `{"error":{"code":404,"message":"models/nope is not found for API version v1beta.","status":"NOT_FOUND"}}`},
	} {
		resp, b := fetch(t, hs, http.MethodGet, tt.path, "")
		if resp.StatusCode != tt.status || string(b) != tt.want+"\n" {
			t.Errorf("%s: status %d body %s\nwant %d %s", tt.path, resp.StatusCode, b, tt.status, tt.want)
		}
	}
}

func TestGeminiScript(t *testing.T) {
	var paths []string
	s, hs := newTestServer(t, Options{Script: func(seq int64, r *http.Request, d *Directive) {
		paths = append(paths, r.URL.Path) // requests are sequential here
		if seq == 1 {
			d.Status = 429
			d.RetryAfter = "1"
		}
	}})
	for i, want := range []int{429, 200} {
		resp, b := post(t, hs, geminiGenerate, geminiBody+"}")
		if resp.StatusCode != want {
			t.Errorf("request %d: status %d, want %d: %s", i+1, resp.StatusCode, want, b)
		}
	}
	waitIdle(t, s)
	if diff := cmp.Diff([]string{geminiGenerate, geminiGenerate}, paths); diff != "" {
		t.Errorf("Script saw (-want +got):\n%s", diff)
	}
}
