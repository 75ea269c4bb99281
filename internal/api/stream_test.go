package api_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"aigateway/internal/mockllm"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// openStream posts a streaming chat request and returns the response, whose
// body the caller reads event by event.
func openStream(t *testing.T, ctx context.Context, g *gateway, extra string) *http.Response {
	t.Helper()
	body := `{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]` + extra + `}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.URL+"/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type = %q, want text/event-stream", ct)
	}
	return resp
}

// readEvent reads one "data: ..." event.
func readEvent(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("reading event: %v", err)
	}
	if blank, err := r.ReadString('\n'); err != nil || blank != "\n" {
		t.Fatalf("event %q not followed by a blank line (%q, %v)", line, blank, err)
	}
	return strings.TrimSuffix(line, "\n")
}

// The client receives each chunk while the upstream is still producing the
// next one: nothing on the path buffers the stream.
func TestStreamIsIncremental(t *testing.T) {
	release := make(chan struct{})
	g := startGateway(t, gatewayOptions{mock: mockllm.Options{
		Chunks: 3,
		ChunkHook: func(ctx context.Context, i int) {
			if i == 1 { // hold the second content chunk until the client saw the first
				select {
				case <-release:
				case <-ctx.Done():
				}
			}
		},
	}})
	resp := openStream(t, context.Background(), g, "")
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	got := make(chan string, 1)
	go func() {
		readEvent(t, r) // role chunk
		got <- readEvent(t, r)
	}()
	select {
	case ev := <-got:
		if !strings.Contains(ev, `"content":"w0 "`) {
			t.Errorf("first content event = %s", ev)
		}
	case <-time.After(5 * time.Second):
		close(release)
		t.Fatal("the first chunk did not reach the client while the upstream held the second")
	}
	close(release)
	var last string
	for {
		ev := readEvent(t, r)
		last = ev
		if ev == "data: [DONE]" {
			break
		}
	}
	if last != "data: [DONE]" {
		t.Errorf("last event = %q", last)
	}
}

// A client that goes away mid-stream cancels the upstream request at once.
func TestClientDisconnectCancelsUpstream(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	resp := openStream(t, ctx, g, `,"mock":{"hang_after_chunks":1}`)
	r := bufio.NewReader(resp.Body)
	readEvent(t, r) // role
	readEvent(t, r) // first content chunk; the upstream now hangs
	if s := g.mock.Stats(); s.InFlight != 1 {
		t.Fatalf("upstream in flight = %d, want 1", s.InFlight)
	}
	cancel()
	resp.Body.Close()
	waitFor(t, "the upstream request to be canceled", func() bool { return g.mock.Stats().Canceled == 1 })
	waitFor(t, "the 499 access log line", func() bool { return strings.Contains(g.logs.String(), "status=499") })
}

// An upstream that breaks off mid-stream must be visible to the client: an
// error event last, and no [DONE].
func TestStreamCutOffIsVisible(t *testing.T) {
	g := startGateway(t, gatewayOptions{mock: mockllm.Options{Chunks: 5}})
	resp := openStream(t, context.Background(), g, `,"mock":{"cut_after":2}`)
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	var events []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			break
		}
		if strings.HasPrefix(line, "data: ") {
			events = append(events, strings.TrimSpace(line))
		}
	}
	if len(events) != 4 { // role, 2 content chunks, error
		t.Fatalf("got %d events, want 4: %q", len(events), events)
	}
	last := events[len(events)-1]
	if !strings.HasPrefix(last, `data: {"error":{`) || !strings.Contains(last, "stream_incomplete") {
		t.Errorf("last event = %s, want an error event", last)
	}
	for _, ev := range events {
		if ev == "data: [DONE]" {
			t.Error("the gateway sent [DONE] for a stream that did not finish")
		}
	}

	// The SDK reports it as an error, too.
	c := g.client(t)
	p := openai.ChatCompletionNewParams{Model: "chat", Messages: userMessage("hi")}
	p.SetExtraFields(map[string]any{"mock": map[string]any{"cut_after": 1}})
	stream := c.Chat.Completions.NewStreaming(context.Background(), p)
	for stream.Next() {
	}
	if stream.Err() == nil || !strings.Contains(stream.Err().Error(), "stream_incomplete") {
		t.Errorf("SDK stream error = %v, want the in-band error", stream.Err())
	}
	stream.Close()
}

// A stream that stalls longer than the model's timeout ends with an in-band
// timeout error and the upstream request is canceled.
func TestStreamIdleTimeout(t *testing.T) {
	g2 := startGateway(t, gatewayOptions{extraModels: `{"id": "slow", "adapter": "openai_compat", "base_url": "MOCK/v1", "api_key": "` + upstreamKey + `", "timeout": 0.3}`})
	body := `{"model":"slow","stream":true,"messages":[{"role":"user","content":"hi"}],"mock":{"hang_after_chunks":1}}`
	status, _, resp := g2.post(t, "/v1/chat/completions", body)
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	if !strings.Contains(resp, `"code":"upstream_timeout"`) || strings.Contains(resp, "[DONE]") {
		t.Errorf("stream = %s, want an in-band timeout error and no [DONE]", resp)
	}
	waitFor(t, "the upstream to be canceled", func() bool { return g2.mock.Stats().Canceled == 1 })
}
