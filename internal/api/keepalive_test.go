package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"aigateway/internal/mockllm"
)

// idleTimeoutClient is an HTTP client that drops a connection on which
// nothing arrived for idle, as browsers, corporate proxies and load
// balancers do (often after 30 to 100 s).
func idleTimeoutClient(t *testing.T, idle time.Duration) *http.Client {
	var d net.Dialer
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &idleConn{Conn: c, idle: idle}, nil
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

type idleConn struct {
	net.Conn
	idle time.Duration
}

func (c *idleConn) Read(p []byte) (int, error) {
	c.SetReadDeadline(time.Now().Add(c.idle)) //nolint:errcheck // a TCP connection has deadlines
	return c.Conn.Read(p)
}

// sseItem is one thing a client received on a stream: a comment (the
// text after ": "), an unnamed data event, or a named event.
type sseItem struct {
	kind string // "comment", "data" or "event"
	text string // the comment text, the data, or "name: data"
	at   time.Duration
}

// readSSE reads a raw stream to its end; start is when the request was sent.
func readSSE(t *testing.T, body io.Reader, start time.Time) []sseItem {
	t.Helper()
	r := bufio.NewReader(body)
	var items []sseItem
	var name string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return items
		}
		line = strings.TrimSuffix(line, "\n")
		at := time.Since(start)
		switch {
		case line == "":
		case line == ":" || strings.HasPrefix(line, ": "):
			items = append(items, sseItem{"comment", strings.TrimPrefix(strings.TrimPrefix(line, ":"), " "), at})
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data := strings.TrimPrefix(line, "data: ")
			if name != "" {
				items = append(items, sseItem{"event", name + ": " + data, at})
				name = ""
			} else {
				items = append(items, sseItem{"data", data, at})
			}
		default:
			t.Errorf("unexpected stream line %q", line)
		}
	}
}

