package redact

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// testKey has characters that URL encodings escape ("/", "+", ":", "?")
// and whose standard base64 holds a "/" and a "+", so that every form
// differs.
const testKey = "sk-li~e/Wj+8:q0Pa?kZ7eRc3xN1"

// escapeAll writes every character of s as a \u escape.
func escapeAll(s, format string) string {
	var b strings.Builder
	for _, c := range s {
		fmt.Fprintf(&b, format, c)
	}
	return b.String()
}

// keyForms are ways an upstream may echo testKey inside a JSON string.
func keyForms() []struct{ name, text string } {
	std := base64.StdEncoding.EncodeToString([]byte(testKey))
	return []struct{ name, text string }{
		{"raw", testKey},
		{"json \\u lower", escapeAll(testKey, `\u%04x`)},
		{"json \\u upper", escapeAll(testKey, `\u%04X`)},
		{"json one char escaped", `\u0073` + testKey[1:]},
		{"json \\/", strings.ReplaceAll(testKey, "/", `\/`)},
		{"query escape", url.QueryEscape(testKey)},
		{"query escape lower hex", lowerEscapes(url.QueryEscape(testKey))},
		{"path escape", url.PathEscape(testKey)},
		{"path escape lower hex", lowerEscapes(url.PathEscape(testKey))},
		{"base64 std padded", std},
		{"base64 std unpadded", strings.TrimRight(std, "=")},
		{"base64 url padded", base64.URLEncoding.EncodeToString([]byte(testKey))},
		{"base64 url unpadded", base64.RawURLEncoding.EncodeToString([]byte(testKey))},
		{"base64 basic auth (shift 2)", "Basic " + base64.StdEncoding.EncodeToString([]byte("user:"+testKey))},
		{"base64 shift 1", base64.StdEncoding.EncodeToString([]byte("x" + testKey + "tail"))},
		{"base64url shift 2", base64.RawURLEncoding.EncodeToString([]byte("ab" + testKey))},
		{"base64 with \\/", strings.ReplaceAll(std, "/", `\/`)},
		{"json-escaped base64", escapeAll(std, `\u%04x`)},
	}
}

// lowerEscapes writes the %XX escapes of s with lower-case hex.
func lowerEscapes(s string) string {
	return regexp.MustCompile(`%[0-9A-F]{2}`).ReplaceAllStringFunc(s, strings.ToLower)
}

// TestFormsDiffer guards the test key: a form that equals another would
// not test anything of its own.
func TestFormsDiffer(t *testing.T) {
	seen := map[string]string{}
	for _, f := range keyForms() {
		if other, ok := seen[f.text]; ok {
			t.Errorf("%s and %s are the same text %q", f.name, other, f.text)
		}
		seen[f.text] = f.name
	}
}

func TestEveryFormRedacted(t *testing.T) {
	r := New(testKey)
	for _, f := range keyForms() {
		t.Run(f.name, func(t *testing.T) {
			// As a JSON error body, the way upstreams send it.
			body := []byte(`{"error":{"message":"Invalid key: ` + f.text + `. Check it.","code":401}}`)
			if !json.Valid(body) {
				t.Fatalf("test body is not JSON: %s", body)
			}
			out := r.Bytes(body)
			if !json.Valid(out) {
				t.Fatalf("output is not valid JSON: %s", out)
			}
			var v struct {
				Error struct {
					Message string `json:"message"`
					Code    int    `json:"code"`
				} `json:"error"`
			}
			if err := json.Unmarshal(out, &v); err != nil {
				t.Fatal(err)
			}
			if leaks(v.Error.Message, f.text) || leaks(string(out), f.text) {
				t.Errorf("leaks the key: %s", out)
			}
			if !strings.HasPrefix(v.Error.Message, "Invalid key: ") || !strings.Contains(v.Error.Message, Replacement) || v.Error.Code != 401 {
				t.Errorf("message %q, code %d: want the text around the key kept", v.Error.Message, v.Error.Code)
			}

			// As plain text, the way a log line or a program's stderr has it.
			text := "error: cannot use token " + f.text + " here"
			got := r.String(text)
			if leaks(got, f.text) || !strings.Contains(got, Replacement) || !strings.HasPrefix(got, "error: cannot use token ") {
				t.Errorf("text %q redacted to %q", text, got)
			}
		})
	}
}

// leaks reports whether s holds the key raw, decoded from any base64
// word, or the given form.
func leaks(s, form string) bool {
	if strings.Contains(s, testKey) || strings.Contains(s, form) {
		return true
	}
	for _, w := range strings.FieldsFunc(s, func(c rune) bool { return c > 127 || !isBase64(byte(c)) && c != '=' }) {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if d, err := enc.DecodeString(w); err == nil && strings.Contains(string(d), testKey) {
				return true
			}
		}
	}
	return false
}

