package mockllm

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const anthropicBody = `{"model":"claude-test","max_tokens":100,"system":"be brief","messages":[{"role":"user","content":[{"type":"text","text":"hello there friend"}]},{"role":"assistant","content":"ok"},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"sunny and warm"}]}]`

// anthropicHeaders are what the API requires.
var anthropicHeaders = []string{"anthropic-version", "2023-06-01", "x-api-key", "sk-ant"}

func postAnthropic(t *testing.T, path, body string, opts Options) (*http.Response, []byte) {
	t.Helper()
	s, hs := newTestServer(t, opts)
	resp, b := fetch(t, hs, http.MethodPost, path, body, anthropicHeaders...)
	waitIdle(t, s)
	return resp, b
}

func TestAnthropicMessage(t *testing.T) {
	tests := []struct {
		name string
		mock string
		want string // the whole Message
	}{
		{
			name: "default text",
			want: `{"id":"msg_mock_1","type":"message","role":"assistant","model":"claude-test",
				"content":[{"type":"text","text":"w0 w1 w2 "}],"stop_reason":"end_turn","stop_sequence":null,
				"usage":{"input_tokens":9,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":3}}`,
		},
		{
			name: "text and tool calls",
			mock: `{"content":"Let me check.","chunks":2,"tool_calls":[{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"},{"name":"noop","arguments":""}]}`,
			want: `{"id":"msg_mock_1","type":"message","role":"assistant","model":"claude-test",
				"content":[{"type":"text","text":"Let me check."},
					{"type":"tool_use","id":"toolu_mock_0","name":"get_weather","input":{"city":"Paris"}},
					{"type":"tool_use","id":"toolu_mock_1","name":"noop","input":{}}],
				"stop_reason":"tool_use","stop_sequence":null,
				"usage":{"input_tokens":9,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":7}}`,
		},
		{
			name: "tool call only, malformed arguments",
			mock: `{"tool_calls":[{"name":"f","arguments":"{bad"}]}`,
			want: `{"id":"msg_mock_1","type":"message","role":"assistant","model":"claude-test",
				"content":[{"type":"tool_use","id":"toolu_mock_0","name":"f","input":"{bad"}],
				"stop_reason":"tool_use","stop_sequence":null,
				"usage":{"input_tokens":9,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":4}}`,
		},
		{
			name: "length becomes max_tokens, usage overrides",
			mock: `{"finish_reason":"length","prompt_tokens":50,"completion_tokens":9}`,
			want: `{"id":"msg_mock_1","type":"message","role":"assistant","model":"claude-test",
				"content":[{"type":"text","text":"w0 w1 w2 "}],"stop_reason":"max_tokens","stop_sequence":null,
				"usage":{"input_tokens":50,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":9}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := anthropicBody
			if tt.mock != "" {
				body += `,"mock":` + tt.mock
			}
			resp, b := postAnthropic(t, "/v1/messages", body+"}", Options{APIKey: "sk-ant"})
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			if got := resp.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type %q", got)
			}
			if got := resp.Header.Get("request-id"); got != "req_mock_1" {
				t.Errorf("request-id %q", got)
			}
			if diff := cmp.Diff(jsonValue(t, tt.want), jsonValue(t, string(b))); diff != "" {
				t.Errorf("Message (-want +got):\n%s", diff)
			}
		})
	}
}

// anthropicEvent builds the event the stream should carry.
func anthropicEvent(t *testing.T, name, data string) namedEvent {
	return namedEvent{Name: name, Data: jsonValue(t, data)}
}

func TestAnthropicStream(t *testing.T) {
	const start = `{"type":"message_start","message":{"id":"msg_mock_1","type":"message","role":"assistant","model":"claude-test","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":9,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}}`
	ping := func(t *testing.T) namedEvent { return anthropicEvent(t, "ping", `{"type":"ping"}`) }
	text := func(t *testing.T, i int, s string) namedEvent {
		return anthropicEvent(t, "content_block_delta", `{"type":"content_block_delta","index":`+strconv.Itoa(i)+`,"delta":{"type":"text_delta","text":`+strconv.Quote(s)+`}}`)
	}
	args := func(t *testing.T, i int, s string) namedEvent {
		return anthropicEvent(t, "content_block_delta", `{"type":"content_block_delta","index":`+strconv.Itoa(i)+`,"delta":{"type":"input_json_delta","partial_json":`+strconv.Quote(s)+`}}`)
	}
	stop := func(t *testing.T, i int) namedEvent {
		return anthropicEvent(t, "content_block_stop", `{"type":"content_block_stop","index":`+strconv.Itoa(i)+`}`)
	}
	end := func(t *testing.T, reason string, out int) []namedEvent {
		return []namedEvent{
			anthropicEvent(t, "message_delta", `{"type":"message_delta","delta":{"stop_reason":"`+reason+`","stop_sequence":null},"usage":{"output_tokens":`+strconv.Itoa(out)+`}}`),
			anthropicEvent(t, "message_stop", `{"type":"message_stop"}`),
		}
	}
	tests := []struct {
		name string
		mock string
		want func(t *testing.T) []namedEvent
	}{
		{
			name: "text",
			want: func(t *testing.T) []namedEvent {
				return append([]namedEvent{
					anthropicEvent(t, "message_start", start),
					anthropicEvent(t, "content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`),
					text(t, 0, "w0 "), ping(t), text(t, 0, "w1 "), text(t, 0, "w2 "),
					stop(t, 0),
				}, end(t, "end_turn", 3)...)
			},
		},
		{
			name: "text then two tool calls share the index space",
			mock: `{"content":"Checking now","chunks":2,"tool_calls":[{"name":"get_weather","arguments":{"city":"Tokyo"}},{"name":"noop","arguments":""}]}`,
			want: func(t *testing.T) []namedEvent {
				return append([]namedEvent{
					anthropicEvent(t, "message_start", start),
					anthropicEvent(t, "content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`),
					text(t, 0, "Checking "), ping(t), text(t, 0, "now"),
					stop(t, 0),
					anthropicEvent(t, "content_block_start", `{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_mock_0","name":"get_weather","input":{}}}`),
					args(t, 1, `{"cit`), args(t, 1, `y":"T`), args(t, 1, `okyo"}`),
					stop(t, 1),
					anthropicEvent(t, "content_block_start", `{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_mock_1","name":"noop","input":{}}}`),
					stop(t, 2),
				}, end(t, "tool_use", 7)...)
			},
		},
		{
			name: "tool call only: ping after its first delta",
			mock: `{"tool_calls":[{"name":"f","arguments":"{}"}]}`,
			want: func(t *testing.T) []namedEvent {
				return append([]namedEvent{
					anthropicEvent(t, "message_start", start),
					anthropicEvent(t, "content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_mock_0","name":"f","input":{}}}`),
					args(t, 0, "{"), ping(t), args(t, 0, "}"),
					stop(t, 0),
				}, end(t, "tool_use", 3)...)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, hs := newTestServer(t, Options{})
			body := anthropicBody + `,"stream":true`
			if tt.mock != "" {
				body += `,"mock":` + tt.mock
			}
			resp := streamResponse(t, context.Background(), hs, "/v1/messages", body+"}", "text/event-stream", anthropicHeaders...)
			if got := resp.Header.Get("request-id"); got != "req_mock_1" {
				t.Errorf("request-id %q", got)
			}
			got, err := readEvents(t, resp.Body)
			if err != nil {
				t.Fatalf("reading stream: %v", err)
			}
			if diff := cmp.Diff(tt.want(t), got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if st := waitIdle(t, s); st != (Stats{Requests: 1, Completed: 1}) {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestAnthropicStreamFraming(t *testing.T) {
	_, hs := newTestServer(t, Options{Chunks: 1})
	resp := streamResponse(t, context.Background(), hs, "/v1/messages", anthropicBody+`,"stream":true}`, "text/event-stream", anthropicHeaders...)
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	want := "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"w0 \"}}\n\n" +
		"event: ping\ndata: {\"type\":\"ping\"}\n\n"
	if !strings.Contains(string(b), want) || !strings.HasSuffix(string(b), "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n") {
		t.Errorf("stream framing:\n%s", b)
	}
}

func TestAnthropicStreamError(t *testing.T) {
	errEvent := `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`
	tests := []struct {
		name  string
		mock  string
		names []string // event names
		last  string   // data of the last event
	}{
		{
			name:  "default after 1 chunk",
			mock:  `{"stream_error":"overloaded_error"}`,
			names: []string{"message_start", "content_block_start", "content_block_delta", "ping", "error"},
			last:  errEvent,
		},
		{
			name:  "after 0 chunks",
			mock:  `{"stream_error":"overloaded_error","stream_error_after":0}`,
			names: []string{"message_start", "content_block_start", "error"},
			last:  errEvent,
		},
		{
			name:  "past the end: before message_delta",
			mock:  `{"chunks":1,"stream_error":"api_error","stream_error_after":9,"error_message":"boom"}`,
			names: []string{"message_start", "content_block_start", "content_block_delta", "ping", "content_block_stop", "error"},
			last:  `{"type":"error","error":{"type":"api_error","message":"boom"}}`,
		},
		{
			name:  "during a tool call",
			mock:  `{"tool_calls":[{"name":"f","arguments":"{}"}],"stream_error":"overloaded_error","stream_error_after":1}`,
			names: []string{"message_start", "content_block_start", "error"},
			last:  errEvent,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, hs := newTestServer(t, Options{})
			resp := streamResponse(t, context.Background(), hs, "/v1/messages", anthropicBody+`,"stream":true,"mock":`+tt.mock+"}", "text/event-stream", anthropicHeaders...)
			got, err := readEvents(t, resp.Body)
			if err != nil {
				t.Fatalf("stream did not end cleanly: %v", err)
			}
			var names []string
			for _, ev := range got {
				names = append(names, ev.Name)
			}
			if diff := cmp.Diff(tt.names, names); diff != "" {
				t.Fatalf("event names (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(jsonValue(t, tt.last), got[len(got)-1].Data); diff != "" {
				t.Errorf("error event (-want +got):\n%s", diff)
			}
			if st := waitIdle(t, s); st != (Stats{Requests: 1, Completed: 1}) {
				t.Errorf("stats %+v", st)
			}
		})
	}
	t.Run("non-stream gets the HTTP error", func(t *testing.T) {
		resp, b := postAnthropic(t, "/v1/messages", anthropicBody+`,"mock":{"stream_error":"overloaded_error"}}`, Options{})
		want := `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_mock_1"}` + "\n"
		if resp.StatusCode != 529 || string(b) != want {
			t.Errorf("status %d body %s; want 529 %s", resp.StatusCode, b, want)
		}
	})
}

