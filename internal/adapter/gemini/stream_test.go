package gemini

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"

	"aigateway/internal/adapter"
	"aigateway/internal/sse"
)

// translate runs a whole Gemini SSE stream through a translator, reading it
// with r as the gateway does, and returns the chunks and End's error.
func translate(t testing.TB, r io.Reader, tr adapter.Translator) ([][]byte, error) {
	t.Helper()
	sr := sse.NewReader(r, 0)
	var chunks [][]byte
	for {
		ev, err := sr.Next()
		if err == io.EOF {
			end, err := tr.End()
			return append(chunks, end...), err
		}
		if err != nil {
			t.Fatal(err)
		}
		out, err := tr.Event(ev)
		c, done := out.Chunks, out.Done
		chunks = append(chunks, c...)
		if err != nil {
			return chunks, err
		}
		if done {
			t.Fatal("Gemini translator reported done; Gemini streams end at EOF")
		}
	}
}

// sseData returns the data payloads of an OpenAI SSE file, without [DONE]
// (which the handler writes, not the translator).
func sseData(t testing.TB, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if data, ok := strings.CutPrefix(line, "data: "); ok && data != "[DONE]" {
			out = append(out, []byte(data))
		}
	}
	return out
}

// TestTranslatorFixture feeds gemini-stream-toolcalls.sse through the
// translator, whole and one byte at a time, and compares the chunks with
// translated-gemini-to-openai.sse as JSON. The reference was written with
// made-up values for two things, which are normalised before comparing:
// created (the gateway's clock) and the tool call ids (the gateway mints
// them; their exact values are checked here too). The reference also
// predates thought signatures: the Tokyo call carries its signature in
// extra_content, which is checked and then removed.
func TestTranslatorFixture(t *testing.T) {
	in := readTestdata(t, "gemini-stream-toolcalls.sse")
	want := sseData(t, readTestdata(t, "translated-gemini-to-openai.sse"))
	readers := map[string]func() io.Reader{
		"whole":    func() io.Reader { return bytes.NewReader(in) },
		"one byte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(in)) },
	}
	for name, reader := range readers {
		t.Run(name, func(t *testing.T) {
			tr := NewTranslator("gemini-upstream", true, 1)
			got, err := translate(t, reader(), tr)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("got %d chunks, want %d:\n%s", len(got), len(want), bytes.Join(got, []byte("\n")))
			}
			for i := range want {
				g := decodeJSON(t, got[i]).(map[string]any)
				w := decodeJSON(t, want[i]).(map[string]any)
				if g["created"] != float64(1) {
					t.Errorf("chunk %d: created %v, want 1", i, g["created"])
				}
				g["created"], w["created"] = nil, nil
				checkToolCalls(t, i, g)
				normaliseIDs(g)
				normaliseIDs(w)
				if d := cmp.Diff(w, g); d != "" {
					t.Errorf("chunk %d (-want +got):\n%s", i, d)
				}
			}
			if u := tr.Usage(); u != (adapter.Usage{PromptTokens: 398, CompletionTokens: 160, TotalTokens: 558, ReasoningTokens: 120}) {
				t.Errorf("Usage() = %+v", u)
			}
		})
	}
}

// checkToolCalls checks the minted ids and the thought signature of the
// fixture's tool call chunk, then removes extra_content.
func checkToolCalls(t *testing.T, i int, chunk map[string]any) {
	for _, c := range chunk["choices"].([]any) {
		delta := c.(map[string]any)["delta"].(map[string]any)
		calls, _ := delta["tool_calls"].([]any)
		for k, tc := range calls {
			call := tc.(map[string]any)
			if want := "call_qpc2afWVFJK4vr0Pq6WiyAU_0_" + string(rune('0'+k)); call["id"] != want {
				t.Errorf("chunk %d call %d: id %v, want %s", i, k, call["id"], want)
			}
			extra := call["extra_content"]
			if k == 0 {
				want := map[string]any{"google": map[string]any{"thought_signature": "CiQBcsjafA...opaque-base64...="}}
				if d := cmp.Diff(any(want), extra); d != "" {
					t.Errorf("chunk %d call 0 extra_content (-want +got):\n%s", i, d)
				}
			} else if extra != nil {
				t.Errorf("chunk %d call %d: unexpected extra_content %v", i, k, extra)
			}
			delete(call, "extra_content")
		}
	}
}

func normaliseIDs(chunk map[string]any) {
	for _, c := range chunk["choices"].([]any) {
		delta := c.(map[string]any)["delta"].(map[string]any)
		calls, _ := delta["tool_calls"].([]any)
		for _, tc := range calls {
			tc.(map[string]any)["id"] = "minted"
		}
	}
}

