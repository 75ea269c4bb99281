package mockllm

import (
	"testing"

	"github.com/tidwall/gjson"
)

// TestReasoning: the reasoning directive sends reasoning_content as
// OpenAI-compatible reasoning servers do, before the content.
func TestReasoning(t *testing.T) {
	_, hs := newTestServer(t, Options{})
	mock := `,"mock":{"reasoning":"First  think, then answer."}}`

	_, body := post(t, hs, "/v1/chat/completions", chatBody+mock)
	if got := gjson.GetBytes(body, "choices.0.message.reasoning_content").Str; got != "First  think, then answer." {
		t.Errorf("reasoning_content = %q in %s", got, body)
	}

	evs := streamEvents(t, hs, "/v1/chat/completions", chatBody+`,"stream":true`+mock)
	var reasoning, content string
	first := -1
	for i, ev := range evs {
		d := gjson.Get(ev, "choices.0.delta")
		if r := d.Get("reasoning_content").Str; r != "" {
			reasoning += r
		}
		if c := d.Get("content").Str; c != "" {
			if first < 0 && reasoning != "First  think, then answer." {
				t.Errorf("content at event %d before the whole reasoning", i)
			}
			first = i
			content += c
		}
	}
	if reasoning != "First  think, then answer." || content != ExpectedText(3) {
		t.Errorf("reasoning %q, content %q", reasoning, content)
	}
}
