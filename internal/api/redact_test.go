package api_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// leakKey is the upstream key of the redaction tests. It has characters
// that URL encodings escape ("/", "+", ":", "?") and its standard base64
// holds a "/" and a "+", so that each form below is a different text.
const leakKey = "sk-li~e/Wj+8:q0Pa?kZ7eRc3xN1"

// leakForm is one way an upstream may echo the key.
type leakForm struct{ name, text string }

// leakForms are the forms of leakKey an upstream may echo, each valid
// inside a JSON string.
func leakForms() []leakForm {
	std := base64.StdEncoding.EncodeToString([]byte(leakKey))
	upper := regexp.MustCompile(`%[0-9A-F]{2}`)
	return []leakForm{
		{"raw", leakKey},
		{"json all \\u lower", escapeEach(leakKey, `\u%04x`)},
		{"json all \\u upper", escapeEach(leakKey, `\u%04X`)},
		{"json one char \\u", `\u0073` + leakKey[1:]},
		{"json \\/", strings.ReplaceAll(leakKey, "/", `\/`)},
		{"url query escape", url.QueryEscape(leakKey)},
		{"url query escape lower hex", upper.ReplaceAllStringFunc(url.QueryEscape(leakKey), strings.ToLower)},
		{"url path escape", url.PathEscape(leakKey)},
		{"url path escape lower hex", upper.ReplaceAllStringFunc(url.PathEscape(leakKey), strings.ToLower)},
		{"base64 std", std},
		{"base64 url unpadded", base64.RawURLEncoding.EncodeToString([]byte(leakKey))},
		{"base64 basic auth", "Basic " + base64.StdEncoding.EncodeToString([]byte("user:"+leakKey))},
		{"base64 shifted by one", base64.StdEncoding.EncodeToString([]byte("x" + leakKey))},
		{"base64 with \\/", strings.ReplaceAll(std, "/", `\/`)},
	}
}

func escapeEach(s, format string) string {
	var b strings.Builder
	for _, c := range s {
		fmt.Fprintf(&b, format, c)
	}
	return b.String()
}

// leakUpstream answers every request of the redaction tests with an error
// that echoes form: as an HTTP error body, or in-band in a stream after a
// first text chunk, in each provider's shape.
func leakUpstream(form string) http.Handler {
	sse := func(w http.ResponseWriter, events ...string) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, e := range events {
			io.WriteString(w, e+"\n\n")
		}
	}
	jsonError := func(w http.ResponseWriter, status int, body string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		stream := strings.Contains(string(body), `"stream":true`) || strings.Contains(r.URL.Path, ":streamGenerateContent")
		p := r.URL.Path
		switch {
		case strings.HasPrefix(p, "/oa/") && stream: // an in-band error in a passthrough stream
			sse(w,
				`data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"}}]}`,
				`data: {"error":{"message":"Incorrect API key provided: `+form+`.","type":"invalid_request_error","code":"invalid_api_key"}}`)
		case strings.HasPrefix(p, "/oa/"): // OpenAI-shaped: passed to the client as it is
			jsonError(w, http.StatusUnauthorized, `{"error":{"message":"Incorrect API key provided: `+form+`.","type":"invalid_request_error","code":"invalid_api_key"}}`)
		case strings.HasPrefix(p, "/detail/"): // FastAPI-shaped, retried
			jsonError(w, http.StatusServiceUnavailable, `{"detail":"backend rejected token `+form+`"}`)
		case strings.HasPrefix(p, "/an/") && stream:
			sse(w,
				`event: message_start`+"\n"+`data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[],"stop_reason":null,"usage":{"input_tokens":1,"output_tokens":0}}}`,
				`event: content_block_start`+"\n"+`data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
				`event: content_block_delta`+"\n"+`data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}`,
				`event: error`+"\n"+`data: {"type":"error","error":{"type":"overloaded_error","message":"overloaded while checking `+form+`"}}`)
		case strings.HasPrefix(p, "/an/"):
			jsonError(w, http.StatusUnauthorized, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key: `+form+`"},"request_id":"req_1"}`)
		case strings.HasPrefix(p, "/ge/") && stream:
			sse(w,
				`data: {"candidates":[{"content":{"role":"model","parts":[{"text":"Hi"}]}}],"modelVersion":"gem"}`,
				`data: {"error":{"code":429,"message":"quota exceeded for key `+form+`","status":"RESOURCE_EXHAUSTED"}}`)
		case strings.HasPrefix(p, "/ge/"):
			jsonError(w, http.StatusBadRequest, `{"error":{"code":400,"message":"API key not valid: `+form+`","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID"}]}}`)
		case strings.HasPrefix(p, "/tp/") && stream:
			sse(w, `data: {"text":"Hi"}`, `data: {"error":"key `+form+` revoked"}`)
		case strings.HasPrefix(p, "/tp/"):
			jsonError(w, http.StatusBadRequest, `{"error":"model crashed while using key `+form+`"}`)
		default:
			http.NotFound(w, r)
		}
	})
}

