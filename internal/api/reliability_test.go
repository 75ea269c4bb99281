package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"aigateway/internal/mockllm"
)

const chatBody = `{"model":"%s","messages":[{"role":"user","content":"hi"}]%s}`

func chatFor(model, extra string) string {
	return strings.Replace(strings.Replace(chatBody, "%s", model, 1), "%s", extra, 1)
}

// failFirst scripts a mock to answer the first n requests with status.
func failFirst(n int64, status int, retryAfter string) func(int64, *http.Request, *mockllm.Directive) {
	return func(seq int64, _ *http.Request, d *mockllm.Directive) {
		if seq <= n {
			d.Status, d.RetryAfter = status, retryAfter
		}
	}
}

func TestRetries(t *testing.T) {
	cases := []struct {
		name         string
		script       func(int64, *http.Request, *mockllm.Directive)
		extra        string // request fields
		model        string
		wantStatus   int
		wantUpstream int64 // requests the mock received
		wantAttempts string
	}{
		{"500 then success", failFirst(1, 500, ""), "", "chat", 200, 2, "2"},
		{"429 with Retry-After then success", failFirst(1, 429, "0.01"), "", "chat", 200, 2, "2"},
		{"529 twice then success", failFirst(2, 529, ""), "", "chat", 200, 3, "3"},
		{"503 every time: retries exhausted", failFirst(100, 503, ""), "", "chat", 503, 3, "3"},
		{"400 is not retried", failFirst(100, 400, ""), "", "chat", 400, 1, "1"},
		{"401 is not retried", failFirst(100, 401, ""), "", "chat", 401, 1, "1"},
		{"stream that fails at once is retried", failFirst(1, 502, ""), `,"stream":true`, "chat", 200, 2, "2"},
		{"retries: 0", failFirst(1, 500, ""), "", "once", 500, 1, "1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := startGateway(t, gatewayOptions{mock: mockllm.Options{Script: tc.script},
				extraModels: `{"id": "once", "adapter": "openai_compat", "base_url": "MOCK/v1", "api_key": "` + upstreamKey + `", "model": "mock-model", "retries": 0}`})
			status, h, body := g.post(t, "/v1/chat/completions", chatFor(tc.model, tc.extra))
			if status != tc.wantStatus {
				t.Fatalf("status = %d, want %d: %s", status, tc.wantStatus, body)
			}
			if got := g.mock.Stats().Requests; got != tc.wantUpstream {
				t.Errorf("upstream requests = %d, want %d", got, tc.wantUpstream)
			}
			if got := h.Get("X-Aigateway-Attempts"); got != tc.wantAttempts {
				t.Errorf("X-Aigateway-Attempts = %q, want %q", got, tc.wantAttempts)
			}
			if status == 200 && strings.Contains(tc.extra, "stream") && !strings.HasSuffix(body, "data: [DONE]\n\n") {
				t.Errorf("stream after a retry: %s", body)
			}
		})
	}
}

// A hang before the first byte is a timeout that is retried on another
// deployment; a cut after the first chunk is reported in-band, not retried.
func TestRetryTimeoutsAndMidStreamCuts(t *testing.T) {
	hang := func(_ int64, _ *http.Request, d *mockllm.Directive) { d.Hang = true }
	g := startGateway(t, gatewayOptions{
		extraMocks: []mockllm.Options{{Script: hang}, {}},
		extraModels: `{"id": "pool", "adapter": "openai_compat", "base_url": "MOCK1/v1", "api_key": "` + upstreamKey + `", "model": "mock-model", "timeout": 0.2},
			{"id": "pool", "adapter": "openai_compat", "base_url": "MOCK2/v1", "api_key": "` + upstreamKey + `", "model": "mock-model", "priority": 1}`,
	})
	for _, stream := range []string{"", `,"stream":true`} {
		status, h, body := g.post(t, "/v1/chat/completions", chatFor("pool", stream))
		if status != 200 || h.Get("X-Aigateway-Deployment") != "models[2]" || h.Get("X-Aigateway-Attempts") != "2" {
			t.Errorf("stream=%q: status %d, deployment %q, attempts %q: %s", stream, status, h.Get("X-Aigateway-Deployment"), h.Get("X-Aigateway-Attempts"), body)
		}
	}
	waitFor(t, "the hung attempts to be canceled", func() bool { return g.extra[0].Stats().Canceled == 2 })

	status, h, body := g.post(t, "/v1/chat/completions", chatFor("chat", `,"stream":true,"mock":{"cut_after":1}`))
	if status != 200 || h.Get("X-Aigateway-Attempts") != "1" || !strings.Contains(body, "stream_incomplete") || strings.Contains(body, "[DONE]") {
		t.Errorf("cut mid-stream: status %d, attempts %q: %s", status, h.Get("X-Aigateway-Attempts"), body)
	}
	if got := g.mock.Stats().Requests; got != 1 {
		t.Errorf("a stream cut after its first chunk was sent upstream %d times, want 1", got)
	}
}

