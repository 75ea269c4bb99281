package openai

import (
	"encoding/json"
	"strings"
	"testing"
)

func float(f float64) *float64 { return &f }
func integer(i int) *int       { return &i }

func TestPeek(t *testing.T) {
	cases := []struct {
		name, body string
		want       Fields
		errCode    string
	}{
		{"chat", `{"model":"gpt","messages":[{"role":"user","content":"hi"}]}`,
			Fields{Model: "gpt", ModelStart: 9, ModelEnd: 14, HasMessages: true, MessagesOK: true}, ""},
		{"leading space and stream", " \n{\"stream\":true,\"model\" : \"m\",\"stream_options\":{\"include_usage\":true},\"messages\":[ ]}",
			Fields{Model: "m", ModelStart: 27, ModelEnd: 30, ObjectStart: 2, Stream: true, IncludeUsage: true, HasMessages: true}, ""},
		{"defaults present", `{"model":"m","temperature":0,"max_completion_tokens":5}`,
			Fields{Model: "m", ModelStart: 9, ModelEnd: 12, HasTemperature: true, HasMaxTokens: true}, ""},
		{"null fields count as sent", `{"model":"m","temperature":null,"max_tokens":null,"stream":null}`,
			Fields{Model: "m", ModelStart: 9, ModelEnd: 12, HasTemperature: true, HasMaxTokens: true}, ""},
		{"escaped model", `{"model":"a\"b"}`, Fields{Model: `a"b`, ModelStart: 9, ModelEnd: 15}, ""},
		{"nested model is not the model", `{"x":{"model":"inner"},"model":"outer"}`, Fields{Model: "outer", ModelStart: 31, ModelEnd: 38}, ""},
		{"empty", "  ", Fields{}, "invalid_json"},
		{"invalid", `{"model":`, Fields{}, "invalid_json"},
		{"array", `[1]`, Fields{}, "invalid_json"},
		{"no model", `{"messages":[]}`, Fields{}, "missing_required_parameter"},
		{"empty model", `{"model":""}`, Fields{}, "missing_required_parameter"},
		{"model twice", `{"model":"a","model":"b"}`, Fields{}, "invalid_value"},
		{"model number", `{"model":1}`, Fields{}, "invalid_type"},
		{"stream string", `{"model":"a","stream":"true"}`, Fields{}, "invalid_type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Peek([]byte(tc.body))
			if tc.errCode != "" {
				if err == nil || err.Code != tc.errCode {
					t.Fatalf("err = %+v, want code %s", err, tc.errCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %+v", err)
			}
			if got != tc.want {
				t.Errorf("Peek = %+v\nwant   %+v", got, tc.want)
			}
			if raw := tc.body[got.ModelStart:got.ModelEnd]; !strings.HasPrefix(raw, `"`) || !strings.HasSuffix(raw, `"`) {
				t.Errorf("model span %q is not the quoted value", raw)
			}
		})
	}
}

func TestPatch(t *testing.T) {
	body := []byte(`{ "model": "alias", "messages": [] }`)
	f, _ := Peek(body)
	if got := Patch(body, &f, QuoteString("alias"), nil, nil); &got[0] != &body[0] {
		t.Error("Patch copied a body it did not need to change")
	}
	got := string(Patch(body, &f, QuoteString("real/model-1"), float(0.5), integer(64)))
	want := `{"temperature":0.5,"max_tokens":64, "model": "real/model-1", "messages": [] }`
	if got != want {
		t.Errorf("Patch = %s\nwant    %s", got, want)
	}
	if string(body) != `{ "model": "alias", "messages": [] }` {
		t.Errorf("Patch modified its input: %s", body)
	}
}

func TestErrorJSON(t *testing.T) {
	e := &Error{Message: "bad \"x\"\n<tag>", Type: TypeInvalidRequest}
	got := string(e.AppendJSON(nil))
	want := `{"error":{"message":"bad \"x\"\n<tag>","type":"invalid_request_error","param":null,"code":null}}`
	if got != want {
		t.Errorf("AppendJSON = %s\nwant %s", got, want)
	}
}

// FuzzPeekPatch: Peek never panics, and a patched body is valid JSON whose
// model is the new one.
func FuzzPeekPatch(f *testing.F) {
	for _, s := range []string{`{"model":"a","messages":[{"role":"user","content":"hi"}]}`, ` {"model":"a\u0041","x":[1,{"model":"n"}]}`, `{"temperature":1,"model":"z"}`, `{"model":"a","model":"b"}`, `[]`, `{`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		body := []byte(s)
		fields, err := Peek(body)
		if err != nil {
			return
		}
		out := Patch(body, &fields, QuoteString("new-model"), float(0.5), integer(3))
		if !json.Valid(out) {
			t.Fatalf("Patch produced invalid JSON: %s", out)
		}
		again, err := Peek(out)
		if err != nil || again.Model != "new-model" {
			t.Fatalf("re-peek of %s: model %q, err %+v", out, again.Model, err)
		}
	})
}

func BenchmarkPeekPatch(b *testing.B) {
	body := []byte(`{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Write a haiku about gateways and speed, please, with some detail."}],"temperature":0.7,"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}`)
	model := QuoteString("gpt-4o-mini-2024-07-18")
	b.ReportAllocs()
	for b.Loop() {
		f, err := Peek(body)
		if err != nil {
			b.Fatal(err)
		}
		Patch(body, &f, model, nil, nil)
	}
}
