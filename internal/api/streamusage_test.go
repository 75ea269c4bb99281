package api_test

import (
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// dataEvents returns the data of each SSE event of a response body.
func dataEvents(body string) []string {
	var out []string
	for line := range strings.Lines(body) {
		if d, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "data: "); ok {
			out = append(out, d)
		}
	}
	return out
}

// usageChunks returns the events that carry a usage object.
func usageChunks(events []string) []string {
	var out []string
	for _, e := range events {
		if gjson.Get(e, "usage").IsObject() {
			out = append(out, e)
		}
	}
	return out
}

const usageDirective = `"mock":{"prompt_tokens":123,"completion_tokens":45}`

// The gateway learns every openai_compat stream's usage: it asks the
// upstream for the usage chunk, logs (and so records) the counts, and keeps
// the chunk from a client that did not ask for it.
func TestStreamUsageWithoutIncludeUsage(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	status, h, body := g.post(t, "/v1/chat/completions", `{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}],`+usageDirective+`}`)
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	events := dataEvents(body)
	if u := usageChunks(events); len(u) != 0 || events[len(events)-1] != "[DONE]" {
		t.Errorf("the client got usage chunks %q (events %q); it did not ask for any", u, events)
	}
	if sent := g.lastUpstream(t).Body; !gjson.GetBytes(sent, "stream_options.include_usage").Bool() {
		t.Errorf("the upstream body did not ask for the usage: %s", sent)
	}
	line := g.waitLine(t, "msg=request", "request_id="+h.Get("X-Request-Id"))
	if !strings.Contains(line, "prompt_tokens=123 completion_tokens=45") || strings.Contains(line, "usage_estimated") {
		t.Errorf("access line without the upstream's counts:\n%s", line)
	}
}

// A client that asked for the usage chunk still gets it, once.
func TestStreamUsageWithIncludeUsage(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	status, _, body := g.post(t, "/v1/chat/completions", `{"model":"chat","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}],`+usageDirective+`}`)
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	u := usageChunks(dataEvents(body))
	if len(u) != 1 || gjson.Get(u[0], "usage.prompt_tokens").Int() != 123 || gjson.Get(u[0], "choices.#").Int() != 0 {
		t.Errorf("usage chunks %q, want one with prompt_tokens 123", u)
	}
}

// A stream the upstream cuts short is logged with an estimated usage: the
// prompt from the body, the completion from the text that was sent.
func TestStreamUsageCutStream(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	_, h, body := g.post(t, "/v1/chat/completions", `{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}],"mock":{"chunks":6,"cut_after":3}}`)
	if len(usageChunks(dataEvents(body))) != 0 {
		t.Errorf("a cut stream sent a usage chunk: %s", body)
	}
	line := g.waitLine(t, "msg=request", "request_id="+h.Get("X-Request-Id"))
	if !strings.Contains(line, "usage_estimated=true") || strings.Contains(line, "prompt_tokens=0 ") || strings.Contains(line, "completion_tokens=0 ") {
		t.Errorf("access line of a cut stream without an estimated usage:\n%s", line)
	}
}

// "stream_usage": false sends stream_options as the client did: the usage
// is then an estimate.
func TestStreamUsageOff(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraModels: `{"id": "plain", "adapter": "openai_compat", "base_url": "MOCK/v1", "api_key": "` + upstreamKey + `", "model": "mock-model", "stream_usage": false}`})
	_, h, body := g.post(t, "/v1/chat/completions", `{"model":"plain","stream":true,"messages":[{"role":"user","content":"hi"}],`+usageDirective+`}`)
	if len(usageChunks(dataEvents(body))) != 0 {
		t.Errorf("usage chunk sent: %s", body)
	}
	if sent := g.lastUpstream(t).Body; gjson.GetBytes(sent, "stream_options").Exists() {
		t.Errorf("the upstream body carries stream_options: %s", sent)
	}
	line := g.waitLine(t, "msg=request", "request_id="+h.Get("X-Request-Id"))
	if !strings.Contains(line, "usage_estimated=true") || strings.Contains(line, "completion_tokens=0 ") {
		t.Errorf("access line without an estimated usage:\n%s", line)
	}
}
