package messages

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/inbound"
	"aigateway/internal/openai"
)

// fuzzTargets are the deployments a request can be converted for: every
// upstream protocol an adapter speaks.
var fuzzTargets = []inbound.Target{
	{Upstream: adapter.ProtocolChat, Deployment: "openai-1"},
	{Upstream: adapter.ProtocolMessages, Deployment: "anthropic-1", MaxOutputTokens: 100},
	{Upstream: adapter.ProtocolGemini, Deployment: "gemini-1"},
	{Upstream: adapter.ProtocolText, Deployment: "text-1"},
}

// fuzzBodies returns the bodies of the captured client requests.
func fuzzBodies(f *testing.F) [][]byte {
	var out [][]byte
	for _, c := range captures(f) {
		out = append(out, c.Body)
	}
	return out
}

// fuzzChatAnswers returns real Chat Completions answers, JSON and the data
// lines of streams joined by newlines (one chunk per line).
func fuzzChatAnswers(f *testing.F) (answers, streams [][]byte) {
	files, _ := filepath.Glob("testdata/streams/*")
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		if strings.HasSuffix(name, ".json") {
			answers = append(answers, raw)
			continue
		}
		streams = append(streams, bytes.Join(sseData(f, name), []byte("\n")))
	}
	if len(answers) == 0 || len(streams) == 0 {
		f.Fatalf("no chat answers or streams in testdata/streams")
	}
	return answers, streams
}

// checkNative checks that the spans of a native request lie in its body and
// that rewriting them gives valid JSON, as the adapters do.
func checkNative(t *testing.T, n *adapter.NativeRequest) {
	t.Helper()
	if n == nil {
		t.Fatal("Native() is nil")
	}
	body := n.Body
	type span struct {
		start, end int
		with       string
	}
	var spans []span
	if n.ModelEnd != 0 || n.ModelStart != 0 {
		spans = append(spans, span{n.ModelStart, n.ModelEnd, `"m"`})
	}
	if n.MaxTokensEnd != 0 || n.MaxTokensStart != 0 {
		spans = append(spans, span{n.MaxTokensStart, n.MaxTokensEnd, `1`})
	}
	if len(spans) == 2 && spans[0].start > spans[1].start {
		spans[0], spans[1] = spans[1], spans[0]
	}
	var out []byte
	at := 0
	for _, s := range spans {
		if s.start < at || s.end <= s.start || s.end > len(body) {
			t.Fatalf("native span [%d,%d) out of order or outside a body of %d bytes", s.start, s.end, len(body))
		}
		out = append(append(out, body[at:s.start]...), s.with...)
		at = s.end
	}
	out = append(out, body[at:]...)
	if !json.Valid(out) {
		t.Fatalf("the native body with its spans rewritten is invalid JSON: %q", out)
	}
}

// checkChat converts a parsed request for every target: each body must be
// one openai.Peek accepts, each error an *inbound.Error.
func checkChat(t *testing.T, req inbound.Request) {
	t.Helper()
	_, _ = req.Model(), req.Stream()
	checkNative(t, req.Native())
	if e, ok := req.(inbound.Estimator); ok {
		_ = e.EstimateInputTokens()
	}
	for _, target := range fuzzTargets {
		if d, ok := req.(inbound.ToolDropper); ok {
			_ = d.DroppedTools(target)
		}
		body, err := req.Chat(target)
		if err != nil {
			var ie *inbound.Error
			if !errors.As(err, &ie) {
				t.Fatalf("Chat(%v): %v is not an *inbound.Error", target.Upstream, err)
			}
			continue
		}
		if !json.Valid(body) {
			t.Fatalf("Chat(%v) is invalid JSON: %q", target.Upstream, body)
		}
		if _, perr := openai.Peek(body); perr != nil {
			t.Fatalf("Chat(%v) is refused by openai.Peek (%s): %q", target.Upstream, perr.Message, body)
		}
	}
}

func fuzzHTTPRequest(path string, beta bool) *http.Request {
	hr := httptest.NewRequest(http.MethodPost, path, nil)
	hr.Header.Set("anthropic-version", "2023-06-01")
	if beta {
		hr.Header.Set("anthropic-beta", "interleaved-thinking-2025-05-14,context-management-2025-06-27")
	}
	return hr
}

