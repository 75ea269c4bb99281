package mockllm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestExpectedText(t *testing.T) {
	for n, want := range map[int]string{0: "", 1: "w0 ", 3: "w0 w1 w2 ", 11: "w0 w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 "} {
		if got := ExpectedText(n); got != want {
			t.Errorf("ExpectedText(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestSplitText(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want []string
	}{
		{"", 3, nil},
		{"one", 1, []string{"one"}},
		{"a b c d", 2, []string{"a b ", "c d"}},
		{"a b c d e", 2, []string{"a b ", "c d e"}},
		{"a b c d e", 3, []string{"a ", "b c ", "d e"}},
		{"a b c", 3, []string{"a ", "b ", "c"}},
		{"  lead and trail  ", 3, []string{"  lead ", "and ", "trail  "}},
		{"line\nbreak\ttab", 3, []string{"line\n", "break\t", "tab"}},
		{"abcdef", 3, []string{"ab", "cd", "ef"}},
		{"ab cd", 4, []string{"a", "b", " ", "cd"}},
		{"日本語", 5, []string{"日", "本", "語"}},
	}
	for _, tt := range tests {
		got := splitText(tt.s, tt.n)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("splitText(%q, %d) (-want +got):\n%s", tt.s, tt.n, diff)
		}
		if strings.Join(got, "") != tt.s {
			t.Errorf("splitText(%q, %d) loses text", tt.s, tt.n)
		}
	}
}

func TestSplitEven(t *testing.T) {
	tests := []struct {
		s    string
		want []string
	}{
		{"", nil},
		{"x", []string{"x"}},
		{"{}", []string{"{", "}"}},
		{`{"city":"Paris"}`, []string{`{"cit`, `y":"P`, `aris"}`}},
		{"éèêë", []string{"é", "è", "êë"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, splitEven(tt.s, 3)); diff != "" {
			t.Errorf("splitEven(%q, 3) (-want +got):\n%s", tt.s, diff)
		}
	}
}

func TestScriptedErrors(t *testing.T) {
	tests := []struct {
		name        string
		mock        string
		stream      bool
		status      int
		retryAfter  string
		contentType string
		want        string // exact body
	}{
		{
			name: "status 500", mock: `{"status":500}`, status: 500, contentType: "application/json",
			want: `{"error":{"message":"mockllm: scripted error (HTTP 500)","type":"server_error","param":null,"code":null}}` + "\n",
		},
		{
			name: "429 with retry_after", mock: `{"status":429,"retry_after":"2"}`, status: 429, retryAfter: "2", contentType: "application/json",
			want: `{"error":{"message":"mockllm: scripted error (HTTP 429)","type":"requests","param":null,"code":"rate_limit_exceeded"}}` + "\n",
		},
		{
			name: "error_type and message on a stream request", stream: true,
			mock:   `{"status":503,"error_type":"overloaded","error_message":"slow down","retry_after":"7"}`,
			status: 503, retryAfter: "7", contentType: "application/json",
			want: `{"error":{"message":"slow down","type":"overloaded","param":null,"code":null}}` + "\n",
		},
		{
			name: "raw error_body", mock: `{"status":502,"error_body":"<html>bad gateway</html>"}`,
			status: 502, contentType: "text/plain; charset=utf-8", want: "<html>bad gateway</html>",
		},
		{
			name: "JSON error_body defaults to 500", mock: `{"error_body":"{\"detail\":\"x\"}"}`,
			status: 500, contentType: "application/json", want: `{"detail":"x"}`,
		},
		{
			name: "malformed 200", mock: `{"status":200,"error_body":"{\"id\":"}`,
			status: 200, contentType: "text/plain; charset=utf-8", want: `{"id":`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, hs := newTestServer(t, Options{})
			body := chatBody + `,"mock":` + tt.mock
			if tt.stream {
				body += `,"stream":true`
			}
			resp, b := post(t, hs, "/v1/chat/completions", body+"}")
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if got := resp.Header.Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tt.retryAfter)
			}
			if got := resp.Header.Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type %q, want %q", got, tt.contentType)
			}
			if diff := cmp.Diff(tt.want, string(b)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			if st := waitIdle(t, s); st.Completed != 1 {
				t.Errorf("stats %+v, want 1 completed", st)
			}
		})
	}
}

