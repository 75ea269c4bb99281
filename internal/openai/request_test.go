package openai

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
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
			Fields{Model: "m", ModelStart: 27, ModelEnd: 30, ObjectStart: 2, Stream: true, IncludeUsage: true, HasMessages: true,
				StreamOptionsStart: 48, StreamOptionsEnd: 70, IncludeUsageStart: 65, IncludeUsageEnd: 69, StreamOptionsObject: true}, ""},
		{"defaults present", `{"model":"m","temperature":0,"max_completion_tokens":5}`,
			Fields{Model: "m", ModelStart: 9, ModelEnd: 12, HasTemperature: true, HasMaxTokens: true, MaxTokens: 5}, ""},
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
		{"escaped key is the field", `{"model":"m","\u0073tream":true}`, Fields{Model: "m", ModelStart: 9, ModelEnd: 12, Stream: true}, ""},
		{"numbers in range", `{"model":"m","temperature":2,"top_p":0,"presence_penalty":-2,"frequency_penalty":2,"max_tokens":2147483647,"n":128,"top_logprobs":20,"seed":-9223372036854775808}`,
			Fields{Model: "m", ModelStart: 9, ModelEnd: 12, HasTemperature: true, HasMaxTokens: true, MaxTokens: 2147483647}, ""},
		{"whole numbers written as decimals", `{"model":"m","max_completion_tokens":1e3,"n":2.0,"seed":9.2e18}`,
			Fields{Model: "m", ModelStart: 9, ModelEnd: 12, HasMaxTokens: true, MaxTokens: 1000}, ""},
		{"max_completion_tokens wins", `{"model":"m","max_completion_tokens":7,"max_tokens":9}`,
			Fields{Model: "m", ModelStart: 9, ModelEnd: 12, HasMaxTokens: true, MaxTokens: 7}, ""},
		{"numbers null", `{"model":"m","top_p":null,"n":null,"seed":null,"top_logprobs":null}`, Fields{Model: "m", ModelStart: 9, ModelEnd: 12}, ""},
		{"unknown fields pass", `{"model":"m","metadata":{"Stream":1},"store":true,"ſervice_tier":"x"}`, Fields{Model: "m", ModelStart: 9, ModelEnd: 12}, ""},
		{"too deep", `{"model":"m","x":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`, Fields{}, "invalid_json"},
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

