package api_test

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"

	"aigateway/internal/mockllm"
)

// openAIError checks that body is exactly the OpenAI error shape, with all
// four keys present, and returns it.
func openAIError(t *testing.T, body string) map[string]any {
	t.Helper()
	var env map[string]map[string]any
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		t.Fatalf("error body is not JSON: %v: %s", err, body)
	}
	e, ok := env["error"]
	if !ok || len(env) != 1 {
		t.Fatalf("error body is not {\"error\": {...}}: %s", body)
	}
	for _, k := range []string{"message", "type", "param", "code"} {
		if _, ok := e[k]; !ok {
			t.Errorf("error body lacks %q: %s", k, body)
		}
	}
	if m, _ := e["message"].(string); m == "" {
		t.Errorf("error message is empty: %s", body)
	}
	return e
}

// deadAddr returns an address where nothing listens.
func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestErrorResponses(t *testing.T) {
	g := startGateway(t, gatewayOptions{
		maxBody: 4096,
		extraModels: `{"id": "dead", "adapter": "openai_compat", "base_url": "http://` + deadAddr(t) + `/v1"},
			{"id": "slow", "adapter": "openai_compat", "base_url": "MOCK/v1", "api_key": "` + upstreamKey + `", "timeout": 0.2},
			{"id": "off", "adapter": "openai_compat", "base_url": "MOCK/v1", "enabled": false}`,
	})
	chat := func(model, extra string) string {
		return `{"model":"` + model + `","messages":[{"role":"user","content":"hi"}]` + extra + `}`
	}
	cases := []struct {
		name, method, path, body string
		status                   int
		code                     string // error.code; "" means null or passed-through
		param                    string
		msg                      string
	}{
		{"invalid JSON", "POST", "/v1/chat/completions", `{"model": "chat",`, 400, "invalid_json", "", "not valid JSON"},
		{"empty body", "POST", "/v1/chat/completions", ``, 400, "invalid_json", "", "empty"},
		{"not an object", "POST", "/v1/chat/completions", `["chat"]`, 400, "invalid_json", "", "JSON object"},
		{"missing model", "POST", "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}]}`, 400, "missing_required_parameter", "model", `"model" is required`},
		{"model not a string", "POST", "/v1/chat/completions", `{"model":7,"messages":[]}`, 400, "invalid_type", "model", "must be a string"},
		{"stream not a bool", "POST", "/v1/chat/completions", `{"model":"chat","stream":"yes","messages":[{"role":"user","content":"hi"}]}`, 400, "invalid_type", "stream", "boolean"},
		{"missing messages", "POST", "/v1/chat/completions", `{"model":"chat"}`, 400, "missing_required_parameter", "messages", "messages"},
		{"empty messages", "POST", "/v1/chat/completions", `{"model":"chat","messages":[]}`, 400, "invalid_value", "messages", "non-empty array"},
		{"unknown model", "POST", "/v1/chat/completions", chat("gpt-9", ""), 404, "model_not_found", "model", "gpt-9"},
		{"disabled model", "POST", "/v1/chat/completions", chat("off", ""), 404, "model_not_found", "model", "off"},
		{"body too large", "POST", "/v1/chat/completions", chat("chat", `,"pad":"`+strings.Repeat("x", 5000)+`"`), 413, "request_too_large", "", "4 KiB"},
		{"unknown route", "POST", "/v1/nothing", `{}`, 404, "unknown_url", "", "/v1/nothing"},
		{"wrong method", "GET", "/v1/chat/completions", ``, 405, "method_not_allowed", "", "POST"},
		{"wrong method on models", "DELETE", "/v1/models", ``, 405, "method_not_allowed", "", "GET"},
		{"upstream unreachable", "POST", "/v1/chat/completions", chat("dead", ""), 502, "upstream_unreachable", "", "connection refused"},
		{"upstream timeout", "POST", "/v1/chat/completions", chat("slow", `,"mock":{"delay_ms":3000}`), 504, "upstream_timeout", "", "did not answer within 200ms"},
		{"upstream timeout in stream", "POST", "/v1/chat/completions", chat("slow", `,"stream":true,"mock":{"delay_ms":3000}`), 504, "upstream_timeout", "", "did not answer"},
		{"upstream OpenAI error passed on", "POST", "/v1/chat/completions", chat("chat", `,"mock":{"status":422,"error_message":"schema mismatch","error_type":"invalid_request_error"}`), 422, "", "", "schema mismatch"},
		{"upstream non-OpenAI JSON error wrapped", "POST", "/v1/chat/completions", chat("chat", `,"mock":{"status":500,"error_body":"{\"error\":\"model llama3 not found\"}"}`), 500, "upstream_error", "", "model llama3 not found"},
		{"upstream HTML error wrapped", "POST", "/v1/chat/completions", chat("chat", `,"mock":{"status":502,"error_body":"<html>Bad Gateway</html>"}`), 502, "upstream_error", "", "<html>Bad Gateway</html>"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, h, body := g.do(t, tc.method, tc.path, tc.body)
			if status != tc.status {
				t.Fatalf("status = %d, want %d; body %s", status, tc.status, body)
			}
			if ct := h.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			e := openAIError(t, body)
			if tc.code != "" && e["code"] != tc.code {
				t.Errorf("code = %v, want %q", e["code"], tc.code)
			}
			if tc.param != "" && e["param"] != tc.param {
				t.Errorf("param = %v, want %q", e["param"], tc.param)
			}
			if msg, _ := e["message"].(string); !strings.Contains(msg, tc.msg) {
				t.Errorf("message = %q, want it to contain %q", msg, tc.msg)
			}
			if tc.status == 405 && h.Get("Allow") == "" {
				t.Error("405 without an Allow header")
			}
		})
	}
}

