package responses

import (
	"testing"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/inbound"
)

var (
	claudeTarget  = inbound.Target{Upstream: adapter.ProtocolMessages, Deployment: "claude-1"}
	claude2Target = inbound.Target{Upstream: adapter.ProtocolMessages, Deployment: "claude-2"}
	geminiTarget  = inbound.Target{Upstream: adapter.ProtocolGemini, Deployment: "gemini-1"}
)

// Reasoning signed by an Anthropic deployment becomes a reasoning item
// whose encrypted_content carries the signature, whole and streamed, and
// goes back with it to that deployment only.
func TestAnthropicReasoningRoundTrip(t *testing.T) {
	q := mustParse(t, newTestDialect(nil), `{"model":"m","store":false,"input":"Hi","reasoning":{"effort":"xhigh"}}`)
	body, err := q.Chat(claudeTarget)
	if err != nil {
		t.Fatal(err)
	}
	if got := gjson.GetBytes(body, "reasoning_effort").Str; got != "high" {
		t.Errorf("reasoning_effort %q for Anthropic, want high", got)
	}
	chat := []byte(`{"id":"chatcmpl-1","choices":[{"message":{"role":"assistant","content":"Hello.","reasoning_content":"Hmm.","reasoning_signature":"EqSig"},"finish_reason":"stop"}]}`)
	out, err := q.Response(claudeTarget, chat)
	if err != nil {
		t.Fatal(err)
	}
	whole := gjson.GetBytes(out, "output.0")

	q = mustParse(t, newTestDialect(nil), `{"model":"m","store":false,"stream":true,"input":"Hi"}`)
	last := checkStream(t, runStream(t, q.NewStream(claudeTarget), [][]byte{
		[]byte(`{"id":"c1","choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"Hm"}}]}`),
		[]byte(`{"id":"c1","choices":[{"index":0,"delta":{"reasoning_content":"m."}}]}`),
		[]byte(`{"id":"c1","choices":[{"index":0,"delta":{"reasoning_signature":"EqSig"}}]}`),
		[]byte(`{"id":"c1","choices":[{"index":0,"delta":{"content":"Hello."}}]}`),
		[]byte(`{"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`),
	}))
	streamed := last.Get("response.output.0")

	for name, rs := range map[string]gjson.Result{"whole": whole, "stream": streamed} {
		if rs.Get("type").Str != "reasoning" || rs.Get("summary.0.text").Str != "Hmm." {
			t.Fatalf("%s: reasoning item %s", name, rs.Raw)
		}
		replay := `{"model":"m","store":false,"input":[{"role":"user","content":"Hi"},` + rs.Raw +
			`,{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Hello."}]},{"role":"user","content":"Again"}]}`
		q := mustParse(t, newTestDialect(nil), replay)
		for _, tc := range []struct {
			target          inbound.Target
			text, signature string
		}{{claudeTarget, "Hmm.", "EqSig"}, {claude2Target, "", ""}, {geminiTarget, "", ""}, {openaiTarget, "", ""}} {
			body, err := q.Chat(tc.target)
			if err != nil {
				t.Fatal(err)
			}
			m := gjson.GetBytes(body, "messages.1")
			if m.Get("role").Str != "assistant" || m.Get("reasoning_content").Str != tc.text || m.Get("reasoning_signature").Str != tc.signature {
				t.Errorf("%s to %s: %s", name, tc.target.Deployment, m.Raw)
			}
		}
	}
}