func TestPoolsFallbacksAndPriorities(t *testing.T) {
	g := startGateway(t, gatewayOptions{
		extraMocks: []mockllm.Options{{}, {}, {Script: failFirst(1000, 500, "")}},
		extraModels: `{"id": "weighted", "adapter": "openai_compat", "base_url": "MOCK1/v1", "api_key": "` + upstreamKey + `", "model": "mock-model", "weight": 3},
			{"id": "weighted", "adapter": "openai_compat", "base_url": "MOCK2/v1", "api_key": "` + upstreamKey + `", "model": "mock-model", "weight": 1},
			{"id": "tiered", "adapter": "openai_compat", "base_url": "http://` + deadAddr(t) + `/v1", "priority": 0},
			{"id": "tiered", "adapter": "openai_compat", "base_url": "MOCK2/v1", "api_key": "` + upstreamKey + `", "model": "mock-model", "priority": 1},
			{"id": "broken", "adapter": "openai_compat", "base_url": "MOCK3/v1", "api_key": "` + upstreamKey + `", "model": "mock-model", "retries": 1, "fallbacks": ["weighted"]}`,
	})
	t.Run("weights", func(t *testing.T) {
		const n = 400
		for range n {
			if status, _, body := g.post(t, "/v1/chat/completions", chatFor("weighted", "")); status != 200 {
				t.Fatalf("status %d: %s", status, body)
			}
		}
		a, b := g.extra[0].Stats().Requests, g.extra[1].Stats().Requests
		if a+b != n || a < n*65/100 || a > n*85/100 { // 75% expected; the band is > 4 standard deviations wide
			t.Errorf("weight 3:1 split %d:%d", a, b)
		}
	})
	t.Run("priority tier used only when the preferred one is down", func(t *testing.T) {
		before := g.extra[1].Stats().Requests
		status, h, body := g.post(t, "/v1/chat/completions", chatFor("tiered", ""))
		if status != 200 || h.Get("X-Aigateway-Deployment") != "models[4]" || h.Get("X-Aigateway-Attempts") != "2" {
			t.Errorf("status %d, deployment %q, attempts %q: %s", status, h.Get("X-Aigateway-Deployment"), h.Get("X-Aigateway-Attempts"), body)
		}
		if got := g.extra[1].Stats().Requests - before; got != 1 {
			t.Errorf("the priority-1 deployment got %d requests, want 1", got)
		}
	})
	t.Run("fallback answers when the pool fails", func(t *testing.T) {
		status, h, body := g.post(t, "/v1/chat/completions", chatFor("broken", ""))
		if status != 200 || h.Get("X-Aigateway-Model") != "weighted" || h.Get("X-Aigateway-Attempts") != "3" {
			t.Errorf("status %d, model %q, attempts %q: %s", status, h.Get("X-Aigateway-Model"), h.Get("X-Aigateway-Attempts"), body)
		}
		if got := g.extra[2].Stats().Requests; got != 2 { // first attempt + 1 retry
			t.Errorf("the broken deployment got %d requests, want 2", got)
		}
	})
}

