package api_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
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

// TestBaseURLQueryTemplate: a template model keeps base_url's query after
// its path (whose own query follows), and an "api-key" header replaces
// the default bearer token.
func TestBaseURLQueryTemplate(t *testing.T) {
	var mu sync.Mutex
	var path, query, auth, apiKey string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		path, query, auth, apiKey = r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"), r.Header.Get("Api-Key")
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"out": "hello"}`)
	}))
	t.Cleanup(up.Close)
	g := startGateway(t, gatewayOptions{env: map[string]string{"TPL_KEY": "tpl-key-123456"}, extraModels: `
		{"id": "tpl", "adapter": "custom_http", "protocol": "template", "base_url": "` + up.URL + `/api/?v=2",
		 "api_key": "ENV:TPL_KEY", "headers": {"api-key": "{api_key}"},
		 "template": {"path": "/generate?mode=text", "body": {"input": "{{prompt}}"}, "response": {"text": "out"}}}`})
	status, _, body := g.post(t, "/v1/chat/completions", `{"model":"tpl","messages":[{"role":"user","content":"hi"}]}`)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	mu.Lock()
	defer mu.Unlock()
	if path != "/api/generate" || query != "v=2&mode=text" {
		t.Errorf("upstream saw %s?%s, want /api/generate?v=2&mode=text", path, query)
	}
	if apiKey != "tpl-key-123456" || auth != "" {
		t.Errorf("api-key = %q, Authorization = %q; want the key in api-key and no Authorization", apiKey, auth)
	}
}