// postStream posts a streaming chat request for model with extra body
// fields and returns the response, its body unread.
func postStream(t *testing.T, g *gateway, model, extra string) (*http.Response, time.Time) {
	t.Helper()
	body := `{"model":"` + model + `","stream":true,"messages":[{"role":"user","content":"alpha beta"}]` + extra + `}`
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	start := time.Now()
	resp, err := client.Post(g.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	return resp, start
}

// count returns how many items of kind come before the first data event
// (all of them when there is none), and the index of that event.
func countBeforeData(items []sseItem, kind string) (n, firstData int) {
	for i, it := range items {
		if it.kind == "data" {
			return n, i
		}
		if it.kind == kind {
			n++
		}
	}
	return n, len(items)
}

// A reasoning model that pings for a long while before its first token
// reaches a client that drops connections silent for a fraction of that
// time, intact: the upstream's keep-alives reach the client (SSE comments
// as they came; Anthropic pings as one comment a second), and the model's
// idle timeout (1 s here) measures silence on the wire, not the time to the
// first event. Scaled down from two minutes of pings and a client with a
// 5 s idle timeout: 3 s of pings every 100 ms.
func TestPingsBeforeFirstTokenKeepTheStreamAlive(t *testing.T) {
	pings := map[string]any{"pings_before_first": 30, "ping_every_ms": 100, "chunks": 3}
	g := startGateway(t, gatewayOptions{extraModels: `{"id": "thinker", "adapter": "openai_compat", "base_url": "MOCK/v1", "api_key": "` + upstreamKey + `", "timeout": 1},
		{"id": "claude-thinker", "adapter": "anthropic", "base_url": "MOCK", "api_key": "` + upstreamKey + `", "model": "claude-x", "max_tokens": 512, "timeout": 1, ` + mockHeader(pings) + ` "keepalive_interval": 0}`})
	for _, tc := range []struct {
		model string
		idle  time.Duration // shorter than the 3 s of pings
	}{
		{"thinker", 500 * time.Millisecond},         // every comment is passed on
		{"claude-thinker", 2000 * time.Millisecond}, // pings become one comment a second
	} {
		t.Run(tc.model, func(t *testing.T) {
			c := openai.NewClient(option.WithBaseURL(g.URL+"/v1/"), option.WithAPIKey("sk-client"), option.WithMaxRetries(0),
				option.WithHTTPClient(idleTimeoutClient(t, tc.idle)))
			p := openai.ChatCompletionNewParams{Model: tc.model, Messages: userMessage("think hard")}
			p.SetExtraFields(map[string]any{"mock": pings})
			start := time.Now()
			stream := c.Chat.Completions.NewStreaming(context.Background(), p)
			var acc openai.ChatCompletionAccumulator
			for stream.Next() {
				acc.AddChunk(stream.Current())
			}
			if err := stream.Err(); err != nil {
				t.Fatalf("stream: %v", err)
			}
			stream.Close()
			if got, want := acc.Choices[0].Message.Content, mockllm.ExpectedText(3); got != want || acc.Choices[0].FinishReason != "stop" {
				t.Errorf("content %q, finish %q; want %q, stop", got, acc.Choices[0].FinishReason, want)
			}
			if d := time.Since(start); d < 3*time.Second {
				t.Errorf("the stream took %s; the upstream should have pinged for 3 s first", d)
			}
		})
	}

	// Over raw HTTP: the passthrough relays each of the upstream's comments
	// as it came, the first one with the response headers.
	resp, start := postStream(t, g, "thinker", `,"mock":{"pings_before_first":5,"ping_every_ms":100,"chunks":1}`)
	items := readSSE(t, resp.Body, start)
	if n, first := countBeforeData(items, "comment"); n != 5 || first != 5 || items[0].text != "keep-alive" {
		t.Errorf("%d comments before the first chunk, want the upstream's 5: %+v", n, items)
	}
	if last := items[len(items)-1]; last.text != "[DONE]" {
		t.Errorf("last event %+v", last)
	}
}

// trickleServer serves body as one event stream, the first part of it a
// few bytes at a time (every bytes per 25 ms, up to slow bytes), the rest
// at once: bytes arrive all the time, but the first whole event takes
// about a second.
func trickleServer(t *testing.T, body string, slow int) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		for i := 0; i < slow; i += 4 {
			io.WriteString(w, body[i:min(i+4, slow)])
			w.(http.Flusher).Flush()
			select {
			case <-time.After(25 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
		io.WriteString(w, body[slow:])
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// An upstream that trickles an event a few bytes at a time is alive: the
// idle timeout (0.3 s here) is not the time one whole event may take (about
// a second here), for the passthrough and for converted streams.
func TestTrickledEventIsNotSilence(t *testing.T) {
	openaiStream := `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"slow and steady"},"finish_reason":null}]}` + "\n\n" +
		`data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\ndata: [DONE]\n\n"
	anthropicStream := "event: message_start\n" + `data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[],"usage":{"input_tokens":3,"output_tokens":1}}}` + "\n\n" +
		"event: content_block_start\n" + `data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":"slow and steady"}}` + "\n\n" +
		"event: message_delta\n" + `data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":4}}` + "\n\n" +
		"event: message_stop\n" + `data: {"type":"message_stop"}` + "\n\n"
	openaiURL := trickleServer(t, openaiStream, 160)
	anthropicURL := trickleServer(t, anthropicStream, 160)
	g := startGateway(t, gatewayOptions{extraModels: `{"id": "trickle", "adapter": "openai_compat", "base_url": "` + openaiURL + `", "timeout": 0.3},
		{"id": "claude-trickle", "adapter": "anthropic", "base_url": "` + anthropicURL + `", "api_key": "k", "model": "claude-x", "max_tokens": 512, "timeout": 0.3}`})
	c := g.client(t)
	for _, model := range []string{"trickle", "claude-trickle"} {
		t.Run(model, func(t *testing.T) {
			stream := c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{Model: model, Messages: userMessage("hi")})
			var acc openai.ChatCompletionAccumulator
			for stream.Next() {
				acc.AddChunk(stream.Current())
			}
			if err := stream.Err(); err != nil {
				t.Fatalf("stream: %v", err)
			}
			stream.Close()
			if got := acc.Choices[0].Message.Content; got != "slow and steady" {
				t.Errorf("content %q", got)
			}
		})
	}
}

// processModel is a process model running the test binary's "words"
// program (see TestMain), which first sleeps sleepMS.
func processModel(t *testing.T, id string, sleepMS int, fields string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd, _ := json.Marshal([]string{self, "-test.run=^$", "{prompt}"})
	return `{"id": "` + id + `", "adapter": "process", "command": ` + string(cmd) + `, "env": {"AIGW_TEST_PROGRAM": "words", "AIGW_TEST_SLEEP_MS": "` +
		strconv.Itoa(sleepMS) + `", "GORACE": "atexit_sleep_ms=0"}, ` + fields + `}`
}

// While a started stream is silent on both sides, the gateway writes its
// own ": keep-alive" every keepalive_interval: for a local program loading
// its weights (the stream starts once it has been silent that long, so the
// client has the headers at once) and for an upstream that showed it is
// alive and then sends nothing for a while. keepalive_interval 0 turns
// them off.
func TestGatewayKeepAliveOnSilentStream(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraModels: processModel(t, "loader", 1200, `"timeout": 20, "keepalive_interval": 0.2`) + `,
		{"id": "quiet", "adapter": "openai_compat", "base_url": "MOCK/v1", "api_key": "` + upstreamKey + `", "timeout": 5, "keepalive_interval": 0.2},
		{"id": "quiet-off", "adapter": "openai_compat", "base_url": "MOCK/v1", "api_key": "` + upstreamKey + `", "timeout": 5, "keepalive_interval": 0}`})

	t.Run("program loading", func(t *testing.T) {
		resp, start := postStream(t, g, "loader", "")
		if d := time.Since(start); d > time.Second {
			t.Errorf("the response headers took %s; the program is silent for 1.2 s, keepalive_interval is 0.2 s", d)
		}
		items := readSSE(t, resp.Body, start)
		var comments int
		var text strings.Builder
		for _, it := range items {
			switch {
			case it.kind == "comment" && it.text == "keep-alive":
				comments++
			case it.kind == "data" && it.text != "[DONE]":
				var c openai.ChatCompletionChunk
				if err := json.Unmarshal([]byte(it.text), &c); err != nil {
					t.Fatalf("chunk %s: %v", it.text, err)
				}
				if len(c.Choices) > 0 {
					text.WriteString(c.Choices[0].Delta.Content)
				}
			}
		}
		// Every 0.2 s from the stream's start at 0.2 s to the program's
		// first output at 1.2 s: about 4.
		if comments < 2 {
			t.Errorf("%d keep-alives while the program loaded, want about 4: %+v", comments, items)
		}
		if text.String() != "alpha beta " || items[len(items)-1].text != "[DONE]" {
			t.Errorf("text %q, items %+v", text.String(), items)
		}
	})

	// The upstream sends one comment at once, then nothing for a second.
	const quietMock = `,"mock":{"pings_before_first":1,"ping_every_ms":1000,"chunks":2}`
	t.Run("upstream quiet after a comment", func(t *testing.T) {
		resp, start := postStream(t, g, "quiet", quietMock)
		items := readSSE(t, resp.Body, start)
		if n, first := countBeforeData(items, "comment"); n < 3 || first == len(items) {
			t.Errorf("%d comments before the first chunk, want the upstream's one and the gateway's (about 5): %+v", n, items)
		}
		if items[len(items)-1].text != "[DONE]" {
			t.Errorf("last item %+v", items[len(items)-1])
		}
	})
	t.Run("keepalive_interval 0", func(t *testing.T) {
		resp, start := postStream(t, g, "quiet-off", quietMock)
		items := readSSE(t, resp.Body, start)
		if n, _ := countBeforeData(items, "comment"); n != 1 {
			t.Errorf("%d comments before the first chunk, want only the upstream's: %+v", n, items)
		}
	})
}