// TestTranslatorStubReplies runs the replies that made Gemini CLI finish its
// turns: a function call whose event also carries STOP, and text in two
// events.
func TestTranslatorStubReplies(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{{
		file: "gemini-streamGenerateContent-functionCall.sse",
		want: []string{
			`{"id":"chatcmpl-stub-resp","object":"chat.completion.chunk","created":5,"model":"acceptance-model","choices":[{"index":0,"delta":{"role":"assistant",
				"tool_calls":[{"index":0,"id":"call_stub-resp_0_0","type":"function","function":{"name":"get_marker","arguments":"{\"what\":\"marker\"}"}}]},"logprobs":null,"finish_reason":null}]}`,
			`{"id":"chatcmpl-stub-resp","object":"chat.completion.chunk","created":5,"model":"acceptance-model","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}]}`,
			`{"id":"chatcmpl-stub-resp","object":"chat.completion.chunk","created":5,"model":"acceptance-model","choices":[],
				"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}`,
		},
	}, {
		file: "gemini-streamGenerateContent-text.sse",
		want: []string{
			`{"id":"chatcmpl-stub-resp","object":"chat.completion.chunk","created":5,"model":"acceptance-model","choices":[{"index":0,"delta":{"role":"assistant","content":"ACCEPTAN"},"logprobs":null,"finish_reason":null}]}`,
			`{"id":"chatcmpl-stub-resp","object":"chat.completion.chunk","created":5,"model":"acceptance-model","choices":[{"index":0,"delta":{"content":"CE-OK-42"},"logprobs":null,"finish_reason":null}]}`,
			`{"id":"chatcmpl-stub-resp","object":"chat.completion.chunk","created":5,"model":"acceptance-model","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}`,
			`{"id":"chatcmpl-stub-resp","object":"chat.completion.chunk","created":5,"model":"acceptance-model","choices":[],
				"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}`,
		},
	}}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := translate(t, iotest.OneByteReader(bytes.NewReader(readTestdata(t, tt.file))), NewTranslator("upstream", true, 5))
			if err != nil {
				t.Fatal(err)
			}
			compareChunks(t, tt.want, got)
		})
	}
}

func compareChunks(t *testing.T, want []string, got [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d chunks, want %d:\n%s", len(got), len(want), bytes.Join(got, []byte("\n")))
	}
	for i := range want {
		if d := diffJSON(t, []byte(want[i]), got[i]); d != "" {
			t.Errorf("chunk %d (-want +got):\n%s", i, d)
		}
	}
}

func TestTranslatorCases(t *testing.T) {
	const head = `"id":"chatcmpl-r","object":"chat.completion.chunk","created":1,"model":"gemini-x"`
	tests := []struct {
		name         string
		stream       string
		includeUsage bool
		want         []string
	}{{
		name:   "a blocked prompt ends with content_filter",
		stream: "data: {\"promptFeedback\":{\"blockReason\":\"SAFETY\"},\"responseId\":\"r\",\"modelVersion\":\"gemini-x\"}\n\n",
		want: []string{
			`{` + head + `,"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}`,
			`{` + head + `,"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"content_filter"}]}`,
		},
	}, {
		name: "usage counts overwrite field by field; missing counts keep the last value",
		stream: "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}],\"responseId\":\"r\",\"modelVersion\":\"gemini-x\",\"usageMetadata\":{\"promptTokenCount\":10,\"candidatesTokenCount\":1,\"totalTokenCount\":11}}\n\n" +
			"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"b\",\"thought\":true}]}}],\"usageMetadata\":{\"thoughtsTokenCount\":4,\"cachedContentTokenCount\":2}}\n\n" +
			"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"c\"}]},\"finishReason\":\"MAX_TOKENS\"}],\"usageMetadata\":{\"candidatesTokenCount\":3,\"totalTokenCount\":17}}\n\n" +
			"data: {\"usageMetadata\":{\"trafficType\":\"ON_DEMAND\"}}\n\n",
		includeUsage: true,
		want: []string{
			`{` + head + `,"choices":[{"index":0,"delta":{"role":"assistant","content":"a"},"logprobs":null,"finish_reason":null}]}`,
			`{` + head + `,"choices":[{"index":0,"delta":{"content":"c"},"logprobs":null,"finish_reason":null}]}`,
			`{` + head + `,"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"length"}]}`,
			`{` + head + `,"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":7,"total_tokens":17,
				"prompt_tokens_details":{"cached_tokens":2},"completion_tokens_details":{"reasoning_tokens":4}}}`,
		},
	}, {
		name: "tool call indexes count per candidate; every candidate must finish",
		stream: "data: {\"candidates\":[{\"index\":0,\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"f\",\"args\":{}}}]}}," +
			"{\"index\":1,\"content\":{\"parts\":[{\"functionCall\":{\"id\":\"g1\",\"name\":\"g\"}}]}}],\"responseId\":\"r\",\"modelVersion\":\"gemini-x\"}\n\n" +
			"data: {\"candidates\":[{\"index\":1,\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"h\",\"args\":{\"x\":1}}}]},\"finishReason\":\"STOP\"}]}\n\n" +
			"data: {\"candidates\":[{\"index\":0,\"content\":{\"parts\":[{\"text\":\"\"}]},\"finishReason\":\"STOP\"}]}\n\n",
		want: []string{
			`{` + head + `,"choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_r_0_0","type":"function","function":{"name":"f","arguments":"{}"}}]},"logprobs":null,"finish_reason":null}]}`,
			`{` + head + `,"choices":[{"index":1,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"g1","type":"function","function":{"name":"g","arguments":"{}"},
				"extra_content":{"google":{"function_call_id":"g1"}}}]},"logprobs":null,"finish_reason":null}]}`,
			`{` + head + `,"choices":[{"index":1,"delta":{"tool_calls":[{"index":1,"id":"call_r_1_1","type":"function","function":{"name":"h","arguments":"{\"x\":1}"}}]},"logprobs":null,"finish_reason":null}]}`,
			`{` + head + `,"choices":[{"index":1,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}]}`,
			`{` + head + `,"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}]}`,
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := translate(t, strings.NewReader(tt.stream), NewTranslator("upstream", tt.includeUsage, 1))
			if err != nil {
				t.Fatal(err)
			}
			compareChunks(t, tt.want, got)
		})
	}
}

