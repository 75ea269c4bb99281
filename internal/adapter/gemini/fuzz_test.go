package gemini

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
	"aigateway/internal/sse"
)

// FuzzTranslator feeds arbitrary streams to the translator: it must never
// panic, every chunk must be valid JSON, and every error must be an
// *adapter.Error for the client.
func FuzzTranslator(f *testing.F) {
	for _, name := range []string{"gemini-stream-toolcalls.sse", "gemini-streamGenerateContent-functionCall.sse", "gemini-streamGenerateContent-text.sse"} {
		f.Add(mustRead(name), true)
	}
	f.Add([]byte("data: {\"promptFeedback\":{\"blockReason\":\"SAFETY\"}}\n\n"), false)
	f.Add([]byte("data: [{\"error\":{\"code\":429,\"message\":\"q\"}}]\n\n"), true)
	f.Add([]byte("data: {\"candidates\":[{\"index\":3,\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"f\",\"args\":null}},{\"inlineData\":{}}]},\"finishReason\":\"STOP\",\"logprobsResult\":{\"chosenCandidates\":[{\"token\":\"\\u00ff\"}]}}]}\n\n"), true)
	f.Fuzz(func(t *testing.T, stream []byte, includeUsage bool) {
		tr := NewTranslator("m", includeUsage, 1)
		r := sse.NewReader(bytes.NewReader(stream), 1<<20)
		check := func(chunks [][]byte, err error) bool {
			for _, c := range chunks {
				if !json.Valid(c) {
					t.Fatalf("invalid chunk %q", c)
				}
			}
			if err != nil {
				var ae *adapter.Error
				if !errors.As(err, &ae) {
					t.Fatalf("error %v is not an *adapter.Error", err)
				}
				return false
			}
			return true
		}
		for {
			ev, err := r.Next()
			if err == io.EOF {
				check(tr.End())
				break
			}
			if err != nil {
				break
			}
			out, err := tr.Event(ev)
			chunks := out.Chunks
			if !check(chunks, err) {
				break
			}
		}
		_ = tr.Usage()
	})
}

// FuzzConvertRequest converts arbitrary request bodies: it must never
// panic, the output must be valid JSON, and errors must be 400s (or the
// fetcher's own) as *adapter.Error.
func FuzzConvertRequest(f *testing.F) {
	f.Add(mustRead("openai-chat-request.json"))
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/a.png"}},{"type":"input_audio","input_audio":{"data":"AA==","format":"mp3"}},{"type":"file","file":{"file_data":"data:application/pdf;base64,AA=="}}]}],"n":2,"logprobs":true,"top_logprobs":2,"reasoning_effort":"low"}`))
	f.Add([]byte(`{"model":"m","messages":[{"role":"system","content":"s"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"$schema":"x","properties":{"a":{"$ref":"#/$defs/A","description":"d"},"b":{"const":"c"}},"$defs":{"A":{"$ref":"#/$defs/A"}}}}}],"tool_choice":{"type":"function","function":{"name":"f"}},"response_format":{"type":"json_schema","json_schema":{"name":"n","schema":{"$ref":"#"}}}}`))
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":"a"},{"role":"assistant","content":null,"tool_calls":[{"id":"1","type":"function","function":{"name":"f","arguments":""},"extra_content":{"google":{"thought_signature":1}}}]},{"role":"tool","tool_call_id":"1","content":"{\"a\":1}"}]}`))
	fetch := func(string) (string, string, error) { return "iVBORw0KGgo=", "", nil }
	f.Fuzz(func(t *testing.T, body []byte) {
		req, oerr := openai.DecodeChatRequest(body)
		if oerr != nil {
			return
		}
		out, err := ConvertRequest(req, RequestOptions{FetchImage: fetch})
		if err != nil {
			var ae *adapter.Error
			if !errors.As(err, &ae) || ae.Status != 400 {
				t.Fatalf("error %v is not a 400 *adapter.Error", err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("invalid output %q", out)
		}
	})
}

// FuzzPrepareSchema prepares arbitrary schemas: it must never panic, the
// output must be valid JSON within the budget, and a schema needing no
// change must come back as sent.
func FuzzPrepareSchema(f *testing.F) {
	f.Add([]byte(fanOutSchema(true)), true)
	f.Add([]byte(`{"$ref":"#/definitions/A","definitions":{"A":{"$ref":"#/definitions/B","title":"t"},"B":{"properties":{"x":{"$ref":"#"}}}}}`), true)
	f.Add([]byte(`{"type":"object","properties":{"p":{"$ref":"#/properties/q","const":"c"},"q":{"$ref":"#/$defs/N","$comment":"c"}},"$defs":{"N":{"items":{"$ref":"#/$defs/N","description":"d"}}}}`), false)
	f.Add([]byte(`{"anyOf":[{"$ref":"#/anyOf/1","$schema":"s"},{"$ref":"#/anyOf/0","title":"x"}],"definitions":{"a/b~":{"enum":[1]}},"items":{"$ref":"#/definitions/a~1b~0"}}`), false)
	f.Fuzz(func(t *testing.T, raw []byte, objectRoot bool) {
		budget := newSchemaBudget(len(raw))
		limit := len(raw) + budget.growth
		out, err := prepareSchema(raw, objectRoot, budget)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("invalid output %q", out)
		}
		if len(out) > limit {
			t.Fatalf("output of %d bytes passes the limit %d", len(out), limit)
		}
	})
}
