package messages

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/inbound"
)

const simpleRequest = `{"model":"claude-via-gateway","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hello"}]}`

// checkEvents checks the Messages stream rules of PROTOCOLS.md 4.5 that
// Claude Code depends on (INBOUND-PITFALLS 1-3): every event named after
// its data's type; message_start first with a non-zero input count; blocks
// opened, filled and closed one at a time with indexes 0, 1, ... ; one
// message_delta after the last block, then message_stop last. It returns
// the final stop_reason.
func checkEvents(t *testing.T, events []adapter.Chunk) string {
	t.Helper()
	if len(events) < 3 {
		t.Fatalf("only %d events", len(events))
	}
	open, next := -1, 0
	stop := ""
	sawDelta := false
	for i, e := range events {
		if !gjson.ValidBytes(e.Data) {
			t.Fatalf("event %d: invalid JSON %s", i, e.Data)
		}
		d := gjson.ParseBytes(e.Data)
		if d.Get("type").Str != string(e.Event) {
			t.Fatalf("event %d: named %q, type %q", i, e.Event, d.Get("type").Str)
		}
		switch string(e.Event) {
		case "message_start":
			if i != 0 {
				t.Fatalf("message_start at %d", i)
			}
			if d.Get("message.usage.input_tokens").Int() <= 0 {
				t.Errorf("message_start with input_tokens %s", d.Get("message.usage.input_tokens").Raw)
			}
			if !strings.HasPrefix(d.Get("message.id").Str, "msg_") || d.Get("message.role").Str != "assistant" {
				t.Errorf("message_start message: %s", d.Get("message").Raw)
			}
		case "ping":
		case "content_block_start":
			if open >= 0 {
				t.Fatalf("event %d: block %d opened while %d is open", i, d.Get("index").Int(), open)
			}
			if idx := int(d.Get("index").Int()); idx != next {
				t.Fatalf("event %d: block index %d, want %d", i, idx, next)
			}
			if cb := d.Get("content_block"); cb.Get("type").Str == "tool_use" && !validID(cb.Get("id").Str) {
				t.Errorf("tool_use id %q is not a valid Anthropic id", cb.Get("id").Str)
			}
			open = next
		case "content_block_delta":
			if idx := int(d.Get("index").Int()); idx != open {
				t.Fatalf("event %d: delta for block %d, open is %d", i, idx, open)
			}
		case "content_block_stop":
			if idx := int(d.Get("index").Int()); idx != open {
				t.Fatalf("event %d: stop for block %d, open is %d", i, idx, open)
			}
			open = -1
			next++
		case "message_delta":
			if open >= 0 || sawDelta {
				t.Fatalf("event %d: message_delta with block %d open or twice", i, open)
			}
			sawDelta = true
			stop = d.Get("delta.stop_reason").Str
			if d.Get("usage.output_tokens").Int() <= 0 {
				t.Errorf("message_delta without output_tokens: %s", e.Data)
			}
		case "message_stop":
			if i != len(events)-1 || !sawDelta {
				t.Fatalf("message_stop at %d of %d (message_delta seen: %v)", i, len(events), sawDelta)
			}
		default:
			t.Fatalf("event %d: unexpected %q", i, e.Event)
		}
	}
	return stop
}

// TestStreamGolden converts real Chat Completions streams and pins the
// events.
func TestStreamGolden(t *testing.T) {
	for _, tc := range []struct{ file, stop string }{
		{"chat-completions-text.sse", "end_turn"},
		{"chat-completions-tool_calls.sse", "tool_use"},
		{"openai-chat-stream-toolcalls.sse", "tool_use"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			req := parse(t, "/v1/messages", nil, []byte(simpleRequest))
			events := runStream(t, req.NewStream(chatTarget), sseData(t, "testdata/streams/"+tc.file))
			if got := checkEvents(t, events); got != tc.stop {
				t.Errorf("stop_reason %q, want %q", got, tc.stop)
			}
			golden(t, tc.file, sseText(events))
		})
	}
}

