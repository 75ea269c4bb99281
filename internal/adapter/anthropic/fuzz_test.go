package anthropic

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"aigateway/internal/openai"
	"aigateway/internal/sse"
)

// FuzzTranslator feeds arbitrary bytes through an sse.Reader into the
// translator: it must never panic, every chunk must be JSON with one id, and
// every error must be an *adapter.Error.
func FuzzTranslator(f *testing.F) {
	for _, name := range []string{"anthropic-stream-tooluse.sse", "anthropic-stream-error.sse",
		"anthropic-messages-tool_use-with-thinking.sse", "anthropic-messages-text-with-thinking.sse"} {
		f.Add(readTestdata(f, name))
	}
	f.Add([]byte(events(evStart, `{"type":"content_block_start","index":3,"content_block":{"type":"tool_use","id":"t","name":"n","input":{"x":[1]}}}`,
		`{"type":"content_block_stop","index":3}`, evToolStop, evStop)))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := NewTranslator(true, created)
		r := sse.NewReader(bytes.NewReader(data), 1<<16)
		id := ""
		check := func(chunks [][]byte) {
			for _, c := range chunks {
				if !json.Valid(c) {
					t.Fatalf("chunk is not JSON: %q", c)
				}
				got := gjson.GetBytes(c, "id").Str
				if id == "" {
					id = got
				} else if got != id {
					t.Fatalf("chunk id %q after %q", got, id)
				}
			}
		}
		for {
			ev, err := r.Next()
			if err == io.EOF {
				chunks, err := tr.End()
				check(chunks)
				if err != nil {
					asAdapterError(t, err)
				}
				return
			}
			if err != nil {
				return // the reader's own limits, not the translator's business
			}
			out, err := tr.Event(ev)
			chunks, done := out.Chunks, out.Done
			check(chunks)
			if err != nil {
				asAdapterError(t, err)
				return
			}
			if done {
				return
			}
		}
	})
}

// FuzzConvertRequest converts arbitrary JSON decoded as a chat request: it
// must never panic; an error must be a 400 naming a param; a success must be
// JSON that keeps the invariants the Messages API enforces (no empty text
// block, valid tool ids, max_tokens >= 1, at least one message, roles
// alternating).
func FuzzConvertRequest(f *testing.F) {
	for _, name := range []string{"openai-chat-request.json", "opencode-chat-1-title.json", "opencode-chat-2-first-turn.json", "opencode-chat-3-tool-result.json"} {
		f.Add(readTestdata(f, name))
	}
	for _, body := range []string{
		msgs(`[{"role":"system","content":"A"},{"role":"developer","content":[{"type":"text","text":"B"}]}]`),
		msgs(`[{"role":"user","content":"q"},{"role":"assistant","content":"","tool_calls":[{"id":"functions.Read:1","type":"function","function":{"name":"f","arguments":""}}]},{"role":"tool","tool_call_id":"functions.Read:1","content":[{"type":"text","text":" "}]},{"role":"user","content":"next"}]`),
		msgs(`[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}},{"type":"text","text":""}]},{"role":"assistant","content":"x "}]`),
		withUser(toolsJSON + `,"tool_choice":{"type":"function","function":{"name":"f"}},"parallel_tool_calls":false,"temperature":0.5,"stop":"x","max_tokens":5`),
		withUser(`,"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}},"user":"u"`),
	} {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, derr := openai.DecodeChatRequest(body)
		if derr != nil {
			return
		}
		out, err := ConvertRequest(req, RequestOptions{Model: "claude-x"})
		if err != nil {
			ae := asAdapterError(t, err)
			if ae.Status != http.StatusBadRequest || ae.Err.Param == "" {
				t.Fatalf("error %d param %q: %s", ae.Status, ae.Err.Param, ae.Err.Message)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("output is not JSON: %s", out)
		}
		checkRequestInvariants(t, out)
	})
}

func checkRequestInvariants(t *testing.T, out []byte) {
	t.Helper()
	var r request
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("output does not decode as a request: %v", err)
	}
	if r.MaxTokens < 1 {
		t.Fatalf("max_tokens %d", r.MaxTokens)
	}
	if len(r.Messages) == 0 {
		t.Fatal("no messages")
	}
	if r.Temperature != nil && (*r.Temperature < 0 || *r.Temperature > 1) {
		t.Fatalf("temperature %v", *r.Temperature)
	}
	for i, m := range r.Messages {
		if i > 0 && m.Role == r.Messages[i-1].Role {
			t.Fatalf("messages %d and %d are both %s", i-1, i, m.Role)
		}
		if len(m.Content) == 0 {
			t.Fatalf("message %d is empty", i)
		}
		seenOther := false
		for _, b := range m.Content {
			switch b.Type {
			case "text":
				if strings.TrimSpace(b.Text) == "" {
					t.Fatalf("message %d has an empty text block", i)
				}
			case "tool_use":
				if !anthropicID.MatchString(b.ID) {
					t.Fatalf("tool_use id %q", b.ID)
				}
			case "tool_result":
				if !anthropicID.MatchString(b.ToolUseID) {
					t.Fatalf("tool_use_id %q", b.ToolUseID)
				}
				if seenOther {
					t.Fatalf("message %d has a tool_result after other content", i)
				}
				continue
			}
			seenOther = true
		}
	}
}