// leakModels configures one model per adapter and error path against the
// upstream at base, and a local program that writes form to its standard
// error. The key comes from the environment, as LEAK_KEY.
func leakModels(t *testing.T, base, form string) string {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tmpl := `"template": {"path": "/generate", "body": {"input": "{{prompt}}"}, "response": {"text": "text"},
		"stream": {"format": "sse", "body": {"stream": true}, "text": "text"}}`
	env, _ := json.Marshal(map[string]string{"AIGW_TEST_PROGRAM": "stderr", "AIGW_TEST_STDERR": form, "MODEL_TOKEN": "ENV:LEAK_KEY"})
	cmd, _ := json.Marshal([]string{self, "-test.run=^$"})
	return strings.ReplaceAll(`
		{"id": "oa-passthrough", "adapter": "openai_compat", "base_url": "UP/oa/v1", "api_key": "ENV:LEAK_KEY", "retries": 0},
		{"id": "oa-detail", "adapter": "openai_compat", "base_url": "UP/detail/v1", "api_key": "ENV:LEAK_KEY", "retries": 1},
		{"id": "anthropic", "adapter": "anthropic", "base_url": "UP/an", "api_key": "ENV:LEAK_KEY", "model": "claude", "retries": 0},
		{"id": "gemini", "adapter": "custom_http", "protocol": "gemini", "base_url": "UP/ge", "api_key": "ENV:LEAK_KEY", "model": "gem", "retries": 0},
		{"id": "template", "adapter": "custom_http", "protocol": "template", "base_url": "UP/tp", "api_key": "ENV:LEAK_KEY", "model": "t", "retries": 0, `+tmpl+`},
		{"id": "process", "adapter": "process", "command": `+string(cmd)+`, "env": `+string(env)+`, "timeout": 20}`, "UP", base)
}

