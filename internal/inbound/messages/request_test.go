package messages

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/adapter/gemini"
	"aigateway/internal/inbound"
	"aigateway/internal/openai"
)

// TestCapturesConvert converts every captured client body for an OpenAI
// compatible, a Gemini and a text-only target, pins the Chat bodies with
// golden files, and checks that each adapter's own reader takes them: the
// gateway's Peek, the Chat decoder, and the Gemini converter.
func TestCapturesConvert(t *testing.T) {
	for _, c := range captures(t) {
		t.Run(c.Name, func(t *testing.T) {
			req := parse(t, c.Path, c.Headers, c.Body)
			for _, tc := range []struct {
				name   string
				target inbound.Target
			}{{"chat", chatTarget}, {"gemini", geminiTarget}, {"text", textTarget}} {
				body, err := req.Chat(tc.target)
				if err != nil {
					t.Fatalf("%s: Chat: %v", tc.name, err)
				}
				if !json.Valid(body) {
					t.Fatalf("%s: Chat wrote invalid JSON:\n%s", tc.name, body)
				}
				if _, perr := openai.Peek(body); perr != nil {
					t.Fatalf("%s: the gateway's Peek refuses the converted body: %v", tc.name, perr.Message)
				}
				creq, perr := openai.DecodeChatRequest(body)
				if perr != nil {
					t.Fatalf("%s: DecodeChatRequest: %v", tc.name, perr.Message)
				}
				checkChatInvariants(t, tc.name, body, creq)
				switch tc.target.Upstream {
				case adapter.ProtocolGemini:
					if _, err := gemini.ConvertRequest(creq, gemini.RequestOptions{}); err != nil {
						t.Fatalf("gemini: the Gemini adapter refuses the converted body: %v", err)
					}
				case adapter.ProtocolText:
					if len(creq.Tools) > 0 || creq.MaxOutputTokens() != nil || creq.Temperature != nil {
						t.Errorf("text: tools or sampling parameters sent to a text-only target")
					}
				}
				if tc.name != "text" {
					golden(t, c.Name+"."+tc.name+".json", body)
				}
			}
		})
	}
}

// checkChatInvariants checks what strict upstreams require of a converted
// body.
func checkChatInvariants(t *testing.T, name string, body []byte, creq *openai.ChatRequest) {
	t.Helper()
	if strings.Contains(string(body), "cache_control") {
		t.Errorf("%s: cache_control reached the Chat body", name)
	}
	calls := map[string]bool{}
	for i, m := range creq.Messages {
		if m.Role == "system" && i != 0 {
			t.Errorf("%s: a system message at position %d", name, i)
		}
		for _, tc := range m.ToolCalls {
			calls[tc.ID] = true
		}
		if m.Role == "tool" {
			if !calls[m.ToolCallID] {
				t.Errorf("%s: tool message %d answers unknown call %q", name, i, m.ToolCallID)
			}
			if prev := creq.Messages[i-1]; prev.Role != "tool" && len(prev.ToolCalls) == 0 {
				t.Errorf("%s: tool message %d does not follow the tool calls", name, i)
			}
		}
		if m.Content.Text != nil && *m.Content.Text == "" {
			t.Errorf("%s: empty text in message %d", name, i)
		}
	}
	for _, tool := range creq.Tools {
		if tool.Type != "function" || len(tool.Function.Parameters) == 0 {
			t.Errorf("%s: tool %q is not a function with parameters", name, tool.Function.Name)
		}
	}
}

