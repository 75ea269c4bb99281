package anthropic

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
	"aigateway/internal/sse"
)

// streamResult is what a translator made of a whole upstream stream.
type streamResult struct {
	chunks [][]byte
	done   bool  // Event reported message_stop
	err    error // from Event, or from End when the stream ended without done
}

// translate feeds src through an sse.Reader into a new translator, the way
// the stream plumbing does, until done, an error, or EOF (then End).
func translate(t testing.TB, src io.Reader, includeUsage bool) (streamResult, adapter.Translator) {
	t.Helper()
	tr := NewTranslator(includeUsage, created)
	r := sse.NewReader(src, 0)
	var res streamResult
	for {
		ev, err := r.Next()
		if err == io.EOF {
			chunks, err := tr.End()
			res.chunks = append(res.chunks, copyChunks(chunks)...)
			res.err = err
			return res, tr
		}
		if err != nil {
			t.Fatalf("sse: %v", err)
		}
		out, err := tr.Event(ev)
		chunks, done := out.Chunks, out.Done
		res.chunks = append(res.chunks, copyChunks(chunks)...)
		if err != nil || done {
			res.done, res.err = done, err
			return res, tr
		}
	}
}

func copyChunks(chunks [][]byte) [][]byte {
	out := make([][]byte, len(chunks))
	for i, c := range chunks {
		out[i] = bytes.Clone(c)
	}
	return out
}

// expectedChunks reads the data payloads of an OpenAI SSE file, without
// [DONE] (which the stream plumbing writes when Event reports done).
func expectedChunks(t testing.TB, name string) [][]byte {
	t.Helper()
	r := sse.NewReader(bytes.NewReader(readTestdata(t, name)), 0)
	var out [][]byte
	sawDone := false
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if sse.IsDone(ev.Data) {
			sawDone = true
			continue
		}
		out = append(out, bytes.Clone(ev.Data))
	}
	if !sawDone {
		t.Fatalf("%s has no [DONE]", name)
	}
	return out
}

// TestTranslatorGolden runs the shared Anthropic stream through the
// translator and compares every chunk, as a JSON value, with the shared
// translation. Both deliveries matter: one byte at a time is how a slow
// network splits events, and it must not change a single chunk.
func TestTranslatorGolden(t *testing.T) {
	input := readTestdata(t, "anthropic-stream-tooluse.sse")
	want := expectedChunks(t, "translated-anthropic-to-openai.sse")
	for name, src := range map[string]func() io.Reader{
		"whole":    func() io.Reader { return bytes.NewReader(input) },
		"one byte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(input)) },
		"crlf": func() io.Reader {
			return bytes.NewReader(bytes.ReplaceAll(input, []byte("\n"), []byte("\r\n")))
		},
	} {
		t.Run(name, func(t *testing.T) {
			res, tr := translate(t, src(), true)
			if res.err != nil || !res.done {
				t.Fatalf("done = %v, err = %v; want done and no error", res.done, res.err)
			}
			if len(res.chunks) != len(want) {
				t.Errorf("got %d chunks, want %d", len(res.chunks), len(want))
			}
			for i := range min(len(res.chunks), len(want)) {
				if d := diffJSON(t, want[i], res.chunks[i]); d != "" {
					t.Errorf("chunk %d (-want +got):\n%s", i, d)
				}
			}
			if got, want := tr.Usage(), (adapter.Usage{PromptTokens: 405, CompletionTokens: 88, TotalTokens: 493}); got != want {
				t.Errorf("Usage() = %+v, want %+v", got, want)
			}
			if chunks, err := tr.End(); err != nil || len(chunks) != 0 {
				t.Errorf("End after message_stop = %d chunks, %v; want nothing", len(chunks), err)
			}
		})
	}
}

func TestTranslatorWithoutIncludeUsage(t *testing.T) {
	res, _ := translate(t, bytes.NewReader(readTestdata(t, "anthropic-stream-tooluse.sse")), false)
	want := expectedChunks(t, "translated-anthropic-to-openai.sse")
	if len(res.chunks) != len(want)-1 {
		t.Fatalf("got %d chunks, want %d (all but the usage chunk)", len(res.chunks), len(want)-1)
	}
	for _, c := range res.chunks {
		if gjson.GetBytes(c, "usage").Exists() {
			t.Errorf("chunk has usage although include_usage was not set: %s", c)
		}
	}
}

