package responses

import (
	"testing"

	"aigateway/internal/adapter"
)

// The gateway's usage of a converted stream carries the cached and
// reasoning tokens of the Chat usage chunk.
func TestStreamUsageDetails(t *testing.T) {
	s := mustParse(t, newTestDialect(nil), streamBody).NewStream(openaiTarget)
	for _, c := range []string{
		`{"id":"c","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}]}`,
		`{"id":"c","choices":[],"usage":{"prompt_tokens":30,"completion_tokens":12,"total_tokens":42,"prompt_tokens_details":{"cached_tokens":20},"completion_tokens_details":{"reasoning_tokens":9}}}`,
	} {
		if _, err := s.Chunk([]byte(c)); err != nil {
			t.Fatal(err)
		}
	}
	want := adapter.Usage{PromptTokens: 30, CompletionTokens: 12, TotalTokens: 42, CachedTokens: 20, ReasoningTokens: 9}
	if u := s.Usage(); u != want {
		t.Errorf("Usage = %+v, want %+v", u, want)
	}
}
