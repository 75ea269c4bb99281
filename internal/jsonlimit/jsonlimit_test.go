package jsonlimit

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tidwall/gjson"
)

// nested wraps inner in depth arrays.
func nested(depth int, inner string) string {
	return strings.Repeat("[", depth) + inner + strings.Repeat("]", depth)
}

// nestedObjects wraps inner in depth objects {"a":...}.
func nestedObjects(depth int, inner string) string {
	return strings.Repeat(`{"a":`, depth) + inner + strings.Repeat("}", depth)
}

var validCases = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `1.5e+10`, `-12.25E-3`, `true`, `false`, `null`,
	" \t\r\n{ \"a\" : [ 1 , 2 , { } , [ ] ] , \"b\" : null } \n",
	`"esc \" \\ \/ \b \f \n \r \t \u00e9 \uD83D\uDE00"`,
	"\"raw UTF-8 é 😀 and invalid \xff\xfe bytes\"", // encoding/json accepts both
	`{"model":"gpt","messages":[{"role":"user","content":"hi"}],"temperature":0.7}`,
	`"12345678 long enough for the eight-byte skip, with a quote\" late"`,
	nested(MaxDepth, "1"),
	nested(MaxDepth-2, `{"a":[]}`),
	nestedObjects(MaxDepth-1, "{}"), // MaxDepth levels with the innermost {}
}

func TestValidateAcceptsWhatEncodingJSONAccepts(t *testing.T) {
	for _, s := range validCases {
		if !json.Valid([]byte(s)) {
			t.Fatalf("test case is not valid JSON: %.60q", s)
		}
		if err := Validate([]byte(s)); err != nil {
			t.Errorf("Validate(%.60q) = %v", s, err)
		}
	}
}

