package adapter

import (
	"encoding/json"
	"strings"
	"testing"

	"aigateway/internal/openai"
)

// checkBody returns a chat request of about n bytes of messages.
func checkBody(n int) []byte {
	msgs := []map[string]string{}
	for size := 0; size < n; size += 1000 {
		msgs = append(msgs, map[string]string{"role": "user", "content": strings.Repeat("word ", 200)})
	}
	b, _ := json.Marshal(map[string]any{"model": "m", "messages": msgs, "temperature": 0.5, "metadata": map[string]string{"k": "v"}})
	return b
}

var templateKnown = TextParams{Temperature: true, TopP: true, MaxTokens: true, Stop: true, Seed: true, PresencePenalty: true, FrequencyPenalty: true}

// The check of a request with only carried and harmless fields refuses
// nothing and records no drop.
func TestTextOnlyCheckPassesCarriedFields(t *testing.T) {
	body := checkBody(4000)
	req, oerr := openai.DecodeChatRequest(body)
	if oerr != nil {
		t.Fatal(oerr.Message)
	}
	u := &Unsupported{Drop: true}
	text := TextOnly{ID: "m", Kind: "template", Placeholder: "{{%s}}", Where: "template", Known: templateKnown}
	if err := text.Check(req, body, TextParams{Temperature: true}, u); err != nil || len(u.Dropped) != 0 {
		t.Errorf("Check: %v, dropped %v", err, u.Dropped)
	}
	if n := testing.AllocsPerRun(100, func() { text.Check(req, body, TextParams{Temperature: true}, nil) }); n != 0 {
		t.Errorf("Check allocates %v times per request", n)
	}
}

func BenchmarkTextOnlyCheck(b *testing.B) {
	body := checkBody(64 << 10)
	req, _ := openai.DecodeChatRequest(body)
	text := TextOnly{ID: "m", Kind: "template", Placeholder: "{{%s}}", Where: "template", Known: templateKnown}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := text.Check(req, body, TextParams{Temperature: true}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzTextOnlyCheck checks that the check never panics on a request the
// handler accepted (openai.Peek, then DecodeChatRequest), that a refusal is
// a 400 invalid_request_error (naming the field, which may be ""), and that
// with Drop no parameter is refused.
func FuzzTextOnlyCheck(f *testing.F) {
	for _, s := range []string{
		`{"model":"m","messages":[{"role":"user","content":"hi"}],"top_p":0.5,"seed":1,"top_k":40}`,
		`{"model":"m","messages":[],"functions":[{"name":"f"}],"function_call":"auto","modalities":["text","audio"]}`,
		`{"model":"m","tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required","n":2,"logprobs":true}`,
		`{"model":"m","audio":null,"web_search_options":{},"verbosity":"low","\u00e9t\u00e9":1,"logit_bias":{"1":2}}`,
		`{"model":"m","stop":["a"],"max_completion_tokens":3,"presence_penalty":-2,"frequency_penalty":0,"reasoning_effort":"low"}`,
	} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, body []byte, carriedBits uint8) {
		if _, oerr := openai.Peek(body); oerr != nil {
			return
		}
		req, oerr := openai.DecodeChatRequest(body)
		if oerr != nil {
			return
		}
		bit := func(i int) bool { return carriedBits&(1<<i) != 0 }
		carried := TextParams{Temperature: bit(0), TopP: bit(1), MaxTokens: bit(2), Stop: bit(3), Seed: bit(4), PresencePenalty: bit(5), FrequencyPenalty: bit(6)}
		text := TextOnly{ID: "m", Kind: "template", Placeholder: "{{%s}}", Where: "template", Known: templateKnown}
		if err := text.Check(req, body, carried, nil); err != nil {
			e, ok := err.(*Error)
			if !ok || e.Status != 400 || e.Err.Type != openai.TypeInvalidRequest {
				t.Fatalf("refusal %#v", err)
			}
		}
		u := &Unsupported{Drop: true}
		if err := text.Check(req, body, carried, u); err != nil {
			if e, ok := err.(*Error); !ok || e.Err.Code == "unsupported_parameter" {
				t.Fatalf("with Drop: %v", err)
			}
		}
	})
}
