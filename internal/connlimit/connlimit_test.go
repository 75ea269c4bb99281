package connlimit

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serve starts an HTTP server behind a Listener with the given options and
// returns its address and the listener.
func serve(t *testing.T, o Options) (string, *Listener) {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := NewListener(raw, o)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("/work", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "done") })
	srv := &http.Server{
		Handler:     Handler(mux, func(p string) bool { return p == "/health" }),
		ConnContext: ConnContext,
		ConnState:   ln.ConnState,
	}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	return raw.Addr().String(), ln
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// get sends one request on c and returns the response.
func get(t *testing.T, c net.Conn, path string) *http.Response {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatalf("writing the request: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the response to %s: %v", path, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(strings.NewReader(string(body)))
	return resp
}

// waitOpen waits until the listener counts the given connections.
func waitOpen(t *testing.T, ln *Listener, normal, reserve int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, r := ln.Open()
		if n == normal && r == reserve {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("open connections: %d normal, %d reserve; want %d, %d", n, r, normal, reserve)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// closedByServer reports whether the server closed c without a response.
func closedByServer(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	return err != nil && !isTimeout(err)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func TestCapAndReserve(t *testing.T) {
	var rejected atomic.Int32
	addr, ln := serve(t, Options{Max: 2, Reserve: 1, EvictAfter: time.Minute, OnReject: func() { rejected.Add(1) }})

	// Two connections that never send a request fill the cap.
	dial(t, addr)
	dial(t, addr)
	waitOpen(t, ln, 2, 0)

	// The third goes to the reserve: probes are answered, work is refused.
	probe := dial(t, addr)
	if resp := get(t, probe, "/health"); resp.StatusCode != http.StatusOK || !resp.Close {
		t.Fatalf("/health on a reserve connection: %d, close %v; want 200 and Connection: close", resp.StatusCode, resp.Close)
	}
	waitOpen(t, ln, 2, 0) // the reserve place was given back

	work := dial(t, addr)
	resp := get(t, work, "/work")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), `"code":"too_many_connections"`) || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("/work on a reserve connection: %d %s; want 503 too_many_connections with Retry-After", resp.StatusCode, body)
	}

	// With the cap and the reserve both taken, a connection is closed at once.
	dial(t, addr) // takes the reserve and holds it
	waitOpen(t, ln, 2, 1)
	extra := dial(t, addr)
	if !closedByServer(extra) {
		t.Fatal("a connection past the cap and the reserve was not closed")
	}
	if rejected.Load() == 0 {
		t.Fatal("OnReject was not called")
	}
}

func TestReserveConnectionsExpire(t *testing.T) {
	addr, ln := serve(t, Options{Max: 1, Reserve: 1, ReserveTimeout: 200 * time.Millisecond, EvictAfter: time.Minute})
	dial(t, addr)
	held := dial(t, addr) // sends nothing: would hold the reserve forever
	waitOpen(t, ln, 1, 1)
	if !closedByServer(held) {
		t.Fatal("a silent reserve connection was not closed")
	}
	waitOpen(t, ln, 1, 0)
}

func TestIdleConnectionIsEvictedAtTheCap(t *testing.T) {
	addr, ln := serve(t, Options{Max: 1, Reserve: 1, EvictAfter: 50 * time.Millisecond})
	keepAlive := dial(t, addr)
	if resp := get(t, keepAlive, "/work"); resp.StatusCode != http.StatusOK {
		t.Fatalf("first request: %d", resp.StatusCode)
	}
	// keepAlive now sits idle between requests and holds the only place;
	// an idle connection may go after 5 x EvictAfter.
	time.Sleep(300 * time.Millisecond)
	fresh := dial(t, addr)
	if resp := get(t, fresh, "/work"); resp.StatusCode != http.StatusOK {
		t.Fatalf("a new connection at the cap got %d; want the idle one evicted and 200", resp.StatusCode)
	}
	if !closedByServer(keepAlive) {
		t.Fatal("the idle keep-alive connection was not closed")
	}
	waitOpen(t, ln, 1, 0)
}

// A connection that was opened and sent nothing gives its place to a new
// one once it has waited EvictAfter; a younger one is left alone.
func TestSilentConnectionIsEvictedAtTheCap(t *testing.T) {
	addr, ln := serve(t, Options{Max: 1, Reserve: 1, EvictAfter: 200 * time.Millisecond})
	silent := dial(t, addr)
	waitOpen(t, ln, 1, 0)
	young := dial(t, addr) // the silent one is too young to evict: reserve
	if resp := get(t, young, "/work"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("at the cap, before EvictAfter: %d; want 503 from the reserve", resp.StatusCode)
	}
	time.Sleep(300 * time.Millisecond)
	fresh := dial(t, addr)
	if resp := get(t, fresh, "/work"); resp.StatusCode != http.StatusOK {
		t.Fatalf("at the cap, after EvictAfter: %d; want the silent connection evicted and 200", resp.StatusCode)
	}
	if !closedByServer(silent) {
		t.Fatal("the silent connection was not closed")
	}
}

// At the cap a silent new connection makes room before an idle keep-alive
// one, whose client may reuse it at any moment (and does not resend a POST
// that met a closed connection).
func TestSilentGoesBeforeIdle(t *testing.T) {
	addr, ln := serve(t, Options{Max: 2, Reserve: 1, EvictAfter: 100 * time.Millisecond})
	keepAlive := dial(t, addr)
	if resp := get(t, keepAlive, "/work"); resp.StatusCode != http.StatusOK {
		t.Fatalf("first request: %d", resp.StatusCode)
	}
	silent := dial(t, addr)
	waitOpen(t, ln, 2, 0)
	time.Sleep(150 * time.Millisecond) // silent may go, keepAlive may not yet
	fresh := dial(t, addr)
	if resp := get(t, fresh, "/work"); resp.StatusCode != http.StatusOK {
		t.Fatalf("new connection at the cap: %d; want 200", resp.StatusCode)
	}
	if !closedByServer(silent) {
		t.Fatal("the silent connection was not closed")
	}
	if resp := get(t, keepAlive, "/work"); resp.StatusCode != http.StatusOK {
		t.Fatalf("the idle keep-alive connection was closed instead: %d", resp.StatusCode)
	}
}

// Silent connections that fill the reserve make room for a newer one, so
// that a probe still gets its answer during a flood.
func TestReserveRotatesForProbes(t *testing.T) {
	addr, ln := serve(t, Options{Max: 1, Reserve: 2, EvictAfter: time.Second})
	dial(t, addr) // holds the only normal place, too young to evict
	dial(t, addr)
	dial(t, addr)
	waitOpen(t, ln, 1, 2)
	time.Sleep(150 * time.Millisecond) // older than EvictAfter/10
	probe := dial(t, addr)
	if resp := get(t, probe, "/health"); resp.StatusCode != http.StatusOK {
		t.Fatalf("/health with the reserve full of silent connections: %d", resp.StatusCode)
	}
}

// The server learns of a client's close when its read of the next request
// ends, which happens after c.Close returns; so each round waits for the
// place to come back rather than racing the server's goroutine.
func TestClosedConnectionsGiveTheirPlaceBack(t *testing.T) {
	addr, ln := serve(t, Options{Max: 3})
	for i := 0; i < 10; i++ {
		c := dial(t, addr)
		if resp := get(t, c, "/work"); resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
		c.Close()
		waitOpen(t, ln, 0, 0)
	}
}

// net/http half-closes a connection whose request body it did not read
// (a 413, a 408) and lingers before closing it, so that the client reads
// the answer instead of a reset. Through the wrapper the half-close must
// still happen: the client sees the end of the answer at once, not after
// the linger.
func TestUnreadBodyAnswerEndsAtOnce(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := NewListener(raw, Options{Max: 4})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		http.Error(w, "too large", http.StatusRequestEntityTooLarge)
	})}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	defer srv.Close()
	c := dial(t, raw.Addr().String())
	body := strings.Repeat("x", 4<<20)
	go func() {
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body) //nolint:errcheck
	}()
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond)) // net/http lingers 500 ms
	answer, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("the answer did not end before the linger: %v (got %q)", err, answer)
	}
	if !strings.HasPrefix(string(answer), "HTTP/1.1 413") {
		t.Fatalf("answer %q", answer)
	}
	waitOpen(t, ln, 0, 0)
}

