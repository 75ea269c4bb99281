package api_test

import (
	"fmt"
	"net/http"
	"testing"
)

// TestBaseURLQueryConvertingAdapters: the Anthropic and Gemini adapters
// keep a base_url query too, after their own paths and before Gemini's
// alt=sse, so that a proxy's tenant parameter or Gemini's ?key= reaches
// the upstream on every call; a credential header in "headers" replaces
// the adapter's own key header.
func TestBaseURLQueryConvertingAdapters(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraModels: fmt.Sprintf(`
		{"id": "claude", "adapter": "anthropic", "base_url": "MOCK/v1/?tenant=7", "api_key": %q, "model": "mock-model"},
		{"id": "gem", "adapter": "gemini", "base_url": "MOCK?key=%s", "model": "mock-model"},
		{"id": "claude-bearer", "adapter": "anthropic", "base_url": "MOCK", "api_key": %q,
			"headers": {"Authorization": "Bearer other-credential"}, "model": "mock-model"}`,
		upstreamKey, upstreamKey, upstreamKey)})
	chat := func(model string, stream bool) int {
		t.Helper()
		status, _, body := g.post(t, "/v1/chat/completions",
			fmt.Sprintf(`{"model":%q,"stream":%t,"messages":[{"role":"user","content":"hi"}]}`, model, stream))
		if model != "claude-bearer" && status != http.StatusOK {
			t.Errorf("%s: status %d: %s", model, status, body)
		}
		return status
	}

	chat("claude", false)
	if r := g.lastUpstream(t); r.Path != "/v1/messages" || r.Query != "tenant=7" {
		t.Errorf("anthropic: upstream saw %s?%s, want /v1/messages?tenant=7", r.Path, r.Query)
	}
	chat("gem", false)
	if r := g.lastUpstream(t); r.Path != "/v1beta/models/mock-model:generateContent" || r.Query != "key="+upstreamKey {
		t.Errorf("gemini: upstream saw %s?%s, want the generateContent path with the key query", r.Path, r.Query)
	}
	chat("gem", true)
	if r := g.lastUpstream(t); r.Path != "/v1beta/models/mock-model:streamGenerateContent" || r.Query != "key="+upstreamKey+"&alt=sse" {
		t.Errorf("gemini stream: upstream saw %s?%s, want the streamGenerateContent path with key then alt=sse", r.Path, r.Query)
	}
	chat("claude-bearer", false)
	r := g.lastUpstream(t)
	if got := r.Header.Get("Authorization"); got != "Bearer other-credential" {
		t.Errorf("anthropic with an Authorization header: Authorization = %q, want the configured one", got)
	}
	if got := r.Header.Get("X-Api-Key"); got != "" {
		t.Errorf("anthropic with an Authorization header also sent x-api-key (redacted here): %d bytes", len(got))
	}
}
