package api_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A 200 from an OpenAI-compatible upstream that is not a JSON object (a
// captive portal's HTML page, a bare array, JSON nested past the limit) is
// a 502 naming the content type, never relayed as if it were an answer.
func TestNonJSONAnswerIs502(t *testing.T) {
	answers := map[string]struct{ contentType, body string }{
		"/html/v1/chat/completions":  {"text/html; charset=utf-8", "<!doctype html><html><body>Please log in to the hotel Wi-Fi</body></html>"},
		"/array/v1/chat/completions": {"application/json", `[{"id":"x"}]`},
		"/cut/v1/chat/completions":   {"application/json", `{"id":"chatcmpl-1","choices":[{"message":{"content":"hi`},
		"/deep/v1/chat/completions":  {"application/json", `{"x":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`},
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) //nolint:errcheck
		a, ok := answers[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", a.contentType)
		io.WriteString(w, a.body) //nolint:errcheck
	}))
	defer up.Close()
	g := startGateway(t, gatewayOptions{extraModels: strings.ReplaceAll(`
		{"id": "html", "adapter": "openai_compat", "base_url": "UP/html/v1", "retries": 0},
		{"id": "array", "adapter": "openai_compat", "base_url": "UP/array/v1", "retries": 0},
		{"id": "cut", "adapter": "openai_compat", "base_url": "UP/cut/v1", "retries": 0},
		{"id": "deep", "adapter": "openai_compat", "base_url": "UP/deep/v1", "retries": 0}`, "UP", up.URL)})
	for model, want := range map[string]string{
		"html":  "Content-Type: text/html; charset=utf-8",
		"array": "Content-Type: application/json",
		"cut":   "Content-Type: application/json",
		"deep":  "deeper than the gateway's limit of 128 levels",
	} {
		status, h, body := g.post(t, "/v1/chat/completions", `{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`)
		if status != http.StatusBadGateway || !strings.Contains(body, `"code":"upstream_invalid_response"`) || !strings.Contains(body, want) {
			t.Errorf("%s: %d %s; want 502 upstream_invalid_response mentioning %q", model, status, body, want)
		}
		if ct := h.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q", model, ct)
		}
	}
}
