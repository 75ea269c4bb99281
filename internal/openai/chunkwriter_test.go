package openai

import (
	"encoding/json"
	"reflect"
	"testing"
)

// The hand-written chunks decode to exactly what encoding/json writes for
// the same Chunk, for every kind of text and for id or model changes
// between chunks (the cached prefix must follow them).
func TestChunkWriterMatchesEncodingJSON(t *testing.T) {
	w := &ChunkWriter{ID: "chatcmpl-1", Created: 1700000000, Model: "m"}
	texts := []string{"", "hello", "quote \" and \\ backslash", "line\nbreak\ttab\r", "\x01control", "<html> & é 漢字 \u2028", "bad \xff utf8"}
	for i, text := range texts {
		if i == 3 {
			w.ID, w.Model = "chatcmpl-2", "other \"model\""
		}
		check := func(name string, got []byte, want Chunk) {
			t.Helper()
			var g, x any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("%s %q: invalid JSON %s: %v", name, text, got, err)
			}
			wb, _ := json.Marshal(want)
			json.Unmarshal(wb, &x) //nolint:errcheck // encoded above
			if !reflect.DeepEqual(g, x) {
				t.Errorf("%s %q:\n got %s\nwant %s", name, text, got, wb)
			}
		}
		base := Chunk{ID: w.ID, Object: "chat.completion.chunk", Created: w.Created, Model: w.Model}
		c := base
		tx := text
		if text == "bad \xff utf8" {
			tx = "bad \ufffd utf8"
		}
		c.Choices = []ChunkChoice{{Delta: Delta{Content: &tx}}}
		check("content", w.Content(text), c)
		c.Choices = []ChunkChoice{{Delta: Delta{Role: "assistant", Content: &tx}}}
		check("role", w.Delta(Delta{Role: "assistant", Content: &text}), c)
		c.Choices = []ChunkChoice{{Delta: Delta{ReasoningContent: &tx, ReasoningSignature: "sig"}}}
		check("reasoning", w.Delta(Delta{ReasoningContent: &text, ReasoningSignature: "sig"}), c)
		reason := "stop"
		c.Choices = []ChunkChoice{{FinishReason: &reason}}
		check("finish", w.Finish(reason), c)
	}
}
