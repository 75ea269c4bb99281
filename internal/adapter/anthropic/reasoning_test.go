package anthropic

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/tidwall/gjson"

	"aigateway/internal/sse"
)

// translateReasoning is translate with TranslatorOptions.Reasoning.
func translateReasoning(t *testing.T, src io.Reader) [][]byte {
	t.Helper()
	tr := NewTranslatorOptions(TranslatorOptions{IncludeUsage: true, Created: created, Reasoning: true})
	r := sse.NewReader(src, 0)
	var chunks [][]byte
	for {
		ev, err := r.Next()
		if err == io.EOF {
			out, err := tr.End()
			if err != nil {
				t.Fatalf("End: %v", err)
			}
			return append(chunks, copyChunks(out)...)
		}
		if err != nil {
			t.Fatalf("sse: %v", err)
		}
		out, err := tr.Event(ev)
		if err != nil {
			t.Fatalf("Event: %v", err)
		}
		chunks = append(chunks, copyChunks(out.Chunks)...)
		if out.Done {
			return chunks
		}
	}
}

// A request that asked for reasoning gets the thinking as
// delta.reasoning_content and its signature as delta.reasoning_signature,
// fed whole and one byte at a time; the tool call keeps index 0.
func TestTranslatorReasoning(t *testing.T) {
	for _, name := range []string{"anthropic-messages-tool_use-with-thinking.sse", "anthropic-messages-text-with-thinking.sse"} {
		for _, oneByte := range []bool{false, true} {
			var src io.Reader = bytes.NewReader(readTestdata(t, name))
			if oneByte {
				src = iotest.OneByteReader(src)
			}
			var text, sig strings.Builder
			for _, c := range translateReasoning(t, src) {
				d := gjson.GetBytes(c, "choices.0.delta")
				text.WriteString(d.Get("reasoning_content").Str)
				sig.WriteString(d.Get("reasoning_signature").Str)
				for _, idx := range d.Get("tool_calls.#.index").Array() {
					if idx.Int() != 0 {
						t.Errorf("%s: tool call index %d", name, idx.Int())
					}
				}
			}
			if text.String() != "STUB-THINKING: the user wants the marker." || sig.String() != "c3R1Yi1zaWduYXR1cmU=" {
				t.Errorf("%s (one byte %v): reasoning %q, signature %q", name, oneByte, text.String(), sig.String())
			}
		}
	}
}

// A redacted_thinking block's data rides in the signature after the
// thinking block's signature, space-separated across deltas.
func TestTranslatorRedactedThinking(t *testing.T) {
	stream := `event: message_start
data: {"type":"message_start","message":{"id":"msg_1","model":"claude-x","usage":{"input_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Hmm."}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"sigA"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"redacted_thinking","data":"ENC"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":3}}

event: message_stop
data: {"type":"message_stop"}

`
	var sig strings.Builder
	for _, c := range translateReasoning(t, strings.NewReader(stream)) {
		sig.WriteString(gjson.GetBytes(c, "choices.0.delta.reasoning_signature").Str)
	}
	if sig.String() != "sigA redacted:ENC" {
		t.Errorf("signature %q", sig.String())
	}
}

func TestConvertResponseReasoning(t *testing.T) {
	body := []byte(`{"id":"msg_1","type":"message","model":"claude-x","content":[
		{"type":"thinking","thinking":"Let me think.","signature":"sig-1"},
		{"type":"redacted_thinking","data":"ENC"},
		{"type":"text","text":"Answer."}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":2}}`)
	got, _, err := ConvertResponseWithReasoning(body, created)
	if err != nil {
		t.Fatal(err)
	}
	m := gjson.GetBytes(got, "choices.0.message")
	if m.Get("reasoning_content").Str != "Let me think." || m.Get("reasoning_signature").Str != "sig-1 redacted:ENC" || m.Get("content").Str != "Answer." {
		t.Errorf("message %s", m.Raw)
	}
	// Without reasoning asked, nothing of it shows.
	got, _, err = ConvertResponse(body, created)
	if err != nil {
		t.Fatal(err)
	}
	if m := gjson.GetBytes(got, "choices.0.message"); m.Get("reasoning_content").Exists() || m.Get("reasoning_signature").Exists() {
		t.Errorf("reasoning leaked: %s", m.Raw)
	}
}