// TestKeyNeverLeaks: whatever form an upstream echoes the key in, in an
// error body or in-band in a stream, and whatever form a local program
// writes it to standard error in, neither the client (after decoding the
// JSON it gets) nor the log sees it.
func TestKeyNeverLeaks(t *testing.T) {
	rows := []struct {
		model  string
		stream bool
	}{
		{"oa-passthrough", false}, {"oa-detail", false},
		{"anthropic", false}, {"anthropic", true},
		{"gemini", false}, {"gemini", true},
		{"template", false}, {"template", true},
		{"process", false},
	}
	for _, form := range leakForms() {
		t.Run(form.name, func(t *testing.T) {
			up := httptest.NewServer(leakUpstream(form.text))
			defer up.Close()
			g := startGateway(t, gatewayOptions{
				env:         map[string]string{"LEAK_KEY": leakKey},
				extraModels: leakModels(t, up.URL, form.text),
			})
			for _, row := range rows {
				status, _, body := g.post(t, "/v1/chat/completions",
					fmt.Sprintf(`{"model":%q,"stream":%t,"messages":[{"role":"user","content":"hi"}]}`, row.model, row.stream))
				texts := clientTexts(t, body)
				if status < 400 && !strings.Contains(body, `"error"`) {
					t.Errorf("%s (stream %t): status %d without an error: %s", row.model, row.stream, status, body)
				}
				redacted := false
				for _, s := range append(texts, body) {
					if leaks(s, form.text) {
						t.Errorf("%s (stream %t): the client gets the key: %q", row.model, row.stream, s)
					}
					redacted = redacted || strings.Contains(s, "[redacted]")
				}
				if !redacted { // else the test would pass without the upstream's text reaching the client
					t.Errorf("%s (stream %t): no [redacted] in the response: %s", row.model, row.stream, body)
				}
			}
			waitFor(t, "the access log lines", func() bool { return strings.Count(g.logs.String(), "msg=request ") == len(rows) })
			logs := g.logs.String()
			if leaks(strings.ReplaceAll(logs, `\\`, `\`), form.text) { // undo the log's own quoting first
				t.Errorf("the log has the key:\n%s", logs)
			}
			for _, line := range strings.Split(logs, "\n") {
				if (strings.Contains(line, "msg=request ") || strings.Contains(line, `msg="upstream attempt failed"`)) && !strings.Contains(line, "[redacted]") {
					t.Errorf("log line without the upstream's (redacted) text: %s", line)
				}
			}
			if !strings.Contains(logs, `msg="upstream attempt failed"`) {
				t.Error(`no "upstream attempt failed" line in the log`)
			}
		})
	}
}

// A passthrough stream is relayed as it comes, but an in-band error event in
// it is scanned like an error body: the client never gets the key.
func TestKeyNeverLeaksFromPassthroughStreamError(t *testing.T) {
	for _, form := range leakForms() {
		t.Run(form.name, func(t *testing.T) {
			up := httptest.NewServer(leakUpstream(form.text))
			defer up.Close()
			g := startGateway(t, gatewayOptions{
				env:         map[string]string{"LEAK_KEY": leakKey},
				extraModels: leakModels(t, up.URL, form.text),
			})
			_, _, body := g.post(t, "/v1/chat/completions", `{"model":"oa-passthrough","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
			if !strings.Contains(body, `"Hi"`) || !strings.Contains(body, "[redacted]") {
				t.Fatalf("want the content chunk and the redacted in-band error, got %s", body)
			}
			for _, s := range append(clientTexts(t, body), body) {
				if leaks(s, form.text) {
					t.Errorf("the client gets the key: %q", s)
				}
			}
		})
	}
}

// clientTexts returns every string a client decodes from a response: of
// its JSON body, or of each JSON event of its SSE stream.
func clientTexts(t *testing.T, body string) []string {
	t.Helper()
	docs := []string{body}
	if strings.HasPrefix(body, "data: ") {
		docs = nil
		for _, line := range strings.Split(body, "\n") {
			if d, ok := strings.CutPrefix(line, "data: "); ok && d != "[DONE]" {
				docs = append(docs, d)
			}
		}
	}
	var texts []string
	for _, d := range docs {
		var v any
		if err := json.Unmarshal([]byte(d), &v); err != nil {
			t.Errorf("the client cannot decode %q: %v", d, err)
			continue
		}
		texts = appendStrings(texts, v)
	}
	return texts
}

func appendStrings(out []string, v any) []string {
	switch v := v.(type) {
	case string:
		out = append(out, v)
	case []any:
		for _, e := range v {
			out = appendStrings(out, e)
		}
	case map[string]any:
		for k, e := range v {
			out = appendStrings(append(out, k), e)
		}
	}
	return out
}

var (
	jsonEscape = regexp.MustCompile(`\\u[0-9a-fA-F]{4}|\\/`)
	base64Word = regexp.MustCompile(`[A-Za-z0-9+/_-]{8,}=*`)
)

// leaks reports whether s gives the key away: raw, as the form it was
// sent in, or once its JSON escapes, URL escapes or base64 are decoded.
func leaks(s, form string) bool {
	if strings.Contains(s, form) {
		return true
	}
	unescaped := jsonEscape.ReplaceAllStringFunc(s, func(e string) string {
		if e == `\/` {
			return "/"
		}
		n, _ := strconv.ParseUint(e[2:], 16, 32)
		return string(rune(n))
	})
	query, _ := url.QueryUnescape(s)
	path, _ := url.PathUnescape(s)
	for _, text := range []string{s, unescaped, query, path} {
		if strings.Contains(text, leakKey) {
			return true
		}
		for _, w := range base64Word.FindAllString(text, -1) {
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
				if d, err := enc.DecodeString(w); err == nil && strings.Contains(string(d), leakKey) {
					return true
				}
			}
		}
	}
	return false
}

// An error that quotes the start of an upstream text cuts it short. The
// text must be redacted before the cut: a key cut in two is no longer
// recognised, and its first part would reach the client or the log.
func TestCutQuotesKeepNoPartOfTheKey(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		if strings.HasPrefix(r.URL.Path, "/ge/") {
			// Gemini's error quoted for the log is cut at 512 bytes.
			prefix := `data: {"error":{"code":429,"status":"RESOURCE_EXHAUSTED","message":"`
			io.WriteString(w, prefix+strings.Repeat("q", 500-len(prefix)+len("data: "))+leakKey+`"}}`+"\n\n")
			return
		}
		// A template stream event that is not JSON is quoted up to 300 bytes.
		io.WriteString(w, "data: {\"text\":\"Hi\"}\n\ndata: "+strings.Repeat("q", 290)+leakKey+" and more\n\n")
	}))
	defer up.Close()
	g := startGateway(t, gatewayOptions{
		env: map[string]string{"LEAK_KEY": leakKey},
		extraModels: strings.ReplaceAll(`
			{"id": "gemini", "adapter": "custom_http", "protocol": "gemini", "base_url": "UP/ge", "api_key": "ENV:LEAK_KEY", "model": "gem", "retries": 0},
			{"id": "template", "adapter": "custom_http", "protocol": "template", "base_url": "UP/tp", "api_key": "ENV:LEAK_KEY", "model": "t", "retries": 0,
			 "template": {"path": "/generate", "body": {"input": "{{prompt}}"}, "response": {"text": "text"}, "stream": {"format": "sse", "text": "text"}}}`, "UP", up.URL),
	})
	for _, model := range []string{"gemini", "template"} {
		_, _, body := g.post(t, "/v1/chat/completions", `{"model":"`+model+`","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
		if part := keyPart(body); part != "" {
			t.Errorf("%s: the response has %q of the key: %s", model, part, body)
		}
	}
	waitFor(t, "the access log lines", func() bool { return strings.Count(g.logs.String(), "msg=request ") == 2 })
	if part := keyPart(g.logs.String()); part != "" {
		t.Errorf("the log has %q of the key:\n%s", part, g.logs.String())
	}
}

// keyPart returns a piece of leakKey of 6 bytes found in s, or "".
func keyPart(s string) string {
	for i := 0; i+6 <= len(leakKey); i++ {
		if strings.Contains(s, leakKey[i:i+6]) {
			return leakKey[i : i+6]
		}
	}
	return ""
}