func TestScriptedErrorOnEveryEndpoint(t *testing.T) {
	var calls atomic.Int64
	s, hs := newTestServer(t, Options{Script: func(seq int64, r *http.Request, d *Directive) {
		calls.Add(1)
		if r.Method == http.MethodGet {
			d.Status = 503
		}
	}})
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/v1/completions", `{"model":"m","prompt":"x","mock":{"status":500}}`},
		{"POST", "/v1/embeddings", `{"model":"m","input":"x","mock":{"status":500}}`},
		{"GET", "/v1/models", ``},
		{"GET", "/v1/models/mock-model", ``},
	} {
		resp, b := fetch(t, hs, tc.method, tc.path, tc.body)
		if resp.StatusCode < 500 {
			t.Errorf("%s: status %d: %s", tc.path, resp.StatusCode, b)
		}
	}
	waitIdle(t, s)
	if n := calls.Load(); n != 4 {
		t.Errorf("Script called %d times, want 4", n)
	}
}

func TestScriptFailsFirstAttempt(t *testing.T) {
	s, hs := newTestServer(t, Options{Script: func(seq int64, _ *http.Request, d *Directive) {
		if seq == 1 {
			d.Status = 503
			d.RetryAfter = "0"
		}
	}})
	body := chatBody + "}"
	if resp, _ := post(t, hs, "/v1/chat/completions", body); resp.StatusCode != 503 {
		t.Errorf("first: status %d, want 503", resp.StatusCode)
	}
	if resp, _ := post(t, hs, "/v1/chat/completions", body); resp.StatusCode != 200 {
		t.Errorf("second: status %d, want 200", resp.StatusCode)
	}
	if st := waitIdle(t, s); st != (Stats{Requests: 2, Completed: 2}) {
		t.Errorf("stats %+v", st)
	}
}

func TestCutAfterStream(t *testing.T) {
	tests := []struct {
		name       string
		mock       string
		wantEvents int // data events before the cut, role chunk included
	}{
		{"after 2", `{"chunks":5,"cut_after":2}`, 3},
		{"after 0", `{"cut_after":0}`, 1},
		{"past the end", `{"chunks":2,"cut_after":99}`, 3},
		{"in tool calls", `{"tool_calls":[{"name":"f","arguments":"{\"a\":1}"}],"cut_after":2}`, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, hs := newTestServer(t, Options{})
			resp, err := send(t, context.Background(), hs, http.MethodPost, "/v1/chat/completions",
				chatBody+`,"stream":true,"stream_options":{"include_usage":true},"mock":`+tt.mock+"}")
			if err != nil {
				t.Fatal(err)
			}
			evs, err := newSSEReader(resp.Body).all()
			if err == nil {
				t.Errorf("stream ended cleanly; want a read error (events %q)", evs)
			}
			if len(evs) != tt.wantEvents {
				t.Errorf("got %d events before the cut, want %d: %q", len(evs), tt.wantEvents, evs)
			}
			for _, ev := range evs {
				if ev == "[DONE]" || strings.Contains(ev, `"finish_reason":"`) {
					t.Errorf("event after the cut point: %s", ev)
				}
			}
			if st := waitIdle(t, s); st != (Stats{Requests: 1, Aborted: 1}) {
				t.Errorf("stats %+v, want 1 aborted", st)
			}
		})
	}
}

func TestCutAfterNonStream(t *testing.T) {
	s, hs := newTestServer(t, Options{})
	resp, err := send(t, context.Background(), hs, http.MethodPost, "/v1/chat/completions", chatBody+`,"mock":{"cut_after":0}}`)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("read error %v, want unexpected EOF", err)
	}
	if len(b) == 0 || json.Valid(b) {
		t.Errorf("want a truncated body, got %q", b)
	}
	if st := waitIdle(t, s); st.Aborted != 1 {
		t.Errorf("stats %+v, want 1 aborted", st)
	}
}

// startedHook returns a Script hook that signals each request it sees.
func startedHook() (chan struct{}, func(int64, *http.Request, *Directive)) {
	ch := make(chan struct{}, 16)
	return ch, func(int64, *http.Request, *Directive) { ch <- struct{}{} }
}