// TestTranslatorThinking uses the replies Claude Code's stub server sent:
// the thinking block comes first (index 0), so the tool call is block 1 but
// must be tool call 0, and no thinking text may reach the client.
func TestTranslatorThinking(t *testing.T) {
	for _, name := range []string{"anthropic-messages-tool_use-with-thinking.sse", "anthropic-messages-text-with-thinking.sse"} {
		t.Run(name, func(t *testing.T) {
			res, _ := translate(t, iotest.OneByteReader(bytes.NewReader(readTestdata(t, name))), true)
			if res.err != nil || !res.done {
				t.Fatalf("done = %v, err = %v", res.done, res.err)
			}
			for _, c := range res.chunks {
				if bytes.Contains(c, []byte("STUB-THINKING")) || bytes.Contains(c, []byte("c3R1Yi1zaWduYXR1cmU")) {
					t.Errorf("thinking leaked into a chunk: %s", c)
				}
				for _, idx := range gjson.GetBytes(c, "choices.0.delta.tool_calls.#.index").Array() {
					if idx.Int() != 0 {
						t.Errorf("tool call index %d, want 0 (the only tool call): %s", idx.Int(), c)
					}
				}
			}
		})
	}
}

// Events that yield nothing for the client still show the upstream at
// work (the stream turns them into keep-alive comments); a malformed event,
// judged by the next call, does not.
func TestTranslatorAlive(t *testing.T) {
	const start = `{"type":"message_start","message":{"id":"msg_1","model":"claude-x","usage":{"input_tokens":1}}}`
	tests := []struct {
		name      string
		events    []string // data of the events before the one checked
		event     string
		wantAlive bool
	}{
		{"ping before message_start", nil, `{"type":"ping"}`, true},
		{"ping", []string{start}, `{"type":"ping"}`, true},
		{"thinking block", []string{start}, `{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}`, true},
		{"thinking delta", []string{start}, `{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}}`, true},
		{"signature delta", []string{start}, `{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"c2ln"}}`, true},
		{"unknown event type", []string{start}, `{"type":"server_tool_progress"}`, true},
		{"malformed event", nil, `{"type":"message_start",`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTranslator(false, created)
			for _, d := range tt.events {
				if _, err := tr.Event(sse.Event{Data: []byte(d)}); err != nil {
					t.Fatal(err)
				}
			}
			out, err := tr.Event(sse.Event{Data: []byte(tt.event)})
			if err != nil || len(out.Chunks) != 0 || out.Done || out.Alive != tt.wantAlive {
				t.Errorf("Event = %+v, %v; want no chunks, Alive %v", out, err, tt.wantAlive)
			}
		})
	}
}

func TestTranslatorInBandError(t *testing.T) {
	res, _ := translate(t, iotest.OneByteReader(bytes.NewReader(readTestdata(t, "anthropic-stream-error.sse"))), true)
	if res.done {
		t.Error("done after an error event")
	}
	if res.err == nil {
		t.Fatal("no error for an error event")
	}
	ae := asAdapterError(t, res.err)
	if ae.Err.Type != "overloaded_error" || ae.Err.Message != "Overloaded" || ae.Status != http.StatusServiceUnavailable {
		t.Errorf("error = %d %q %q, want 503 overloaded_error Overloaded", ae.Status, ae.Err.Type, ae.Err.Message)
	}
	// What came before the error was still sent: the role chunk and "Hel".
	if len(res.chunks) != 2 || gjson.GetBytes(res.chunks[1], "choices.0.delta.content").Str != "Hel" {
		t.Errorf("chunks before the error = %q", res.chunks)
	}
}

func TestTranslatorCutStream(t *testing.T) {
	input := string(readTestdata(t, "anthropic-stream-tooluse.sse"))
	for name, cut := range map[string]string{
		"before message_stop":                     input[:strings.Index(input, "event: message_stop")],
		"inside a tool call":                      input[:strings.Index(input, `"kyo`)],
		"before message_start":                    "",
		"only a ping":                             "event: ping\ndata: {\"type\":\"ping\"}\n\n",
		"after message_delta, event unterminated": input[:strings.Index(input, `{"type":"message_stop"}`)],
	} {
		t.Run(name, func(t *testing.T) {
			res, _ := translate(t, strings.NewReader(cut), true)
			if res.done {
				t.Fatal("done without message_stop")
			}
			ae := asAdapterError(t, res.err)
			if ae.Status != http.StatusBadGateway || ae.Err.Code != "stream_incomplete" {
				t.Errorf("End error = %d %q, want 502 stream_incomplete", ae.Status, ae.Err.Code)
			}
		})
	}
}

// events builds an Anthropic stream from data payloads (event names are
// taken from their type, as Anthropic sends them).
func events(datas ...string) string {
	var b strings.Builder
	for _, d := range datas {
		b.WriteString("event: " + gjson.Get(d, "type").Str + "\ndata: " + d + "\n\n")
	}
	return b.String()
}

const (
	evStart    = `{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"usage":{"input_tokens":7,"cache_creation_input_tokens":100,"cache_read_input_tokens":2000,"output_tokens":1}}}`
	evStop     = `{"type":"message_stop"}`
	evEndTurn  = `{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":9}}`
	evToolStop = `{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":9}}`
)