func TestStreamUsage(t *testing.T) {
	req := parse(t, "/v1/messages", nil, []byte(simpleRequest))
	s := req.NewStream(chatTarget)
	events := runStream(t, s, sseData(t, "testdata/streams/openai-chat-stream-toolcalls.sse"))
	start := gjson.GetBytes(events[0].Data, "message.usage.input_tokens").Int()
	if start != req.EstimateInputTokens() {
		t.Errorf("message_start input_tokens %d, want the estimate %d", start, req.EstimateInputTokens())
	}
	md := gjson.GetBytes(events[len(events)-2].Data, "usage")
	if md.Get("input_tokens").Int() != 412 || md.Get("output_tokens").Int() != 61 {
		t.Errorf("message_delta usage %s, want the upstream's 412 in and 61 out", md.Raw)
	}
	if u := s.Usage(); u.PromptTokens != 412 || u.CompletionTokens != 61 || u.TotalTokens != 473 || u.Estimated {
		t.Errorf("Usage() = %+v", u)
	}

	// A server that reports usage on its first chunk: message_start has
	// the real count, and message_delta does not repeat it.
	req = parse(t, "/v1/messages", nil, []byte(simpleRequest))
	events = runStream(t, req.NewStream(chatTarget), [][]byte{
		[]byte(`{"id":"c1","choices":[{"index":0,"delta":{"role":"assistant","content":"hi"}}],"usage":{"prompt_tokens":77,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":70}}}`),
		[]byte(`{"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":77,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":70}}}`),
	})
	checkEvents(t, events)
	if u := gjson.GetBytes(events[0].Data, "message.usage"); u.Get("input_tokens").Int() != 7 || u.Get("cache_read_input_tokens").Int() != 70 {
		t.Errorf("message_start usage %s, want 7 uncached + 70 cached", u.Raw)
	}
	if md := gjson.GetBytes(events[len(events)-2].Data, "usage"); md.Get("input_tokens").Exists() || md.Get("output_tokens").Int() != 2 {
		t.Errorf("message_delta usage %s", md.Raw)
	}
}

// TestStreamToolUseNotOverwritten: OpenAI sometimes ends tool calls with
// "stop" (PROTOCOLS.md 6.3), and a later chunk must not turn tool_use back
// (INBOUND-PITFALLS 2).
func TestStreamToolUseNotOverwritten(t *testing.T) {
	req := parse(t, "/v1/messages", nil, []byte(simpleRequest))
	events := runStream(t, req.NewStream(chatTarget), [][]byte{
		[]byte(`{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","function":{"name":"f","arguments":"{}"}}]}}]}`),
		[]byte(`{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`),
		[]byte(`{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`),
	})
	if got := checkEvents(t, events); got != "tool_use" {
		t.Errorf("stop_reason %q, want tool_use", got)
	}
}

// TestStreamThinkingRoundTrip: reasoning_content becomes a signed thinking
// block; replayed, it goes back as reasoning_content to the deployment
// that made it, and to no other.
func TestStreamThinkingRoundTrip(t *testing.T) {
	req := parse(t, "/v1/messages", nil, []byte(simpleRequest))
	events := runStream(t, req.NewStream(chatTarget), [][]byte{
		[]byte(`{"id":"c","choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"Let me "}}]}`),
		[]byte(`{"id":"c","choices":[{"index":0,"delta":{"reasoning_content":"think."}}]}`),
		[]byte(`{"id":"c","choices":[{"index":0,"delta":{"content":"Answer."}}]}`),
		[]byte(`{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`),
	})
	checkEvents(t, events)
	var thinking, signature, text string
	for _, e := range events {
		d := gjson.ParseBytes(e.Data)
		thinking += d.Get("delta.thinking").Str
		signature += d.Get("delta.signature").Str
		text += d.Get("delta.text").Str
	}
	if thinking != "Let me think." || text != "Answer." || !strings.HasPrefix(signature, signaturePrefix) {
		t.Fatalf("thinking %q, signature %q, text %q", thinking, signature, text)
	}
	if !strings.Contains(string(events[2].Data), `"type":"thinking"`) {
		t.Errorf("block 0 is not a thinking block: %s", events[2].Data)
	}
	next := fmt.Sprintf(`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"q"},
		{"role":"assistant","content":[{"type":"thinking","thinking":%q,"signature":%q},{"type":"text","text":"Answer."}]},{"role":"user","content":"more"}]}`, thinking, signature)
	replay := parse(t, "/v1/messages", nil, []byte(next))
	for _, tc := range []struct {
		target inbound.Target
		want   bool
	}{
		{chatTarget, true},
		{inbound.Target{Upstream: adapter.ProtocolChat, Deployment: "another"}, false},
		{inbound.Target{Upstream: adapter.ProtocolGemini, Deployment: chatTarget.Deployment}, false},
	} {
		body, _ := replay.Chat(tc.target)
		got := gjson.GetBytes(body, "messages.1.reasoning_content").Str
		if (got == thinking) != tc.want || (!tc.want && got != "") {
			t.Errorf("target %+v: reasoning_content %q, want replayed %v", tc.target, got, tc.want)
		}
	}
	// A client that edits the text loses the replay.
	edited := parse(t, "/v1/messages", nil, []byte(strings.Replace(next, "think.", "THINK.", 1)))
	if body, _ := edited.Chat(chatTarget); gjson.GetBytes(body, "messages.1.reasoning_content").Exists() {
		t.Error("an edited thinking block was replayed")
	}
}

