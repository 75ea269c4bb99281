package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestModelsEndpoints(t *testing.T) {
	g := startGateway(t, gatewayOptions{
		extraModels: `{"id": "nokey", "adapter": "openai_compat", "base_url": "MOCK/v1", "api_key": "ENV:MISSING_KEY"},
			{"id": "off", "adapter": "openai_compat", "base_url": "MOCK/v1", "enabled": false},
			{"id": "org/model-b", "adapter": "openai_compat", "base_url": "MOCK/v1"}`,
	})
	status, _, body := g.do(t, "GET", "/v1/models", "")
	want := `{"object":"list","data":[{"id":"chat","object":"model","created":0,"owned_by":"openai_compat"},{"id":"org/model-b","object":"model","created":0,"owned_by":"openai_compat"}]}`
	if status != 200 || body != want {
		t.Errorf("GET /v1/models = %d %s\nwant %s", status, body, want)
	}

	status, _, body = g.do(t, "GET", "/v1/models/org/model-b", "")
	if want := `{"id":"org/model-b","object":"model","created":0,"owned_by":"openai_compat"}`; status != 200 || body != want {
		t.Errorf("GET /v1/models/org/model-b = %d %s", status, body)
	}
	if status, _, body = g.do(t, "GET", "/v1/models/off", ""); status != 404 {
		t.Errorf("disabled model: %d %s", status, body)
	}
	if status, _, body = g.do(t, "GET", "/v1/models/nokey", ""); status != 503 {
		t.Errorf("unavailable model: %d %s", status, body)
	} else if e := openAIError(t, body); e["code"] != "model_unavailable" {
		t.Errorf("unavailable model code = %v", e["code"])
	}
	status, _, body = g.do(t, "POST", "/v1/chat/completions", `{"model":"nokey","messages":[{"role":"user","content":"hi"}]}`)
	wantMsg := `The model \"nokey\" is not configured on this gateway (no API key); ask the gateway operator`
	if status != 503 || !strings.Contains(body, wantMsg) || !strings.Contains(body, `"code":"model_unavailable"`) {
		t.Errorf("chat with a model without its key = %d %s\nwant 503 model_unavailable with %s", status, body, wantMsg)
	}
	if strings.Contains(body, "MISSING_KEY") {
		t.Errorf("the client learns the variable name: %s", body)
	}
	waitFor(t, "the access line", func() bool { return strings.Contains(g.logs.String(), "model=nokey") })
	if !strings.Contains(g.logs.String(), "environment variable MISSING_KEY is not set") {
		t.Errorf("the log does not name the variable:\n%s", g.logs.String())
	}

	status, _, body = g.do(t, "GET", "/health", "")
	var health map[string]any
	if err := json.Unmarshal([]byte(body), &health); err != nil || status != 200 {
		t.Fatalf("GET /health = %d %s", status, body)
	}
	closed := map[string]any{"state": "closed", "consecutive_failures": float64(0), "cool_down_ms": float64(10000)}
	wantHealth := map[string]any{
		"status": "ok", // a model without its key is not a failure
		"models": []any{
			map[string]any{"id": "chat", "deployment": "models[0]", "adapter": "openai_compat", "status": "available", "breaker": closed},
			map[string]any{"id": "nokey", "deployment": "models[1]", "adapter": "openai_compat", "status": "not_configured", "reason": "environment variable MISSING_KEY is not set"},
			map[string]any{"id": "off", "deployment": "models[2]", "adapter": "openai_compat", "status": "disabled"},
			map[string]any{"id": "org/model-b", "deployment": "models[3]", "adapter": "openai_compat", "status": "available", "breaker": closed},
		},
	}
	if diff := cmp.Diff(wantHealth, health); diff != "" {
		t.Errorf("/health (-want +got):\n%s", diff)
	}
}

// A first run on a host without a model's program reads as configuration,
// not failure: /health stays "ok", lists the entry as not_configured with
// the operator's reason, and the client's 503 names no path.
func TestHealthProgramNotInstalled(t *testing.T) {
	g := startGateway(t, gatewayOptions{
		extraModels: `{"id": "local", "adapter": "process", "command": ["/nonexistent/aigw-test-llm"]}`,
	})
	h := g.health(t)
	if h.Status != "ok" {
		t.Errorf("/health status = %q, want ok", h.Status)
	}
	_, _, body := g.do(t, "GET", "/health", "")
	if !strings.Contains(body, `"id":"local","deployment":"models[1]","adapter":"process","status":"not_configured","reason":"program \"/nonexistent/aigw-test-llm\"`) {
		t.Errorf("/health does not list the program as not configured: %s", body)
	}
	status, _, body := g.do(t, "POST", "/v1/chat/completions", `{"model":"local","messages":[{"role":"user","content":"hi"}]}`)
	if status != 503 || !strings.Contains(body, `not configured on this gateway (its program cannot run on this host)`) {
		t.Errorf("chat = %d %s", status, body)
	}
	if strings.Contains(body, "nonexistent") {
		t.Errorf("the client learns the program path: %s", body)
	}
}
