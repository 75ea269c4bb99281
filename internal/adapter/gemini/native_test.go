package gemini

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/inbound/geminiapi"
	"aigateway/internal/mockllm"
)

const mockKey = "mock-secret-key-123"

// nativeSetup starts a Gemini mock and an adapter for the entry model
// model, with max_output_tokens maxOut.
func nativeSetup(t *testing.T, model string, maxOut int64) (*Adapter, *mockllm.Server) {
	t.Helper()
	mock := mockllm.New(mockllm.Options{APIKey: mockKey, Record: true, Models: []string{model}})
	srv := httptest.NewServer(mock)
	t.Cleanup(srv.Close)
	a := New(Options{ID: "client-model", BaseURL: srv.URL, APIKey: mockKey, Model: model, MaxOutputTokens: maxOut})
	return a, mock
}

// nativeRequest parses body as the Gemini inbound API does.
func nativeRequest(t *testing.T, body string, stream bool) *adapter.NativeRequest {
	t.Helper()
	req, err := geminiapi.ParseGemini([]byte(body), "client-model", stream)
	if err != nil {
		t.Fatal(err)
	}
	return req.Native()
}

func lastRequest(t *testing.T, mock *mockllm.Server) mockllm.Request {
	t.Helper()
	reqs := mock.Requests()
	if len(reqs) == 0 {
		t.Fatal("the mock got no request")
	}
	return reqs[len(reqs)-1]
}

// drain reads a stream to its end and returns its events' data.
func drain(t *testing.T, s adapter.Stream) ([]string, error) {
	t.Helper()
	defer s.Close()
	var out []string
	for {
		c, err := s.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if !c.Comment {
			out = append(out, string(c.Data))
		}
	}
}

func TestSendNativePassesTheBodyThrough(t *testing.T) {
	a, mock := nativeSetup(t, "gemini-2.5-flash", 100)
	body := `{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"futureField":{"kept":[1,2]},` +
		`"generationConfig":{"temperature":0.5,"maxOutputTokens":5000},"mock":{"content":"hello there"}}`
	resp, err := a.SendNative(context.Background(), nativeRequest(t, body, false))
	if err != nil {
		t.Fatal(err)
	}
	got := lastRequest(t, mock)
	if got.Path != "/v1beta/models/gemini-2.5-flash:generateContent" {
		t.Errorf("path %q, want the entry's model in the URL", got.Path)
	}
	want := strings.Replace(body, `"maxOutputTokens":5000`, `"maxOutputTokens":100`, 1)
	if string(got.Body) != want {
		t.Errorf("upstream body\n got %s\nwant %s", got.Body, want)
	}
	if got.Header.Get("X-Goog-Api-Key") != mockKey {
		t.Error("the entry's key was not sent")
	}
	if txt := gjson.GetBytes(resp.Body, "candidates.0.content.parts.0.text").String(); txt != "hello there" {
		t.Errorf("answer text %q in %s", txt, resp.Body)
	}
	if resp.Usage.PromptTokens == 0 || resp.Usage.TotalTokens == 0 {
		t.Errorf("usage %+v not taken from usageMetadata", resp.Usage)
	}
}

func TestSendNativeKeepsASmallerMaxOutputTokens(t *testing.T) {
	a, mock := nativeSetup(t, "gemini-2.5-flash", 100)
	body := `{"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"maxOutputTokens":50}}`
	if _, err := a.SendNative(context.Background(), nativeRequest(t, body, false)); err != nil {
		t.Fatal(err)
	}
	if got := string(lastRequest(t, mock).Body); got != body {
		t.Errorf("body changed: %s", got)
	}
}

