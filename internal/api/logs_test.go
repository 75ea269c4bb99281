package api_test

import (
	"strings"
	"testing"
)

// logLine returns the first line of the log that contains every one of
// parts, or "" when none does.
func logLine(logs string, parts ...string) string {
	for line := range strings.Lines(logs) {
		found := true
		for _, p := range parts {
			found = found && strings.Contains(line, p)
		}
		if found {
			return line
		}
	}
	return ""
}

// A named deployment goes by its name in the response header, /health and
// the access log, instead of its position in the file.
func TestNamedDeployment(t *testing.T) {
	g := startGateway(t, gatewayOptions{
		extraModels: `{"id": "named", "name": "mock-east", "adapter": "openai_compat", "base_url": "MOCK/v1", "api_key": "` + upstreamKey + `", "model": "mock-model"}`,
	})
	status, header, body := g.post(t, "/v1/chat/completions", `{"model": "named", "messages": [{"role": "user", "content": "hi"}]}`)
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	if got := header.Get("X-Aigateway-Deployment"); got != "mock-east" {
		t.Errorf("X-Aigateway-Deployment = %q, want mock-east", got)
	}
	if s := g.health(t).breaker("named", "mock-east"); s.State != "closed" {
		t.Errorf("/health breaker of mock-east: %+v", s)
	}
	if s := g.health(t).breaker("chat", "models[0]"); s.State != "closed" {
		t.Errorf("an unnamed entry is no longer models[0] in /health: %+v", s)
	}
	if logLine(g.logs.String(), "msg=request", "model=named", "deployment=mock-east") == "" {
		t.Errorf("no access line with deployment=mock-east:\n%s", g.logs)
	}
}