func TestRedact(t *testing.T) {
	const key = "sk-abcdefghij0123456789"
	tests := []struct {
		name    string
		secrets []string
		in      string
		want    string
	}{
		{"no secret: unchanged", []string{key}, `{"error":{"message":"quota \"exceeded\"\n"}}`, `{"error":{"message":"quota \"exceeded\"\n"}}`},
		{"raw in JSON keeps the rest byte for byte", []string{key}, `{"a": "x \u00e9", "m": "bad ` + key + `"}`, `{"a": "x \u00e9", "m": "bad [redacted]"}`},
		{"escaped in JSON: the string is re-encoded", []string{key}, `{"m":"bad \"` + escapeAll(key, `\u%04x`) + `\"\n"}`, `{"m":"bad \"[redacted]\"\n"}`},
		{"object key", []string{key}, `{"` + key + `":1}`, `{"[redacted]":1}`},
		{"number", []string{"1234567890"}, `{"account":1234567890,"n":1}`, `{"account":"[redacted]","n":1}`},
		{"JSON document inside a JSON string", []string{key}, `{"m":"{\"detail\":\"bad key \\u0073k-abcdefghij0123456789\"}"}`, `{"m":"{\"detail\":\"bad key [redacted]\"}"}`},
		{"base64 word replaced whole", []string{key}, `Authorization: Basic ` + base64.StdEncoding.EncodeToString([]byte("me:"+key)) + ` rejected`, `Authorization: Basic [redacted] rejected`},
		{"two overlapping secrets", []string{"abcdefgh12", "gh12345678"}, `x abcdefgh12345678 y`, `x [redacted] y`},
		{"short secret: raw only", []string{"abc"}, `abc YWJj`, `[redacted] YWJj`},
		{"short secret: escaped", []string{"abc"}, `"\u0061bc"`, `"[redacted]"`},
		{"escaped text that is not JSON is unescaped", []string{key}, `log: token=\u0073k-abcdefghij0123456789 "x`, `log: token=[redacted] "x`},
		{"query form", []string{"k3y/with+chars"}, `GET /v1?key=k3y%2Fwith%2Bchars&x=1`, `GET /v1?key=[redacted]&x=1`},
		{"empty secrets ignored", []string{"", ""}, `anything`, `anything`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := New(tc.secrets...).String(tc.in)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
			if json.Valid([]byte(tc.in)) && !json.Valid([]byte(got)) {
				t.Errorf("valid JSON in, invalid out: %s", got)
			}
		})
	}
}

// Text escaped more deeply than maxDepth that still hides a secret is
// replaced whole rather than let through.
func TestDeepEscapingFailsClosed(t *testing.T) {
	const key = "sk-abcdefghij0123456789"
	s := strings.Replace(key, "s", `\u0073`, 1)
	for range maxDepth + 1 {
		s = strings.ReplaceAll(s, `\`, `\\`)
	}
	got := New(key).String("a " + s + " b")
	if got != Replacement {
		t.Errorf("got %q, want %q", got, Replacement)
	}
}

func TestNilAndCleanTextCostNothing(t *testing.T) {
	var nilR *Redactor
	if got := nilR.String("x " + testKey); got != "x "+testKey {
		t.Errorf("nil redactor changed the text: %q", got)
	}
	r := New(testKey)
	body := []byte(`{"error":{"message":"The model is overloaded. Try again later.","type":"server_error"}}`)
	if got := r.Bytes(body); &got[0] != &body[0] {
		t.Error("a body without secrets was copied")
	}
	if n := testing.AllocsPerRun(100, func() { r.Bytes(body) }); n != 0 {
		t.Errorf("%v allocations for a body without secrets, want 0", n)
	}
}

func TestBase64FormsAreKeyOnly(t *testing.T) {
	// Whatever comes before or after the key in the blob, each shifted form
	// is in its encoding.
	r := New(testKey)
	for _, prefix := range []string{"", "a", "ab", "abc", "user:", "Bearer "} {
		for _, suffix := range []string{"", "z", "zz", "\x00\xff\x10"} {
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
				blob := enc.EncodeToString([]byte(prefix + testKey + suffix))
				if !r.found([]byte(blob)) {
					t.Errorf("no form found in %q (prefix %q, suffix %q)", blob, prefix, suffix)
				}
			}
		}
	}
}

func BenchmarkRedact(b *testing.B) {
	r := New(testKey, "team-secret-987654")
	clean := []byte(`{"error":{"message":"Rate limit reached for requests. Please try again in 20s. Visit https://example.com/docs to learn more.","type":"requests","code":"rate_limit_exceeded"}}`)
	escaped := []byte(`{"error":{"message":"Incorrect API key provided: ` + escapeAll(testKey, `\u%04x`) + `.\nSee \"docs\".","type":"invalid_request_error"}}`)
	b.Run("clean", func(b *testing.B) {
		for b.Loop() {
			r.Bytes(clean)
		}
	})
	b.Run("escaped key", func(b *testing.B) {
		for b.Loop() {
			r.Bytes(escaped)
		}
	})
}
