package api_test

import (
	"encoding/json"
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

	status, _, body = g.do(t, "GET", "/health", "")
	var health map[string]any
	if err := json.Unmarshal([]byte(body), &health); err != nil || status != 200 {
		t.Fatalf("GET /health = %d %s", status, body)
	}
	closed := map[string]any{"state": "closed", "consecutive_failures": float64(0), "cool_down_ms": float64(10000)}
	wantHealth := map[string]any{
		"status": "degraded",
		"models": []any{
			map[string]any{"id": "chat", "deployment": "models[0]", "adapter": "openai_compat", "status": "available", "breaker": closed},
			map[string]any{"id": "nokey", "deployment": "models[1]", "adapter": "openai_compat", "status": "unavailable", "reason": "environment variable MISSING_KEY is not set"},
			map[string]any{"id": "off", "deployment": "models[2]", "adapter": "openai_compat", "status": "disabled"},
			map[string]any{"id": "org/model-b", "deployment": "models[3]", "adapter": "openai_compat", "status": "available", "breaker": closed},
		},
	}
	if diff := cmp.Diff(wantHealth, health); diff != "" {
		t.Errorf("/health (-want +got):\n%s", diff)
	}
}