// deltas returns the chunks' deltas, finish reasons and usages as compact
// JSON lines, which is all these tests look at.
func deltas(chunks [][]byte) []string {
	var out []string
	for _, c := range chunks {
		switch {
		case gjson.GetBytes(c, "usage").Exists():
			out = append(out, "usage "+gjson.GetBytes(c, "usage").Raw)
		case gjson.GetBytes(c, "choices.0.finish_reason").Type == gjson.String:
			out = append(out, "finish "+gjson.GetBytes(c, "choices.0.finish_reason").Str)
		default:
			out = append(out, gjson.GetBytes(c, "choices.0.delta").Raw)
		}
	}
	return out
}

func TestTranslatorEvents(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stream string
		want   []string
	}{
		{"tool call without argument fragments gets {} at its stop",
			events(evStart,
				`{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"now","input":{}}}`,
				`{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":""}}`,
				`{"type":"content_block_stop","index":0}`, evToolStop, evStop),
			[]string{`{"role":"assistant","content":""}`,
				`{"tool_calls":[{"index":0,"id":"toolu_1","type":"function","function":{"name":"now","arguments":""}}]}`,
				`{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}`,
				"finish tool_calls",
				`usage {"prompt_tokens":2107,"completion_tokens":9,"total_tokens":2116,"prompt_tokens_details":{"cached_tokens":2000,"cache_write_tokens":100},"completion_tokens_details":{"reasoning_tokens":0}}`}},
		{"tool call whose input came with its start",
			events(evStart,
				`{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"f","input":{"a": 1}}}`,
				`{"type":"content_block_stop","index":0}`, evToolStop, evStop),
			[]string{`{"role":"assistant","content":""}`,
				`{"tool_calls":[{"index":0,"id":"toolu_1","type":"function","function":{"name":"f","arguments":""}}]}`,
				`{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":1}"}}]}`,
				"finish tool_calls",
				`usage {"prompt_tokens":2107,"completion_tokens":9,"total_tokens":2116,"prompt_tokens_details":{"cached_tokens":2000,"cache_write_tokens":100},"completion_tokens_details":{"reasoning_tokens":0}}`}},
		{"interleaved tool blocks are routed by block index; tool index counts tool calls only",
			events(evStart,
				`{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}`,
				`{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"secret"}}`,
				`{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"c2ln"}}`,
				`{"type":"content_block_stop","index":0}`,
				`{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_a","name":"f","input":{}}}`,
				`{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_b","name":"g","input":{}}}`,
				`{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"b\":"}}`,
				`{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a\":1}"}}`,
				`{"type":"ping"}`,
				`{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"2}"}}`,
				`{"type":"content_block_stop","index":1}`,
				`{"type":"content_block_stop","index":2}`, evToolStop, evStop),
			[]string{`{"role":"assistant","content":""}`,
				`{"tool_calls":[{"index":0,"id":"toolu_a","type":"function","function":{"name":"f","arguments":""}}]}`,
				`{"tool_calls":[{"index":1,"id":"toolu_b","type":"function","function":{"name":"g","arguments":""}}]}`,
				`{"tool_calls":[{"index":1,"function":{"arguments":"{\"b\":"}}]}`,
				`{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":1}"}}]}`,
				`{"tool_calls":[{"index":1,"function":{"arguments":"2}"}}]}`,
				"finish tool_calls",
				`usage {"prompt_tokens":2107,"completion_tokens":9,"total_tokens":2116,"prompt_tokens_details":{"cached_tokens":2000,"cache_write_tokens":100},"completion_tokens_details":{"reasoning_tokens":0}}`}},
		{"message_delta usage is assigned, not added; its cache split wins",
			events(evStart,
				`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
				`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}`,
				`{"type":"content_block_stop","index":0}`,
				`{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"input_tokens":7,"cache_creation_input_tokens":0,"cache_read_input_tokens":2100,"output_tokens":5}}`,
				evStop),
			[]string{`{"role":"assistant","content":""}`, `{"content":"Hi"}`, "finish stop",
				`usage {"prompt_tokens":2107,"completion_tokens":5,"total_tokens":2112,"prompt_tokens_details":{"cached_tokens":2100},"completion_tokens_details":{"reasoning_tokens":0}}`}},
		{"refusal",
			events(evStart, `{"type":"message_delta","delta":{"stop_reason":"refusal"},"usage":{"output_tokens":3}}`, evStop),
			[]string{`{"role":"assistant","content":""}`, "finish content_filter",
				`usage {"prompt_tokens":2107,"completion_tokens":3,"total_tokens":2110,"prompt_tokens_details":{"cached_tokens":2000,"cache_write_tokens":100},"completion_tokens_details":{"reasoning_tokens":0}}`}},
		{"unknown stop reason and unknown event type",
			events(evStart, `{"type":"brand_new_event","x":1}`, `{"type":"message_delta","delta":{"stop_reason":"brand_new"},"usage":{"output_tokens":3}}`, evStop),
			[]string{`{"role":"assistant","content":""}`, "finish stop",
				`usage {"prompt_tokens":2107,"completion_tokens":3,"total_tokens":2110,"prompt_tokens_details":{"cached_tokens":2000,"cache_write_tokens":100},"completion_tokens_details":{"reasoning_tokens":0}}`}},
		{"message_stop without message_delta still finishes, once",
			events(evStart, `{"type":"message_delta","delta":{"stop_reason":null},"usage":{"output_tokens":2}}`, evStop),
			[]string{`{"role":"assistant","content":""}`, "finish stop",
				`usage {"prompt_tokens":2107,"completion_tokens":2,"total_tokens":2109,"prompt_tokens_details":{"cached_tokens":2000,"cache_write_tokens":100},"completion_tokens_details":{"reasoning_tokens":0}}`}},
		{"a second message_delta does not finish twice",
			events(evStart, evEndTurn, `{"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":12}}`, evStop),
			[]string{`{"role":"assistant","content":""}`, "finish stop",
				`usage {"prompt_tokens":2107,"completion_tokens":12,"total_tokens":2119,"prompt_tokens_details":{"cached_tokens":2000,"cache_write_tokens":100},"completion_tokens_details":{"reasoning_tokens":0}}`}},
		{"without event lines",
			"data: " + evStart + "\n\ndata: " + evEndTurn + "\n\ndata: " + evStop + "\n\n",
			[]string{`{"role":"assistant","content":""}`, "finish stop",
				`usage {"prompt_tokens":2107,"completion_tokens":9,"total_tokens":2116,"prompt_tokens_details":{"cached_tokens":2000,"cache_write_tokens":100},"completion_tokens_details":{"reasoning_tokens":0}}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, _ := translate(t, strings.NewReader(tc.stream), true)
			if res.err != nil || !res.done {
				t.Fatalf("done = %v, err = %v", res.done, res.err)
			}
			got := deltas(res.chunks)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d chunks, want %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
			}
			for i := range got {
				g, w := got[i], tc.want[i]
				if strings.HasPrefix(w, "{") || strings.HasPrefix(w, "usage ") {
					if d := diffJSON(t, []byte(strings.TrimPrefix(w, "usage ")), []byte(strings.TrimPrefix(g, "usage "))); d != "" || strings.HasPrefix(w, "usage ") != strings.HasPrefix(g, "usage ") {
						t.Errorf("chunk %d: got %s, want %s", i, g, w)
					}
				} else if g != w {
					t.Errorf("chunk %d: got %s, want %s", i, g, w)
				}
			}
			// One id, created and model for every chunk.
			for _, c := range res.chunks {
				if id, cr, m := gjson.GetBytes(c, "id").Str, gjson.GetBytes(c, "created").Int(), gjson.GetBytes(c, "model").Str; id != "chatcmpl-msg_1" || cr != created || m != "claude-x" {
					t.Errorf("chunk with id %q created %d model %q: %s", id, cr, m, c)
				}
			}
		})
	}
}