func TestSendNativeStreamsEventByEvent(t *testing.T) {
	a, mock := nativeSetup(t, "gemini-2.5-flash", 0)
	body := `{"contents":[{"parts":[{"text":"hi"}]}],"mock":{"content":"one two three","chunks":3}}`
	resp, err := a.SendNative(context.Background(), nativeRequest(t, body, true))
	if err != nil {
		t.Fatal(err)
	}
	got := lastRequest(t, mock)
	if got.Path != "/v1beta/models/gemini-2.5-flash:streamGenerateContent" || got.Query != "alt=sse" {
		t.Errorf("upstream URL %s?%s, want :streamGenerateContent?alt=sse", got.Path, got.Query)
	}
	events, err := drain(t, resp.Stream)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for _, e := range events {
		if !gjson.Valid(e) {
			t.Fatalf("event is not JSON: %s", e)
		}
		text.WriteString(gjson.Get(e, "candidates.0.content.parts.0.text").String())
	}
	if len(events) < 3 || text.String() != "one two three" {
		t.Errorf("events %q", events)
	}
	if !strings.Contains(events[len(events)-1], `"finishReason":"STOP"`) {
		t.Errorf("last event has no finishReason: %s", events[len(events)-1])
	}
	if u := resp.Stream.Usage(); u.PromptTokens == 0 || u.CompletionTokens == 0 {
		t.Errorf("stream usage %+v", u)
	}
}

// TestSendNativeThoughtSignatureRoundTrip plays a tool turn with a Gemini 3
// mock, which signs its function calls and rejects a history whose call
// lacks the signature it issued.
func TestSendNativeThoughtSignatureRoundTrip(t *testing.T) {
	a, _ := nativeSetup(t, "gemini-3-pro-preview", 0)
	first := `{"contents":[{"role":"user","parts":[{"text":"weather?"}]}],` +
		`"mock":{"tool_calls":[{"name":"get_weather","arguments":{"city":"Paris"}}]}}`
	resp, err := a.SendNative(context.Background(), nativeRequest(t, first, false))
	if err != nil {
		t.Fatal(err)
	}
	part := gjson.GetBytes(resp.Body, "candidates.0.content.parts.0")
	sig := part.Get("thoughtSignature").String()
	if sig == "" || part.Get("functionCall.name").String() != "get_weather" {
		t.Fatalf("no signed function call in %s", resp.Body)
	}
	history := func(sig string) string {
		return `{"contents":[{"role":"user","parts":[{"text":"weather?"}]},` +
			`{"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris"}},"thoughtSignature":"` + sig + `"}]},` +
			`{"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"output":"18C"}}}]}]}`
	}
	if _, err := a.SendNative(context.Background(), nativeRequest(t, history(sig), false)); err != nil {
		t.Fatalf("the signed history was refused: %v", err)
	}
	_, err = a.SendNative(context.Background(), nativeRequest(t, history("AAAA"+sig[4:]), false))
	var ae *adapter.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
		t.Fatalf("a corrupted signature: err %v, want a 400", err)
	}
	if ae.BodyProtocol != adapter.ProtocolGemini || gjson.GetBytes(ae.Body, "error.status").String() != "INVALID_ARGUMENT" {
		t.Errorf("error body %s (protocol %v), want Gemini's own", ae.Body, ae.BodyProtocol)
	}
	if !strings.Contains(ae.Err.Message, "thought signature") {
		t.Errorf("Err.Message %q", ae.Err.Message)
	}
}

func TestSendNativeCountTokens(t *testing.T) {
	a, mock := nativeSetup(t, "gemini-2.5-flash", 0)
	body := `{"generateContentRequest":{"model":"models/client-model","contents":[{"parts":[{"text":"one two three four"}]}]}}`
	req, err := geminiapi.ParseCountTokens([]byte(body), "client-model")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.SendNative(context.Background(), req.Native())
	if err != nil {
		t.Fatal(err)
	}
	got := lastRequest(t, mock)
	if got.Path != "/v1beta/models/gemini-2.5-flash:countTokens" {
		t.Errorf("path %q", got.Path)
	}
	if m := gjson.GetBytes(got.Body, "generateContentRequest.model").String(); m != "models/gemini-2.5-flash" {
		t.Errorf("generateContentRequest.model %q, want the entry's model", m)
	}
	if n := gjson.GetBytes(resp.Body, "totalTokens").Int(); n != 4 || resp.Usage.PromptTokens != 4 {
		t.Errorf("answer %s, usage %+v", resp.Body, resp.Usage)
	}
}

