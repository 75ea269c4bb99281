package template

import (
	"encoding/json"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(o *Options)
		want   string // the exact error; "" for valid
	}{
		{name: "README example", change: func(o *Options) {}},
		{name: "no stream", change: func(o *Options) { o.Stream = nil }},
		{name: "jsonl without stream body", change: func(o *Options) { o.Stream.Format, o.Stream.Body = "jsonl", nil }},
		{name: "spaces inside braces", change: func(o *Options) { o.Body = json.RawMessage(`{"a":"{{ prompt }}"}`) }},
		{name: "typo", change: func(o *Options) { o.Body = json.RawMessage(`{"input":"{{promt}}"}`) },
			want: "template.body: unknown placeholder {{promt}}; known: {{model}}, {{prompt}}, {{messages}}, {{max_tokens}}, {{temperature}}, {{top_p}}, {{seed}}, {{presence_penalty}}, {{frequency_penalty}}, {{stop}}, {{user}} (at input)"},
		{name: "nested typo", change: func(o *Options) {
			o.Body = json.RawMessage(`{"p":{"list":["x","Say: {{ mesages }}"]}}`)
		}, want: "template.body: unknown placeholder {{ mesages }}; known: {{model}}, {{prompt}}, {{messages}}, {{max_tokens}}, {{temperature}}, {{top_p}}, {{seed}}, {{presence_penalty}}, {{frequency_penalty}}, {{stop}}, {{user}} (at p.list[1])"},
		{name: "unterminated", change: func(o *Options) { o.Body = json.RawMessage(`{"input":"{{prompt}"}`) },
			want: `template.body: unterminated placeholder "{{prompt}" (at input)`},
		{name: "placeholder in key", change: func(o *Options) { o.Body = json.RawMessage(`{"{{model}}":1}`) },
			want: `template.body: placeholders are not allowed in keys ("{{model}}")`},
		{name: "duplicate key", change: func(o *Options) { o.Body = json.RawMessage(`{"a":{"b":1,"b":2}}`) },
			want: `template.body: duplicate key "b" (at a)`},
		{name: "array body", change: func(o *Options) { o.Body = json.RawMessage(`["{{prompt}}"]`) },
			want: "template.body: must be a JSON object"},
		{name: "string body", change: func(o *Options) { o.Body = json.RawMessage(`"{{prompt}}"`) },
			want: "template.body: must be a JSON object"},
		{name: "missing body", change: func(o *Options) { o.Body = nil },
			want: "template.body: required"},
		{name: "invalid JSON", change: func(o *Options) { o.Body = json.RawMessage(`{"a":}`) },
			want: "template.body: invalid JSON: invalid character '}' looking for beginning of value (at a)"},
		{name: "trailing data", change: func(o *Options) { o.Body = json.RawMessage(`{"a":1} {}`) },
			want: "template.body: invalid JSON: unexpected data after the object"},
		{name: "no text path", change: func(o *Options) { o.Response.Text = "" },
			want: "template.response.text: required"},
		{name: "unknown format", change: func(o *Options) { o.Stream.Format = "ndjson" },
			want: `template.stream.format: must be "sse" or "jsonl", got "ndjson"`},
		{name: "no stream text", change: func(o *Options) { o.Stream.Text = " " },
			want: "template.stream.text: required"},
		{name: "stream body not an object", change: func(o *Options) { o.Stream.Body = json.RawMessage(`true`) },
			want: "template.stream.body: must be a JSON object"},
		{name: "stream body typo", change: func(o *Options) { o.Stream.Body = json.RawMessage(`{"s":"{{stream}}"}`) },
			want: "template.stream.body: unknown placeholder {{stream}}; known: {{model}}, {{prompt}}, {{messages}}, {{max_tokens}}, {{temperature}}, {{top_p}}, {{seed}}, {{presence_penalty}}, {{frequency_penalty}}, {{stop}}, {{user}} (at s)"},
		{name: "no URL", change: func(o *Options) { o.URL = "" }, want: "url: required"},
		{name: "relative URL", change: func(o *Options) { o.URL = "/v2/generate" },
			want: `url: must be an absolute http(s) URL, got "/v2/generate"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := exampleOptions("http://127.0.0.1:1")
			tt.change(&o)
			err := Validate(&o)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate:\n got %q\nwant %q", got, tt.want)
			}
			if _, nerr := New(o); (nerr == nil) != (tt.want == "") {
				t.Errorf("New error %v disagrees with Validate", nerr)
			}
		})
	}
}