// TestPeekRejects pins the error for each kind of bad request: the code and
// the param a client sees.
func TestPeekRejects(t *testing.T) {
	cases := []struct {
		name, body  string
		code, param string
		message     string // a substring
	}{
		{"temperature negative", `{"model":"m","temperature":-1}`, "decimal_below_min_value", "temperature", "Expected a value >= 0, but got -1"},
		{"temperature huge", `{"model":"m","temperature":1e300}`, "decimal_above_max_value", "temperature", "got 1e300"},
		{"temperature beyond float64", `{"model":"m","temperature":-1e400}`, "decimal_below_min_value", "temperature", ""},
		{"temperature string", `{"model":"m","temperature":"0.5"}`, "invalid_type", "temperature", "expected a decimal, but got a string"},
		{"top_p above 1", `{"model":"m","top_p":1.01}`, "decimal_above_max_value", "top_p", "<= 1"},
		{"presence_penalty", `{"model":"m","presence_penalty":-2.5}`, "decimal_below_min_value", "presence_penalty", ">= -2"},
		{"frequency_penalty", `{"model":"m","frequency_penalty":3}`, "decimal_above_max_value", "frequency_penalty", "<= 2"},
		{"max_tokens negative", `{"model":"m","max_tokens":-5}`, "integer_below_min_value", "max_tokens", "Expected a value >= 1, but got -5"},
		{"max_tokens zero", `{"model":"m","max_tokens":0}`, "integer_below_min_value", "max_tokens", ""},
		{"max_tokens beyond int32", `{"model":"m","max_tokens":2147483648}`, "integer_above_max_value", "max_tokens", "<= 2147483647"},
		{"max_tokens fraction", `{"model":"m","max_tokens":1.5}`, "invalid_type", "max_tokens", "expected an integer"},
		{"max_tokens bool", `{"model":"m","max_tokens":true}`, "invalid_type", "max_tokens", "but got a boolean"},
		{"max_completion_tokens huge", `{"model":"m","max_completion_tokens":1e300}`, "integer_above_max_value", "max_completion_tokens", "<= 2147483647, but got 1e300"},
		{"n zero", `{"model":"m","n":0}`, "integer_below_min_value", "n", ""},
		{"n 129", `{"model":"m","n":129}`, "integer_above_max_value", "n", "<= 128"},
		{"n array", `{"model":"m","n":[1]}`, "invalid_type", "n", "but got an array"},
		{"top_logprobs 21", `{"model":"m","top_logprobs":21}`, "integer_above_max_value", "top_logprobs", "<= 20"},
		{"top_logprobs negative", `{"model":"m","top_logprobs":-1}`, "integer_below_min_value", "top_logprobs", ""},
		{"seed beyond int64", `{"model":"m","seed":9223372036854775808}`, "integer_above_max_value", "seed", "<= 9223372036854775807"},
		{"seed below int64", `{"model":"m","seed":-9.3e18}`, "integer_below_min_value", "seed", ">= -9223372036854775808"},
		{"n huge negative", `{"model":"m","n":-1e999}`, "integer_below_min_value", "n", ""},
		{"seed object", `{"model":"m","seed":{}}`, "invalid_type", "seed", "but got an object"},
		{"long number is cut in the message", `{"model":"m","temperature":` + strings.Repeat("9", 1000) + `}`, "decimal_above_max_value", "temperature", strings.Repeat("9", 32) + "..."},
		{"messages twice", `{"model":"m","messages":[{"role":"user","content":"hi"}],"messages":[]}`, "invalid_value", "messages", `"messages" is given more than once`},
		{"stream twice", `{"model":"m","stream":false,"stream":true}`, "invalid_value", "stream", ""},
		{"tools twice", `{"model":"m","tools":[],"tools":[]}`, "invalid_value", "tools", ""},
		{"escaped duplicate", `{"model":"m","seed":1,"s\u0065ed":2}`, "invalid_value", "seed", ""},
		{"upper-case MESSAGES", `{"model":"m","messages":[{"role":"user","content":"hi"}],"MESSAGES":[]}`, "unknown_parameter", "MESSAGES", `did you mean "messages"?`},
		{"title-case Stream", `{"model":"m","Stream":true}`, "unknown_parameter", "Stream", `did you mean "stream"?`},
		{"Model", `{"Model":"m"}`, "unknown_parameter", "Model", ""},
		{"embeddings field", `{"model":"m","Input":"x"}`, "unknown_parameter", "Input", `did you mean "input"?`},
		{"Unicode fold: long s", `{"model":"m","ſtream":true}`, "unknown_parameter", "ſtream", `did you mean "stream"?`},
		{"Unicode fold: Kelvin sign", `{"model":"m","max_to\u212Aens":5}`, "unknown_parameter", "max_to\u212aens", `did you mean "max_tokens"?`},
		{"syntax error names the byte", `{"model":"m",}`, "invalid_json", "", "invalid character '}' looking for beginning of object key string at byte 13"},
		{"depth names the limit", strings.Repeat("[", 6<<20), "invalid_json", "", "deeper than the gateway's limit of 128 levels"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Peek([]byte(tc.body))
			if err == nil {
				t.Fatal("Peek accepted the body")
			}
			if err.Code != tc.code || err.Param != tc.param || !strings.Contains(err.Message, tc.message) {
				t.Errorf("Peek error = %+v\nwant code %q, param %q, message containing %q", *err, tc.code, tc.param, tc.message)
			}
		})
	}
}

