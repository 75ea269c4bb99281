package api_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"aigateway/internal/jsonlimit"
)

// deep returns n nested arrays around inner.
func deep(n int, inner string) string {
	return strings.Repeat("[", n) + inner + strings.Repeat("]", n)
}

// A deeply nested body used to make gjson.ValidBytes recurse until Go's
// stack limit: "fatal error: stack overflow" killed the process (here, the
// test binary). Now it is a 400 and the gateway keeps serving.
func TestDeeplyNestedRequestIs400(t *testing.T) {
	g := startGateway(t, gatewayOptions{maxBody: 8 << 20})
	cases := []struct{ name, body string }{
		{"6 MB of [", strings.Repeat("[", 6<<20)},
		{"deep value in a chat request", `{"model":"chat","messages":[{"role":"user","content":"hi"}],"x":` + deep(jsonlimit.MaxDepth, "1") + `}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := g.post(t, "/v1/chat/completions", tc.body)
			e := openAIError(t, body)
			if status != http.StatusBadRequest || e["code"] != "invalid_json" || !strings.Contains(e["message"].(string), "limit of 128 levels") {
				t.Errorf("status %d, error %v; want 400 invalid_json naming the limit", status, e)
			}
		})
	}
	// Within the limit is fine, and the gateway is still serving.
	ok := `{"model":"chat","messages":[{"role":"user","content":"hi"}],"x":` + deep(jsonlimit.MaxDepth-2, "1") + `}`
	if status, _, body := g.post(t, "/v1/chat/completions", ok); status != http.StatusOK {
		t.Errorf("nesting within the limit: %d %s", status, body)
	}
}

// Numbers that reach a program or an upstream are checked for the range
// OpenAI documents, for every adapter; the SDK sees a 400 naming the field.
func TestNumberRangesAre400(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	c := g.client(t)
	cases := []struct {
		name  string
		opt   option.RequestOption
		param string
	}{
		{"temperature -1", option.WithJSONSet("temperature", -1), "temperature"},
		{"temperature 1e300", option.WithJSONSet("temperature", 1e300), "temperature"},
		{"top_p 2", option.WithJSONSet("top_p", 2), "top_p"},
		{"presence_penalty -3", option.WithJSONSet("presence_penalty", -3), "presence_penalty"},
		{"frequency_penalty 2.5", option.WithJSONSet("frequency_penalty", 2.5), "frequency_penalty"},
		{"max_tokens -5", option.WithJSONSet("max_tokens", -5), "max_tokens"},
		{"max_completion_tokens 0", option.WithJSONSet("max_completion_tokens", 0), "max_completion_tokens"},
		{"max_tokens 1.5", option.WithJSONSet("max_tokens", 1.5), "max_tokens"},
		{"n 129", option.WithJSONSet("n", 129), "n"},
		{"top_logprobs 21", option.WithJSONSet("top_logprobs", 21), "top_logprobs"},
		{"seed as a string", option.WithJSONSet("seed", "42"), "seed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "chat", Messages: userMessage("hi")}, tc.opt)
			var apiErr *openai.Error
			if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || apiErr.Param != tc.param {
				t.Fatalf("err = %v, want 400 with param %q", err, tc.param)
			}
		})
	}
	if n := len(g.mock.Requests()); n != 0 {
		t.Errorf("the upstream got %d requests, want none", n)
	}
}

// Peek matches keys exactly but encoding/json (the converters) matches them
// case-insensitively, so "MESSAGES" bypassed the non-empty check and
// "Stream": true streamed a request logged as non-streaming. Such keys, and
// known keys given twice, are a 400 naming the key.
func TestCaseVariantAndDuplicateKeysAre400(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraModels: `{"id": "claude", "adapter": "anthropic", "base_url": "MOCK", "api_key": "` + upstreamKey + `", "model": "claude-sonnet-4-5"}`})
	cases := []struct{ name, body, param, code string }{
		{"MESSAGES", `{"model":"claude","messages":[{"role":"user","content":"hi"}],"MESSAGES":[]}`, "MESSAGES", "unknown_parameter"},
		{"Stream", `{"model":"claude","messages":[{"role":"user","content":"hi"}],"Stream":true}`, "Stream", "unknown_parameter"},
		{"Kelvin sign", `{"model":"claude","messages":[{"role":"user","content":"hi"}],"max_to\u212aens":5}`, "max_to\u212aens", "unknown_parameter"},
		{"messages twice", `{"model":"claude","messages":[],"messages":[{"role":"user","content":"hi"}]}`, "messages", "invalid_value"},
		{"stream twice", `{"model":"chat","messages":[{"role":"user","content":"hi"}],"stream":false,"stream":true}`, "stream", "invalid_value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := g.post(t, "/v1/chat/completions", tc.body)
			e := openAIError(t, body)
			if status != http.StatusBadRequest || e["param"] != tc.param || e["code"] != tc.code {
				t.Errorf("status %d, error %v; want 400 %s naming %q", status, e, tc.code, tc.param)
			}
		})
	}
}

// upstreamServer answers every request with status, content type and body.
func upstreamServer(t *testing.T, status int, contentType, body string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// An upstream's answer is held to the same depth limit as a client's body:
// a template response, a template stream event, an Anthropic or Gemini
// answer nested too deep is a 502 that says so, and a deep error body does
// not crash the error path (it is shown as text, never passed on). The
// error bodies are read up to 1 MiB, which gjson.ValidBytes survived with a
// stack of about 100 MB; a deep error body is no longer validated that way.
func TestDeeplyNestedUpstreamAnswerIs502(t *testing.T) {
	tooDeep := deep(jsonlimit.MaxDepth+1, "")
	huge := strings.Repeat("[", 6<<20) // crashed gjson.ValidBytes
	template := func(url string, stream bool) string {
		s := `{"id": "tpl", "adapter": "custom_http", "protocol": "template", "base_url": "` + url + `",
			"template": {"path": "/gen", "body": {"input": "{{prompt}}"}, "response": {"text": "text"}`
		if stream {
			s += `, "stream": {"format": "sse", "text": "text"}`
		}
		return s + `}}`
	}
	cases := []struct {
		name        string
		status      int
		contentType string
		body        string
		model       func(url string) string
		stream      bool
		wantStatus  int
		wantMessage string
	}{
		{"template response", 200, "application/json", `{"text":"hi","x":` + tooDeep + `}`,
			func(u string) string { return template(u, false) }, false, 502, "deeper than the gateway's limit of 128 levels"},
		{"template response of 6 MB of [", 200, "application/json", huge,
			func(u string) string { return template(u, false) }, false, 502, "deeper than the gateway's limit of 128 levels"},
		{"template stream event", 200, "text/event-stream", "data: {\"text\":\"hi\",\"x\":" + tooDeep + "}\n\n",
			func(u string) string { return template(u, true) }, true, 502, "deeper than the gateway's limit of 128 levels"},
		{"template stream event of 6 MB of [", 200, "text/event-stream", "data: " + huge + "\n\n",
			func(u string) string { return template(u, true) }, true, 502, "deeper than the gateway's limit of 128 levels"},
		{"template error body", 500, "application/json", strings.Repeat("[", 1<<20),
			func(u string) string { return template(u, false) }, false, 500, "the upstream answered HTTP 500"},
		{"openai_compat error body", 500, "application/json", `{"error":{"message":"boom"},"x":` + tooDeep + `}`,
			func(u string) string { return `{"id": "tpl", "adapter": "openai_compat", "base_url": "` + u + `"}` }, false, 500, "the upstream answered HTTP 500"},
		{"anthropic response", 200, "application/json", `{"type":"message","role":"assistant","content":[{"type":"text","text":"hi"}],"x":` + tooDeep + `}`,
			func(u string) string {
				return `{"id": "tpl", "adapter": "anthropic", "base_url": "` + u + `", "api_key": "k", "model": "claude-x"}`
			}, false, 502, "deeper than the gateway's limit of 128 levels"},
		{"anthropic stream event", 200, "text/event-stream", "event: message_start\ndata: {\"type\":\"message_start\",\"x\":" + tooDeep + "}\n\nevent: ping\ndata: {\"type\":\"ping\"}\n\n",
			func(u string) string {
				return `{"id": "tpl", "adapter": "anthropic", "base_url": "` + u + `", "api_key": "k", "model": "claude-x"}`
			}, true, 502, "deeper than the gateway's limit of 128 levels"},
		{"gemini response", 200, "application/json", `{"candidates":[{"content":{"role":"model","parts":[{"text":"hi"}]}}],"x":` + tooDeep + `}`,
			func(u string) string {
				return `{"id": "tpl", "adapter": "gemini", "base_url": "` + u + `", "api_key": "k", "model": "gemini-x"}`
			}, false, 502, "deeper than the gateway's limit of 128 levels"},
		{"gemini stream event", 200, "text/event-stream", "data: {\"candidates\":[],\"x\":" + tooDeep + "}\n\n",
			func(u string) string {
				return `{"id": "tpl", "adapter": "gemini", "base_url": "` + u + `", "api_key": "k", "model": "gemini-x"}`
			}, true, 502, "deeper than the gateway's limit of 128 levels"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url := upstreamServer(t, tc.status, tc.contentType, tc.body)
			g := startGateway(t, gatewayOptions{extraModels: tc.model(url)})
			req := `{"model":"tpl","messages":[{"role":"user","content":"hi"}]}`
			if tc.stream {
				req = `{"model":"tpl","stream":true,"messages":[{"role":"user","content":"hi"}]}`
			}
			status, _, body := g.post(t, "/v1/chat/completions", req)
			e := openAIError(t, body)
			if status != tc.wantStatus || !strings.Contains(e["message"].(string), tc.wantMessage) {
				t.Errorf("status %d, error %v; want %d with %q", status, e, tc.wantStatus, tc.wantMessage)
			}
			if len(body) > 4096 {
				t.Errorf("the error body is %d bytes: the upstream's body was passed on", len(body))
			}
		})
	}
}