// A timed-out upstream request is canceled, not left running.
func TestTimeoutCancelsUpstream(t *testing.T) {
	g := startGateway(t, gatewayOptions{
		extraModels: `{"id": "slow", "adapter": "openai_compat", "base_url": "MOCK/v1", "api_key": "` + upstreamKey + `", "timeout": 0.2, "retries": 0}`,
	})
	status, _, _ := g.post(t, "/v1/chat/completions", `{"model":"slow","messages":[{"role":"user","content":"hi"}],"mock":{"hang":true}}`)
	if status != http.StatusGatewayTimeout {
		t.Fatalf("status = %d, want 504", status)
	}
	waitFor(t, "the upstream to see the cancellation", func() bool { return g.mock.Stats().Canceled == 1 })
}

func TestUpstreamErrorScrubsKey(t *testing.T) {
	g := startGateway(t, gatewayOptions{mock: mockllm.Options{}})
	body := `{"model":"chat","messages":[{"role":"user","content":"hi"}],"mock":{"status":401,"error_message":"Incorrect API key provided: ` + upstreamKey + `"}}`
	status, _, resp := g.post(t, "/v1/chat/completions", body) // g.do fails the test if the key shows
	if status != 401 || !strings.Contains(resp, "[redacted]") {
		t.Errorf("status %d, body %s: want 401 with the key redacted", status, resp)
	}
}

// A secret given in an ENV: header is scrubbed like the API key.
func TestUpstreamErrorScrubsHeaderSecret(t *testing.T) {
	g := startGateway(t, gatewayOptions{
		env:         map[string]string{"TEAM_KEY": "team-secret-987654"},
		extraModels: `{"id": "hs", "adapter": "openai_compat", "base_url": "MOCK/v1", "api_key": "` + upstreamKey + `", "model": "mock-model", "retries": 0, "headers": {"X-Team-Key": "ENV:TEAM_KEY"}}`,
	})
	body := `{"model":"hs","messages":[{"role":"user","content":"hi"}],"mock":{"status":403,"error_message":"team key team-secret-987654 is not allowed"}}`
	status, _, resp := g.post(t, "/v1/chat/completions", body)
	if status != 403 || strings.Contains(resp, "team-secret-987654") || !strings.Contains(resp, "[redacted]") {
		t.Errorf("status %d, body %s: want 403 with the header secret redacted", status, resp)
	}
	if up := g.lastUpstream(t).Header.Get("X-Team-Key"); up != "team-secret-987654" {
		t.Errorf("upstream X-Team-Key = %q", up)
	}
}