func TestTranslatorErrors(t *testing.T) {
	const text = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}],\"responseId\":\"r\"}\n\n"
	tests := []struct {
		name       string
		stream     string
		wantChunks int
		wantStatus int
		wantCode   string
	}{
		{"EOF before any finishReason", text, 1, http.StatusBadGateway, "stream_incomplete"},
		{"empty stream", "", 0, http.StatusBadGateway, "stream_incomplete"},
		{"one candidate of two unfinished",
			"data: {\"candidates\":[{\"index\":0,\"finishReason\":\"STOP\",\"content\":{\"parts\":[{\"text\":\"a\"}]}},{\"index\":1,\"content\":{\"parts\":[{\"text\":\"b\"}]}}]}\n\n",
			3, http.StatusBadGateway, "stream_incomplete"},
		{"in-band error", text + "data: {\"error\":{\"code\":503,\"message\":\"The model is overloaded.\",\"status\":\"UNAVAILABLE\"}}\n\n",
			1, http.StatusServiceUnavailable, "unavailable"},
		{"in-band error in an array", "data: [{\"error\":{\"code\":429,\"message\":\"quota\",\"status\":\"RESOURCE_EXHAUSTED\"}}]\n\n",
			0, http.StatusTooManyRequests, "resource_exhausted"},
		{"event that is not JSON", text + "data: {oops\n\n", 1, http.StatusBadGateway, "upstream_invalid_response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := translate(t, strings.NewReader(tt.stream), NewTranslator("m", true, 1))
			if err == nil {
				t.Fatalf("no error; chunks:\n%s", bytes.Join(got, []byte("\n")))
			}
			var ae *adapter.Error
			if !errors.As(err, &ae) {
				t.Fatalf("error %v is not an *adapter.Error", err)
			}
			if ae.Status != tt.wantStatus || ae.Err.Code != tt.wantCode || len(got) != tt.wantChunks {
				t.Errorf("got status %d code %q after %d chunks, want %d %q after %d",
					ae.Status, ae.Err.Code, len(got), tt.wantStatus, tt.wantCode, tt.wantChunks)
			}
		})
	}
}

// TestTranslatorNoUsageChunk: without include_usage, End adds nothing.
func TestTranslatorNoUsageChunk(t *testing.T) {
	in := "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]},\"finishReason\":\"STOP\"}],\"responseId\":\"r\",\"usageMetadata\":{\"promptTokenCount\":3,\"candidatesTokenCount\":1,\"totalTokenCount\":4}}\n\n"
	tr := NewTranslator("m", false, 1)
	got, err := translate(t, strings.NewReader(in), tr)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d chunks, want 2 (content, finish):\n%s", len(got), bytes.Join(got, []byte("\n")))
	}
	if u := tr.Usage(); u != (adapter.Usage{PromptTokens: 3, CompletionTokens: 1, TotalTokens: 4}) {
		t.Errorf("Usage() = %+v", u)
	}
}