func TestCountChatTokens(t *testing.T) {
	a, mock := nativeSetup(t, "gemini-2.5-flash", 0)
	n, err := a.CountChatTokens(context.Background(), []byte(
		`{"model":"client-model","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"one two three"}],`+
			`"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Errorf("count %d, want 5 (system and user words)", n)
	}
	got := lastRequest(t, mock)
	if got.Path != "/v1beta/models/gemini-2.5-flash:countTokens" {
		t.Errorf("path %q", got.Path)
	}
	g := gjson.GetBytes(got.Body, "generateContentRequest")
	if g.Get("model").String() != "models/gemini-2.5-flash" || !g.Get("systemInstruction").Exists() || !g.Get("tools").Exists() {
		t.Errorf("countTokens body %s", got.Body)
	}
}

func TestSendNativeErrors(t *testing.T) {
	a, _ := nativeSetup(t, "gemini-2.5-flash", 0)
	body := `{"contents":[{"parts":[{"text":"hi"}]}],"mock":{"status":429,"retry_after":"7"}}`
	_, err := a.SendNative(context.Background(), nativeRequest(t, body, false))
	var ae *adapter.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusTooManyRequests {
		t.Fatalf("err %v, want a 429", err)
	}
	if ae.BodyProtocol != adapter.ProtocolGemini || gjson.GetBytes(ae.Body, "error.code").Int() != 429 || ae.Err.Message == "" {
		t.Errorf("error %+v", ae)
	}
	if ae.Header.Get("Retry-After") != "7" {
		t.Errorf("Retry-After %q", ae.Header.Get("Retry-After"))
	}

	// The entry's key is wrong: the gateway's 401, not Gemini's "API key
	// not valid", which the client would take for its own key.
	bad := New(Options{ID: "client-model", BaseURL: strings.TrimSuffix(a.generateURL, "/v1beta/models/gemini-2.5-flash:generateContent"), APIKey: "wrong", Model: "gemini-2.5-flash"})
	_, err = bad.SendNative(context.Background(), nativeRequest(t, `{"contents":[{"parts":[{"text":"hi"}]}]}`, false))
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || ae.Body != nil {
		t.Fatalf("err %v (%+v), want a 401 without Gemini's body", err, ae)
	}
}

// fakeGemini serves one scripted SSE body for every request.
func fakeGemini(t *testing.T, body string) *Adapter {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, body) //nolint:errcheck // test server
	}))
	t.Cleanup(srv.Close)
	return New(Options{ID: "client-model", BaseURL: srv.URL, APIKey: mockKey, Model: "gemini-2.5-flash"})
}

func TestNativeStreamInBandErrorIsRedacted(t *testing.T) {
	a := fakeGemini(t, "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"hi\"}],\"role\":\"model\"}}]}\r\n\r\n"+
		"data: {\"error\":{\"code\":503,\"message\":\"overloaded for key "+mockKey+"\",\"status\":\"UNAVAILABLE\"}}\r\n\r\n")
	resp, err := a.SendNative(context.Background(), nativeRequest(t, `{"contents":[{"parts":[{"text":"hi"}]}]}`, true))
	if err != nil {
		t.Fatal(err)
	}
	events, err := drain(t, resp.Stream)
	if len(events) != 1 {
		t.Errorf("events %q, want the text event only", events)
	}
	var ae *adapter.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable || ae.BodyProtocol != adapter.ProtocolGemini {
		t.Fatalf("err %v, want a 503 with Gemini's body", err)
	}
	if strings.Contains(string(ae.Body), mockKey) || strings.Contains(ae.Error(), mockKey) {
		t.Errorf("the key leaked: %s / %v", ae.Body, ae)
	}
}

func TestNativeStreamCutShort(t *testing.T) {
	a := fakeGemini(t, "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"hi\"}],\"role\":\"model\"}}]}\r\n\r\n")
	resp, err := a.SendNative(context.Background(), nativeRequest(t, `{"contents":[{"parts":[{"text":"hi"}]}]}`, true))
	if err != nil {
		t.Fatal(err)
	}
	_, err = drain(t, resp.Stream)
	var ae *adapter.Error
	if !errors.As(err, &ae) || ae.Err.Code != "stream_incomplete" {
		t.Fatalf("err %v, want stream_incomplete", err)
	}
}
