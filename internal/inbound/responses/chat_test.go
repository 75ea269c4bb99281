package responses

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/inbound"
	"aigateway/internal/openai"
)

// TestChatClients converts every captured Codex and opencode body for an
// OpenAI-compatible deployment and pins the result.
func TestChatClients(t *testing.T) {
	files, err := filepath.Glob("testdata/clients/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			q := mustParse(t, newTestDialect(nil), string(body))
			chat, err := q.Chat(openaiTarget)
			if err != nil {
				t.Fatalf("Chat: %v", err)
			}
			req, e := openai.DecodeChatRequest(chat)
			if e != nil {
				t.Fatalf("the Chat body does not decode: %s", e.Message)
			}
			if len(req.Messages) == 0 || req.Messages[0].Role != "system" {
				t.Errorf("the first message is not the system prompt: %+v", req.Messages)
			}
			for _, tool := range req.Tools {
				if tool.Type != "function" || tool.Function.Name == "" || len(tool.Function.Parameters) == 0 {
					t.Errorf("tool not converted to a function: %+v", tool)
				}
			}
			golden(t, "chat/"+name+".json", indent(t, chat))
		})
	}
}

// TestChatItems covers each input item type and parameter on a small body.
func TestChatItems(t *testing.T) {
	const body = `{"model":"m","instructions":"Be brief.","stream":true,"max_output_tokens":50000,"temperature":0.2,"top_p":0.9,
	"user":"u1","store":false,"metadata":{"a":"b"},"prompt_cache_key":"k","service_tier":"auto","include":["reasoning.encrypted_content"],
	"reasoning":{"effort":"xhigh","summary":"auto"},"text":{"format":{"type":"json_schema","name":"out","schema":{"type":"object"},"strict":true}},
	"tool_choice":{"type":"custom","name":"apply_patch"},"parallel_tool_calls":false,
	"tools":[{"type":"function","name":"f","parameters":null,"strict":true},
		{"type":"custom","name":"apply_patch","description":"Edit files.","format":{"type":"grammar","syntax":"lark","definition":"start: x"}},
		{"type":"namespace","name":"ns","tools":[{"type":"function","name":"g","description":"G.","parameters":{"type":"object","properties":{"x":{"type":"string"}}}}]},
		{"type":"web_search"},{"type":"file_search","vector_store_ids":["v"]}],
	"input":[
		{"type":"message","role":"developer","content":[{"type":"input_text","text":"Dev 1"},{"type":"input_text","text":"Dev 2"}]},
		{"role":"user","content":[{"type":"input_text","text":"Look"},{"type":"input_image","image_url":"data:image/png;base64,AAAA","detail":"high"},{"type":"input_image","file_id":"file-1"}]},
		{"type":"reasoning","id":"rs_1","summary":[],"encrypted_content":"gAAAA-openai-blob"},
		{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Calling.","annotations":[]}]},
		{"type":"function_call","call_id":"c1","name":"f","arguments":"{\"a\":1}"},
		{"type":"function_call","call_id":"c2","name":"g","namespace":"ns","arguments":""},
		{"type":"function_call_output","call_id":"c1","output":"one"},
		{"type":"function_call_output","call_id":"c2","output":[{"type":"input_text","text":"two"},{"type":"input_image","image_url":"https://example.com/a.png"}]},
		{"type":"custom_tool_call","call_id":"c3","name":"apply_patch","input":"*** Begin Patch\n\"x\"\n*** End Patch"},
		{"type":"custom_tool_call_output","call_id":"c3","output":"done"},
		{"type":"item_reference","id":"x"},
		{"type":"message","role":"user","content":"Thanks"}
	]}`
	for _, tc := range []struct {
		name string
		t    inbound.Target
	}{
		{"openai", inbound.Target{Upstream: adapter.ProtocolChat, Deployment: "openai-1", MaxOutputTokens: 16384}},
		{"anthropic", inbound.Target{Upstream: adapter.ProtocolMessages, Deployment: "claude-1"}},
		{"gemini", inbound.Target{Upstream: adapter.ProtocolGemini, Deployment: "gemini-1"}},
		{"text", inbound.Target{Upstream: adapter.ProtocolText, Deployment: "template-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := mustParse(t, newTestDialect(nil), body)
			chat, err := q.Chat(tc.t)
			if err != nil {
				t.Fatal(err)
			}
			if _, e := openai.DecodeChatRequest(chat); e != nil {
				t.Fatalf("the Chat body does not decode: %s", e.Message)
			}
			golden(t, "chat/items-"+tc.name+".json", indent(t, chat))
		})
	}
}