// fakeClock is a settable clock for breakers.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// The breaker takes a failing deployment out of the choice among
// alternatives: while it is open, requests go to the pool's other
// deployment; after the cool-down one probe goes to it.
func TestCircuitBreaker(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var failing atomic.Bool
	failing.Store(true)
	g := startGateway(t, gatewayOptions{
		now: clock.Now,
		extraMocks: []mockllm.Options{{Script: func(_ int64, _ *http.Request, d *mockllm.Directive) {
			if failing.Load() {
				d.Status = 500
			}
		}}, {}},
		extraModels: `{"id": "flaky", "adapter": "openai_compat", "base_url": "MOCK1/v1", "api_key": "` + upstreamKey + `", "model": "mock-model", "retries": 0, "breaker_failures": 3, "breaker_cool_down": 30},
			{"id": "flaky", "adapter": "openai_compat", "base_url": "MOCK2/v1", "api_key": "` + upstreamKey + `", "model": "mock-model", "priority": 1}`,
	})
	flaky := g.extra[0]
	post := func() (int, string) {
		status, h, _ := g.post(t, "/v1/chat/completions", chatFor("flaky", ""))
		return status, h.Get("X-Aigateway-Deployment")
	}
	for range 3 {
		if status, dep := post(); status != 500 || dep != "models[1]" {
			t.Fatalf("status %d from %s, want the preferred deployment's 500", status, dep)
		}
	}
	if s := g.health(t).breaker("flaky", "models[1]"); s.State != "open" {
		t.Fatalf("breaker = %q after 3 failures, want open", s.State)
	}
	if status, dep := post(); status != 200 || dep != "models[2]" || flaky.Stats().Requests != 3 {
		t.Errorf("open breaker: status %d from %s, preferred upstream requests %d", status, dep, flaky.Stats().Requests)
	}
	clock.Add(31 * time.Second) // cool-down over: one probe, which fails and re-opens for longer
	if status, dep := post(); status != 500 || dep != "models[1]" || flaky.Stats().Requests != 4 {
		t.Errorf("probe: status %d from %s, preferred upstream requests %d", status, dep, flaky.Stats().Requests)
	}
	if s := g.health(t).breaker("flaky", "models[1]"); s.State != "open" {
		t.Errorf("breaker = %q after a failed probe, want open", s.State)
	}
	clock.Add(31 * time.Second) // the cool-down doubled: still open
	if status, dep := post(); status != 200 || dep != "models[2]" {
		t.Errorf("doubled cool-down: status %d from %s, want 200 from the other deployment", status, dep)
	}
	failing.Store(false)
	clock.Add(31 * time.Second)
	if status, dep := post(); status != 200 || dep != "models[1]" {
		t.Errorf("successful probe: status %d from %s", status, dep)
	}
	if s := g.health(t).breaker("flaky", "models[1]"); s.State != "closed" {
		t.Errorf("breaker = %q after a successful probe, want closed", s.State)
	}
}

// A client that goes away is not the upstream's failure.
func TestClientDisconnectIsNotAFailure(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraModels: `{"id": "b", "adapter": "openai_compat", "base_url": "MOCK/v1", "api_key": "` + upstreamKey + `", "model": "mock-model", "breaker_failures": 1}`})
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		req, _ := http.NewRequestWithContext(ctx, "POST", g.URL+"/v1/chat/completions", strings.NewReader(chatFor("b", `,"mock":{"hang":true}`)))
		client := &http.Client{Transport: &http.Transport{}}
		client.Do(req) //nolint:errcheck // times out on purpose
		cancel()
		client.CloseIdleConnections()
	}
	waitFor(t, "the upstream to see three cancellations", func() bool { return g.mock.Stats().Canceled == 3 })
	if status, _, body := g.post(t, "/v1/chat/completions", chatFor("b", "")); status != 200 {
		t.Errorf("after client disconnects: status %d (breaker opened?): %s", status, body)
	}
	if got := g.mock.Stats().Requests; got != 4 {
		t.Errorf("upstream requests = %d, want 4 (disconnects are not retried)", got)
	}
}

// Under concurrent load, one of two deployments is killed mid-run: no
// client request fails.
func TestKilledDeploymentUnderLoad(t *testing.T) {
	g := startGateway(t, gatewayOptions{
		extraMocks: []mockllm.Options{{ChunkDelay: time.Millisecond}, {ChunkDelay: time.Millisecond}},
		extraModels: `{"id": "pair", "adapter": "openai_compat", "base_url": "MOCK1/v1", "api_key": "` + upstreamKey + `", "model": "mock-model"},
			{"id": "pair", "adapter": "openai_compat", "base_url": "MOCK2/v1", "api_key": "` + upstreamKey + `", "model": "mock-model"}`,
	})
	const workers, perWorker = 16, 40
	var failed, done atomic.Int64
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	defer client.CloseIdleConnections()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perWorker {
				resp, err := client.Post(g.URL+"/v1/chat/completions", "application/json", strings.NewReader(chatFor("pair", "")))
				if err != nil {
					failed.Add(1)
					continue
				}
				var body struct {
					Choices []struct{ Message struct{ Content string } }
				}
				if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&body) != nil || body.Choices[0].Message.Content != mockllm.ExpectedText(3) {
					failed.Add(1)
				}
				resp.Body.Close()
				done.Add(1)
			}
		}()
	}
	waitFor(t, "the load to be under way", func() bool { return done.Load() > workers*perWorker/4 })
	g.extraServers[0].CloseClientConnections() // kill deployment 1 mid-run: cut its connections...
	g.extraServers[0].Listener.Close()         // ...and refuse new ones
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Errorf("%d of %d client requests failed", n, workers*perWorker)
	}
	if g.extra[1].Stats().Requests == 0 {
		t.Error("the surviving deployment served nothing")
	}
}