// TestKnownFieldsCoverChatRequest: every field that DecodeChatRequest
// decodes must be known to Peek, or its case variants slip through.
func TestKnownFieldsCoverChatRequest(t *testing.T) {
	typ := reflect.TypeFor[ChatRequest]()
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if lookupField(name) == noField {
			t.Errorf("ChatRequest field %q is not in Peek's known fields", name)
		}
	}
	for f, name := range knownFields {
		if got := lookupField(name); got != field(f) {
			t.Errorf("lookupField(%q) = %d, want %d (knownFields and the switch disagree)", name, got, f)
		}
		if _, ok := rangeOf(field(f)); ok != (numericFields&(1<<f) != 0) {
			t.Errorf("field %q: rangeOf and numericFields disagree", name)
		}
		if got := caseVariant(strings.ToUpper(name)); got != field(f) {
			t.Errorf("caseVariant(%q) = %d, want %d", strings.ToUpper(name), got, f)
		}
	}
	if n := testing.AllocsPerRun(100, func() { caseVariant("Max_Completion_Tokens") }); n != 0 {
		t.Errorf("caseVariant allocates %v times", n)
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

// FuzzPeekPatch: Peek never panics; what it accepts, encoding/json (which
// the converters use) reads the same way; and a patched body is valid JSON
// whose model is the new one.
func FuzzPeekPatch(f *testing.F) {
	for _, s := range []string{`{"model":"a","messages":[{"role":"user","content":"hi"}]}`, ` {"model":"a\u0041","x":[1,{"model":"n"}]}`, `{"temperature":1,"model":"z"}`, `{"model":"a","model":"b"}`, `[]`, `{`,
		`{"model":"m","Stream":true}`, `{"model":"m","stream":false,"stream":true}`, `{"model":"m","max_tokens":-5,"n":1.5}`,
		`{"model":"m","stream_options":{"include_usage":false}}`, `{"stream_options":null,"model":"m"}`, `{"model":"m","stream_options":{ }}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		body := []byte(s)
		fields, err := Peek(body)
		if err != nil {
			return
		}
		var cr ChatRequest
		if json.Unmarshal(body, &cr) == nil && (cr.Stream != fields.Stream || cr.Model != fields.Model && utf8.ValidString(fields.Model)) {
			t.Fatalf("Peek read model %q stream %v, encoding/json read %q %v from %s", fields.Model, fields.Stream, cr.Model, cr.Stream, body)
		}
		out := Patch(body, &fields, QuoteString("new-model"), float(0.5), integer(3))
		if !json.Valid(out) {
			t.Fatalf("Patch produced invalid JSON: %s", out)
		}
		again, err := Peek(out)
		if err != nil || again.Model != "new-model" {
			t.Fatalf("re-peek of %s: model %q, err %+v", out, again.Model, err)
		}
		can := fields.CanIncludeUsage()
		out = PatchRequest(body, &fields, Edit{ModelJSON: QuoteString("new-model"), IncludeUsage: true})
		if !json.Valid(out) {
			t.Fatalf("PatchRequest produced invalid JSON: %s", out)
		}
		again, err = Peek(out)
		if err != nil || again.Model != "new-model" || (can && !again.IncludeUsage) {
			t.Fatalf("re-peek of %s: model %q, include_usage %v, err %+v", out, again.Model, again.IncludeUsage, err)
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

func TestPatchRequestIncludeUsage(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"absent", `{"model":"a","stream":true}`, `{"stream_options":{"include_usage":true},"model":"b","stream":true}`},
		{"null", `{"model":"a","stream_options":null}`, `{"model":"b","stream_options":{"include_usage":true}}`},
		{"empty object", `{"stream_options": { },"model":"a"}`, `{"stream_options": {"include_usage":true },"model":"b"}`},
		{"other members kept", `{"model":"a","stream_options":{"continuous_usage_stats":false}}`,
			`{"model":"b","stream_options":{"include_usage":true,"continuous_usage_stats":false}}`},
		{"false", `{"stream_options":{"x":1,"include_usage":false},"model":"a"}`, `{"stream_options":{"x":1,"include_usage":true},"model":"b"}`},
		{"include_usage null", `{"model":"a","stream_options":{"include_usage":null}}`, `{"model":"b","stream_options":{"include_usage":true}}`},
		{"already on", `{"model":"a","stream_options":{"include_usage":true}}`, `{"model":"b","stream_options":{"include_usage":true}}`},
		{"not an object: left for the upstream to refuse", `{"model":"a","stream_options":true}`, `{"model":"b","stream_options":true}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(tc.body)
			f, err := Peek(body)
			if err != nil {
				t.Fatal(err.Message)
			}
			got := string(PatchRequest(body, &f, Edit{ModelJSON: QuoteString("b"), IncludeUsage: true}))
			if got != tc.want {
				t.Errorf("PatchRequest = %s\nwant           %s", got, tc.want)
			}
			if string(body) != tc.body {
				t.Errorf("PatchRequest modified its input: %s", body)
			}
		})
	}
}

func TestPatchRequestAllEdits(t *testing.T) {
	body := []byte(`{"messages":[],"stream_options":{"a":1},"model":"x","stream":true}`)
	f, _ := Peek(body)
	got := string(PatchRequest(body, &f, Edit{ModelJSON: QuoteString("y"), Temperature: float(1), MaxTokens: integer(5), IncludeUsage: true}))
	want := `{"temperature":1,"max_tokens":5,"messages":[],"stream_options":{"include_usage":true,"a":1},"model":"y","stream":true}`
	if got != want {
		t.Errorf("PatchRequest = %s\nwant           %s", got, want)
	}
	same := []byte(`{"model":"y","stream_options":{"include_usage":true}}`)
	f, _ = Peek(same)
	if out := PatchRequest(same, &f, Edit{ModelJSON: QuoteString("y"), IncludeUsage: true}); &out[0] != &same[0] {
		t.Error("PatchRequest copied a body it did not need to change")
	}
}
