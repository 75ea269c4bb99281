package anthropic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"aigateway/internal/adapter"
	"aigateway/internal/sse"
)

// BenchmarkTranslateStream converts a 20-chunk text stream, the loadbench
// stream, event by event.
func BenchmarkTranslateStream(b *testing.B) {
	var events []sse.Event
	add := func(name, data string) { events = append(events, sse.Event{Name: []byte(name), Data: []byte(data)}) }
	add("message_start", `{"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"output_tokens":1}}}`)
	add("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`)
	for i := range 20 {
		add("content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"w%d "}}`, i))
	}
	add("content_block_stop", `{"type":"content_block_stop","index":0}`)
	add("message_delta", `{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":20}}`)
	add("message_stop", `{"type":"message_stop"}`)
	b.ReportAllocs()
	for b.Loop() {
		tr := NewTranslator(false, 1700000000)
		n := 0
		for _, ev := range events {
			out, err := tr.Event(ev)
			if err != nil {
				b.Fatal(err)
			}
			for _, c := range out.Chunks {
				n += len(c)
			}
		}
		if n == 0 {
			b.Fatal("no output")
		}
	}
}

// FuzzFastDelta checks that the gjson fast path reads a delta event exactly
// as the full decode does, whenever it takes the event.
func FuzzFastDelta(f *testing.F) {
	for _, s := range []string{
		`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi \"x\" \u00e9"}}`,
		`{"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":"{\"a\":"}}`,
		`{"type":"content_block_delta","index":1.5,"delta":{"type":"text_delta","text":"x"}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"x"}}`,
		`{"Type":"content_block_delta","type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x","Text":"y"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := fastDelta(data)
		if !ok {
			return
		}
		// encoding/json matches keys in any case and takes the last of
		// duplicates; real upstreams never send either. Compare where the
		// two readings are defined to agree.
		lower := bytes.ToLower(data)
		for _, k := range []string{`"type"`, `"text"`, `"index"`, `"delta"`, `"partial_json"`} {
			if bytes.Count(lower, []byte(k)) != bytes.Count(data, []byte(k)) || bytes.Count(data, []byte(k)) > 2 {
				return
			}
		}
		var full streamEvent
		if err := adapter.DecodeJSON(data, &full); err != nil {
			t.Fatalf("fast path took %s, which does not decode: %v", data, err)
		}
		if full.Type != fast.Type || full.Index != fast.Index || full.Delta == nil {
			t.Fatalf("%s: fast %+v, full %+v", data, fast, full)
		}
		// What matters is the chunk each reading yields.
		out := func(e *streamEvent) string {
			tr := NewTranslator(false, 1).(*translator)
			tr.started = true
			tr.tools[e.Index] = &toolBlock{}
			var vals []any
			for _, c := range tr.blockDelta(e) {
				var v any
				if err := json.Unmarshal(c, &v); err != nil {
					t.Fatalf("invalid chunk %s: %v", c, err)
				}
				vals = append(vals, v)
			}
			return fmt.Sprint(vals)
		}
		if f, g := out(&fast), out(&full); f != g {
			t.Fatalf("%s: fast path yields %s, full decode %s", data, f, g)
		}
	})
}
