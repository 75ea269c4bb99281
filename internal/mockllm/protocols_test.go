package mockllm

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"aigateway/internal/sse"

	"github.com/google/go-cmp/cmp"
)

// namedEvent is one SSE event as read by internal/sse.
type namedEvent struct {
	Name string
	Data any // decoded JSON
}

// readEvents parses a stream with internal/sse until EOF or a read error,
// which it returns (nil at a clean EOF). Each data payload must be JSON.
func readEvents(t *testing.T, r io.Reader) ([]namedEvent, error) {
	t.Helper()
	rd := sse.NewReader(r, 0)
	var out []namedEvent
	for {
		ev, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		var v any
		if err := json.Unmarshal(ev.Data, &v); err != nil {
			t.Fatalf("event %q: data is not JSON: %q", ev.Name, ev.Data)
		}
		out = append(out, namedEvent{Name: string(ev.Name), Data: v})
	}
}

// streamResponse posts body and returns the open response, failing the
// test unless it is a 200 of content type ct.
func streamResponse(t *testing.T, ctx context.Context, hs *httptest.Server, path, body, ct string, headers ...string) *http.Response {
	t.Helper()
	resp, err := send(t, ctx, hs, http.MethodPost, path, body, headers...)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	if got := resp.Header.Get("Content-Type"); got != ct {
		t.Fatalf("Content-Type %q, want %q", got, ct)
	}
	return resp
}

// jsonValue decodes s, which the test wrote, for cmp against decodeMap.
func jsonValue(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad test JSON %q: %v", s, err)
	}
	return v
}

func TestXMockHeader(t *testing.T) {
	tests := []struct {
		name, path, body string
		headers          []string
		status           int
		want             string // exact body
	}{
		{
			name: "openai header wins over body", path: "/v1/chat/completions",
			body:    chatBody + `,"mock":{"status":500}}`,
			headers: []string{"X-Mock", `{"status":418,"error_message":"from header"}`},
			status:  418, want: `{"error":{"message":"from header","type":"invalid_request_error","param":null,"code":null}}` + "\n",
		},
		{
			name: "openai invalid header", path: "/v1/chat/completions", body: chatBody + `}`,
			headers: []string{"X-Mock", `{"status":`},
			status:  400, want: `{"error":{"message":"mockllm: invalid X-Mock header: unexpected end of JSON input","type":"invalid_request_error","param":null,"code":null}}` + "\n",
		},
		{
			name: "openai models", path: "/v1/models", headers: []string{"X-Mock", `{"status":503}`},
			status: 503, want: `{"error":{"message":"mockllm: scripted error (HTTP 503)","type":"server_error","param":null,"code":null}}` + "\n",
		},
		{
			name: "anthropic header wins over body", path: "/v1/messages",
			body:    `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"mock":{"status":500}}`,
			headers: []string{"anthropic-version", "2023-06-01", "X-Mock", `{"status":429}`},
			status:  429, want: `{"type":"error","error":{"type":"rate_limit_error","message":"mockllm: scripted error (HTTP 429)"},"request_id":"req_mock_1"}` + "\n",
		},
		{
			name: "gemini header wins over body", path: "/v1beta/models/g:generateContent",
			body:    `{"contents":[{"parts":[{"text":"hi"}]}],"mock":{"status":500}}`,
			headers: []string{"X-Mock", `{"status":503}`},
			status:  503, want: `{"error":{"code":503,"message":"mockllm: scripted error (HTTP 503)","status":"UNAVAILABLE"}}` + "\n",
		},
		{
			name: "gemini invalid header", path: "/v1beta/models/g:generateContent",
			body:    `{"contents":[{"parts":[{"text":"hi"}]}]}`,
			headers: []string{"X-Mock", `[1]`},
			status:  400, want: `{"error":{"code":400,"message":"mockllm: invalid X-Mock header: json: cannot unmarshal array into Go value of type mockllm.Directive","status":"INVALID_ARGUMENT"}}` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := http.MethodPost
			if tt.body == "" {
				method = http.MethodGet
			}
			s, hs := newTestServer(t, Options{})
			resp, b := fetch(t, hs, method, tt.path, tt.body, tt.headers...)
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if diff := cmp.Diff(tt.want, string(b)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			waitIdle(t, s)
		})
	}
}

func TestXMockHeaderReplacesBodyDirective(t *testing.T) {
	// The header is the whole directive: fields only in the body's "mock"
	// do not apply.
	_, hs := newTestServer(t, Options{})
	resp, b := fetch(t, hs, http.MethodPost, "/v1beta/models/g:generateContent",
		`{"contents":[{"parts":[{"text":"hi"}]}],"mock":{"status":500,"chunks":5}}`, "X-Mock", `{"content":"from header"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	if !strings.Contains(string(b), `"parts":[{"text":"from header"}]`) {
		t.Errorf("reply does not use the header's content: %s", b)
	}
}

func TestRecordProtocols(t *testing.T) {
	s, hs := newTestServer(t, Options{Record: true})
	gbody := `{"contents":[{"parts":[{"text":"hi"}]}]}`
	abody := `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`
	fetch(t, hs, http.MethodPost, "/v1beta/models/gemini-x:streamGenerateContent?alt=sse", gbody, "x-goog-api-key", "k")
	fetch(t, hs, http.MethodPost, "/v1/messages", abody, "anthropic-version", "2023-06-01")
	waitIdle(t, s)
	got := s.Requests()
	if len(got) != 2 {
		t.Fatalf("recorded %d requests, want 2", len(got))
	}
	g, a := got[0], got[1]
	if g.Method != "POST" || g.Path != "/v1beta/models/gemini-x:streamGenerateContent" || g.Query != "alt=sse" ||
		string(g.Body) != gbody || g.Header.Get("x-goog-api-key") != "k" {
		t.Errorf("gemini request %+v", g)
	}
	if a.Path != "/v1/messages" || a.Query != "" || string(a.Body) != abody || a.Header.Get("anthropic-version") != "2023-06-01" {
		t.Errorf("anthropic request %+v", a)
	}
}

func TestRouting(t *testing.T) {
	tests := []struct {
		name, method, path, body string
		status                   int
		want                     string // substring of the body
	}{
		{"OpenAI model id with colons", "GET", "/v1/models/ft:gpt-4o:org::id", "", 404, `"code":"model_not_found"`},
		{"Gemini v1 colon method", "POST", "/v1/models/g:generateContent", `{"contents":[{"parts":[{"text":"x"}]}]}`, 200, `"modelVersion":"g"`},
		{"unknown Gemini method", "POST", "/v1beta/models/g:frobnicate", `{}`, 404, `"status":"NOT_FOUND"`},
		{"unknown v1beta path", "GET", "/v1beta/files", "", 404, `"status":"NOT_FOUND"`},
		{"v1beta prefix lookalike", "GET", "/v1beta/modelsX", "", 404, `"status":"NOT_FOUND"`},
		{"unknown messages path", "POST", "/v1/messages/batches", `{}`, 404, `"type":"not_found_error"`},
		{"GET on generateContent", "GET", "/v1beta/models/g:generateContent", "", 405, `"status":"UNKNOWN"`},
		{"unknown path", "GET", "/nope", "", 404, `"type":"invalid_request_error"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, hs := newTestServer(t, Options{})
			resp, b := fetch(t, hs, tt.method, tt.path, tt.body)
			if resp.StatusCode != tt.status || !strings.Contains(string(b), tt.want) {
				t.Errorf("status %d body %s; want %d with %s", resp.StatusCode, b, tt.status, tt.want)
			}
		})
	}
}
