package template

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
)

// TestRejected checks the requests a template cannot honour: 400 naming the
// param, and nothing sent upstream.
func TestRejected(t *testing.T) {
	const user = `{"role":"user","content":"Hi"}`
	tests := []struct {
		name      string
		op        adapter.Op
		template  string
		body      string
		wantParam string
		wantMsg   string
	}{
		{name: "embeddings", op: adapter.OpEmbedding, body: `{"model":"my-llm","input":"x"}`,
			wantMsg: `model "my-llm" (template) does not support /v1/embeddings`},
		{name: "completions", op: adapter.OpCompletion, body: `{"model":"my-llm","prompt":"x"}`,
			wantMsg: `model "my-llm" (template) does not support /v1/completions`},
		{name: "tools", body: `{"model":"my-llm","messages":[` + user + `],"tools":[{"type":"function","function":{"name":"f"}}]}`,
			wantParam: "tools", wantMsg: "does not support tools"},
		{name: "tool_choice required", body: `{"model":"my-llm","messages":[` + user + `],"tool_choice":"required"}`,
			wantParam: "tool_choice", wantMsg: "tool_choice cannot be honoured"},
		{name: "tool_choice function", body: `{"model":"my-llm","messages":[` + user + `],"tool_choice":{"type":"function","function":{"name":"f"}}}`,
			wantParam: "tool_choice", wantMsg: "tool_choice cannot be honoured"},
		{name: "tool_choice invalid", body: `{"model":"my-llm","messages":[` + user + `],"tool_choice":"sometimes"}`,
			wantParam: "tool_choice", wantMsg: `"sometimes" is not one of`},
		{name: "response_format json", body: `{"model":"my-llm","messages":[` + user + `],"response_format":{"type":"json_object"}}`,
			wantParam: "response_format", wantMsg: `does not support response_format "json_object"`},
		{name: "n>1", body: `{"model":"my-llm","messages":[` + user + `],"n":2}`,
			wantParam: "n", wantMsg: "n must be 1, got 2"},
		{name: "logprobs", body: `{"model":"my-llm","messages":[` + user + `],"logprobs":true}`,
			wantParam: "logprobs", wantMsg: "does not return logprobs"},
		{name: "image", body: `{"model":"my-llm","messages":[{"role":"user","content":[{"type":"text","text":"what?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]}]}`,
			wantParam: "messages[0].content", wantMsg: `model "my-llm" (template) accepts text only`},
		{name: "tool message", body: `{"model":"my-llm","messages":[` + user + `,{"role":"tool","tool_call_id":"c","content":"42"}]}`,
			wantParam: "messages[1].role", wantMsg: "does not support tool messages"},
		{name: "assistant tool calls", body: `{"model":"my-llm","messages":[` + user + `,{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]}]}`,
			wantParam: "messages[1].tool_calls", wantMsg: "does not support tool calls"},
		{name: "unknown role", body: `{"model":"my-llm","messages":[{"role":"robot","content":"x"}]}`,
			wantParam: "messages[0].role", wantMsg: `unknown role "robot"`},
		{name: "stop without placeholder", body: `{"model":"my-llm","messages":[` + user + `],"stop":["x"]}`,
			wantParam: "stop", wantMsg: "its template has no {{stop}} placeholder"},
		{name: "bad field type", body: `{"model":"my-llm","messages":[` + user + `],"n":"two"}`,
			wantParam: "n", wantMsg: "n: must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{"output":{"text":"x"}}`) })
			o := exampleOptions(api.URL)
			if tt.template != "" {
				o.Body = json.RawMessage(tt.template)
			}
			for _, stream := range []bool{false, true} {
				body := tt.body
				if stream {
					body = strings.Replace(body, `{"model":"my-llm"`, `{"model":"my-llm","stream":true`, 1)
				}
				_, err := sendOp(context.Background(), newAdapter(t, o), tt.op, body)
				ae := adapterError(t, err)
				if ae.Status != http.StatusBadRequest || ae.Err.Type != openai.TypeInvalidRequest ||
					ae.Err.Param != tt.wantParam || !strings.Contains(ae.Err.Message, tt.wantMsg) {
					t.Errorf("stream=%v: got %d %+v, want 400 param %q message with %q", stream, ae.Status, ae.Err, tt.wantParam, tt.wantMsg)
				}
			}
			if n := len(api.requests()); n != 0 {
				t.Errorf("upstream got %d requests, want none", n)
			}
		})
	}
}

// TestAccepted checks harmless forms of the rejected fields.
func TestAccepted(t *testing.T) {
	api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{"output":{"text":"x"}}`) })
	o := exampleOptions(api.URL)
	o.Body = json.RawMessage(`{"p":"{{prompt}}","stop":"{{stop}}"}`)
	a := newAdapter(t, o)
	for _, extra := range []string{
		`"tools":[]`, `"tool_choice":"none"`, `"tool_choice":"auto"`, `"response_format":{"type":"text"}`,
		`"n":1`, `"logprobs":false`, `"stop":"x"`, `"top_p":0.5`,
	} {
		if _, err := send(a, `{"model":"my-llm","messages":[{"role":"user","content":"Hi"}],`+extra+`}`); err != nil {
			t.Errorf("%s: %v", extra, err)
		}
	}
	if n := len(api.requests()); n != 8 {
		t.Errorf("upstream got %d requests, want 8", n)
	}
}
