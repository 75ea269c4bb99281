package geminiapi

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// twentyChunks is a Chat stream of a role chunk, 18 text chunks, a finish
// chunk and a usage chunk, as a loadbench stream is.
func twentyChunks() [][]byte {
	var out [][]byte
	out = append(out, []byte(`{"id":"chatcmpl-b","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`))
	for i := range 18 {
		out = append(out, fmt.Appendf(nil, `{"id":"chatcmpl-b","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"word%d and some more \"quoted\" text "},"finish_reason":null}]}`, i))
	}
	out = append(out, []byte(`{"id":"chatcmpl-b","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`),
		[]byte(`{"id":"chatcmpl-b","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":18,"total_tokens":28}}`))
	return out
}

// BenchmarkStream converts one twenty-chunk stream per iteration.
func BenchmarkStream(b *testing.B) {
	chunks := twentyChunks()
	req, err := ParseGemini([]byte(`{"contents":[{"parts":[{"text":"hi"}]}]}`), "client-model", true)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s := req.NewStream(openaiTarget)
		for _, c := range chunks {
			if _, err := s.Chunk(c); err != nil {
				b.Fatal(err)
			}
		}
		s.End()
	}
}

// BenchmarkChatGeminiCLI converts Gemini CLI's first request (48 KB, 15
// tools) for an OpenAI-compatible deployment.
func BenchmarkChatGeminiCLI(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("testdata", "gemini-cli-1-first-turn.json"))
	if err != nil {
		b.Fatal(err)
	}
	req, err := ParseGemini(body, "client-model", true)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := req.Chat(openaiTarget); err != nil {
			b.Fatal(err)
		}
	}
}
