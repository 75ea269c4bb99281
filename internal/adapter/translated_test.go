package adapter

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"aigateway/internal/sse"
)

// fakeTranslator yields a chunk for an event whose data starts with "text:",
// nothing (alive) for "think", nothing (not alive, judged later) for
// "partial", and ends the stream at "stop".
type fakeTranslator struct{}

func (fakeTranslator) Event(ev sse.Event) (Output, error) {
	d := string(ev.Data)
	switch {
	case strings.HasPrefix(d, "text:"):
		return Output{Chunks: [][]byte{[]byte(d)}}, nil
	case d == "stop":
		return Output{Done: true}, nil
	case d == "partial":
		return Output{}, nil
	}
	return Output{Alive: true}, nil
}

func (fakeTranslator) End() ([][]byte, error) { return nil, io.EOF }
func (fakeTranslator) Usage() Usage           { return Usage{} }

// translatedItems serves body as an SSE stream, reads it through a
// translated stream whose clock advances by step on every reading, and
// describes what Next returned.
func translatedItems(t *testing.T, body string, step time.Duration) []string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, body)
	}))
	defer srv.Close()
	u := &Upstream{ID: "m", Timeout: 5 * time.Second}
	call, err := u.Send(context.Background(), http.MethodPost, srv.URL, http.Header{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := NewTranslatedStream(call, fakeTranslator{}).(*translatedStream)
	defer st.Close()
	clock := time.Unix(1000, 0)
	st.now = func() time.Time { clock = clock.Add(step); return clock }
	var got []string
	for {
		c, err := st.Next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if c.Comment {
			got = append(got, "comment:"+string(c.Data))
		} else {
			got = append(got, string(c.Data))
		}
	}
}

// Events that yield nothing but show the upstream at work, and the
// upstream's own comments, become keep-alive comments, at most one per
// commentInterval; an event the translator has not judged yet does not.
func TestTranslatedStreamKeepAlives(t *testing.T) {
	tests := []struct {
		name string
		body string
		step time.Duration // clock advance per keep-alive candidate
		want []string
	}{
		{
			name: "thinking coalesced to one a second",
			body: strings.Repeat("data: think\n\n", 10) + "data: text:a\n\ndata: stop\n\n",
			step: 300 * time.Millisecond, // candidates at 0.3, 0.6, ... 3.0 s: comments at 0.3, 1.5, 2.7
			want: []string{"comment:keep-alive", "comment:keep-alive", "comment:keep-alive", "text:a"},
		},
		{
			name: "a burst within a second is one comment",
			body: "data: think\n\n: ping\n\ndata: think\n\ndata: text:a\n\ndata: think\n\ndata: stop\n\n",
			step: time.Millisecond,
			want: []string{"comment:keep-alive", "text:a"},
		},
		{
			name: "upstream comments",
			body: ": OPENROUTER PROCESSING\n\n: keep-alive\n\ndata: text:a\n\ndata: stop\n\n",
			step: time.Second,
			want: []string{"comment:keep-alive", "comment:keep-alive", "text:a"},
		},
		{
			name: "an event not judged yet is no sign of life",
			body: "data: partial\n\ndata: text:a\n\ndata: stop\n\n",
			step: time.Second,
			want: []string{"text:a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, translatedItems(t, tt.body, tt.step)); diff != "" {
				t.Errorf("items (-want +got):\n%s", diff)
			}
		})
	}
}

// A due keep-alive counts as buffered: the relay must not flush and wait
// on the upstream while it could still return one.
func TestTranslatedStreamBufferedKeepAlive(t *testing.T) {
	s := &translatedStream{alive: true}
	if !s.Buffered() {
		t.Error("Buffered() = false with a keep-alive due")
	}
	if c, err := s.Next(); err != nil || !c.Comment || string(c.Data) != "keep-alive" {
		t.Errorf("Next = %+v, %v; want the keep-alive", c, err)
	}
	if s.Buffered() {
		t.Error("Buffered() = true after the keep-alive was returned")
	}
}

// Buffered converts the events already at hand, a ping that yields nothing
// included, so that events that arrived together share one flush; it is
// false only when Next would wait on the upstream. Calling it after every
// Next changes nothing in what Next returns.
func TestTranslatedStreamBufferedEvents(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: text:a\n\ndata: partial\n\ndata: text:b\n\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "data: text:c\n\ndata: stop\n\n")
	}))
	defer srv.Close()
	defer close(release)
	u := &Upstream{ID: "m", Timeout: 5 * time.Second}
	call, err := u.Send(context.Background(), http.MethodPost, srv.URL, http.Header{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := NewTranslatedStream(call, fakeTranslator{})
	defer st.Close()
	next := func(want string) {
		t.Helper()
		c, err := st.Next()
		if err != nil || string(c.Data) != want {
			t.Fatalf("Next = %q, %v; want %q", c.Data, err, want)
		}
	}
	next("text:a")
	// The first read may have stopped short of the rest of the first write.
	deadline := time.Now().Add(5 * time.Second)
	for !st.Buffered() {
		if time.Now().After(deadline) {
			t.Fatal("Buffered() stays false with text:b written")
		}
		time.Sleep(time.Millisecond)
	}
	next("text:b")
	if st.Buffered() {
		t.Fatal("Buffered() = true while the upstream waits")
	}
	release <- struct{}{}
	next("text:c")
	for !st.Buffered() {
		if time.Now().After(deadline) {
			t.Fatal("Buffered() stays false with the end written")
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := st.Next(); err != io.EOF {
		t.Fatalf("Next = %v, want EOF", err)
	}
}