func TestClaudeCodeMapping(t *testing.T) {
	c := findCapture(t, "claude-code-messages-2-tool-result")
	req := parse(t, c.Path, c.Headers, c.Body)
	body, err := req.Chat(inbound.Target{Upstream: adapter.ProtocolChat, MaxOutputTokens: 16384})
	if err != nil {
		t.Fatal(err)
	}
	doc := gjson.ParseBytes(body)
	if got := doc.Get("max_completion_tokens").Int(); got != 16384 {
		t.Errorf("max_completion_tokens = %d, want 32000 clamped to 16384", got)
	}
	if got := doc.Get("messages.0.content").Str; !strings.Contains(got, "You are a Claude agent") || !strings.Contains(got, "# Environment") {
		t.Errorf("the system message lacks the top-level system or the mid-conversation system text:\n%.200s", got)
	}
	if doc.Get("reasoning_effort").Exists() {
		t.Error("adaptive thinking sent reasoning_effort")
	}
	if got := doc.Get("user").Str; len(got) != 64 {
		t.Errorf("user = %q, want the SHA-256 of Claude Code's long user_id", got)
	}
	// The thinking block of the assistant turn has Anthropic's signature:
	// dropped for an OpenAI target; the tool call and its result keep the
	// client's id.
	var assistant, tool gjson.Result
	doc.Get("messages").ForEach(func(_, m gjson.Result) bool {
		switch m.Get("role").Str {
		case "assistant":
			assistant = m
		case "tool":
			tool = m
		}
		return true
	})
	if assistant.Get("reasoning_content").Exists() {
		t.Error("an Anthropic thinking block was replayed to an OpenAI upstream")
	}
	if got := assistant.Get("tool_calls.0.id").Str; got != "toolu_stub_0001" {
		t.Errorf("tool call id = %q", got)
	}
	if got := assistant.Get("tool_calls.0.function.arguments").Str; !gjson.Valid(got) || gjson.Get(got, "command").Str == "" {
		t.Errorf("tool call arguments = %q", got)
	}
	if tool.Get("tool_call_id").Str != "toolu_stub_0001" || tool.Get("content").Str != "TOOL-RAN-42" {
		t.Errorf("tool message = %s", tool.Raw)
	}
	if got := len(doc.Get("tools").Array()); got != 12 {
		t.Errorf("%d tools, want Claude Code's 12", got)
	}
	if doc.Get("tool_choice").Exists() || doc.Get("parallel_tool_calls").Exists() {
		t.Error("tool_choice or parallel_tool_calls sent though the client set neither")
	}
}