// FuzzParseChat parses arbitrary bodies and converts what Parse accepts for
// every target: nothing may panic, every Chat body is valid JSON that
// openai.Peek accepts, every refusal an *inbound.Error.
func FuzzParseChat(f *testing.F) {
	for _, b := range fuzzBodies(f) {
		f.Add(b, true)
	}
	f.Add([]byte(`{"model":"m","max_tokens":5,"system":[{"type":"text","text":"s"}],"messages":[{"role":"system","content":"x"},{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AA=="}},{"type":"tool_result","tool_use_id":"t","is_error":true,"content":[{"type":"image","source":{"type":"url","url":"https://x"}}]}]},{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"s"},{"type":"tool_use","id":"t","name":"f","input":"x"}]}],"tools":[{"name":"f","input_schema":{"type":"object"}},{"type":"web_search_20250305","name":"web_search"}],"tool_choice":{"type":"tool","name":"f"},"stop_sequences":["a"],"top_k":3,"thinking":{"type":"enabled","budget_tokens":1024}}`), false)
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":null}],"tools":"x","tool_choice":5,"system":7,"max_tokens":"9"}`), false)
	f.Add([]byte(`{"model":"m","max_tokens":1e400,"messages":[{"role":"user","content":"\ud800"}]}`), true)
	f.Fuzz(func(t *testing.T, body []byte, beta bool) {
		req, err := Dialect{}.Parse(body, fuzzHTTPRequest("/v1/messages?beta=true", beta))
		if err != nil {
			var ie *inbound.Error
			if !errors.As(err, &ie) || ie.Status != http.StatusBadRequest {
				t.Fatalf("Parse: %v is not a 400 *inbound.Error", err)
			}
			return
		}
		checkChat(t, req)
	})
}

// FuzzParseCount is FuzzParseChat for count_tokens requests.
func FuzzParseCount(f *testing.F) {
	for _, b := range fuzzBodies(f) {
		f.Add(b)
	}
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"name":"f","input_schema":5}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := Dialect{}.ParseCount(body, fuzzHTTPRequest("/v1/messages/count_tokens", true))
		if err != nil {
			var ie *inbound.Error
			if !errors.As(err, &ie) || ie.Status != http.StatusBadRequest {
				t.Fatalf("ParseCount: %v is not a 400 *inbound.Error", err)
			}
			return
		}
		checkChat(t, req)
		if !json.Valid(Dialect{}.CountAnswer(req.(inbound.Estimator).EstimateInputTokens())) {
			t.Fatal("CountAnswer is invalid JSON")
		}
	})
}

// fuzzRequests parses the captured requests once, for the answer fuzzers.
func fuzzRequests(f *testing.F) []inbound.Request {
	var out []inbound.Request
	for _, c := range captures(f) {
		if strings.HasSuffix(c.Path, "/count_tokens") {
			continue
		}
		out = append(out, parse(f, c.Path, c.Headers, c.Body))
	}
	return out
}

// FuzzResponse converts arbitrary bytes and mutated real Chat answers for
// a captured request and a target: no panic, valid JSON or an error.
func FuzzResponse(f *testing.F) {
	reqs := fuzzRequests(f)
	answers, streams := fuzzChatAnswers(f)
	for i, a := range answers {
		f.Add(a, uint8(i))
	}
	for i, s := range streams {
		f.Add(bytes.SplitN(s, []byte("\n"), 2)[0], uint8(i))
	}
	f.Add([]byte(`{"id":5,"choices":[{"message":{"content":7,"tool_calls":[{"id":null,"function":{"name":{},"arguments":"{\"a\":"}},{"type":"custom","custom":{"name":"x","input":3}}],"reasoning_content":[1]},"finish_reason":9}],"usage":{"prompt_tokens":-5,"completion_tokens":1e30,"prompt_tokens_details":{"cached_tokens":"x"}}}`), uint8(1))
	f.Add([]byte(`{"choices":[]}`), uint8(2))
	f.Add([]byte(`[1,2]`), uint8(3))
	f.Fuzz(func(t *testing.T, chat []byte, pick uint8) {
		req := reqs[int(pick)%len(reqs)]
		target := fuzzTargets[int(pick/16)%len(fuzzTargets)]
		out, err := req.Response(target, chat)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("Response is invalid JSON: %q", out)
		}
	})
}

