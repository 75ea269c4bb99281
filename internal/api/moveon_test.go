package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"aigateway/internal/api"
	"aigateway/internal/mockllm"
)

// processEntry is a models.json entry for a process model running the test
// binary as program (see TestMain), with the prompt as its last argument;
// fields are more JSON fields.
func processEntry(t *testing.T, id, program, fields string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd, _ := json.Marshal([]string{self, "-test.run=^$", "{prompt}"})
	return `{"id": "` + id + `", "adapter": "process", "command": ` + string(cmd) + `, "env": {"AIGW_TEST_PROGRAM": "` + program + `", "GORACE": "atexit_sleep_ms=0"}, ` + fields + `}`
}

// cloudEntry is an openai_compat entry for model id on the mock named by
// base (MOCK, MOCK1, ...); fields are more JSON fields.
func cloudEntry(id, base, fields string) string {
	return `{"id": "` + id + `", "adapter": "openai_compat", "base_url": "` + base + `/v1", "api_key": "` + upstreamKey + `", "model": "mock-model", ` + fields + `}`
}

// postWithin posts a chat body and fails the test when the answer takes
// longer than limit: the limit is far above the time a request needs and
// far below the wait the test rules out.
func (g *gateway) postWithin(t *testing.T, limit time.Duration, body string) (int, http.Header, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, g.URL+"/v1/chat/completions", strings.NewReader(body))
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("no answer within %s: %v", limit, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("no whole answer within %s: %v", limit, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// Issue 9: the retry wait runs only before another attempt on the
// deployment that asked for it. The last failure reaches the client at
// once, and a request moving on to another deployment does not wait for
// the first one's Retry-After.
func TestRetryWaitOnlyBeforeARetryOfTheSameDeployment(t *testing.T) {
	always429 := func(_ int64, _ *http.Request, d *mockllm.Directive) { d.Status, d.RetryAfter = 429, "3600" }
	g := startGateway(t, gatewayOptions{
		retry:      api.RetryPolicy{Base: time.Millisecond, Max: 5 * time.Millisecond, MaxRetryAfter: time.Hour},
		extraMocks: []mockllm.Options{{Script: always429}, {}},
		extraModels: cloudEntry("once", "MOCK1", `"retries": 0`) + "," +
			cloudEntry("pair", "MOCK1", `"retries": 1`) + "," + cloudEntry("pair", "MOCK2", `"priority": 1`),
	})
	const limit = 5 * time.Second // the ruled-out wait is an hour
	for _, stream := range []string{"", `,"stream":true`} {
		status, h, body := g.postWithin(t, limit, chatFor("once", stream))
		if status != 429 || h.Get("Retry-After") != "3600" || h.Get("X-Aigateway-Attempts") != "1" {
			t.Errorf("retries 0, stream=%q: %d, Retry-After %q, attempts %q: %s", stream, status, h.Get("Retry-After"), h.Get("X-Aigateway-Attempts"), body)
		}
		status, h, body = g.postWithin(t, limit, chatFor("pair", stream))
		if status != 200 || h.Get("X-Aigateway-Deployment") != "models[3]" || h.Get("X-Aigateway-Attempts") != "2" {
			t.Errorf("moving on, stream=%q: %d from %s after %s attempts: %s", stream, status, h.Get("X-Aigateway-Deployment"), h.Get("X-Aigateway-Attempts"), body)
		}
	}
}

// Issue 9: a model that cannot serve at all (missing key, missing
// program) hands its requests to its fallbacks; without fallbacks it is
// still a 503 model_unavailable.
func TestUnservableModelGoesToItsFallbacks(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraModels: `
		{"id": "nokey", "adapter": "openai_compat", "base_url": "MOCK/v1", "api_key": "ENV:AIGW_TEST_UNSET_KEY", "fallbacks": ["chat"]},
		{"id": "noprog", "adapter": "process", "command": ["aigw-no-such-program-xyz", "{prompt}"], "fallbacks": ["nokey", "chat"]},
		{"id": "alone", "adapter": "openai_compat", "base_url": "MOCK/v1", "api_key": "ENV:AIGW_TEST_UNSET_KEY"}`})
	c := g.client(t)
	for _, model := range []string{"nokey", "noprog"} {
		a := chatSDK(t, c, model)
		if a.status != 200 || a.header.Get("X-Aigateway-Model") != "chat" || a.header.Get("X-Aigateway-Attempts") != "1" {
			t.Errorf("%s: %d answered by %q after %s attempts: %s", model, a.status, a.header.Get("X-Aigateway-Model"), a.header.Get("X-Aigateway-Attempts"), a.message)
		}
	}
	status, _, body := g.post(t, "/v1/chat/completions", chatFor("alone", ""))
	if e := openAIError(t, body); status != 503 || e["code"] != "model_unavailable" {
		t.Errorf("no fallback: %d %s, want 503 model_unavailable", status, body)
	}
}

// firstEvent opens a stream for model and reads until its first data
// event; extra are more request fields. The caller closes the response.
func firstEvent(t *testing.T, g *gateway, model, prompt, extra string) *http.Response {
	t.Helper()
	body := `{"model":"` + model + `","stream":true,"messages":[{"role":"user","content":"` + prompt + `"}]` + extra + `}`
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	resp, err := client.Post(g.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		resp.Body.Close()
		t.Fatalf("stream for %s: status %d", model, resp.StatusCode)
	}
	r := bufio.NewReader(resp.Body)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			resp.Body.Close()
			t.Fatalf("stream for %s: %v", model, err)
		}
		if strings.HasPrefix(line, "data: ") {
			return resp
		}
	}
}

