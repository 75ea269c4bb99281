package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"aigateway/internal/adapter"
)

// itemStream returns its items, then io.EOF.
type itemStream struct{ items []adapter.Chunk }

func (s *itemStream) Next() (adapter.Chunk, error) {
	if len(s.items) == 0 {
		return adapter.Chunk{}, io.EOF
	}
	c := s.items[0]
	s.items = s.items[1:]
	return c, nil
}

func (s *itemStream) Buffered() bool       { return len(s.items) > 0 }
func (s *itemStream) Usage() adapter.Usage { return adapter.Usage{} }
func (s *itemStream) Close() error         { return nil }

// The relay writes every kind of item a Stream carries: unnamed events,
// named events (the inbound Anthropic and Responses APIs need them) and
// comments, which stay one line whatever their text holds.
func TestRelayWritesEveryKindOfItem(t *testing.T) {
	st := &itemStream{items: []adapter.Chunk{
		{Event: []byte("message_start"), Data: []byte(`{"type":"message_start"}`)},
		{Comment: true, Data: []byte("OPENROUTER PROCESSING")},
		{Comment: true, Data: []byte("a\r\ndata: injected")},
		{Comment: true},
		{Data: []byte(`{"a":1}`)},
	}}
	s := New(Options{})
	rr := httptest.NewRecorder()
	w := &logWriter{ResponseWriter: rr, rec: &record{start: time.Now()}}
	r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil)
	s.relay(r.Context(), w, r, w.rec, &exchange{}, st, streamHead{chunk: adapter.Chunk{Data: []byte(`{"first":true}`)}}, nil)
	want := "data: {\"first\":true}\n\n" +
		"event: message_start\ndata: {\"type\":\"message_start\"}\n\n" +
		": OPENROUTER PROCESSING\n\n" +
		": adata: injected\n\n" +
		":\n\n" +
		"data: {\"a\":1}\n\n" +
		"data: [DONE]\n\n"
	if diff := cmp.Diff(want, rr.Body.String()); diff != "" {
		t.Errorf("stream (-want +got):\n%s", diff)
	}
}

// chanStream returns what arrives on its channel, and io.EOF once it is
// closed: Next blocks like a stream waiting on a silent upstream.
type chanStream struct{ ch chan adapter.Chunk }

func (s *chanStream) Next() (adapter.Chunk, error) {
	c, ok := <-s.ch
	if !ok {
		return adapter.Chunk{}, io.EOF
	}
	return c, nil
}

func (s *chanStream) Buffered() bool       { return false }
func (s *chanStream) Usage() adapter.Usage { return adapter.Usage{} }
func (s *chanStream) Close() error         { return nil }

// guardWriter records what is written and fails the test on a write that
// overlaps another one, or that comes after the handler returned.
type guardWriter struct {
	t      *testing.T
	header http.Header
	active atomic.Int32
	done   atomic.Bool
	mu     sync.Mutex
	buf    bytes.Buffer
}

func (g *guardWriter) Header() http.Header { return g.header }
func (g *guardWriter) WriteHeader(int)     {}

func (g *guardWriter) Write(p []byte) (int, error) {
	g.enter()
	defer g.active.Add(-1)
	time.Sleep(50 * time.Microsecond) // widen the window for an overlap
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.buf.Write(p)
}

func (g *guardWriter) Flush() {
	g.enter()
	g.active.Add(-1)
}

func (g *guardWriter) enter() {
	if g.active.Add(1) != 1 {
		g.t.Error("two writes at once")
	}
	if g.done.Load() {
		g.t.Error("a write after the handler returned")
	}
}

func (g *guardWriter) String() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.buf.String()
}

// The relay's keep-alives come from a timer while Next blocks; they never
// overlap the relay's own writes, and none comes after relay returned.
func TestKeepAliveNeverOverlapsTheRelay(t *testing.T) {
	const interval = 5 * time.Millisecond
	gw := &guardWriter{t: t, header: http.Header{}}
	st := &chanStream{ch: make(chan adapter.Chunk)}
	s := New(Options{})
	w := &logWriter{ResponseWriter: gw, rec: &record{start: time.Now()}}
	r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil)
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		s.relay(r.Context(), w, r, w.rec, &exchange{}, st, streamHead{chunk: adapter.Chunk{Comment: true, Data: []byte("up")}, keepAlive: interval}, nil)
		gw.done.Store(true)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(gw.String(), ": keep-alive\n\n") < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("no keep-alives while the stream was silent: %q", gw.String())
		}
		time.Sleep(time.Millisecond)
	}
	for i := range 200 { // events spaced around the interval, so that timer and relay race
		st.ch <- adapter.Chunk{Data: []byte(`{"i":` + strconv.Itoa(i) + `}`)}
		time.Sleep(time.Duration(i%10) * time.Millisecond)
	}
	close(st.ch)
	<-returned
	time.Sleep(4 * interval) // a timer left running would write now
	out := gw.String()
	if !strings.HasPrefix(out, ": up\n\n: keep-alive\n\n") || !strings.HasSuffix(out, "\n\ndata: [DONE]\n\n") {
		t.Errorf("stream %q", out)
	}
	for i := range 200 {
		if !strings.Contains(out, "data: {\"i\":"+strconv.Itoa(i)+"}\n\n") {
			t.Fatalf("event %d missing or cut: %q", i, out)
		}
	}
}

// ctxStream is an upstream that stays silent until its context is canceled.
type ctxStream struct{ ctx context.Context }

func (s *ctxStream) Next() (adapter.Chunk, error) {
	<-s.ctx.Done()
	return adapter.Chunk{}, context.Cause(s.ctx)
}

func (s *ctxStream) Buffered() bool       { return false }
func (s *ctxStream) Usage() adapter.Usage { return adapter.Usage{} }
func (s *ctxStream) Close() error         { return nil }

// deafWriter is a client that stopped reading: once its buffers are full,
// every write fails at the write deadline.
type deafWriter struct {
	header http.Header
	writes atomic.Int32
}

func (d *deafWriter) Header() http.Header { return d.header }
func (d *deafWriter) WriteHeader(int)     {}
func (d *deafWriter) Write(p []byte) (int, error) {
	if d.writes.Add(1) > 2 {
		return 0, os.ErrDeadlineExceeded
	}
	return len(p), nil
}

// A keep-alive write that fails because the client stopped reading stops
// the upstream request (or program) at once, although the relay is waiting
// on a silent upstream and cannot see the failure itself.
func TestFailedKeepAliveStopsTheUpstream(t *testing.T) {
	ctx, abort := context.WithCancelCause(context.Background())
	defer abort(nil)
	dw := &deafWriter{header: http.Header{}}
	s := New(Options{})
	w := &logWriter{ResponseWriter: dw, rec: &record{start: time.Now()}}
	r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil)
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		s.relay(ctx, w, r, w.rec, &exchange{}, &ctxStream{ctx: ctx}, streamHead{chunk: adapter.Chunk{Comment: true, Data: []byte("up")}, keepAlive: 5 * time.Millisecond}, abort)
	}()
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		abort(errors.New("test over"))
		<-returned
		t.Fatal("the relay kept waiting on a silent upstream after a keep-alive write failed")
	}
	if w.rec.status != statusClientClosed || w.rec.err == nil || !strings.Contains(w.rec.err.Error(), "the client stopped reading") {
		t.Errorf("logged status %d, error %v; want 499 and the reason", w.rec.status, w.rec.err)
	}
	if ctx.Err() == nil {
		t.Error("the upstream request was not canceled")
	}
}