// A reserve connection that got its 503 and only lingers (net/http waits
// before closing a connection whose body it did not read) makes room for a
// probe at once.
func TestAnsweredReserveMakesRoom(t *testing.T) {
	addr, ln := serve(t, Options{Max: 1, Reserve: 1, EvictAfter: time.Minute})
	dial(t, addr) // holds the only normal place
	waitOpen(t, ln, 1, 0)
	lying := dial(t, addr)
	io.WriteString(lying, "POST /work HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n{") //nolint:errcheck
	resp, err := http.ReadResponse(bufio.NewReader(lying), nil)
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("lying request on the reserve: %v %v", resp, err)
	}
	// The place is handed back right after the answer is flushed; a probe
	// that comes a moment later gets in (net/http lingers 500 ms).
	ok := false
	for i := 0; i < 20 && !ok; i++ {
		time.Sleep(10 * time.Millisecond)
		probe := dial(t, addr)
		probe.SetDeadline(time.Now().Add(time.Second))
		io.WriteString(probe, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n") //nolint:errcheck
		resp, err := http.ReadResponse(bufio.NewReader(probe), nil)
		ok = err == nil && resp.StatusCode == http.StatusOK
	}
	if !ok {
		t.Fatal("/health got no answer while the reserve lingered over an answered request")
	}
	time.Sleep(600 * time.Millisecond) // net/http's linger goroutine ends
}
