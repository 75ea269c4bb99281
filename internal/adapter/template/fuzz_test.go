package template

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
)

// FuzzRender checks that rendering never panics and always yields valid
// JSON, for any template Validate accepts and any request values, and that
// strings survive the JSON round trip.
func FuzzRender(f *testing.F) {
	for _, s := range []string{
		exampleBody,
		`{"text":"<s>[INST] {{prompt}} [/INST] t={{temperature}} n={{ max_tokens }} stop={{stop}} u={{user}}|{{model}}"}`,
		`{"a":{"b":[{"c":"{{model}}","d":"{{user}}"},"{{max_tokens}}","{{user}}","x"]},"lit":{"n":[1.50,1e3],"t":true,"z":null}}`,
		`{"opts":{"u":"{{user}}","s":"{{stop}}"},"arr":["{{temperature}}"],"m":"{{messages}}"}`,
		`{"x":"{{prompt}"}`, `[]`, `{"a":"\u2028\ud800"}`,
		`{"o":{"p":"{{top_p}}","s":"{{seed}}","pp":"{{presence_penalty}}","fp":"{{frequency_penalty}}"},"t":"{{seed}}/{{top_p}}"}`,
	} {
		f.Add(s, "Hello \"world\"\n\x00\xff", "sys", int64(5), 0.5, "END", "u", true)
	}
	f.Fuzz(func(t *testing.T, tmpl, text, system string, maxTokens int64, temp float64, stop, user string, some bool) {
		o := Options{URL: "http://x/", Body: json.RawMessage(tmpl), Response: ResponsePaths{Text: "t"},
			Stream: &StreamConfig{Format: "sse", Text: "t", Body: json.RawMessage(`{"stream":true,"u":"{{user}}"}`)}}
		c, err := compile(&o)
		if err != nil {
			return
		}
		conv := []adapter.TextTurn{{Role: "system", Text: system}, {Role: "user", Text: text, Name: user}, {Role: "assistant", Text: text}, {Role: "user", Text: stop}}
		v := &values{model: text, prompt: adapter.PlainPrompt(conv), messages: messagesJSON(conv), user: user}
		if some {
			if !math.IsNaN(temp) && !math.IsInf(temp, 0) { // JSON cannot carry these
				v.temperature = &temp
			}
			v.maxTokens = &maxTokens
			v.seed = &maxTokens
			v.topP, v.presence, v.frequency = v.temperature, v.temperature, v.temperature
			v.stop = []string{stop, text}
		}
		for _, tree := range []*node{c.body, c.stream} {
			out := render(nil, tree, v)
			if !json.Valid(out) {
				t.Fatalf("invalid JSON for template %q:\n%s", tmpl, out)
			}
		}
		var back string
		if err := json.Unmarshal(openai.AppendString(nil, text), &back); err != nil {
			t.Fatalf("openai.AppendString(%q): %v", text, err)
		}
		if utf8.ValidString(text) && back != text {
			t.Fatalf("round trip %q -> %q", text, back)
		}
		var msgs []map[string]string
		if err := json.Unmarshal(messagesJSON(conv), &msgs); err != nil || len(msgs) != 4 {
			t.Fatalf("messages JSON: %v", err)
		}
		if p := adapter.PlainPrompt(conv); !strings.HasSuffix(p, "Assistant:") {
			t.Fatalf("prompt %q does not end with Assistant:", p)
		}
	})
}
