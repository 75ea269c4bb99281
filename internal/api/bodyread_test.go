package api_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rawPost opens a connection to the gateway and sends the headers of a
// chat request that announces contentLength bytes of body.
func rawPost(t *testing.T, g *gateway, contentLength int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(g.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	head := "POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: " +
		strconv.Itoa(contentLength) + "\r\n\r\n"
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	return c
}

// A client that trickles its body is cut with 408 once it falls behind the
// minimum rate, instead of holding its connection for ever.
func TestSlowBodyGets408(t *testing.T) {
	g := startGateway(t, gatewayOptions{bodyTimeout: 300 * time.Millisecond, bodyRate: 1000})
	c := rawPost(t, g, 100_000)
	stop := make(chan struct{})
	defer close(stop)
	go func() { // one byte every 50 ms: 20 B/s, far below 1000 B/s
		for i := 0; i < 200; i++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := c.Write([]byte{' '}); err != nil {
				return
			}
		}
	}()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no response to a trickled body: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), `"code":"request_timeout"`) {
		t.Fatalf("got %d %s; want 408 request_timeout", resp.StatusCode, body)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Fatalf("the trickling client was cut after %s; want about 300ms", waited)
	}
	if len(g.mock.Requests()) != 0 {
		t.Fatal("a body that never arrived reached the upstream")
	}
}

// A client that sends slowly but above the minimum rate gets its answer,
// even when the whole body takes longer than the initial timeout.
func TestSlowButSteadyBodyIsServed(t *testing.T) {
	g := startGateway(t, gatewayOptions{bodyTimeout: 200 * time.Millisecond, bodyRate: 2000})
	body := `{"model":"chat","messages":[{"role":"user","content":"` + strings.Repeat("a", 1500) + `"}]}`
	c := rawPost(t, g, len(body))
	go func() { // 100 bytes every 25 ms: 4000 B/s, about 400 ms in all
		for i := 0; i < len(body); i += 100 {
			end := min(i+100, len(body))
			if _, err := io.WriteString(c, body[i:end]); err != nil {
				return
			}
			time.Sleep(25 * time.Millisecond)
		}
	}()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a steady body got %d %s; want 200", resp.StatusCode, got)
	}
}

// The body's read deadline must not outlive the body: a stream that lasts
// longer than the body timeout keeps going.
func TestStreamOutlivesBodyDeadline(t *testing.T) {
	g := startGateway(t, gatewayOptions{bodyTimeout: 100 * time.Millisecond, bodyRate: 1000})
	body := `{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}],"mock":{"chunk_delay_ms":200}}`
	status, _, got := g.post(t, "/v1/chat/completions", body)
	if status != http.StatusOK || !strings.HasSuffix(got, "data: [DONE]\n\n") {
		t.Fatalf("a stream longer than the body timeout: %d %q; want 200 ending in [DONE]", status, got)
	}
}
