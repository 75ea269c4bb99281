package openaicompat

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3/responses"
	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/mockllm"
)

func nativeRequest(body string, stream bool) *adapter.NativeRequest {
	b := []byte(body)
	n := &adapter.NativeRequest{Protocol: adapter.ProtocolResponses, Stream: stream, Body: b}
	m := gjson.GetBytes(b, "model")
	n.ModelStart, n.ModelEnd = m.Index, m.Index+len(m.Raw)
	if mt := gjson.GetBytes(b, "max_output_tokens"); mt.Exists() {
		n.MaxTokensStart, n.MaxTokensEnd, n.MaxTokens = mt.Index, mt.Index+len(mt.Raw), mt.Int()
	}
	return n
}

// TestNativeResponses: an entry with responses: native passes the body
// through to {base}/responses with the model and the token cap applied,
// and relays the answer, stream events with their names.
func TestNativeResponses(t *testing.T) {
	mock := mockllm.New(mockllm.Options{Record: true})
	srv := httptest.NewServer(mock)
	defer srv.Close()
	a := New(Options{ID: "gw-model", BaseURL: srv.URL + "/v1", Model: "up-model", NativeResponses: true, MaxOutputTokens: 1000})
	if !a.Speaks(adapter.ProtocolResponses) || a.Speaks(adapter.ProtocolMessages) {
		t.Fatal("Speaks")
	}
	if New(Options{BaseURL: srv.URL}).Speaks(adapter.ProtocolResponses) {
		t.Fatal("an entry without responses: native must not speak Responses")
	}
	const body = `{"model":"gw-model","max_output_tokens":32000,"unknown":{"kept":true},"input":"hello there",
		"tools":[{"type":"custom","name":"apply_patch"}],"mock":{"tool_calls":[{"name":"apply_patch","arguments":"*** Begin Patch\n*** End Patch\n"}]}}`

	resp, err := a.SendNative(context.Background(), nativeRequest(body, false))
	if err != nil {
		t.Fatal(err)
	}
	var r responses.Response
	if err := json.Unmarshal(resp.Body, &r); err != nil || len(r.Output) == 0 {
		t.Fatalf("%s: %v", resp.Body, err)
	}
	if r.Output[0].Type != "custom_tool_call" || r.Output[0].Input != "*** Begin Patch\n*** End Patch\n" || resp.Usage.PromptTokens != 2 {
		t.Errorf("answer %s, usage %+v", resp.Body, resp.Usage)
	}
	sent := mock.Requests()[0]
	if sent.Path != "/v1/responses" || gjson.GetBytes(sent.Body, "model").Str != "up-model" ||
		gjson.GetBytes(sent.Body, "max_output_tokens").Int() != 1000 || !gjson.GetBytes(sent.Body, "unknown.kept").Bool() {
		t.Errorf("sent %s %s", sent.Path, sent.Body)
	}

	sbody := strings.Replace(body, `"input"`, `"stream":true,"input"`, 1)
	resp, err = a.SendNative(context.Background(), nativeRequest(sbody, true))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Stream.Close()
	var names []string
	for {
		c, err := resp.Stream.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var ev responses.ResponseStreamEventUnion
		if err := json.Unmarshal(c.Data, &ev); err != nil || ev.Type != string(c.Event) {
			t.Fatalf("event %s %s: %v", c.Event, c.Data, err)
		}
		names = append(names, string(c.Event))
	}
	if names[len(names)-1] != "response.completed" || !contains(names, "response.custom_tool_call_input.delta") {
		t.Errorf("events %v", names)
	}
	if u := resp.Stream.Usage(); u.PromptTokens != 2 || u.TotalTokens == 0 {
		t.Errorf("stream usage %+v", u)
	}
}

func TestNativeResponsesErrors(t *testing.T) {
	srv := httptest.NewServer(mockllm.New(mockllm.Options{}))
	defer srv.Close()
	a := New(Options{ID: "gw-model", BaseURL: srv.URL + "/v1", Model: "up", APIKey: "sk-secret-key-123", NativeResponses: true})
	_, err := a.SendNative(context.Background(), nativeRequest(`{"model":"m","input":"x","mock":{"status":429,"error_message":"slow down sk-secret-key-123"}}`, false))
	var e *adapter.Error
	if !errors.As(err, &e) || e.Status != 429 || e.BodyProtocol != adapter.ProtocolResponses || e.Err.Message == "" ||
		strings.Contains(string(e.Body), "sk-secret") || strings.Contains(e.Err.Message, "sk-secret") {
		t.Fatalf("error %#v", err)
	}

	// A stream cut before its terminal event is an error, not an end.
	resp, err := a.SendNative(context.Background(), nativeRequest(`{"model":"m","stream":true,"input":"x","mock":{"cut_after":1}}`, true))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Stream.Close()
	for {
		_, err := resp.Stream.Next()
		if err == io.EOF {
			t.Fatal("a cut stream ended as if complete")
		}
		if err != nil {
			break
		}
	}
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// TestNativeResponsesEndsAtTheTerminalEvent: the stream ends at
// response.completed, without waiting for the upstream to close: Codex
// hangs up as soon as it has that event, and a gateway still reading
// would log the finished answer as a client that left (499).
func TestNativeResponsesEndsAtTheTerminalEvent(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\"}}\n\n"+
			"event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\",\"usage\":{\"input_tokens\":5,\"output_tokens\":2,\"total_tokens\":7}}}\n\n")
		w.(http.Flusher).Flush()
		select { // an upstream that keeps the connection open after the end
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	a := New(Options{ID: "gw-model", BaseURL: srv.URL + "/v1", Model: "up", NativeResponses: true})
	resp, err := a.SendNative(context.Background(), nativeRequest(`{"model":"m","stream":true,"input":"x"}`, true))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Stream.Close()
	defer close(release) // first: Close drains what the upstream still sends
	ended := make(chan []string, 1)
	go func() {
		var names []string
		for {
			c, err := resp.Stream.Next()
			if err != nil {
				ended <- append(names, err.Error())
				return
			}
			names = append(names, string(c.Event))
		}
	}()
	select {
	case names := <-ended:
		if strings.Join(names, ",") != "response.created,response.completed,EOF" {
			t.Errorf("events %v, want created, completed, then EOF", names)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not end at response.completed: it waits for the upstream to close")
	}
	if u := resp.Stream.Usage(); u.PromptTokens != 5 || u.CompletionTokens != 2 {
		t.Errorf("usage %+v", u)
	}
}