func TestAnthropicCutAfter(t *testing.T) {
	tests := []struct {
		name  string
		mock  string
		names []string
	}{
		{"after 1", `{"chunks":3,"cut_after":1}`, []string{"message_start", "content_block_start", "content_block_delta", "ping"}},
		{"past the end", `{"chunks":1,"cut_after":5}`, []string{"message_start", "content_block_start", "content_block_delta", "ping", "content_block_stop"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, hs := newTestServer(t, Options{})
			resp := streamResponse(t, context.Background(), hs, "/v1/messages", anthropicBody+`,"stream":true,"mock":`+tt.mock+"}", "text/event-stream", anthropicHeaders...)
			got, err := readEvents(t, resp.Body)
			if err == nil {
				t.Errorf("stream ended cleanly; want a read error")
			}
			var names []string
			for _, ev := range got {
				names = append(names, ev.Name)
			}
			if diff := cmp.Diff(tt.names, names); diff != "" {
				t.Errorf("events before the cut (-want +got):\n%s", diff)
			}
			if st := waitIdle(t, s); st != (Stats{Requests: 1, Aborted: 1}) {
				t.Errorf("stats %+v, want 1 aborted", st)
			}
		})
	}
}

func TestAnthropicStreamCanceled(t *testing.T) {
	s, hs := newTestServer(t, Options{})
	// The deadline turns a missing event into a read error, not a hang.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp := streamResponse(t, ctx, hs, "/v1/messages", anthropicBody+`,"stream":true,"mock":{"hang_after_chunks":1}}`, "text/event-stream", anthropicHeaders...)
	buf := make([]byte, 4096)
	var got strings.Builder
	for !strings.Contains(got.String(), "event: ping") {
		n, err := resp.Body.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			t.Fatalf("read: %v after %q", err, got.String())
		}
	}
	cancel()
	_, _ = io.Copy(io.Discard, resp.Body)
	if st := waitIdle(t, s); st != (Stats{Requests: 1, Canceled: 1}) {
		t.Errorf("stats %+v, want 1 canceled", st)
	}
}

