package process

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"aigateway/internal/openai"
)

// conversation is the golden conversation: a system and a developer
// message, two user turns and one assistant turn, with spaces to trim.
var conversation = []string{
	"system", "Be brief.", "user", " Hi ", "assistant", "Hello.", "developer", "Use English.", "user", "Bye",
}

func TestPromptFormats(t *testing.T) {
	tests := []struct {
		format string
		msgs   []string
		want   string
	}{
		{format: "", msgs: conversation,
			want: "System: Be brief.\n\nUse English.\n\nUser:  Hi \n\nAssistant: Hello.\n\nUser: Bye\n\nAssistant:"},
		{format: "plain", msgs: []string{"user", "Just this"}, want: "Just this"},
		{format: "plain", msgs: []string{"system", "S", "user", "U"}, want: "System: S\n\nUser: U\n\nAssistant:"},
		{format: "chatml", msgs: conversation, want: "<|im_start|>system\nBe brief.<|im_end|>\n" +
			"<|im_start|>user\n Hi <|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n" +
			"<|im_start|>system\nUse English.<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n"},
		{format: "llama3", msgs: conversation, want: "<|begin_of_text|>" +
			"<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>" +
			"<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>" +
			"<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>" +
			"<|start_header_id|>system<|end_header_id|>\n\nUse English.<|eot_id|>" +
			"<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>" +
			"<|start_header_id|>assistant<|end_header_id|>\n\n"},
		{format: "gemma", msgs: conversation, want: "<bos>" +
			"<start_of_turn>user\nBe brief.\n\nUse English.\n\nHi<end_of_turn>\n" +
			"<start_of_turn>model\nHello.<end_of_turn>\n" +
			"<start_of_turn>user\nBye<end_of_turn>\n<start_of_turn>model\n"},
		{format: "gemma", msgs: []string{"system", "Only system"},
			want: "<bos><start_of_turn>user\nOnly system<end_of_turn>\n<start_of_turn>model\n"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			a := newAdapter(t, Options{ID: "m", Command: []string{"prog"}, PromptFormat: tt.format})
			if got := renderPrompt(t, a, tt.msgs...); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestPromptTemplate(t *testing.T) {
	a := newAdapter(t, Options{ID: "m", Command: []string{"prog"}, Model: "zephyr", PromptFormat: "chatml",
		PromptTemplate: "{{if .System}}<|system|>\n{{.System}}</s>\n{{end}}" +
			"{{range .Turns}}<|{{.Role}}|>\n{{trim .Content}}</s>\n{{end}}<|assistant|>\n({{.Model}} {{len .Messages}})"})
	want := "<|system|>\nBe brief.\n\nUse English.</s>\n<|user|>\nHi</s>\n<|assistant|>\nHello.</s>\n<|user|>\nBye</s>\n<|assistant|>\n(zephyr 5)"
	if got := renderPrompt(t, a, conversation...); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestPromptTemplateFailure(t *testing.T) {
	a := newAdapter(t, Options{ID: "m", Command: []string{"prog"}, PromptTemplate: "{{(index .Messages 1).Content}}"})
	_, err := a.job(decode(t, body(false, "", "user", "only one")))
	ae := wantError(t, err, http.StatusInternalServerError, "prompt_template_failed")
	if !strings.Contains(ae.Err.Message, "index out of range") {
		t.Errorf("message %q", ae.Err.Message)
	}
}

func renderPrompt(t *testing.T, a *Adapter, msgs ...string) string {
	t.Helper()
	j, err := a.job(decode(t, body(false, "", msgs...)))
	if err != nil {
		t.Fatal(err)
	}
	if !j.stdin || j.promptTokens != int64(len(j.prompt)+3)/4 {
		t.Errorf("job %+v", j)
	}
	return j.prompt
}

func decode(t *testing.T, b []byte) *openai.ChatRequest {
	t.Helper()
	r, oerr := openai.DecodeChatRequest(b)
	if oerr != nil {
		t.Fatal(oerr.Message)
	}
	return r
}

func TestRejected(t *testing.T) {
	user := `"messages":[{"role":"user","content":"Hi"}]`
	tests := []struct {
		name, body, param, code string
	}{
		{"tools", `{"model":"local",` + user + `,"tools":[{"type":"function","function":{"name":"f"}}]}`, "tools", "unsupported_parameter"},
		{"tool_choice required", `{"model":"local",` + user + `,"tool_choice":"required"}`, "tool_choice", "unsupported_parameter"},
		{"response_format", `{"model":"local",` + user + `,"response_format":{"type":"json_object"}}`, "response_format", "unsupported_parameter"},
		{"n", `{"model":"local",` + user + `,"n":2}`, "n", "unsupported_parameter"},
		{"logprobs", `{"model":"local",` + user + `,"logprobs":true}`, "logprobs", "unsupported_parameter"},
		{"logit_bias", `{"model":"local",` + user + `,"logit_bias":{"50256":-100}}`, "logit_bias", "unsupported_parameter"},
		{"stop", `{"model":"local",` + user + `,"stop":"\n"}`, "stop", "unsupported_parameter"},
		{"zero max_tokens", `{"model":"local",` + user + `,"max_tokens":0}`, "max_tokens", "invalid_value"},
		// The command (echo-stdin) has no placeholders: sampling parameters
		// cannot reach the program.
		{"temperature without placeholder", `{"model":"local",` + user + `,"temperature":0.5}`, "temperature", "unsupported_parameter"},
		{"max_tokens without placeholder", `{"model":"local",` + user + `,"max_tokens":5}`, "max_tokens", "unsupported_parameter"},
		{"max_completion_tokens without placeholder", `{"model":"local",` + user + `,"max_completion_tokens":5}`, "max_completion_tokens", "unsupported_parameter"},
		{"top_p without placeholder", `{"model":"local",` + user + `,"top_p":0.5}`, "top_p", "unsupported_parameter"},
		{"seed without placeholder", `{"model":"local",` + user + `,"seed":1}`, "seed", "unsupported_parameter"},
		{"presence_penalty without placeholder", `{"model":"local",` + user + `,"presence_penalty":0.5}`, "presence_penalty", "unsupported_parameter"},
		{"frequency_penalty without placeholder", `{"model":"local",` + user + `,"frequency_penalty":-0.5}`, "frequency_penalty", "unsupported_parameter"},
		{"reasoning_effort", `{"model":"local",` + user + `,"reasoning_effort":"low"}`, "reasoning_effort", "unsupported_parameter"},
		{"vendor field", `{"model":"local",` + user + `,"top_k":40}`, "top_k", "unsupported_parameter"},
		{"image", `{"model":"local","messages":[{"role":"user","content":[{"type":"text","text":"see"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]}]}`,
			"messages[0].content", "unsupported_parameter"},
		{"tool message", `{"model":"local","messages":[{"role":"user","content":"Hi"},{"role":"tool","tool_call_id":"c","content":"42"}]}`,
			"messages[1].role", "unsupported_parameter"},
		{"assistant tool calls", `{"model":"local","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]}]}`,
			"messages[0].tool_calls", "unsupported_parameter"},
		{"unknown role", `{"model":"local","messages":[{"role":"robot","content":"Hi"}]}`, "messages[0].role", "invalid_value"},
		{"bad JSON type", `{"model":"local",` + user + `,"n":"two"}`, "n", "invalid_value"},
	}
	a := newAdapter(t, helperOptions(t, "echo-stdin"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := send(context.Background(), a, []byte(tt.body))
			ae := wantError(t, err, http.StatusBadRequest, tt.code)
			if ae.Err.Param != tt.param {
				t.Errorf("param %q, want %q", ae.Err.Param, tt.param)
			}
		})
	}
	// What a text program can honour is accepted: text parts, tool_choice
	// "none", response_format text, and the values that change nothing: n
	// 1, empty logit_bias, top_p 1, zero penalties; and fields that only
	// identify the request.
	ok := `{"model":"local","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],` +
		`"tool_choice":"none","response_format":{"type":"text"},"n":1,"logit_bias":{},"top_p":1,"presence_penalty":0,` +
		`"frequency_penalty":0,"user":"u","metadata":{"k":"v"},"store":false,"top_k":null}`
	if got := text(completion(t, a, []byte(ok))); got != "ab" {
		t.Errorf("got %q, want ab", got)
	}
}

func TestPromptArgumentWithNUL(t *testing.T) {
	a := newAdapter(t, Options{ID: "m", Command: []string{"prog", "-p", "{prompt}"}})
	_, err := a.job(decode(t, body(false, "", "user", "a\x00b")))
	if ae := wantError(t, err, http.StatusBadRequest, "invalid_value"); ae.Err.Param != "messages" {
		t.Errorf("param %q", ae.Err.Param)
	}
}

func TestParseArg(t *testing.T) {
	v := &values{prompt: "P", model: "M", maxTokens: 7, temperature: 1.5}
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"", ""},
		{"{prompt}", "P"},
		{"--p={prompt}!{model}", "--p=P!M"},
		{"{max_tokens}{temperature}", "71.5"},
		{`{"json":{"x":1}}`, `{"json":{"x":1}}`},
		{"{1,3} { prompt } {", "{1,3} { prompt } {"},
		{"{prompt", "{prompt"},
	}
	for _, tt := range tests {
		ar, err := parseArg(tt.in)
		if err != nil {
			t.Errorf("parseArg(%q): %v", tt.in, err)
			continue
		}
		if got := ar.render(v); got != tt.want {
			t.Errorf("render(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
