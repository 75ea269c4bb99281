package api_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"aigateway/internal/mockllm"
)

// sdkAnswer is what the SDK client saw of one chat request.
type sdkAnswer struct {
	status  int
	header  http.Header
	message string // the error message, or the content of a 200
}

// chatSDK sends a chat request for model with the official SDK and returns
// the status, headers and message, error or not.
func chatSDK(t *testing.T, c openai.Client, model string) sdkAnswer {
	t.Helper()
	var httpResp *http.Response
	resp, err := c.Chat.Completions.New(context.Background(),
		openai.ChatCompletionNewParams{Model: model, Messages: userMessage("hi")}, option.WithResponseInto(&httpResp))
	var apiErr *openai.Error
	switch {
	case errors.As(err, &apiErr):
		return sdkAnswer{status: apiErr.StatusCode, header: apiErr.Response.Header, message: apiErr.Message}
	case err != nil:
		t.Fatalf("chat %s: %v", model, err)
	}
	return sdkAnswer{status: httpResp.StatusCode, header: httpResp.Header, message: resp.Choices[0].Message.Content}
}

// switchable scripts a mock with a mode the test changes: "500" answers 500
// with the upstream's message, "429" answers 429 with Retry-After: 7, ""
// answers normally.
func switchable(mode *atomic.Value, message string) func(int64, *http.Request, *mockllm.Directive) {
	return func(_ int64, _ *http.Request, d *mockllm.Directive) {
		switch mode.Load() {
		case "500":
			d.Status, d.ErrorMessage = 500, message
		case "429":
			d.Status, d.ErrorMessage, d.RetryAfter = 429, message, "7"
		}
	}
}

// Issue 9: a model with a single deployment whose breaker opened still
// reaches its upstream. A burst of upstream 500s is answered with the
// upstream's 500 each time, never with a 503 of the gateway's own; a 429
// keeps its Retry-After; the first good answer closes the breaker.
func TestAllOpenOneDeploymentAnswersWithTheUpstream(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var mode atomic.Value
	mode.Store("500")
	g := startGateway(t, gatewayOptions{
		now:         clock.Now,
		extraMocks:  []mockllm.Options{{Script: switchable(&mode, "the solo upstream is down")}},
		extraModels: `{"id": "solo", "adapter": "openai_compat", "base_url": "MOCK1/v1", "api_key": "` + upstreamKey + `", "model": "mock-model"}`,
	})
	c := g.client(t)
	for i := range 8 {
		a := chatSDK(t, c, "solo")
		if a.status != 500 || a.message != "the solo upstream is down" {
			t.Fatalf("request %d: %d %q, want the upstream's 500 and its message", i+1, a.status, a.message)
		}
		clock.Add(time.Second)
	}
	if s := g.health(t).breaker("solo", "models[1]"); s.State != "open" {
		t.Errorf("breaker %+v after the burst, want open (the breaker still counts)", s)
	}
	// Default breaker: 5 failures open it. The first request made 3
	// attempts, the second 2 (the breaker opened under it: its last answer
	// is the upstream's); each later one is a single forced attempt.
	if got, want := g.extra[0].Stats().Requests, int64(3+2+6); got != want {
		t.Errorf("upstream requests = %d, want %d", got, want)
	}

	mode.Store("429")
	if a := chatSDK(t, c, "solo"); a.status != 429 || a.header.Get("Retry-After") != "7" || a.message != "the solo upstream is down" {
		t.Errorf("open breaker, upstream 429: %d, Retry-After %q, %q", a.status, a.header.Get("Retry-After"), a.message)
	}

	mode.Store("")
	if a := chatSDK(t, c, "solo"); a.status != 200 || a.message != mockllm.ExpectedText(3) {
		t.Errorf("upstream healthy again: %d %q, want 200", a.status, a.message)
	}
	if s := g.health(t).breaker("solo", "models[1]"); s.State != "closed" {
		t.Errorf("breaker %+v after a good answer, want closed", s)
	}
}

