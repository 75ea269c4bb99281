package anthropic

import (
	"encoding/json"
	"fmt"
	"reflect"
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

// FuzzFastEvent checks that the gjson fast path reads an event exactly as
// the full decode does, whenever it takes the event.
func FuzzFastEvent(f *testing.F) {
	for _, s := range []string{
		`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi \"x\" \u00e9"}}`,
		`{"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":"{\"a\":"}}`,
		`{"type":"content_block_delta","index":1.5,"delta":{"type":"text_delta","text":"x"}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"x"}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"x"}}`,
		`{"Type":"content_block_delta","type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x","Text":"y"}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"\ud800 \xff"}}`,
		`{"type":"content_block_stop","index":2}`,
		`{"type":"content_block_stop","index":null}`,
		`{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":20}}`,
		`{"type":"message_delta","delta":{"stop_reason":null},"usage":{"input_tokens":5,"output_tokens":20,"cache_read_input_tokens":3,"cache_creation_input_tokens":null}}`,
		`{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":2e1}}`,
		`{"type":"message_delta","usage":{"output_tokens":-1,"ſtop":1}}`,
		`{"type":"message_stop"}`,
		`{"type":"ping","extra":[1,2,{"a":null}]}`,
		`{"type":"message_start","message":{"id":"x"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := fastEvent(data)
		if !ok {
			return
		}
		var full streamEvent
		if err := adapter.DecodeJSON(data, &full); err != nil {
			t.Fatalf("fast path took %s, which does not decode: %v", data, err)
		}
		if !reflect.DeepEqual(fast, full) {
			t.Fatalf("%s:\nfast %s\nfull %s", data, describe(fast), describe(full))
		}
	})
}

func describe(e streamEvent) string {
	b, _ := json.Marshal(e)
	return string(b)
}