// Issue 9: "local model first, overflow to the cloud". A local program
// that is busy, cannot start, fails or times out is not tried again; the
// request moves on to the pool's cloud deployment or to the fallbacks, and
// without either gets the program's error at once. Moving on does not use
// the model's retries.
func TestLocalProgramMovesOnToTheCloud(t *testing.T) {
	notAProgram := filepath.Join(t.TempDir(), "not-a-program")
	if err := os.WriteFile(notAProgram, []byte("this is not an executable format\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	badStart, _ := json.Marshal([]string{notAProgram, "{prompt}"})
	long := strings.Repeat("word ", 2000) // 10 s of output, 5 ms a word
	g := startGateway(t, gatewayOptions{extraModels: strings.Join([]string{
		processEntry(t, "busy", "words", `"retries": 0, "max_concurrency": 1, "queue_size": 0, "timeout": 60`),
		cloudEntry("busy", "MOCK", `"priority": 1`),
		`{"id": "nostart", "adapter": "process", "command": ` + string(badStart) + `, "retries": 0}`,
		cloudEntry("nostart", "MOCK", `"priority": 1`),
		processEntry(t, "slow", "words", `"retries": 0, "timeout": 0.2`),
		cloudEntry("slow", "MOCK", `"priority": 1`),
		processEntry(t, "crashing", "stderr", `"fallbacks": ["chat"]`),
		processEntry(t, "crashing-alone", "stderr", `"retries": 2`),
	}, ",")})
	c := g.client(t)

	// The only slot is taken by a stream in progress; the queue holds none.
	held := firstEvent(t, g, "busy", long, "")
	a := chatSDK(t, c, "busy")
	held.Body.Close()
	if a.status != 200 || a.header.Get("X-Aigateway-Deployment") != "models[2]" || a.header.Get("X-Aigateway-Attempts") != "2" {
		t.Errorf("queue full: %d from %s after %s attempts: %s", a.status, a.header.Get("X-Aigateway-Deployment"), a.header.Get("X-Aigateway-Attempts"), a.message)
	}
	if s := g.health(t).breaker("busy", "models[1]"); s.ConsecutiveFailures != 0 {
		t.Errorf("a full queue counted against the program: %+v", s)
	}

	for _, tc := range []struct{ model, cloud, program string }{
		{"nostart", "models[4]", "models[3]"},
		{"slow", "models[6]", "models[5]"},
	} {
		body := `{"model":"` + tc.model + `","messages":[{"role":"user","content":"` + long + `"}]}`
		status, h, answer := g.post(t, "/v1/chat/completions", body)
		if status != 200 || h.Get("X-Aigateway-Deployment") != tc.cloud || h.Get("X-Aigateway-Attempts") != "2" {
			t.Errorf("%s: %d from %s after %s attempts: %s", tc.model, status, h.Get("X-Aigateway-Deployment"), h.Get("X-Aigateway-Attempts"), answer)
		}
		if s := g.health(t).breaker(tc.model, tc.program); s.ConsecutiveFailures != 1 {
			t.Errorf("%s: the program's failure is not counted: %+v", tc.model, s)
		}
	}

	a = chatSDK(t, c, "crashing")
	if a.status != 200 || a.header.Get("X-Aigateway-Model") != "chat" || a.header.Get("X-Aigateway-Attempts") != "2" {
		t.Errorf("failing program with a fallback: %d answered by %q after %s attempts: %s", a.status, a.header.Get("X-Aigateway-Model"), a.header.Get("X-Aigateway-Attempts"), a.message)
	}
	status, h, body := g.post(t, "/v1/chat/completions", chatFor("crashing-alone", ""))
	if e := openAIError(t, body); status != 502 || e["code"] != "process_failed" || h.Get("X-Aigateway-Attempts") != "1" {
		t.Errorf("failing program alone: %d after %s attempts: %s, want its 502 process_failed after 1", status, h.Get("X-Aigateway-Attempts"), body)
	}
}

// Issue 9: a deployment whose cool-down is over is ready for a probe, and
// /health says so from the clock, even when no request reaches its tier.
func TestHealthShowsAPassedCoolDownAsHalfOpen(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	g := startGateway(t, gatewayOptions{
		now:        clock.Now,
		extraMocks: []mockllm.Options{{Script: failFirst(1, 500, "")}, {}},
		extraModels: cloudEntry("pool", "MOCK1", `"breaker_failures": 1, "breaker_cool_down": 10`) + "," +
			cloudEntry("pool", "MOCK2", `"priority": 1`),
	})
	if status, h, body := g.post(t, "/v1/chat/completions", chatFor("pool", "")); status != 200 || h.Get("X-Aigateway-Deployment") != "models[2]" {
		t.Fatalf("status %d from %s: %s", status, h.Get("X-Aigateway-Deployment"), body)
	}
	if h := g.health(t); h.Status != "degraded" || h.breaker("pool", "models[1]").State != "open" {
		t.Errorf("during the cool-down: %s, %+v; want degraded and open", h.Status, h.breaker("pool", "models[1]"))
	}
	clock.Add(10 * time.Second)
	if h := g.health(t); h.Status != "ok" || h.breaker("pool", "models[1]").State != "half_open" {
		t.Errorf("after the cool-down, no request since: %s, %+v; want ok and half_open", h.Status, h.breaker("pool", "models[1]"))
	}
	if status, h, _ := g.post(t, "/v1/chat/completions", chatFor("pool", "")); status != 200 || h.Get("X-Aigateway-Deployment") != "models[1]" {
		t.Errorf("the probe: %d from %s, want 200 from models[1]", status, h.Get("X-Aigateway-Deployment"))
	}
	if h := g.health(t); h.Status != "ok" || h.breaker("pool", "models[1]").State != "closed" {
		t.Errorf("after a good probe: %s, %+v; want ok and closed", h.Status, h.breaker("pool", "models[1]"))
	}
}