// Issue 9: when every deployment of a pool and of its fallback is out of
// rotation, each request goes to the one whose cool-down ends first and the
// client gets that upstream's own answer; a healthy one is back at once.
func TestAllOpenPoolGoesToTheSoonestCoolDown(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var mode atomic.Value
	mode.Store("500")
	g := startGateway(t, gatewayOptions{
		now: clock.Now,
		extraMocks: []mockllm.Options{
			{Script: switchable(&mode, "models[1] is down")},
			{Script: switchable(&mode, "models[2] is down")},
			{Script: switchable(&mode, "models[3] is down")},
		},
		extraModels: `{"id": "pool", "adapter": "openai_compat", "base_url": "MOCK1/v1", "api_key": "` + upstreamKey + `", "model": "mock-model", "retries": 0, "breaker_failures": 1, "breaker_cool_down": 30, "fallbacks": ["backup"]},
			{"id": "pool", "adapter": "openai_compat", "base_url": "MOCK2/v1", "api_key": "` + upstreamKey + `", "model": "mock-model", "breaker_failures": 1, "breaker_cool_down": 30},
			{"id": "backup", "adapter": "openai_compat", "base_url": "MOCK3/v1", "api_key": "` + upstreamKey + `", "model": "mock-model", "retries": 0, "breaker_failures": 1, "breaker_cool_down": 30}`,
	})
	c := g.client(t)
	soonest := func() string {
		h := g.health(t)
		best, bestEnd := "", time.Time{}
		for _, m := range h.Models {
			if m.ID == "chat" {
				continue
			}
			if m.Breaker.State != "open" {
				t.Fatalf("%s is %s; every deployment should be open", m.Deployment, m.Breaker.State)
			}
			if best == "" || m.Breaker.OpenUntil.Before(bestEnd) {
				best, bestEnd = m.Deployment, m.Breaker.OpenUntil
			}
		}
		if h.Status != "degraded" {
			t.Errorf("/health status %q with every deployment open", h.Status)
		}
		return best
	}
	// Two requests open all three: the first tries a pool deployment, then
	// the fallback; the second the other pool deployment.
	for i := range 2 {
		if a := chatSDK(t, c, "pool"); a.status != 500 {
			t.Fatalf("request %d: %d %q, want an upstream's 500", i+1, a.status, a.message)
		}
		clock.Add(time.Second)
	}
	for i := range 6 {
		want := soonest()
		a := chatSDK(t, c, "pool")
		if got := a.header.Get("X-Aigateway-Deployment"); a.status != 500 || got != want || a.message != want+" is down" {
			t.Fatalf("all open, request %d: %d %q from %s, want the 500 of %s, whose cool-down ends first", i+1, a.status, a.message, got, want)
		}
		if got := a.header.Get("X-Aigateway-Attempts"); got != "1" {
			t.Errorf("all open, request %d: %s attempts, want 1", i+1, got)
		}
		clock.Add(time.Second)
	}
	mode.Store("")
	want := soonest()
	if a := chatSDK(t, c, "pool"); a.status != 200 || a.header.Get("X-Aigateway-Deployment") != want {
		t.Errorf("upstreams healthy again: %d from %s, want 200 from %s", a.status, a.header.Get("X-Aigateway-Deployment"), want)
	}
	if s := g.health(t).breaker(map[string]string{"models[1]": "pool", "models[2]": "pool", "models[3]": "backup"}[want], want); s.State != "closed" {
		t.Errorf("%s after its good answer: %+v, want closed", want, s)
	}
	var sum int64
	for _, m := range g.extra {
		sum += m.Stats().Requests
	}
	if want := int64(3 + 6 + 1); sum != want {
		t.Errorf("upstream requests = %d, want %d (one per request while all are open)", sum, want)
	}
}
