package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"aigateway/internal/mockllm"
)

// Issue 9: a stream that breaks off after its first chunk is a failure of
// its deployment; one that ends properly is a success; one whose client
// left says nothing about the upstream.
func TestStreamOutcomeCountsAtItsEnd(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	g := startGateway(t, gatewayOptions{
		now:         clock.Now,
		extraModels: cloudEntry("cut", "MOCK", `"retries": 0, "breaker_failures": 2, "breaker_cool_down": 30`),
	})
	cutStream := chatFor("cut", `,"stream":true,"mock":{"cut_after":1}`)
	for i := range 2 {
		status, _, body := g.post(t, "/v1/chat/completions", cutStream)
		if status != 200 || !strings.Contains(body, "stream_incomplete") {
			t.Fatalf("cut stream %d: %d %s", i+1, status, body)
		}
		if s := g.health(t).breaker("cut", "models[1]"); s.ConsecutiveFailures != i+1 {
			t.Errorf("after cut stream %d: %+v, want %d consecutive failures", i+1, s, i+1)
		}
	}
	if s := g.health(t).breaker("cut", "models[1]"); s.State != "open" {
		t.Errorf("after two cut streams: %+v, want open", s)
	}
	// A client leaving mid-stream, even on the forced attempt, changes
	// nothing; the breaker is still open afterwards.
	resp := firstEvent(t, g, "cut", "hi", `,"mock":{"hang_after_chunks":1}`)
	resp.Body.Close()
	waitFor(t, "the upstream to see the cancellation", func() bool { return g.mock.Stats().Canceled == 1 })
	waitFor(t, "the 499 log line", func() bool { return strings.Contains(g.logs.String(), "status=499") })
	if s := g.health(t).breaker("cut", "models[1]"); s.State != "open" || s.ConsecutiveFailures != 2 {
		t.Errorf("after a client left mid-stream: %+v, want open with 2 failures", s)
	}
	// A whole stream (forced, all being open) closes the breaker.
	if status, _, body := g.post(t, "/v1/chat/completions", chatFor("cut", `,"stream":true`)); status != 200 || !strings.HasSuffix(body, "data: [DONE]\n\n") {
		t.Fatalf("whole stream: %d %s", status, body)
	}
	if s := g.health(t).breaker("cut", "models[1]"); s.State != "closed" || s.ConsecutiveFailures != 0 {
		t.Errorf("after a whole stream: %+v, want closed", s)
	}
}

// Issue 9: an upstream 401 or 403 (a revoked or wrong key) breaks the
// deployment for every request: it counts against its breaker, and the
// request moves on to the pool's other key at once, even with retries: 0.
func TestUpstreamAuthFailureMovesToTheOtherKey(t *testing.T) {
	for _, status := range []int{401, 403} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			g := startGateway(t, gatewayOptions{
				extraMocks: []mockllm.Options{{Script: failFirst(1000, status, "")}, {}},
				extraModels: cloudEntry("keys", "MOCK1", `"retries": 0, "breaker_failures": 2`) + "," +
					cloudEntry("keys", "MOCK2", `"priority": 1`),
			})
			c := g.client(t)
			for i, wantAttempts := range []string{"2", "2", "1"} {
				a := chatSDK(t, c, "keys")
				if a.status != 200 || a.header.Get("X-Aigateway-Deployment") != "models[2]" || a.header.Get("X-Aigateway-Attempts") != wantAttempts {
					t.Errorf("request %d: %d from %s after %s attempts, want 200 from models[2] after %s", i+1,
						a.status, a.header.Get("X-Aigateway-Deployment"), a.header.Get("X-Aigateway-Attempts"), wantAttempts)
				}
			}
			if got := g.extra[0].Stats().Requests; got != 2 {
				t.Errorf("the bad key was used %d times, want 2 (then its breaker opened)", got)
			}
			if s := g.health(t).breaker("keys", "models[1]"); s.State != "open" {
				t.Errorf("bad key's breaker: %+v, want open", s)
			}
		})
	}
}
