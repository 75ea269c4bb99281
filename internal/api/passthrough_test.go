package api_test

import (
	"strings"
	"testing"
)

// Everything but "model" reaches the upstream byte for byte: field order,
// spacing, unknown fields, unicode escapes.
func TestBodyPassthroughIsByteExact(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	body := "{\n  \"messages\": [{\"role\":\"user\",\"content\":\"caf\\u00e9 \u2603\"}],\n  \"model\" : \"chat\",\n" +
		"  \"response_format\": {\"type\": \"json_object\"},\n  \"x_future_field\": {\"nested\": [1, 2.50, null]},\n  \"temperature\": 0.2\n}"
	status, _, resp := g.post(t, "/v1/chat/completions", body)
	if status != 200 {
		t.Fatalf("status %d: %s", status, resp)
	}
	want := strings.Replace(body, `"model" : "chat"`, `"model" : "mock-model"`, 1)
	if got := string(g.lastUpstream(t).Body); got != want {
		t.Errorf("upstream body:\n%s\nwant:\n%s", got, want)
	}
}

func TestModelDefaults(t *testing.T) {
	g := startGateway(t, gatewayOptions{chatDefaults: `"temperature": 0.25, "max_tokens": 99,`})
	cases := []struct{ name, body, want string }{
		{"absent: added", `{"model":"chat","messages":[{"role":"user","content":"hi"}]}`,
			`{"temperature":0.25,"max_tokens":99,"model":"mock-model","messages":[{"role":"user","content":"hi"}]}`},
		{"present: kept", `{"model":"chat","temperature":1.5,"max_tokens":7,"messages":[{"role":"user","content":"hi"}]}`,
			`{"model":"mock-model","temperature":1.5,"max_tokens":7,"messages":[{"role":"user","content":"hi"}]}`},
		{"max_completion_tokens counts as max_tokens", `{"model":"chat","max_completion_tokens":5,"messages":[{"role":"user","content":"hi"}]}`,
			`{"temperature":0.25,"model":"mock-model","max_completion_tokens":5,"messages":[{"role":"user","content":"hi"}]}`},
		{"null counts as sent: no duplicate key", `{"model":"chat","temperature":null,"messages":[{"role":"user","content":"hi"}]}`,
			`{"max_tokens":99,"model":"mock-model","temperature":null,"messages":[{"role":"user","content":"hi"}]}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if status, _, resp := g.post(t, "/v1/chat/completions", tc.body); status != 200 {
				t.Fatalf("status %d: %s", status, resp)
			}
			if got := string(g.lastUpstream(t).Body); got != tc.want {
				t.Errorf("upstream body:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// Client credentials and hop-by-hop headers never reach the upstream; the
// request id does, and comes back to the client.
func TestUpstreamHeaders(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	status, h, _ := g.post(t, "/v1/chat/completions", `{"model":"chat","messages":[{"role":"user","content":"hi"}]}`,
		"Authorization", "Bearer sk-client-gateway-key", "X-Api-Key", "client-key", "Cookie", "session=1",
		"Proxy-Authorization", "Basic abc", "X-Request-Id", "client-chosen-id-42", "Openai-Organization", "org-client")
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	if got := h.Get("X-Request-Id"); got != "client-chosen-id-42" {
		t.Errorf("response X-Request-Id = %q, want the client's", got)
	}
	up := g.lastUpstream(t).Header
	if got := up.Get("Authorization"); got != "Bearer "+upstreamKey {
		t.Errorf("upstream Authorization = %q", got)
	}
	for _, k := range []string{"X-Api-Key", "Cookie", "Proxy-Authorization", "Openai-Organization"} {
		if v := up.Get(k); v != "" {
			t.Errorf("client header %s reached the upstream: %q", k, v)
		}
	}
	if got := up.Get("X-Request-Id"); got != "client-chosen-id-42" {
		t.Errorf("upstream X-Request-Id = %q", got)
	}

	// Without a client id the gateway makes one.
	_, h, _ = g.post(t, "/v1/chat/completions", `{"model":"chat","messages":[{"role":"user","content":"hi"}]}`)
	if id := h.Get("X-Request-Id"); !strings.HasPrefix(id, "req_") || len(id) != 20 {
		t.Errorf("generated X-Request-Id = %q", id)
	}
}

// One access log line per request, with the fields an operator needs.
func TestAccessLog(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	g.post(t, "/v1/chat/completions", `{"model":"chat","messages":[{"role":"user","content":"hi"}]}`, "X-Request-Id", "log-test-1")
	waitFor(t, "the access log line", func() bool { return strings.Contains(g.logs.String(), "msg=request request_id=log-test-1") })
	var line string
	for _, l := range strings.Split(g.logs.String(), "\n") {
		if strings.Contains(l, "msg=request request_id=log-test-1") {
			if line != "" {
				t.Fatalf("more than one log line for the request:\n%s\n%s", line, l)
			}
			line = l
		}
	}
	for _, want := range []string{"msg=request", "method=POST", "path=/v1/chat/completions", "model=chat", "upstream=http://127.0.0.1:", "status=200", "latency_ms=", "ttfb_ms=", "bytes_in=", "bytes_out=", "prompt_tokens="} {
		if !strings.Contains(line, want) {
			t.Errorf("log line lacks %q: %s", want, line)
		}
	}
}

func TestCompletionsPassthrough(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	status, _, resp := g.post(t, "/v1/completions", `{"model":"chat","prompt":"Say hi"}`)
	if status != 200 || !strings.Contains(resp, `"object":"text_completion"`) {
		t.Fatalf("status %d: %s", status, resp)
	}
	if p := g.lastUpstream(t).Path; p != "/v1/completions" {
		t.Errorf("upstream path = %q", p)
	}
	status, _, resp = g.post(t, "/v1/completions", `{"model":"chat","prompt":"Say hi","stream":true}`)
	if status != 200 || !strings.HasSuffix(resp, "data: [DONE]\n\n") {
		t.Fatalf("stream status %d: %s", status, resp)
	}
}