func TestPhaseTimeouts(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraModels: `
		{"id": "fb", "adapter": "openai_compat", "base_url": "MOCK/v1", "api_key": "` + upstreamKey + `", "model": "mock-model", "retries": 0, "first_byte_timeout": 0.2, "idle_timeout": 30},
		{"id": "idle", "adapter": "openai_compat", "base_url": "MOCK/v1", "api_key": "` + upstreamKey + `", "model": "mock-model", "retries": 0, "first_byte_timeout": 30, "idle_timeout": 0.2},
		{"id": "total", "adapter": "openai_compat", "base_url": "MOCK/v1", "api_key": "` + upstreamKey + `", "model": "mock-model", "retries": 0, "idle_timeout": 30, "total_timeout": 0.3}`})
	cases := []struct {
		name, model, extra string
		status             int
		want               string
	}{
		{"first byte", "fb", `,"mock":{"delay_ms":3000}`, 504, "did not answer within 200ms"},
		{"first byte is not idle", "fb", `,"stream":true,"mock":{"chunks":3,"chunk_delay_ms":300}`, 200, "data: [DONE]"},
		{"idle", "idle", `,"stream":true,"mock":{"hang_after_chunks":1}`, 200, "silent for 200ms"},
		{"total", "total", `,"stream":true,"mock":{"chunks":50,"chunk_delay_ms":20}`, 200, "total timeout of 300ms"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := g.post(t, "/v1/chat/completions", chatFor(tc.model, tc.extra))
			if status != tc.status || !strings.Contains(body, tc.want) {
				t.Errorf("status %d, want %d with %q: %s", status, tc.status, tc.want, body)
			}
		})
	}
}

// A client that leaves while the gateway waits between attempts must not
// strand a breaker's probe slot: the wait comes before the deployment's
// breaker is asked.
func TestClientLeavingDuringBackoffKeepsProbeFree(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	g := startGateway(t, gatewayOptions{
		now: clock.Now,
		extraMocks: []mockllm.Options{{Script: failFirst(1, 503, "1")}, {Script: func(_ int64, _ *http.Request, d *mockllm.Directive) {
			clock.Add(11 * time.Second) // the preferred deployment's cool-down passes meanwhile
			d.Status = 503
		}}},
		extraModels: `{"id": "pool", "adapter": "openai_compat", "base_url": "MOCK1/v1", "api_key": "` + upstreamKey + `", "model": "mock-model", "breaker_failures": 1, "breaker_cool_down": 10},
			{"id": "pool", "adapter": "openai_compat", "base_url": "MOCK2/v1", "api_key": "` + upstreamKey + `", "model": "mock-model", "priority": 1}`,
	})
	m, _ := g.reg.Lookup("pool")
	preferred := m.Deployments[0].Breaker
	// The preferred deployment fails (and opens), the other fails; the
	// third attempt goes back to the preferred one, whose cool-down has
	// passed, after its Retry-After (50ms here): the client leaves first.
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", g.URL+"/v1/chat/completions", strings.NewReader(chatFor("pool", "")))
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the request finished with %d; it should have been cut during the wait", resp.StatusCode)
	}
	waitFor(t, "the 499 log line", func() bool { return strings.Contains(g.logs.String(), "status=499") })
	if g.extra[0].Stats().Requests != 1 || g.extra[1].Stats().Requests != 1 {
		t.Fatalf("upstream requests %d and %d, want 1 and 1", g.extra[0].Stats().Requests, g.extra[1].Stats().Requests)
	}
	if !preferred.Ready() {
		t.Errorf("preferred breaker %+v is not ready for its probe", preferred.Snapshot())
	}
	if status, h, body := g.post(t, "/v1/chat/completions", chatFor("pool", "")); status != 200 || h.Get("X-Aigateway-Deployment") != "models[1]" {
		t.Errorf("probe request: status %d via %q: %s", status, h.Get("X-Aigateway-Deployment"), body)
	}
}
