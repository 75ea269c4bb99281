package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stuckClient sends a chat request over a raw connection with a tiny
// receive buffer and never reads the answer. The connection stays open
// until the test ends.
func stuckClient(t *testing.T, gatewayURL, requestID, body string) {
	t.Helper()
	u, err := url.Parse(gatewayURL)
	if err != nil {
		t.Fatal(err)
	}
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { // before connecting, so the window is small from the start
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 1024)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	conn, err := d.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_, err = fmt.Fprintf(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"+
		"X-Request-Id: %s\r\nContent-Length: %d\r\n\r\n%s", u.Host, requestID, len(body), body)
	if err != nil {
		t.Fatal(err)
	}
}

// waitLogLine returns the access log line of a request once it is written.
func waitLogLine(t *testing.T, g *gateway, requestID string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for line := range strings.SplitSeq(g.logs.String(), "\n") {
			if strings.Contains(line, "msg=request ") && strings.Contains(line, "request_id="+requestID+" ") {
				return line
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("request %s still runs: its handler is blocked writing to a client that does not read", requestID)
	return ""
}

// programModel is a process model running the test binary (see TestMain),
// with the prompt as its last argument; fields are more JSON fields.
func programModel(t *testing.T, id, fields string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd, _ := json.Marshal([]string{self, "-test.run=^$", "{prompt}"})
	return `{"id": "` + id + `", "adapter": "process", "command": ` + string(cmd) + `, "env": {"AIGW_TEST_PROGRAM": "words", "GORACE": "atexit_sleep_ms=0"}, ` + fields + `}`
}

// A client that stops reading is dropped once a write has been blocked for
// the write timeout, whatever the answer: the handler returns, the
// upstream request is canceled or the program stopped, and the access log
// says 499 and why.
func TestClientThatStopsReadingIsDropped(t *testing.T) {
	g := startGateway(t, gatewayOptions{writeTimeout: 300 * time.Millisecond, extraModels: programModel(t, "flood",
		`"timeout": 60, "max_output_bytes": 16777216`)})
	tests := []struct{ name, body string }{
		{"upstream stream", `{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}],"mock":{"chunks":300000}}`},
		{"program stream", `{"model":"flood","stream":true,"messages":[{"role":"user","content":"flood"}]}`},
		// 16 MiB of output, cut at max_output_bytes: more than the socket
		// buffers hold.
		{"program answer", `{"model":"flood","messages":[{"role":"user","content":"flood"}]}`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprintf("stuck-%d", i)
			stuckClient(t, g.URL, id, tt.body)
			line := waitLogLine(t, g, id)
			if !strings.Contains(line, "status=499") || !strings.Contains(line, "the client stopped reading: write timeout 300ms exceeded") {
				t.Errorf("access log line %s; want status 499 and the reason", line)
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.mock.WaitIdle(ctx); err != nil {
		t.Errorf("the upstream request still runs: %v", err)
	}
	if st := g.mock.Stats(); st.Canceled != 1 {
		t.Errorf("upstream stats %+v, want the stuck stream canceled", st)
	}
}

// A program whose client stopped reading is killed at its timeout, and its
// slot is free again although the handler still waits on the stuck write:
// the next request is served.
func TestSlotFreedWhileTheClientIsStuck(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraModels: programModel(t, "local",
		`"timeout": 3, "max_concurrency": 1, "queue_size": 1, "queue_timeout": 20, "max_output_bytes": 1073741824`)})
	stuckClient(t, g.URL, "stuck", `{"model":"local","stream":true,"messages":[{"role":"user","content":"flood"}]}`)
	// Before the fix the slot was held until the stuck client went away:
	// this waited out the queue timeout and got a 429.
	status, _, body := g.post(t, "/v1/chat/completions", `{"model":"local","messages":[{"role":"user","content":"hello world"}]}`)
	if status != 200 || !strings.Contains(body, `"content":"hello world "`) {
		t.Fatalf("the next request got %d %s", status, body)
	}
	if strings.Contains(g.logs.String(), "msg=request request_id=stuck ") {
		t.Errorf("the stuck request ended already; this test needs it in flight:\n%s", g.logs.String())
	}
}

// The write timeout bounds one write, not the response: a stream that
// lasts longer than it, read by a client, completes. And the deadline ends
// with the response (net/http clears it): the next request on the
// kept-alive connection, after more than the timeout, is answered.
func TestWriteTimeoutBoundsWritesNotResponses(t *testing.T) {
	const timeout = 300 * time.Millisecond
	g := startGateway(t, gatewayOptions{writeTimeout: timeout})
	var reused []bool
	trace := &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) { reused = append(reused, ci.Reused) }}
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), method, g.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("reading %s %s: %v", method, path, err)
		}
		return resp.StatusCode, string(b)
	}
	// 8 chunks 100ms apart: longer than the timeout.
	status, body := do("POST", "/v1/chat/completions", `{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}],"mock":{"chunks":8,"chunk_delay_ms":100}}`)
	if status != 200 || !strings.Contains(body, `"content":"w7 "`) || !strings.HasSuffix(body, "data: [DONE]\n\n") {
		t.Fatalf("stream: %d %s", status, body)
	}
	time.Sleep(2 * timeout)
	// An answer written without a deadline of its own.
	status, body = do("GET", "/v1/models/nope", "")
	if status != 404 || !strings.Contains(body, "model_not_found") {
		t.Errorf("next request on the connection: %d %s", status, body)
	}
	if len(reused) != 2 || !reused[1] {
		t.Errorf("connection reuse %v; the second request must reuse the first one's connection", reused)
	}
}