// A client that leaves while the gateway keeps its stream alive ends the
// request at once: the upstream request is canceled, the access log says
// 499, and no keep-alive timer outlives the request (goleak checks).
func TestClientLeavesDuringKeepAlives(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraModels: `{"id": "quiet", "adapter": "openai_compat", "base_url": "MOCK/v1", "api_key": "` + upstreamKey + `", "timeout": 30, "keepalive_interval": 0.05}`})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	body := `{"model":"quiet","stream":true,"messages":[{"role":"user","content":"hi"}],"mock":{"hang_after_chunks":0}}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, g.URL+"/v1/chat/completions", strings.NewReader(body))
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(resp.Body)
	comments := 0
	for comments < 3 {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading: %v", err)
		}
		if line == ": keep-alive\n" {
			comments++
		}
	}
	cancel()
	resp.Body.Close()
	waitFor(t, "the upstream request to be canceled", func() bool { return g.mock.Stats().Canceled == 1 })
	waitFor(t, "the 499 access log line", func() bool { return strings.Contains(g.logs.String(), "status=499") })
}

// The stream is held back for retries only until the upstream shows it is
// alive: a comment commits it, so the client has the headers and the
// comment at once, and a failure after it is an error event, not a retry.
func TestCommentEndsHoldBack(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, ": OPENROUTER PROCESSING\n\n")
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the upstream breaks off
	}))
	t.Cleanup(srv.Close)
	g := startGateway(t, gatewayOptions{extraModels: `{"id": "flaky", "adapter": "openai_compat", "base_url": "` + srv.URL + `", "retries": 2}`})
	resp, start := postStream(t, g, "flaky", "")
	items := readSSE(t, resp.Body, start)
	if len(items) != 2 || items[0].kind != "comment" || items[0].text != "OPENROUTER PROCESSING" ||
		items[1].kind != "data" || !strings.Contains(items[1].text, `"code":"stream_incomplete"`) {
		t.Errorf("stream %+v; want the upstream's comment, then an error event", items)
	}
	if got := resp.Header.Get("X-Aigateway-Attempts"); got != "1" {
		t.Errorf("attempts %s, want 1: a committed stream is not retried", got)
	}
}

// A converted stream's events that yield nothing for the client (Anthropic
// thinking blocks, signature deltas, pings) become one keep-alive comment,
// coalesced to at most one a second; the text is converted as before.
func TestThinkingBecomesKeepAlive(t *testing.T) {
	sse, err := os.ReadFile("../adapter/anthropic/testdata/anthropic-messages-text-with-thinking.sse")
	if err != nil {
		t.Fatal(err)
	}
	url := upstreamServer(t, 200, "text/event-stream", string(sse))
	g := startGateway(t, gatewayOptions{extraModels: `{"id": "claude", "adapter": "anthropic", "base_url": "` + url + `", "api_key": "k", "model": "claude-x", "max_tokens": 512}`})
	resp, start := postStream(t, g, "claude", "")
	items := readSSE(t, resp.Body, start)
	var kinds []string
	for _, it := range items {
		switch {
		case it.kind == "comment":
			kinds = append(kinds, "comment:"+it.text)
		case strings.Contains(it.text, `"role":"assistant"`):
			kinds = append(kinds, "role")
		case strings.Contains(it.text, `"content":`):
			kinds = append(kinds, "content")
		default:
			kinds = append(kinds, it.kind)
		}
	}
	want := "role comment:keep-alive content content data data" // finish, [DONE]
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("stream %s, want %s", got, want)
	}
}
