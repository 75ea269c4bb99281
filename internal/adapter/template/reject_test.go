package template

import (
	"context"
	"encoding/json"
	"log/slog"
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
		// The README example has {{max_tokens}} and {{temperature}} only:
		// other sampling parameters would be lost on the way.
		{name: "top_p without placeholder", body: `{"model":"my-llm","messages":[` + user + `],"top_p":0.5}`,
			wantParam: "top_p", wantMsg: "its template has no {{top_p}} placeholder"},
		{name: "seed without placeholder", body: `{"model":"my-llm","messages":[` + user + `],"seed":7}`,
			wantParam: "seed", wantMsg: "its template has no {{seed}} placeholder"},
		{name: "presence_penalty without placeholder", body: `{"model":"my-llm","messages":[` + user + `],"presence_penalty":0.5}`,
			wantParam: "presence_penalty", wantMsg: "its template has no {{presence_penalty}} placeholder"},
		{name: "frequency_penalty without placeholder", body: `{"model":"my-llm","messages":[` + user + `],"frequency_penalty":-1}`,
			wantParam: "frequency_penalty", wantMsg: "its template has no {{frequency_penalty}} placeholder"},
		{name: "temperature without placeholder", template: `{"p":"{{prompt}}"}`, body: `{"model":"my-llm","messages":[` + user + `],"temperature":0.2}`,
			wantParam: "temperature", wantMsg: "its template has no {{temperature}} placeholder"},
		{name: "max_completion_tokens without placeholder", template: `{"p":"{{prompt}}"}`, body: `{"model":"my-llm","messages":[` + user + `],"max_completion_tokens":20}`,
			wantParam: "max_completion_tokens", wantMsg: "its template has no {{max_tokens}} placeholder"},
		{name: "logit_bias", body: `{"model":"my-llm","messages":[` + user + `],"logit_bias":{"50256":-100}}`,
			wantParam: "logit_bias", wantMsg: "does not support logit_bias"},
		{name: "top_logprobs", body: `{"model":"my-llm","messages":[` + user + `],"top_logprobs":3}`,
			wantParam: "top_logprobs", wantMsg: "does not return logprobs"},
		{name: "reasoning_effort", body: `{"model":"my-llm","messages":[` + user + `],"reasoning_effort":"high"}`,
			wantParam: "reasoning_effort", wantMsg: "has no reasoning effort"},
		{name: "functions", body: `{"model":"my-llm","messages":[` + user + `],"functions":[{"name":"f"}]}`,
			wantParam: "functions", wantMsg: "does not support functions"},
		{name: "function_call", body: `{"model":"my-llm","messages":[` + user + `],"function_call":{"name":"f"}}`,
			wantParam: "function_call", wantMsg: "function_call cannot be honoured"},
		{name: "audio", body: `{"model":"my-llm","messages":[` + user + `],"modalities":["text","audio"],"audio":{"voice":"alloy","format":"wav"}}`,
			wantParam: "modalities", wantMsg: "answers with text only"},
		{name: "web search", body: `{"model":"my-llm","messages":[` + user + `],"web_search_options":{}}`,
			wantParam: "web_search_options", wantMsg: "cannot search the web"},
		{name: "verbosity", body: `{"model":"my-llm","messages":[` + user + `],"verbosity":"low"}`,
			wantParam: "verbosity", wantMsg: "has no verbosity setting"},
		{name: "vendor parameter", body: `{"model":"my-llm","messages":[` + user + `],"top_k":40}`,
			wantParam: "top_k", wantMsg: `does not support "top_k": it has no such parameter`},
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
	accepted := []string{
		`"tools":[]`, `"tool_choice":"none"`, `"tool_choice":"auto"`, `"response_format":{"type":"text"}`,
		`"n":1`, `"logprobs":false`, `"stop":"x"`,
		// Values that change nothing: the OpenAI defaults.
		`"top_p":1`, `"presence_penalty":0`, `"frequency_penalty":0`, `"top_logprobs":0`, `"logit_bias":{}`,
		`"functions":[]`, `"function_call":"auto"`, `"modalities":["text"]`, `"top_k":null`,
		// Fields that identify or bill the request, not its answer.
		`"user":"u1"`, `"safety_identifier":"s"`, `"metadata":{"k":"v"}`, `"store":true`, `"service_tier":"auto"`,
		`"prompt_cache_key":"k"`, `"parallel_tool_calls":false`, `"prediction":{"type":"content","content":"x"}`,
	}
	for _, extra := range accepted {
		if _, err := send(a, `{"model":"my-llm","messages":[{"role":"user","content":"Hi"}],`+extra+`}`); err != nil {
			t.Errorf("%s: %v", extra, err)
		}
	}
	if n := len(api.requests()); n != len(accepted) {
		t.Errorf("upstream got %d requests, want %d", n, len(accepted))
	}
}

// A parameter is carried only when the body that is sent holds its
// placeholder: a stream section whose body replaces that key cannot carry it.
func TestStreamBodyDropsAPlaceholder(t *testing.T) {
	api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{"output":{"text":"x"}}`) })
	o := exampleOptions(api.URL)
	o.Body = json.RawMessage(`{"p":"{{prompt}}","seed":"{{seed}}"}`)
	o.Stream = &StreamConfig{Format: "sse", Body: json.RawMessage(`{"stream":true,"seed":1}`), Text: "token.text"}
	a := newAdapter(t, o)
	const req = `{"model":"my-llm","messages":[{"role":"user","content":"Hi"}],"seed":5`
	if _, err := send(a, req+`}`); err != nil {
		t.Fatal(err)
	}
	if got := api.last(t).Body; got != `{"p":"Hi","seed":5}` {
		t.Errorf("upstream body %s", got)
	}
	_, err := send(a, req+`,"stream":true}`)
	if ae := adapterError(t, err); ae.Status != 400 || ae.Err.Param != "seed" {
		t.Errorf("stream: got %d %+v, want a 400 naming seed", ae.Status, ae.Err)
	}
}

// With drop_params, what the template cannot carry is left out, the request
// goes upstream without it, and a debug line names the parameters (never
// their values).
func TestDropParams(t *testing.T) {
	api := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{"output":{"text":"x"}}`) })
	var logs strings.Builder
	o := exampleOptions(api.URL)
	o.DropParams = true
	o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a := newAdapter(t, o)
	_, err := send(a, `{"model":"my-llm","messages":[{"role":"user","content":"Hi"}],"max_tokens":5,"top_p":0.25,"seed":424242,`+
		`"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required","top_k":40,"logit_bias":{"1":2}}`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := api.last(t).Body, `{"model":"big-1","input":"Hi","history":[{"role":"user","content":"Hi"}],"params":{"max_new_tokens":5}}`; got != want {
		t.Errorf("upstream body %s, want %s", got, want)
	}
	line := logs.String()
	for _, want := range []string{"level=DEBUG", `model=my-llm`, "request_id=req_0123456789abcdef", "params=\"[top_p seed tools tool_choice logit_bias top_k]\""} {
		if !strings.Contains(line, want) {
			t.Errorf("log %q lacks %s", line, want)
		}
	}
	if strings.Contains(line, "424242") || strings.Contains(line, "0.25") {
		t.Errorf("the log shows a dropped value: %s", line)
	}
	// Message content is not a parameter: still refused.
	_, err = send(a, `{"model":"my-llm","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]}]}`)
	if ae := adapterError(t, err); ae.Status != 400 || ae.Err.Param != "messages[0].content" {
		t.Errorf("image with drop_params: %d %+v", ae.Status, ae.Err)
	}
}