func TestHang(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream=%v", stream), func(t *testing.T) {
			started, hook := startedHook()
			s, hs := newTestServer(t, Options{Script: hook})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			errc := make(chan error, 1)
			go func() {
				_, err := send(t, ctx, hs, http.MethodPost, "/v1/chat/completions",
					chatBody+fmt.Sprintf(`,"stream":%v,"mock":{"hang":true}}`, stream))
				errc <- err
			}()
			<-started
			select {
			case err := <-errc:
				t.Fatalf("hanging request answered: %v", err)
			case <-time.After(50 * time.Millisecond):
			}
			if st := s.Stats(); st.InFlight != 1 {
				t.Errorf("in flight %d, want 1", st.InFlight)
			}
			cancel()
			if err := <-errc; !errors.Is(err, context.Canceled) {
				t.Errorf("client error %v, want context.Canceled", err)
			}
			if st := waitIdle(t, s); st != (Stats{Requests: 1, Canceled: 1}) {
				t.Errorf("stats %+v, want 1 canceled", st)
			}
		})
	}
}

func TestHangAfterChunks(t *testing.T) {
	s, hs := newTestServer(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, err := send(t, ctx, hs, http.MethodPost, "/v1/chat/completions",
		chatBody+`,"stream":true,"mock":{"chunks":5,"hang_after_chunks":1}}`)
	if err != nil {
		t.Fatal(err)
	}
	sr := newSSEReader(resp.Body)
	var got []string
	for range 2 {
		ev, err := sr.next()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev)
	}
	if !strings.Contains(got[0], `"role":"assistant"`) || !strings.Contains(got[1], `"content":"w0 "`) {
		t.Errorf("events %q, want role chunk and w0", got)
	}
	cancel()
	if rest, err := sr.all(); err == nil || len(rest) != 0 {
		t.Errorf("after cancel: events %q, error %v; want no events and an error", rest, err)
	}
	if st := waitIdle(t, s); st != (Stats{Requests: 1, Canceled: 1}) {
		t.Errorf("stats %+v, want 1 canceled", st)
	}
}

func TestDelay(t *testing.T) {
	t.Run("waits", func(t *testing.T) {
		_, hs := newTestServer(t, Options{})
		start := time.Now()
		resp, _ := post(t, hs, "/v1/chat/completions", chatBody+`,"mock":{"delay_ms":60}}`)
		if el := time.Since(start); el < 60*time.Millisecond {
			t.Errorf("answered after %v, want ≥ 60ms", el)
		}
		if resp.StatusCode != 200 {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
	t.Run("canceled", func(t *testing.T) {
		s, hs := newTestServer(t, Options{})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := send(t, ctx, hs, http.MethodPost, "/v1/chat/completions", chatBody+`,"mock":{"delay_ms":10000}}`)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %v, want deadline exceeded", err)
		}
		if st := waitIdle(t, s); st.Canceled != 1 {
			t.Errorf("stats %+v, want 1 canceled", st)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("handler took %v to notice the cancel", el)
		}
	})
}

func TestChunkDelay(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		body string
		min  time.Duration
	}{
		{"directive stream", Options{}, `,"stream":true,"mock":{"chunks":3,"chunk_delay_ms":20}`, 60 * time.Millisecond},
		{"option stream", Options{ChunkDelay: 20 * time.Millisecond}, `,"stream":true`, 60 * time.Millisecond},
		{"directive non-stream", Options{}, `,"mock":{"chunks":3,"chunk_delay_ms":20}`, 60 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, hs := newTestServer(t, tt.opts)
			start := time.Now()
			resp, b := post(t, hs, "/v1/chat/completions", chatBody+tt.body+"}")
			if el := time.Since(start); el < tt.min {
				t.Errorf("took %v, want ≥ %v", el, tt.min)
			}
			if resp.StatusCode != 200 || !strings.Contains(string(b), "w2 ") {
				t.Errorf("status %d body %s", resp.StatusCode, b)
			}
		})
	}
}