func TestAnthropicErrors(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		body    string
		headers []string // replace anthropicHeaders when set
		status  int
		errType string
		message string
	}{
		{name: "no x-api-key", opts: Options{APIKey: "sk-ant"}, headers: []string{"anthropic-version", "2023-06-01"},
			status: 401, errType: "authentication_error", message: "x-api-key header is required"},
		{name: "wrong x-api-key", opts: Options{APIKey: "sk-ant"}, headers: []string{"anthropic-version", "2023-06-01", "x-api-key", "nope"},
			status: 401, errType: "authentication_error", message: "invalid x-api-key"},
		{name: "bearer is not x-api-key", opts: Options{APIKey: "sk-ant"}, headers: []string{"anthropic-version", "2023-06-01", "Authorization", "Bearer sk-ant"},
			status: 401, errType: "authentication_error", message: "x-api-key header is required"},
		{name: "no anthropic-version", headers: []string{"x-api-key", "sk-ant"},
			status: 400, errType: "invalid_request_error", message: "anthropic-version: header is required"},
		{name: "no max_tokens", body: `{"model":"c","messages":[{"role":"user","content":"hi"}]}`,
			status: 400, errType: "invalid_request_error", message: "max_tokens: Field required"},
		{name: "no model", body: `{"max_tokens":1,"messages":[{"role":"user","content":"hi"}]}`,
			status: 400, errType: "invalid_request_error", message: "model: Field required"},
		{name: "no messages", body: `{"model":"c","max_tokens":1}`,
			status: 400, errType: "invalid_request_error", message: "messages: Field required"},
		{name: "bad JSON", body: `{"model":`,
			status: 400, errType: "invalid_request_error", message: "There was an error parsing the body of your request: invalid JSON"},
	}
	for _, st := range []struct {
		status  int
		errType string
	}{{400, "invalid_request_error"}, {401, "authentication_error"}, {403, "permission_error"}, {404, "not_found_error"},
		{429, "rate_limit_error"}, {500, "api_error"}, {503, "api_error"}, {529, "overloaded_error"}} {
		tests = append(tests, struct {
			name    string
			opts    Options
			body    string
			headers []string
			status  int
			errType string
			message string
		}{
			name: "scripted " + strconv.Itoa(st.status), body: anthropicBody + `,"stream":true,"mock":{"status":` + strconv.Itoa(st.status) + `}}`,
			status: st.status, errType: st.errType, message: "mockllm: scripted error (HTTP " + strconv.Itoa(st.status) + ")",
		})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, hs := newTestServer(t, tt.opts)
			headers := anthropicHeaders
			if tt.headers != nil {
				headers = tt.headers
			}
			body := tt.body
			if body == "" {
				body = anthropicBody + "}"
			}
			resp, b := fetch(t, hs, http.MethodPost, "/v1/messages", body, headers...)
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if got := resp.Header.Get("request-id"); got != "req_mock_1" {
				t.Errorf("request-id %q", got)
			}
			want := `{"type":"error","error":{"type":` + strconv.Quote(tt.errType) + `,"message":` + strconv.Quote(tt.message) + `},"request_id":"req_mock_1"}` + "\n"
			if diff := cmp.Diff(want, string(b)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			waitIdle(t, s)
		})
	}
	t.Run("error_type and retry_after", func(t *testing.T) {
		resp, b := postAnthropic(t, "/v1/messages", anthropicBody+`,"mock":{"status":529,"error_type":"overloaded_error","error_message":"Overloaded","retry_after":"3"}}`, Options{})
		want := `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_mock_1"}` + "\n"
		if resp.StatusCode != 529 || string(b) != want || resp.Header.Get("Retry-After") != "3" {
			t.Errorf("status %d Retry-After %q body %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
		}
	})
}