// FuzzStream feeds a stream converter an arbitrary sequence of chunk JSONs
// (the input split at newlines): no panic, every event's data valid JSON
// of the type its name says, message_start first, content blocks opened,
// filled and closed one at a time, and after End one message_delta and
// message_stop last.
func FuzzStream(f *testing.F) {
	reqs := fuzzRequests(f)
	answers, streams := fuzzChatAnswers(f)
	for i, s := range streams {
		f.Add(s, uint8(i))
	}
	f.Add(bytes.Join([][]byte{
		[]byte(`{"id":"c","choices":[{"index":0,"delta":{"reasoning_content":"a"}}]}`),
		[]byte(`{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":3,"id":"x","function":{"name":"f","arguments":"{"}}]}}]}`),
		[]byte(`{"id":"c","choices":[{"index":1,"delta":{"content":"other choice"}}]}`),
		[]byte(`{"id":"c","choices":[{"index":0,"delta":{"content":"t","tool_calls":[{"index":0,"function":{"arguments":"}"}}]}}]}`),
		[]byte(`{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":3,"function":{"arguments":"\"a\":1}"}}]},"finish_reason":"tool_calls"}]}`),
		[]byte(`{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}`),
	}, []byte("\n")), uint8(5))
	f.Add([]byte("{}\n[]\nnull\n\"x\"\n{\"choices\":5}\n{\"error\":{\"message\":\"m\"}}"), uint8(7))
	f.Add(answers[0], uint8(0))
	f.Fuzz(func(t *testing.T, input []byte, pick uint8) {
		req := reqs[int(pick)%len(reqs)]
		target := fuzzTargets[int(pick/16)%len(fuzzTargets)]
		s := req.NewStream(target)
		var events []adapter.Chunk
		keep := func(cs []adapter.Chunk) {
			for _, c := range cs {
				events = append(events, adapter.Chunk{Event: bytes.Clone(c.Event), Data: bytes.Clone(c.Data), Comment: c.Comment})
			}
		}
		ended := true
		for _, chunk := range bytes.Split(input, []byte("\n")) {
			cs, err := s.Chunk(chunk)
			if err != nil {
				ended = false
				break
			}
			keep(cs)
		}
		if ended {
			keep(s.End())
		}
		_ = s.Usage()
		checkFuzzEvents(t, events, ended)
	})
}

// checkFuzzEvents checks the event order every Messages stream keeps;
// ended tells whether End was called (else the stream may stop anywhere).
func checkFuzzEvents(t *testing.T, events []adapter.Chunk, ended bool) {
	t.Helper()
	open, next := -1, 0
	sawDelta, sawStop := false, false
	for i, e := range events {
		if e.Comment {
			continue
		}
		if !json.Valid(e.Data) {
			t.Fatalf("event %d (%s): invalid JSON %q", i, e.Event, e.Data)
		}
		if sawStop {
			t.Fatalf("event %d (%s) after message_stop", i, e.Event)
		}
		d := gjson.ParseBytes(e.Data)
		if d.Get("type").Str != string(e.Event) {
			t.Fatalf("event %d: named %q, type %q", i, e.Event, d.Get("type").Str)
		}
		if (i == 0) != (string(e.Event) == "message_start") {
			t.Fatalf("event %d is %s: message_start must be first and only first", i, e.Event)
		}
		if sawDelta && string(e.Event) != "message_stop" && string(e.Event) != "ping" {
			t.Fatalf("event %d (%s) after message_delta", i, e.Event)
		}
		switch string(e.Event) {
		case "message_start", "ping":
		case "content_block_start":
			if open >= 0 {
				t.Fatalf("event %d: a block opened while block %d is open", i, open)
			}
			if idx := int(d.Get("index").Int()); idx != next {
				t.Fatalf("event %d: block index %d, want %d", i, idx, next)
			}
			open = next
		case "content_block_delta":
			if idx := int(d.Get("index").Int()); idx != open || open < 0 {
				t.Fatalf("event %d: delta for block %d, open is %d", i, idx, open)
			}
		case "content_block_stop":
			if idx := int(d.Get("index").Int()); idx != open || open < 0 {
				t.Fatalf("event %d: stop for block %d, open is %d", i, idx, open)
			}
			open = -1
			next++
		case "message_delta":
			if open >= 0 {
				t.Fatalf("event %d: message_delta with block %d open", i, open)
			}
			sawDelta = true
		case "message_stop":
			if !sawDelta {
				t.Fatalf("event %d: message_stop without message_delta", i)
			}
			sawStop = true
		default:
			t.Fatalf("event %d: unexpected %q", i, e.Event)
		}
	}
	if ended && (!sawStop || len(events) == 0 || string(events[0].Event) != "message_start") {
		t.Fatalf("a stream that ended has no message_start first or no message_stop last (%d events)", len(events))
	}
}