func TestTranslatorProtocolErrors(t *testing.T) {
	for _, tc := range []struct {
		name, stream string
		status       int
		typ, code    string
	}{
		{"malformed JSON", events(evStart) + "event: content_block_delta\ndata: {\"type\":\n\n" + events(evStop), http.StatusBadGateway, openai.TypeUpstream, "upstream_invalid_response"},
		{"content before message_start", events(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}`), http.StatusBadGateway, openai.TypeUpstream, "upstream_invalid_response"},
		{"error event without details", "event: error\ndata: {}\n\n", http.StatusInternalServerError, "api_error", ""},
		{"error event named only by its type", "data: {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"slow down\"}}\n\n", http.StatusTooManyRequests, "rate_limit_error", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, _ := translate(t, strings.NewReader(tc.stream), true)
			if res.done || res.err == nil {
				t.Fatalf("done = %v, err = %v; want an error", res.done, res.err)
			}
			ae := asAdapterError(t, res.err)
			if ae.Status != tc.status || ae.Err.Type != tc.typ || ae.Err.Code != tc.code || ae.Err.Message == "" {
				t.Errorf("error = %d %q %q %q, want %d %q %q", ae.Status, ae.Err.Type, ae.Err.Code, ae.Err.Message, tc.status, tc.typ, tc.code)
			}
			if errors.Is(res.err, io.EOF) {
				t.Error("a protocol error must not look like EOF")
			}
		})
	}
}