func TestValidateErrors(t *testing.T) {
	cases := []struct {
		name, in string
		want     Error
	}{
		{"empty", "", Error{Offset: 0, EOF: true}},
		{"only space", "  \n", Error{Offset: 3, EOF: true}},
		{"open object", `{"a":1`, Error{Offset: 6, EOF: true}},
		{"open string", `"abc`, Error{Offset: 4, EOF: true}},
		{"cut escape", `"\u12`, Error{Offset: 5, EOF: true}},
		{"cut literal", `tru`, Error{Offset: 3, EOF: true}},
		{"lone minus", `-`, Error{Offset: 1, EOF: true}},
		{"bad literal", `nul1`, Error{Offset: 3, Char: '1', Context: "in literal null (expecting 'l')"}},
		{"trailing comma", `[1,]`, Error{Offset: 3, Char: ']', Context: "looking for beginning of value"}},
		{"trailing member comma", `{"a":1,}`, Error{Offset: 7, Char: '}', Context: "looking for beginning of object key string"}},
		{"missing colon", `{"a" 1}`, Error{Offset: 5, Char: '1', Context: "after object key"}},
		{"wrong closer", `[1}`, Error{Offset: 2, Char: '}', Context: "after array element"}},
		{"wrong object closer", `{"a":1]`, Error{Offset: 6, Char: ']', Context: "after object key:value pair"}},
		{"two values", `{} {}`, Error{Offset: 3, Char: '{', Context: "after top-level value"}},
		{"leading zero", `01`, Error{Offset: 1, Char: '1', Context: "after top-level value"}},
		{"bare fraction", `1.`, Error{Offset: 2, EOF: true}},
		{"fraction without digits", `1.e5`, Error{Offset: 2, Char: 'e', Context: "after decimal point in numeric literal"}},
		{"exponent without digits", `1e+`, Error{Offset: 3, EOF: true}},
		{"plus sign", `+1`, Error{Offset: 0, Char: '+', Context: "looking for beginning of value"}},
		{"control character", "\"a\tb\"", Error{Offset: 2, Char: '\t', Context: "in string literal"}},
		{"control character after eight plain bytes", "\"abcdefghij\x01\"", Error{Offset: 11, Char: 1, Context: "in string literal"}},
		{"bad escape", `"\x"`, Error{Offset: 2, Char: 'x', Context: "in string escape code"}},
		{"bad hex", `"\u12g4"`, Error{Offset: 5, Char: 'g', Context: "in \\u hexadecimal character escape"}},
		{"single quotes", `{'a':1}`, Error{Offset: 1, Char: '\'', Context: "looking for beginning of object key string"}},
		{"too deep arrays", nested(MaxDepth+1, ""), Error{Offset: MaxDepth, TooDeep: true}},
		{"too deep objects", nestedObjects(MaxDepth+1, "1"), Error{Offset: 5 * MaxDepth, TooDeep: true}},
		{"too deep before a syntax error", nested(MaxDepth+1, "x"), Error{Offset: MaxDepth, TooDeep: true}},
		{"syntax error before too deep", "[x" + nested(MaxDepth+1, ""), Error{Offset: 1, Char: 'x', Context: "looking for beginning of value"}},
		{"unclosed brackets within the limit", strings.Repeat("[", 10), Error{Offset: 10, EOF: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.want.TooDeep && json.Valid([]byte(tc.in)) {
				t.Fatalf("test case is valid for encoding/json")
			}
			err := Validate([]byte(tc.in))
			var got *Error
			if !errors.As(err, &got) {
				t.Fatalf("Validate = %v, want a *Error", err)
			}
			if diff := cmp.Diff(tc.want, *got); diff != "" {
				t.Errorf("Validate error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestErrorMessages(t *testing.T) {
	cases := []struct {
		err  Error
		want string
	}{
		{Error{Offset: 128, TooDeep: true}, "JSON nested deeper than 128 levels at byte 128"},
		{Error{Offset: 4, EOF: true}, "unexpected end of JSON input at byte 4"},
		{Error{Offset: 3, Char: ']', Context: "looking for beginning of value"}, "invalid character ']' looking for beginning of value at byte 3"},
		{Error{Offset: 2, Char: '\t', Context: "in string literal"}, `invalid character '\t' in string literal at byte 2`},
	}
	for _, tc := range cases {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

// TestHugeNestingIsCheap is the incident: 6 MB of "[" crashed the gateway
// inside gjson.ValidBytes. Validate stops at the first bracket too many.
func TestHugeNestingIsCheap(t *testing.T) {
	for _, open := range []string{"[", `{"a":`} {
		body := bytes.Repeat([]byte(open), 6<<20/len(open))
		var e *Error
		if err := Validate(body); !errors.As(err, &e) || !e.TooDeep || e.Offset != MaxDepth*len(open) {
			t.Errorf("6 MB of %q: err = %v, want too deep at byte %d", open, err, MaxDepth*len(open))
		}
	}
}

// FuzzValidate checks Validate against encoding/json.Valid: the same answer
// for every input that does not nest deeper than MaxDepth, and a too-deep
// error only at an opening bracket.
func FuzzValidate(f *testing.F) {
	for _, s := range validCases {
		f.Add(s)
	}
	for _, s := range []string{"[1,]", `{"a" 1}`, `"\u12g4"`, "01", "1.e5", "\"a\x01\"", `[{"a":[{"b":"c"}]}]`, nested(MaxDepth+1, "")} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		data := []byte(s)
		err := Validate(data)
		var e *Error
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("Validate(%q) = %v, not a *Error", s, err)
		}
		if e != nil && e.TooDeep {
			if c := data[e.Offset]; c != '[' && c != '{' {
				t.Fatalf("Validate(%q): too deep at byte %d, which is %q", s, e.Offset, c)
			}
			return
		}
		if want := json.Valid(data); (err == nil) != want {
			t.Fatalf("Validate(%q) = %v, encoding/json.Valid = %v", s, err, want)
		}
		if e != nil && (e.Offset < 0 || e.Offset > len(data)) {
			t.Fatalf("Validate(%q): offset %d out of range", s, e.Offset)
		}
	})
}

// chatBody is a realistic 450-byte chat request.
const chatBody = `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Write a haiku about gateways and speed, please, with some detail."}],"temperature":0.7,"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}`

// largeBody is a 100 KB chat request: a long conversation with a tool.
func largeBody() []byte {
	var b strings.Builder
	b.WriteString(`{"model":"gpt-4o-mini","messages":[`)
	for i := 0; b.Len() < 100_000; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"role":"user","content":"Please summarise the following paragraph about \"gateways\", latency, and the cost of JSON parsing on the hot path.\nIt has several sentences and a line break."},`)
		b.WriteString(`{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"lookup","arguments":"{\"q\":\"gateway latency\",\"n\":3}"}}]}`)
	}
	b.WriteString(`],"temperature":0.2,"max_tokens":512}`)
	return []byte(b.String())
}

func benchmarkValidators(b *testing.B, body []byte) {
	b.Run("jsonlimit", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if err := Validate(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gjson", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if !gjson.ValidBytes(body) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if !json.Valid(body) {
				b.Fatal("invalid")
			}
		}
	})
}

func BenchmarkValidateChat(b *testing.B)  { benchmarkValidators(b, []byte(chatBody)) }
func BenchmarkValidate100KB(b *testing.B) { benchmarkValidators(b, largeBody()) }

func TestStopsStringTable(t *testing.T) {
	for c := 0; c < 256; c++ {
		want := c < 0x20 || c == '"' || c == '\\'
		if got := stopsString[c] != 0; got != want {
			t.Errorf("stopsString[%#x] = %v, want %v", c, got, want)
		}
	}
}