func TestChunkHookPausesStream(t *testing.T) {
	release := make(chan struct{})
	reached := make(chan int, 16)
	s, hs := newTestServer(t, Options{ChunkHook: func(ctx context.Context, i int) {
		reached <- i
		if i == 1 {
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
	}})
	resp, err := send(t, context.Background(), hs, http.MethodPost, "/v1/chat/completions", chatBody+`,"stream":true}`)
	if err != nil {
		t.Fatal(err)
	}
	sr := newSSEReader(resp.Body)
	for _, want := range []string{`"role":"assistant"`, `"content":"w0 "`} {
		ev, err := sr.next()
		if err != nil || !strings.Contains(ev, want) {
			t.Fatalf("event %q, %v; want %s", ev, err, want)
		}
	}
	if i := <-reached; i != 0 {
		t.Fatalf("hook saw %d first", i)
	}
	if i := <-reached; i != 1 {
		t.Fatalf("hook saw %d second", i)
	}
	if st := s.Stats(); st.InFlight != 1 {
		t.Errorf("stats %+v while paused", st)
	}
	close(release)
	rest, err := sr.all()
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != 4 || !strings.Contains(rest[0], `"content":"w1 "`) || rest[3] != "[DONE]" {
		t.Errorf("rest of stream %q", rest)
	}
	if st := waitIdle(t, s); st.Completed != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestChunkHookCanceled(t *testing.T) {
	reached := make(chan struct{}, 1)
	s, hs := newTestServer(t, Options{ChunkHook: func(ctx context.Context, i int) {
		reached <- struct{}{}
		<-ctx.Done()
	}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, err := send(t, ctx, hs, http.MethodPost, "/v1/completions", `{"model":"m","prompt":"x","stream":true}`)
	if err != nil {
		t.Fatal(err)
	}
	<-reached
	cancel()
	_, _ = io.Copy(io.Discard, resp.Body)
	if st := waitIdle(t, s); st != (Stats{Requests: 1, Canceled: 1}) {
		t.Errorf("stats %+v, want 1 canceled", st)
	}
}

func TestRecord(t *testing.T) {
	s, hs := newTestServer(t, Options{Record: true})
	body := chatBody + "}"
	fetch(t, hs, http.MethodPost, "/v1/chat/completions", body, "X-Test", "one")
	fetch(t, hs, http.MethodGet, "/v1/models", "", "X-Test", "two")
	waitIdle(t, s)
	got := s.Requests()
	if len(got) != 2 {
		t.Fatalf("recorded %d requests, want 2", len(got))
	}
	if got[0].Method != "POST" || got[0].Path != "/v1/chat/completions" || string(got[0].Body) != body || got[0].Header.Get("X-Test") != "one" {
		t.Errorf("first request %+v", got[0])
	}
	if got[1].Method != "GET" || got[1].Path != "/v1/models" || len(got[1].Body) != 0 || got[1].Header.Get("X-Test") != "two" {
		t.Errorf("second request %+v", got[1])
	}

	t.Run("off", func(t *testing.T) {
		s, hs := newTestServer(t, Options{})
		post(t, hs, "/v1/chat/completions", body)
		if n := len(s.Requests()); n != 0 {
			t.Errorf("recorded %d requests without Record", n)
		}
	})
	t.Run("bounded", func(t *testing.T) {
		s := New(Options{Record: true})
		for i := range maxRecorded + 5 {
			r, _ := http.NewRequest("GET", fmt.Sprintf("/r%d", i), nil)
			s.record(r, nil)
		}
		got := s.Requests()
		if len(got) != maxRecorded || got[0].Path != "/r5" || got[len(got)-1].Path != fmt.Sprintf("/r%d", maxRecorded+4) {
			t.Errorf("len %d, first %s, last %s", len(got), got[0].Path, got[len(got)-1].Path)
		}
	})
}

func TestWaitIdleTimesOut(t *testing.T) {
	started, hook := startedHook()
	s, hs := newTestServer(t, Options{Script: hook})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = send(t, ctx, hs, http.MethodPost, "/v1/chat/completions", chatBody+`,"mock":{"hang":true}}`)
	}()
	<-started
	wctx, wcancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer wcancel()
	if err := s.WaitIdle(wctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitIdle with a hanging request: %v", err)
	}
	cancel()
	<-done
	waitIdle(t, s)
}

func TestConcurrentStreams(t *testing.T) {
	s, hs := newTestServer(t, Options{Chunks: 20})
	const workers, each = 64, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for range each {
				req, _ := http.NewRequest(http.MethodPost, hs.URL+"/v1/chat/completions", strings.NewReader(chatBody+`,"stream":true}`))
				resp, err := hs.Client().Do(req)
				if err != nil {
					errs <- err
					return
				}
				evs, err := newSSEReader(resp.Body).all()
				resp.Body.Close()
				if err != nil {
					errs <- err
					return
				}
				var text strings.Builder
				for _, ev := range evs[1 : len(evs)-2] {
					var c struct {
						Choices []struct {
							Delta struct{ Content string }
						}
					}
					if err := json.Unmarshal([]byte(ev), &c); err != nil {
						errs <- err
						return
					}
					text.WriteString(c.Choices[0].Delta.Content)
				}
				if text.String() != ExpectedText(20) {
					errs <- fmt.Errorf("text %q", text.String())
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := waitIdle(t, s); st != (Stats{Requests: workers * each, Completed: workers * each}) {
		t.Errorf("stats %+v", st)
	}
}