// TestStreamOneChunkAtATime feeds every stream in pieces as small as a
// server may send them: each tool call argument one byte per chunk.
func TestStreamOneChunkAtATime(t *testing.T) {
	args := `{"city":"Tokyo","n":[1,2]}`
	chunks := [][]byte{[]byte(`{"id":"c","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}`)}
	for _, r := range "Hi there" {
		chunks = append(chunks, fmt.Appendf(nil, `{"id":"c","choices":[{"index":0,"delta":{"content":%q}}]}`, string(r)))
	}
	chunks = append(chunks, []byte(`{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"functions.get:0","type":"function","function":{"name":"get","arguments":""}}]}}]}`))
	for i := range len(args) {
		chunks = append(chunks, fmt.Appendf(nil, `{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":%q}}]}}]}`, args[i:i+1]))
	}
	chunks = append(chunks, []byte(`{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_2","function":{"name":"put","arguments":"{}"}}]}}]}`),
		[]byte(`{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`),
		[]byte(`{"id":"c","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":9,"total_tokens":14}}`))
	req := parse(t, "/v1/messages", nil, []byte(simpleRequest))
	events := runStream(t, req.NewStream(chatTarget), chunks)
	if got := checkEvents(t, events); got != "tool_use" {
		t.Errorf("stop_reason %q", got)
	}
	var gotArgs bytes.Buffer
	var ids []string
	for _, e := range events {
		d := gjson.ParseBytes(e.Data)
		if d.Get("index").Int() == 1 {
			gotArgs.WriteString(d.Get("delta.partial_json").Str)
		}
		if id := d.Get("content_block.id").Str; id != "" {
			ids = append(ids, id)
		}
	}
	if gotArgs.String() != args {
		t.Errorf("arguments %q, want %q", gotArgs.String(), args)
	}
	if len(ids) != 2 || upstreamID(ids[0]) != "functions.get:0" || upstreamID(ids[1]) != "call_2" {
		t.Errorf("tool ids %q do not map back to the upstream's", ids)
	}
}

func TestStreamEmpty(t *testing.T) {
	req := parse(t, "/v1/messages", nil, []byte(simpleRequest))
	events := runStream(t, req.NewStream(geminiTarget), nil)
	if got := checkEvents(t, events); got != "end_turn" {
		t.Errorf("stop_reason %q", got)
	}
}

func BenchmarkStream(b *testing.B) {
	req := parse(b, "/v1/messages", nil, []byte(simpleRequest))
	// Twenty text chunks, as cmd/loadbench's streams.
	chunks := [][]byte{[]byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`)}
	for i := range 20 {
		chunks = append(chunks, fmt.Appendf(nil, `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"word%d "},"finish_reason":null}]}`, i))
	}
	chunks = append(chunks, []byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`),
		[]byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":20,"total_tokens":30}}`))
	b.ReportAllocs()
	for b.Loop() {
		s := req.NewStream(chatTarget)
		for _, c := range chunks {
			if _, err := s.Chunk(c); err != nil {
				b.Fatal(err)
			}
		}
		s.End()
	}
}