func findCapture(t *testing.T, name string) capture {
	t.Helper()
	for _, c := range captures(t) {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no capture %s", name)
	return capture{}
}

// TestConversionDetails covers the mapping rules one by one on small
// requests.
func TestConversionDetails(t *testing.T) {
	const img = `{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}`
	tests := []struct {
		name   string
		body   string
		target inbound.Target
		want   string // the converted body
	}{{
		name: "system blocks and a system role in the middle merge into one leading system message",
		body: `{"model":"m","max_tokens":10,"system":[{"type":"text","text":"A","cache_control":{"type":"ephemeral"}},{"type":"text","text":""}],
			"messages":[{"role":"user","content":"hi"},{"role":"system","content":"B"},{"role":"assistant","content":"yo"},{"role":"system","content":[{"type":"text","text":"C"}]}]}`,
		target: chatTarget,
		want:   `{"model":"m","messages":[{"role":"system","content":"A\n\nB\n\nC"},{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}],"max_completion_tokens":10}`,
	}, {
		name: "tool results come first, errors are marked, images of a result move to a user message",
		body: `{"model":"m","max_tokens":10,"messages":[
			{"role":"assistant","content":[{"type":"text","text":"run"},{"type":"tool_use","id":"toolu_1","name":"a","input":{"x":1}},{"type":"text","text":"after"},{"type":"tool_use","id":"toolu_2","name":"b","input":{}}]},
			{"role":"user","content":[{"type":"text","text":"note"},{"type":"tool_result","tool_use_id":"toolu_1","content":"boom","is_error":true},
				{"type":"tool_result","tool_use_id":"toolu_2","content":[{"type":"text","text":"see"},` + img + `]}]}]}`,
		target: chatTarget,
		want: `{"model":"m","messages":[{"role":"assistant","content":"run\nafter","tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"a","arguments":"{\"x\":1}"}},{"id":"toolu_2","type":"function","function":{"name":"b","arguments":"{}"}}]},` +
			`{"role":"tool","tool_call_id":"toolu_1","content":"Error: boom"},{"role":"tool","tool_call_id":"toolu_2","content":"see"},` +
			`{"role":"user","content":[{"type":"text","text":"note"},{"type":"text","text":"The result of tool call toolu_2 included these images:"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}],"max_completion_tokens":10}`,
	}, {
		name: "server tools are dropped, tool_choice any and disable_parallel_tool_use map, sampling kept, top_k dropped",
		body: `{"model":"m","max_tokens":100,"temperature":0.5,"top_p":0.9,"top_k":40,"stop_sequences":["a","b","c","d","e"],"metadata":{"user_id":"u1"},
			"thinking":{"type":"enabled","budget_tokens":8000},
			"messages":[{"role":"user","content":[{"type":"text","text":"q"},{"type":"text","text":""},{"type":"image","source":{"type":"url","url":"https://x/y.png"}}]}],
			"tools":[{"type":"web_search_20250305","name":"web_search"},{"name":"get","description":"d","input_schema":{"type":"object","properties":{"a":{"type":"string"}}},"cache_control":{"type":"ephemeral"}},{"type":"custom","name":"put"}],
			"tool_choice":{"type":"any","disable_parallel_tool_use":true}}`,
		target: chatTarget,
		want: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"q"},{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}],` +
			`"max_completion_tokens":100,"temperature":0.5,"top_p":0.9,"stop":["a","b","c","d"],"user":"u1","reasoning_effort":"medium",` +
			`"tools":[{"type":"function","function":{"name":"get","description":"d","parameters":{"type":"object","properties":{"a":{"type":"string"}}}}},{"type":"function","function":{"name":"put","parameters":{"type":"object","properties":{}}}}],` +
			`"tool_choice":"required","parallel_tool_calls":false}`,
	}, {
		name: "Gemini gets no parallel_tool_calls; a named tool becomes a function choice; streams ask for usage",
		body: `{"model":"m","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"q"}],
			"tools":[{"name":"get","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"get","disable_parallel_tool_use":true}}`,
		target: inbound.Target{Upstream: adapter.ProtocolGemini, MaxOutputTokens: 50},
		want: `{"model":"m","messages":[{"role":"user","content":"q"}],"stream":true,"stream_options":{"include_usage":true},"max_completion_tokens":50,` +
			`"tools":[{"type":"function","function":{"name":"get","parameters":{"type":"object"}}}],"tool_choice":{"type":"function","function":{"name":"get"}}}`,
	}, {
		name: "a text-only target gets the conversation as text",
		body: `{"model":"m","max_tokens":100,"temperature":1,"messages":[{"role":"user","content":"q"},
			{"role":"assistant","content":[{"type":"tool_use","id":"call_1","name":"a","input":{"x":1}}]},
			{"role":"user","content":[{"type":"tool_result","tool_use_id":"call_1","content":"r"},` + img + `]}],"tools":[{"name":"a","input_schema":{}}]}`,
		target: textTarget,
		want: `{"model":"m","messages":[{"role":"user","content":"q"},{"role":"assistant","content":"[tool call call_1: a {\"x\":1}]"},` +
			`{"role":"user","content":[{"type":"text","text":"[result of tool call call_1]\nr"},{"type":"text","text":"[image omitted: this model takes text only]"}]}]}`,
	}, {
		name: "gateway-minted ids go back to the upstream's ids",
		body: `{"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"toolu_gw_call_abc","name":"a","input":{}},{"type":"tool_use","id":"toolu_gw64_ZnVuY3Rpb25zLlJlYWQ6MQ","name":"b","input":{}}]},
			{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_gw_call_abc","content":""},{"type":"tool_result","tool_use_id":"toolu_gw64_ZnVuY3Rpb25zLlJlYWQ6MQ","content":"x"}]}]}`,
		target: chatTarget,
		want: `{"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"call_abc","type":"function","function":{"name":"a","arguments":"{}"}},{"id":"functions.Read:1","type":"function","function":{"name":"b","arguments":"{}"}}]},` +
			`{"role":"tool","tool_call_id":"call_abc","content":""},{"role":"tool","tool_call_id":"functions.Read:1","content":"x"}],"max_completion_tokens":5}`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := parse(t, "/v1/messages", nil, []byte(tc.body))
			got, err := req.Chat(tc.target)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	body := []byte(`{"max_tokens": 32000, "model": "claude-x", "stream": true, "messages": [{"role":"user","content":"hi"}], "future_field": {"a": 1}}`)
	hr, _ := http.NewRequest(http.MethodPost, "/v1/messages?beta=true", nil)
	hr.Header.Set("Anthropic-Version", "2023-06-01")
	hr.Header.Set("Anthropic-Beta", "claude-code-20250219,interleaved-thinking-2025-05-14")
	hr.Header.Set("X-Api-Key", "sk-secret")
	hr.Header.Set("Authorization", "Bearer sk-secret")
	r, err := Dialect{}.Parse(body, hr)
	if err != nil {
		t.Fatal(err)
	}
	n := r.Native()
	if string(body[n.ModelStart:n.ModelEnd]) != `"claude-x"` || string(body[n.MaxTokensStart:n.MaxTokensEnd]) != "32000" || n.MaxTokens != 32000 {
		t.Errorf("spans: model %q, max_tokens %q (%d)", body[n.ModelStart:n.ModelEnd], body[n.MaxTokensStart:n.MaxTokensEnd], n.MaxTokens)
	}
	if !n.Stream || !r.Stream() || n.Op != adapter.NativeGenerate || n.Protocol != adapter.ProtocolMessages || r.Model() != "claude-x" {
		t.Errorf("native request: %+v", n)
	}
	if n.Header.Get("Anthropic-Beta") == "" || n.Header.Get("Anthropic-Version") != "2023-06-01" {
		t.Errorf("headers not forwarded: %v", n.Header)
	}
	if n.Header.Get("X-Api-Key") != "" || n.Header.Get("Authorization") != "" || len(n.Header) != 2 {
		t.Errorf("credentials or other headers forwarded: %v", n.Header)
	}

	hr, _ = http.NewRequest(http.MethodPost, "/v1/messages/count_tokens?beta=true", nil)
	r, err = Dialect{}.ParseCount([]byte(`{"model":"m","messages":[{"role":"user","content":"hello there"}]}`), hr)
	if err != nil {
		t.Fatal(err)
	}
	if n := r.Native(); n.Op != adapter.NativeCountTokens || n.MaxTokensEnd != 0 {
		t.Errorf("count_tokens native request: %+v", n)
	}

	for _, bad := range []string{``, `[]`, `{"model":"m"}`, `{"model":"m","messages":[]}`, `{"messages":[{"role":"user","content":"x"}]}`, `{"model":1,"messages":[{}]}`, `{"model":"m",`} {
		_, err := Dialect{}.Parse([]byte(bad), hr)
		var ie *inbound.Error
		if e, ok := err.(*inbound.Error); ok {
			ie = e
		}
		if ie == nil || ie.Status != http.StatusBadRequest {
			t.Errorf("Parse(%q) = %v, want a 400 *inbound.Error", bad, err)
		}
	}
}

func TestEstimateInputTokens(t *testing.T) {
	text := parse(t, "/v1/messages", nil, []byte(`{"model":"m","messages":[{"role":"user","content":"`+strings.Repeat("a", 4000)+`"}]}`))
	if got := text.EstimateInputTokens(); got < 1000 || got > 1100 {
		t.Errorf("estimate of 4000 bytes of text = %d, want about 1000", got)
	}
	big := strings.Repeat("A", 400000)
	img := parse(t, "/v1/messages", nil, []byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"`+big+`"}}]}]}]}`))
	if got := img.EstimateInputTokens(); got < imageTokens || got > imageTokens+100 {
		t.Errorf("estimate of one image = %d, want about %d, not its base64 size", got, imageTokens)
	}
}
