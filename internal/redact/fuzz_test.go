package redact

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzRedact checks, for any secret and any text: valid JSON in is valid
// JSON out, and no form of the secret is left in the output, in any string
// a JSON decoder gets from it, or behind one more layer of escapes.
func FuzzRedact(f *testing.F) {
	for _, form := range keyForms() {
		f.Add(testKey, `{"error":{"message":"Invalid key: `+form.text+`","code":401}}`)
		f.Add(testKey, "token "+form.text+" \"x\\n")
	}
	f.Add("1234567890", `[1234567890, "a", {"1234567890": true}]`)
	f.Add("ab\"cd", `{"m":"ab\"cd"}`)
	f.Add(`a\b`, `{"m":"a\\b \u0061\\b"}`)
	f.Add("sk-abcdefghij0123456789", `{"m":"{\"detail\":\"bad key \\u0073k-abcdefghij0123456789\"}"}`)
	f.Fuzz(func(t *testing.T, secret, doc string) {
		if secret == "" || !utf8.ValidString(secret) || strings.ContainsRune(secret, utf8.RuneError) {
			return // real secrets are text; U+FFFD is what a decoder makes of broken text
		}
		r := New(secret)
		if r.found([]byte(quotedReplacement)) {
			return // a secret inside the replacement itself cannot be hidden by it
		}
		out := r.Bytes([]byte(doc))
		if r.found(out) {
			t.Fatalf("a form of %q is left in %q", secret, out)
		}
		if !json.Valid([]byte(doc)) {
			if d, ok := unescape(out); ok && r.found(d) {
				t.Fatalf("a form of %q is left escaped in %q", secret, out)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("valid JSON %q became invalid: %q", doc, out)
		}
		// UseNumber: valid JSON may hold numbers past float64 (1E1111).
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		walkStrings(v, func(s string) {
			if r.found([]byte(s)) {
				t.Fatalf("decoded string %q of %q holds a form of %q", s, out, secret)
			}
		})
	})
}

// walkStrings calls fn with every string and object key in v.
func walkStrings(v any, fn func(string)) {
	switch v := v.(type) {
	case string:
		fn(v)
	case json.Number:
		fn(string(v))
	case []any:
		for _, e := range v {
			walkStrings(e, fn)
		}
	case map[string]any:
		for k, e := range v {
			fn(k)
			walkStrings(e, fn)
		}
	}
}
