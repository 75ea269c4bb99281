package api_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// After Drain, /health and /ready answer 503 "draining" so that a load
// balancer takes the gateway out, while requests are still served, on
// connections that close after the response.
func TestDrainTurnsProbesAwayButServes(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	if status, _, body := g.do(t, "GET", "/ready", ""); status != 200 || body != `{"status":"ready"}` {
		t.Errorf("/ready before draining: %d %s", status, body)
	}
	if status, _, body := g.do(t, "GET", "/health", ""); status != 200 || !strings.Contains(body, `"status":"ok"`) {
		t.Errorf("/health before draining: %d %s", status, body)
	}
	if status, _, _ := g.do(t, "POST", "/ready", ""); status != http.StatusMethodNotAllowed {
		t.Errorf("POST /ready: %d, want 405", status)
	}

	g.api.Drain()
	if status, _, body := g.do(t, "GET", "/ready", ""); status != 503 || body != `{"status":"draining"}` {
		t.Errorf("/ready while draining: %d %s", status, body)
	}
	if status, _, body := g.do(t, "GET", "/health", ""); status != 503 || !strings.Contains(body, `"status":"draining"`) || !strings.Contains(body, `"models":[`) {
		t.Errorf("/health while draining: %d %s", status, body)
	}
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	resp, err := client.Post(g.URL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 || !strings.Contains(string(body), "chat.completion") {
		t.Errorf("a request while draining: %d %s %v", resp.StatusCode, body, err)
	}
	if !resp.Close {
		t.Error("a response while draining keeps its connection open; want Connection: close")
	}
}

// EndStreams ends a running stream with a gateway_shutdown error event
// (no [DONE]), logged with that error and not as a client that left; a
// stream asked for afterwards gets a 503 gateway_shutdown.
func TestEndStreamsSendsGatewayShutdown(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	body := `{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}],"mock":{"chunks":100,"chunk_delay_ms":100}}`
	req, _ := http.NewRequestWithContext(context.Background(), "POST", g.URL+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("X-Request-Id", "req-cut-by-shutdown")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "data: {") {
		t.Fatalf("first event: %q, %v", line, err)
	}

	g.api.EndStreams()
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading the rest of the stream: %v", err)
	}
	events := strings.Split(strings.TrimSpace(string(rest)), "\n\n")
	last := events[len(events)-1]
	if !strings.Contains(last, `"code":"gateway_shutdown"`) || !strings.Contains(last, "shutting down") || strings.Contains(string(rest), "[DONE]") {
		t.Errorf("the stream did not end with a gateway_shutdown event: %q", rest)
	}
	if len(events) > 5 {
		t.Errorf("the stream went on for %d events after EndStreams", len(events))
	}
	line := waitLogLine(t, g, "req-cut-by-shutdown")
	if !strings.Contains(line, "status=200") || !strings.Contains(line, `error="gateway_shutdown:`) || strings.Contains(line, "499") {
		t.Errorf("access line of the cut stream: %s", line)
	}

	status, _, after := g.post(t, "/v1/chat/completions", body)
	if status != 503 || !strings.Contains(after, `"code":"gateway_shutdown"`) {
		t.Errorf("a stream after EndStreams: %d %s", status, after)
	}
}

// A request that is not a stream and still waits on its upstream when the
// connections are closed at the end of a shutdown is logged as cut by the
// shutdown, not as a client that left.
func TestConnectionClosedAtShutdownIsNotLoggedAsClientGone(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(context.Background(), "POST", g.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"chat","messages":[{"role":"user","content":"hi"}],"mock":{"delay_ms":3000}}`))
	req.Header.Set("X-Request-Id", "req-closed-at-shutdown")
	sent := make(chan error, 1)
	go func() {
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		sent <- err
	}()
	for len(g.mock.Requests()) == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	g.api.EndStreams()
	g.server.CloseClientConnections() // what http.Server.Close does last
	if err := <-sent; err == nil {
		t.Error("the request was answered although its connection was closed")
	}
	line := waitLogLine(t, g, "req-closed-at-shutdown")
	if !strings.Contains(line, "status=503") || !strings.Contains(line, `error="gateway_shutdown:`) {
		t.Errorf("access line of a request cut at shutdown: %s", line)
	}
}
