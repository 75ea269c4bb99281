package adapter

import "testing"

func TestChunkTextBytes(t *testing.T) {
	for _, tc := range []struct {
		name, chunk string
		want        int
	}{
		{"content", `{"id":"c","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}`, 5},
		{"spaces after colons", `{"id": "c", "choices": [{"delta": {"content": "Hi there"}}]}`, 8},
		{"escapes counted as written, quotes inside kept", `{"choices":[{"delta":{"content":"say \"content\":\"x\" \\"}}]}`, 24},
		{"reasoning and tool arguments", `{"choices":[{"delta":{"reasoning_content":"think","tool_calls":[{"index":0,"function":{"name":"f","arguments":"{\"a\":1}"}}]}}]}`, 5 + 9},
		{"reasoning (OpenRouter)", `{"choices":[{"delta":{"reasoning":"abc"}}]}`, 3},
		{"legacy completion text", `{"choices":[{"text":"abcd","index":0}]}`, 4},
		{"null content and role only", `{"choices":[{"delta":{"role":"assistant","content":null}}]}`, 0},
		{"usage chunk", `{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5}}`, 0},
		{"member names that only end like one", `{"xcontent":"abc","my_text":"zz"}`, 0},
		{"cut in a string", `{"choices":[{"delta":{"content":"abc`, 0},
		{"a text member's name as a value", `{"choices":[{"delta":{"role":"content"}}]}`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ChunkTextBytes([]byte(tc.chunk)); got != tc.want {
				t.Errorf("ChunkTextBytes = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestStreamCountsUsage(t *testing.T) {
	reported := Usage{PromptTokens: 100, CompletionTokens: 20, TotalTokens: 120, CachedTokens: 40, ReasoningTokens: 5}
	for _, tc := range []struct {
		name string
		c    StreamCounts
		want Usage
	}{
		{"all reported", StreamCounts{Reported: reported, PromptKnown: true, CompletionKnown: true, PromptBytes: 999, TextBytes: 999}, reported},
		{"nothing reported", StreamCounts{PromptBytes: 400, TextBytes: 41},
			Usage{PromptTokens: 100, CompletionTokens: 11, TotalTokens: 111, Estimated: true}},
		{"prompt reported (Anthropic message_start), completion cut", StreamCounts{Reported: Usage{PromptTokens: 7, CachedTokens: 3, CompletionTokens: 1}, PromptKnown: true, TextBytes: 8},
			Usage{PromptTokens: 7, CachedTokens: 3, CompletionTokens: 2, TotalTokens: 9, Estimated: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.c.Usage(); got != tc.want {
				t.Errorf("Usage = %+v\nwant    %+v", got, tc.want)
			}
		})
	}
}

func FuzzChunkTextBytes(f *testing.F) {
	for _, s := range []string{`{"choices":[{"delta":{"content":"a\"b"}}]}`, `":"`, `"content": "`, `"content":"\\`, `{"text":"x"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n := ChunkTextBytes([]byte(s)); n < 0 || n > len(s) {
			t.Fatalf("ChunkTextBytes(%q) = %d", s, n)
		}
	})
}

func BenchmarkChunkTextBytes(b *testing.B) {
	chunk := []byte(`{"id":"chatcmpl-mock-1","object":"chat.completion.chunk","created":1700000000,"model":"mock-model","choices":[{"index":0,"delta":{"content":" greeting"},"finish_reason":null}]}`)
	b.SetBytes(int64(len(chunk)))
	for b.Loop() {
		ChunkTextBytes(chunk)
	}
}
