package process

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// holdSlot starts a "gate" stream that keeps its program, and the slot,
// until the gate opens.
func holdSlot(t *testing.T, a *Adapter, gate string) (release func()) {
	t.Helper()
	st := openStream(t, context.Background(), a, body(true, "", "user", "x"))
	next(t, st)
	content(t, st)
	return func() {
		t.Helper()
		open(t, gate)
		if s := readRest(t, st); s.err != nil || s.text() != " world" {
			t.Errorf("the slot holder ended with %q, %v", s.text(), s.err)
		}
	}
}

// waitQueued waits until n requests are queued.
func waitQueued(t *testing.T, a *Adapter, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for a.lim.waiting() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests queued, want %d", a.lim.waiting(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// gateOptions run the "gate" program, one at a time with one waiting.
func gateOptions(t *testing.T) (o Options, gate string) {
	gate = tempPath(t, "gate")
	o = helperOptions(t, "gate", "GATE="+gate)
	o.MaxConcurrency, o.QueueSize, o.QueueTimeout = 1, 1, 30*time.Second
	return o, gate
}

func TestQueueFull(t *testing.T) {
	o, gate := gateOptions(t)
	a := newAdapter(t, o)
	release := holdSlot(t, a, gate)
	queued := make(chan string)
	go func() {
		resp, err := send(context.Background(), a, body(false, "", "user", "x"))
		if err != nil {
			queued <- err.Error()
			return
		}
		queued <- string(resp.Body)
	}()
	waitQueued(t, a, 1)
	_, err := send(context.Background(), a, body(false, "", "user", "x"))
	ae := wantError(t, err, http.StatusTooManyRequests, "queue_full")
	if got := ae.Header.Get("Retry-After"); got != "30" {
		t.Errorf("Retry-After %q, want 30 (the queue timeout)", got)
	}
	release()
	// The queued request gets the slot and its program runs to the end (its
	// gate is open now).
	if got := <-queued; !strings.Contains(got, `"content":"Hello world"`) {
		t.Errorf("the queued request got %s", got)
	}
}

func TestQueueTimeout(t *testing.T) {
	o, gate := gateOptions(t)
	o.QueueTimeout = 200 * time.Millisecond
	a := newAdapter(t, o)
	release := holdSlot(t, a, gate)
	defer release()
	_, err := send(context.Background(), a, body(false, "", "user", "x"))
	ae := wantError(t, err, http.StatusTooManyRequests, "queue_timeout")
	if got := ae.Header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After %q, want 1", got)
	}
	if n := a.lim.waiting(); n != 0 {
		t.Errorf("%d still queued", n)
	}
}

func TestNoQueue(t *testing.T) {
	o, gate := gateOptions(t)
	o.QueueSize = -1
	a := newAdapter(t, o)
	release := holdSlot(t, a, gate)
	defer release()
	_, err := send(context.Background(), a, body(false, "", "user", "x"))
	wantError(t, err, http.StatusTooManyRequests, "queue_full")
}

func TestClientLeavesTheQueue(t *testing.T) {
	o, gate := gateOptions(t)
	a := newAdapter(t, o)
	release := holdSlot(t, a, gate)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := send(ctx, a, body(false, "", "user", "x"))
		done <- err
	}()
	waitQueued(t, a, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if n := a.lim.waiting(); n != 0 {
		t.Errorf("%d still queued", n)
	}
	release()
	// The slot is free again: no ghost holds it.
	if got := text(completion(t, a, body(false, "", "user", "x"))); got != "Hello world" {
		t.Errorf("got %q", got)
	}
}

func TestCloseKillsRunningAndFailsQueued(t *testing.T) {
	pidfile := tempPath(t, "pid")
	o := helperOptions(t, "first-then-hang", "PIDFILE="+pidfile)
	o.MaxConcurrency, o.QueueSize = 1, 1
	a := newAdapter(t, o)
	st := openStream(t, context.Background(), a, body(true, "", "user", "x"))
	defer st.Close()
	next(t, st)
	content(t, st)
	queued := make(chan error)
	go func() {
		_, err := send(context.Background(), a, body(false, "", "user", "x"))
		queued <- err
	}()
	waitQueued(t, a, 1)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	wantError(t, <-queued, http.StatusServiceUnavailable, "shutting_down")
	_, err := st.Next()
	wantError(t, err, http.StatusServiceUnavailable, "shutting_down")
	waitGone(t, readPid(t, pidfile))
	_, err = send(context.Background(), a, body(false, "", "user", "x"))
	wantError(t, err, http.StatusServiceUnavailable, "shutting_down")
}

// A client that stops reading a stream must not hold the slot beyond the
// program's life: the program fills the pipe, blocks, and is killed at its
// timeout, and then the next request runs although the stream is still
// open and unread.
func TestSlotFreedWhenTheProgramEndsWhileItsReaderIsStuck(t *testing.T) {
	pidFile := tempPath(t, "pid")
	o := helperOptions(t, "echo-or-flood", "PIDFILE="+pidFile)
	o.MaxConcurrency, o.QueueSize, o.QueueTimeout, o.Timeout = 1, 1, 20*time.Second, 2*time.Second
	a := newAdapter(t, o)
	st := openStream(t, context.Background(), a, body(true, "", "user", "flood"))
	defer st.Close()
	next(t, st)
	content(t, st) // one read; the reader stops here
	waitGone(t, readPid(t, pidFile))

	// Before the fix, this waited out the queue timeout: a 429.
	if got := text(completion(t, a, body(false, "", "user", "hello"))); got != "hello" {
		t.Errorf("the next request got %q, want hello", got)
	}
	// The stuck stream, read at last, ends with the timeout; its slot was
	// freed once only (twice would let two programs run, or block).
	if s := readRest(t, st); s.err == nil {
		t.Errorf("the stream ended without error after %d bytes", len(s.text()))
	} else {
		wantError(t, s.err, http.StatusGatewayTimeout, "process_timeout")
	}
	if n := a.lim.running(); n != 0 {
		t.Errorf("%d slots taken after every run ended", n)
	}
}
