package responses

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
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

// fuzzFiles returns the contents of the files matching pattern.
func fuzzFiles(f *testing.F, pattern string) [][]byte {
	files, _ := filepath.Glob(pattern)
	if len(files) == 0 {
		f.Fatalf("no files match %s", pattern)
	}
	var out [][]byte
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, raw)
	}
	return out
}

// fuzzStreams returns real Chat Completions streams as chunk JSONs joined
// by newlines (one chunk per line).
func fuzzStreams(f *testing.F) [][]byte {
	files, _ := filepath.Glob("testdata/streams/*.sse")
	if len(files) == 0 {
		f.Fatal("no streams in testdata/streams")
	}
	var out [][]byte
	for _, name := range files {
		out = append(out, bytes.Join(readChunks(&testing.T{}, name), []byte("\n")))
	}
	return out
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

// FuzzParseChat parses arbitrary bodies and converts what Parse accepts for
// every target: nothing may panic, every Chat body is valid JSON that
// openai.Peek accepts, every refusal an *inbound.Error.
func FuzzParseChat(f *testing.F) {
	for _, b := range fuzzFiles(f, "testdata/clients/*.json") {
		f.Add(b)
	}
	f.Add([]byte(`{"model":"m","instructions":"i","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"a"},{"type":"input_image","image_url":"data:image/png;base64,AA=="},{"type":"input_file","file_data":"x"}]},{"type":"reasoning","id":"r","summary":[{"type":"summary_text","text":"s"}],"encrypted_content":"e"},{"type":"function_call","call_id":"c","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"c","output":[{"type":"input_text","text":"o"}]},{"type":"custom_tool_call","call_id":"d","name":"apply_patch","input":"p"},{"type":"custom_tool_call_output","call_id":"d","output":"ok"}],"tools":[{"type":"function","name":"f","parameters":{"type":"object"}},{"type":"custom","name":"apply_patch","format":{"type":"grammar"}},{"type":"web_search"}],"tool_choice":{"type":"function","name":"f"},"parallel_tool_calls":false,"max_output_tokens":50,"temperature":1,"reasoning":{"effort":"high","summary":"auto"},"text":{"format":{"type":"json_schema","name":"n","schema":{"type":"object"},"strict":true}},"store":false,"stream":true}`))
	f.Add([]byte(`{"model":"m","input":{},"tools":"x","tool_choice":5,"instructions":7,"max_output_tokens":"9","text":[],"reasoning":"high"}`))
	f.Add([]byte(`{"model":"m","input":"\ud800","max_output_tokens":1e400,"temperature":9,"top_p":-1}`))
	f.Add([]byte(`{"model":"m","input":[5,null,"x",{"type":"message","content":null},{"role":"assistant","content":[{"type":"output_text"}]}],"previous_response_id":"resp_x"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := newTestDialect(nil).Parse(body, nil)
		if err != nil {
			var ie *inbound.Error
			if !errors.As(err, &ie) || ie.Status/100 != 4 {
				t.Fatalf("Parse: %v is not a 4xx *inbound.Error", err)
			}
			return
		}
		_, _ = req.Model(), req.Stream()
		checkNative(t, req.Native())
		for _, target := range fuzzTargets {
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
	})
}

// fuzzRequestBodies are the requests the answer fuzzers answer: the
// captures and one with every kind of tool.
func fuzzRequestBodies(f *testing.F) [][]byte {
	return append(fuzzFiles(f, "testdata/clients/*.json"), []byte(streamBody))
}

// FuzzResponse converts arbitrary bytes and mutated real Chat answers for
// a captured request and a target: no panic, valid JSON or an error.
func FuzzResponse(f *testing.F) {
	bodies := fuzzRequestBodies(f)
	for i, a := range fuzzFiles(f, "testdata/answers/*.json") {
		f.Add(a, uint8(i))
	}
	for i, s := range fuzzStreams(f) {
		f.Add(bytes.SplitN(s, []byte("\n"), 2)[0], uint8(i))
	}
	f.Add([]byte(`{"id":5,"choices":[{"message":{"content":7,"tool_calls":[{"id":null,"function":{"name":{},"arguments":"{\"a\":"}},{"id":"c","function":{"name":"apply_patch","arguments":"{\"input\":3}"}}],"reasoning_content":[1]},"finish_reason":9}],"usage":{"prompt_tokens":-5,"completion_tokens":1e30,"prompt_tokens_details":{"cached_tokens":"x"}}}`), uint8(7))
	f.Add([]byte(`{"choices":[]}`), uint8(2))
	f.Add([]byte(`[1,2]`), uint8(3))
	f.Fuzz(func(t *testing.T, chat []byte, pick uint8) {
		req, err := newTestDialect(nil).Parse(bodies[int(pick)%len(bodies)], nil)
		if err != nil {
			t.Fatal(err)
		}
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
// of the type its name says, sequence_number counting up from 0, one item
// open at a time, and a terminal event last, after End or Fail.
func FuzzStream(f *testing.F) {
	bodies := fuzzRequestBodies(f)
	for i, s := range fuzzStreams(f) {
		f.Add(s, uint8(i))
	}
	f.Add(bytes.Join([][]byte{
		[]byte(`{"id":"c","choices":[{"index":0,"delta":{"reasoning_content":"a"}}]}`),
		[]byte(`{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":3,"id":"x","function":{"name":"apply_patch","arguments":"{\"input\":\"\\u00"}}]}}]}`),
		[]byte(`{"id":"c","choices":[{"index":1,"delta":{"content":"other choice"}}]}`),
		[]byte(`{"id":"c","choices":[{"index":0,"delta":{"content":"t","tool_calls":[{"index":0,"function":{"arguments":"}"}}]}}]}`),
		[]byte(`{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":3,"function":{"arguments":"e9\"}"}}]},"finish_reason":"tool_calls"}]}`),
		[]byte(`{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}`),
	}, []byte("\n")), uint8(7))
	f.Add([]byte("{}\n[]\nnull\n\"x\"\n{\"choices\":5}\n{\"error\":{\"message\":\"m\"}}"), uint8(7))
	f.Fuzz(func(t *testing.T, input []byte, pick uint8) {
		req, err := newTestDialect(nil).Parse(bodies[int(pick)%len(bodies)], nil)
		if err != nil {
			t.Fatal(err)
		}
		target := fuzzTargets[int(pick/16)%len(fuzzTargets)]
		s := req.NewStream(target)
		var events []adapter.Chunk
		keep := func(cs []adapter.Chunk) {
			for _, c := range cs {
				events = append(events, adapter.Chunk{Event: bytes.Clone(c.Event), Data: bytes.Clone(c.Data), Comment: c.Comment})
			}
		}
		failed := false
		for _, chunk := range bytes.Split(input, []byte("\n")) {
			cs, err := s.Chunk(chunk)
			if err != nil {
				failed = true
				break
			}
			keep(cs)
		}
		if failed {
			keep(s.(inbound.StreamFailer).Fail(&inboundErr503))
		} else {
			keep(s.End())
		}
		_ = s.Usage()
		checkFuzzEvents(t, events)
	})
}

// checkFuzzEvents checks what checkStream checks, on chunks.
func checkFuzzEvents(t *testing.T, events []adapter.Chunk) {
	t.Helper()
	var seq int64
	open := int64(-1)
	terminal := false
	for i, e := range events {
		if e.Comment {
			continue
		}
		if terminal {
			t.Fatalf("event %d (%s) after the terminal event", i, e.Event)
		}
		if !json.Valid(e.Data) {
			t.Fatalf("event %d (%s): invalid JSON %q", i, e.Event, e.Data)
		}
		d := gjson.ParseBytes(e.Data)
		if d.Get("type").Str != string(e.Event) {
			t.Fatalf("event %d: named %q, type %q", i, e.Event, d.Get("type").Str)
		}
		if n := d.Get("sequence_number"); n.Type != gjson.Number || n.Int() != seq {
			t.Fatalf("event %d (%s) has sequence_number %s, want %d", i, e.Event, n.Raw, seq)
		}
		seq++
		switch string(e.Event) {
		case "response.output_item.added":
			if open >= 0 {
				t.Fatalf("event %d: item %d added while item %d is open", i, d.Get("output_index").Int(), open)
			}
			open = d.Get("output_index").Int()
		case "response.output_item.done":
			if d.Get("output_index").Int() != open {
				t.Fatalf("event %d: item %d done while item %d is open", i, d.Get("output_index").Int(), open)
			}
			open = -1
		case "response.completed", "response.incomplete", "response.failed":
			terminal = true
		}
	}
	if !terminal {
		t.Fatalf("the stream does not end with response.completed, .incomplete or .failed")
	}
}