func TestAnthropicCountTokens(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"words of system, text and tool results", anthropicBody + "}", `{"input_tokens":9}` + "\n"},
		{"no max_tokens needed", `{"model":"c","messages":[{"role":"user","content":"one two"}]}`, `{"input_tokens":2}` + "\n"},
		{"prompt_tokens directive", `{"model":"c","messages":[{"role":"user","content":"x"}],"mock":{"prompt_tokens":42}}`, `{"input_tokens":42}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := postAnthropic(t, "/v1/messages/count_tokens", tt.body, Options{APIKey: "sk-ant"})
			if resp.StatusCode != http.StatusOK || string(b) != tt.want {
				t.Errorf("status %d body %q, want %q", resp.StatusCode, b, tt.want)
			}
		})
	}
}

func TestAnthropicScript(t *testing.T) {
	s, hs := newTestServer(t, Options{Script: func(seq int64, r *http.Request, d *Directive) {
		if seq == 1 {
			d.Status = 529
		}
	}})
	for i, want := range []int{529, 200} {
		resp, b := fetch(t, hs, http.MethodPost, "/v1/messages", anthropicBody+"}", anthropicHeaders...)
		if resp.StatusCode != want {
			t.Errorf("request %d: status %d, want %d: %s", i+1, resp.StatusCode, want, b)
		}
	}
	waitIdle(t, s)
}
