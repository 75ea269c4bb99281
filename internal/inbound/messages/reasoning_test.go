package messages

import (
	"testing"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/inbound"
)

var anthropicTarget = inbound.Target{Upstream: adapter.ProtocolMessages, Deployment: "claude-1"}

// Adaptive thinking asks Anthropic and Gemini deployments for medium
// effort, and an OpenAI-compatible one for nothing.
func TestAdaptiveThinkingEffort(t *testing.T) {
	req := parse(t, "/v1/messages", nil, []byte(`{"model":"m","max_tokens":100,"thinking":{"type":"adaptive"},"messages":[{"role":"user","content":"hi"}]}`))
	for _, tc := range []struct {
		target inbound.Target
		want   string
	}{{geminiTarget, "medium"}, {anthropicTarget, "medium"}, {chatTarget, ""}} {
		body, err := req.Chat(tc.target)
		if err != nil {
			t.Fatal(err)
		}
		if got := gjson.GetBytes(body, "reasoning_effort").Str; got != tc.want {
			t.Errorf("%s: reasoning_effort %q, want %q", tc.target.Deployment, got, tc.want)
		}
	}
}

// Anthropic's own thinking blocks (signed by Anthropic, and redacted ones)
// go to an Anthropic deployment reached through the Chat IR with their
// signatures; to a Gemini deployment they are dropped.
func TestThinkingReplayToAnthropic(t *testing.T) {
	req := parse(t, "/v1/messages", nil, []byte(`{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"hi"},
		{"role":"assistant","content":[{"type":"thinking","thinking":"Hmm.","signature":"EqSig"},{"type":"redacted_thinking","data":"ENC"},{"type":"text","text":"Hello."}]},
		{"role":"user","content":"again"}]}`))
	body, err := req.Chat(anthropicTarget)
	if err != nil {
		t.Fatal(err)
	}
	m := gjson.GetBytes(body, "messages.1")
	if m.Get("reasoning_content").Str != "Hmm." || m.Get("reasoning_signature").Str != "EqSig redacted:ENC" {
		t.Errorf("anthropic: %s", m.Raw)
	}
	body, err = req.Chat(geminiTarget)
	if err != nil {
		t.Fatal(err)
	}
	if m := gjson.GetBytes(body, "messages.1"); m.Get("reasoning_content").Exists() || m.Get("reasoning_signature").Exists() {
		t.Errorf("gemini: %s", m.Raw)
	}
}

// An answer's reasoning_signature from an Anthropic deployment is the
// thinking block's signature, whole and streamed; from a Gemini deployment
// reasoning gets the gateway's own signature.
func TestThinkingSignatureFromUpstream(t *testing.T) {
	req := parse(t, "/v1/messages", nil, []byte(`{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`))
	chat := []byte(`{"id":"chatcmpl-1","choices":[{"message":{"role":"assistant","content":"Hi.","reasoning_content":"Hmm.","reasoning_signature":"EqSig"},"finish_reason":"stop"}]}`)
	out, err := req.Response(anthropicTarget, chat)
	if err != nil {
		t.Fatal(err)
	}
	if b := gjson.GetBytes(out, "content.0"); b.Get("type").Str != "thinking" || b.Get("signature").Str != "EqSig" || b.Get("thinking").Str != "Hmm." {
		t.Errorf("anthropic: %s", out)
	}
	out, err = req.Response(geminiTarget, chat)
	if err != nil {
		t.Fatal(err)
	}
	if sig := gjson.GetBytes(out, "content.0.signature").Str; sig != signThinking(protocolDeployment{geminiTarget.Upstream, geminiTarget.Deployment}, "Hmm.") {
		t.Errorf("gemini: %s", out)
	}

	chunks := [][]byte{
		[]byte(`{"id":"c1","choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"Hm"}}]}`),
		[]byte(`{"id":"c1","choices":[{"index":0,"delta":{"reasoning_content":"m."}}]}`),
		[]byte(`{"id":"c1","choices":[{"index":0,"delta":{"reasoning_signature":"EqSig"}}]}`),
		[]byte(`{"id":"c1","choices":[{"index":0,"delta":{"content":"Hi."}}]}`),
		[]byte(`{"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`),
	}
	var sig, thinking string
	for _, c := range runStream(t, req.NewStream(anthropicTarget), chunks) {
		d := gjson.GetBytes(c.Data, "delta")
		switch d.Get("type").Str {
		case "signature_delta":
			sig += d.Get("signature").Str
		case "thinking_delta":
			thinking += d.Get("thinking").Str
		}
	}
	if sig != "EqSig" || thinking != "Hmm." {
		t.Errorf("stream: thinking %q, signature %q", thinking, sig)
	}
}