// TestChatReasoningReplay: reasoning minted for a deployment goes back to
// it as reasoning_content, and to no other.
func TestChatReasoningReplay(t *testing.T) {
	blob := mintReasoning(openaiTarget, "I think.", "")
	body := `{"model":"m","store":false,"input":[{"role":"user","content":"Hi"},
		{"type":"reasoning","id":"rs_x","summary":[{"type":"summary_text","text":"I think."}],"encrypted_content":"` + blob + `"},
		{"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},
		{"type":"function_call_output","call_id":"c1","output":"ok"}]}`
	q := mustParse(t, newTestDialect(nil), body)
	for _, tc := range []struct {
		t    inbound.Target
		want string
	}{
		{openaiTarget, "I think."},
		{inbound.Target{Upstream: adapter.ProtocolChat, Deployment: "other"}, ""},
		{inbound.Target{Upstream: adapter.ProtocolMessages, Deployment: "openai-1"}, ""},
	} {
		chat, err := q.Chat(tc.t)
		if err != nil {
			t.Fatal(err)
		}
		got := gjson.GetBytes(chat, "messages.1.reasoning_content").Str
		if got != tc.want {
			t.Errorf("target %+v: reasoning_content %q, want %q", tc.t, got, tc.want)
		}
		if gjson.GetBytes(chat, "messages.1.tool_calls.0.id").Str != "c1" {
			t.Errorf("target %+v: the tool call is not in the assistant message: %s", tc.t, chat)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for _, body := range []string{``, `[]`, `{"input":"hi"}`, `{"model":"m"}`, `{"model":3,"input":"x"}`, `{"model":"m","input":"x"`} {
		_, err := newTestDialect(nil).Parse([]byte(body), nil)
		e, ok := err.(*inbound.Error)
		if !ok || e.Status != 400 {
			t.Errorf("Parse(%s) = %v, want a 400 *inbound.Error", body, err)
		}
	}
}

func TestParseLenient(t *testing.T) {
	body := `{"model":"m","input":"hi","unknown_field":{"x":[1,2]},"truncation":"auto","background":false,"conversation":null,"stream_options":{"include_obfuscation":false}}`
	q := mustParse(t, newTestDialect(nil), body)
	chat, err := q.Chat(openaiTarget)
	if err != nil {
		t.Fatal(err)
	}
	if got := gjson.GetBytes(chat, "messages.0.content").Str; got != "hi" {
		t.Errorf("content %q", got)
	}
	if gjson.GetBytes(chat, "unknown_field").Exists() || gjson.GetBytes(chat, "tool_choice").Exists() {
		t.Errorf("unexpected fields in %s", chat)
	}
}

func TestNativeSpans(t *testing.T) {
	body := `{"input":"hi", "model" : "gpt-x","max_output_tokens": 4096,"stream":true}`
	q := mustParse(t, newTestDialect(nil), body)
	n := q.Native()
	if got := body[n.ModelStart:n.ModelEnd]; got != `"gpt-x"` {
		t.Errorf("model span %q", got)
	}
	if got := body[n.MaxTokensStart:n.MaxTokensEnd]; got != `4096` || n.MaxTokens != 4096 {
		t.Errorf("max tokens span %q (%d)", got, n.MaxTokens)
	}
	if !n.Stream || n.Protocol != adapter.ProtocolResponses || string(n.Body) != body {
		t.Errorf("native request %+v", n)
	}
}
