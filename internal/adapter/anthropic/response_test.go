package anthropic

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
)

const created = 1755000000

// TestConvertResponseGolden converts the shared example Message. The golden
// was reviewed by hand against testdata/openai-chat-response.json (the same
// answer as OpenAI would send it). The differences are the upstream's own
// values: id "chatcmpl-msg_01XyZ", Anthropic's model name, toolu_ ids, and
// usage 405+88 from the Anthropic body (the OpenAI example has its own
// counts). OpenAI-only fields (annotations, service_tier,
// system_fingerprint, audio and prediction token details) are not invented.
func TestConvertResponseGolden(t *testing.T) {
	const golden = "anthropic-response.golden.json"
	got, u, err := ConvertResponse(readTestdata(t, "anthropic-response.json"), created)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, got, "", "  "); err != nil {
			t.Fatal(err)
		}
		pretty.WriteByte('\n')
		if err := os.WriteFile(filepath.Join("testdata", golden), pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if d := diffJSON(t, readTestdata(t, golden), got); d != "" {
		t.Errorf("ConvertResponse differs from %s (-want +got):\n%s", golden, d)
	}
	if want := (adapter.Usage{PromptTokens: 405, CompletionTokens: 88, TotalTokens: 493}); u != want {
		t.Errorf("usage = %+v, want %+v", u, want)
	}
}

// messageBody builds an Anthropic Message body with the given content, stop
// reason (raw JSON) and usage (raw JSON).
func messageBody(content, stopReason, usage string) []byte {
	return []byte(`{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":` + content +
		`,"stop_reason":` + stopReason + `,"stop_sequence":null,"usage":` + usage + `}`)
}

const smallUsage = `{"input_tokens":1,"output_tokens":2}`

func TestConvertResponseFinishReason(t *testing.T) {
	for stop, want := range map[string]string{
		`"end_turn"`:                      "stop",
		`"stop_sequence"`:                 "stop",
		`"pause_turn"`:                    "stop",
		`"max_tokens"`:                    "length",
		`"model_context_window_exceeded"`: "length",
		`"tool_use"`:                      "tool_calls",
		`"refusal"`:                       "content_filter",
		`"brand_new_reason"`:              "stop", // never a raw value
		`null`:                            "stop",
	} {
		got, _, err := ConvertResponse(messageBody(`[{"type":"text","text":"x"}]`, stop, smallUsage), created)
		if err != nil {
			t.Fatalf("%s: %v", stop, err)
		}
		if fr := gjson.GetBytes(got, "choices.0.finish_reason").Str; fr != want {
			t.Errorf("stop_reason %s: finish_reason = %q, want %q", stop, fr, want)
		}
	}
}

func TestConvertResponseUsageWithCache(t *testing.T) {
	got, u, err := ConvertResponse(messageBody(`[{"type":"text","text":"x"}]`, `"end_turn"`,
		`{"input_tokens":10,"cache_creation_input_tokens":200,"cache_read_input_tokens":3000,"output_tokens":40}`), created)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"prompt_tokens":3210,"completion_tokens":40,"total_tokens":3250,
		"prompt_tokens_details":{"cached_tokens":3000,"cache_write_tokens":200},
		"completion_tokens_details":{"reasoning_tokens":0}}`
	if d := diffJSON(t, []byte(want), []byte(gjson.GetBytes(got, "usage").Raw)); d != "" {
		t.Errorf("usage (-want +got):\n%s", d)
	}
	if want := (adapter.Usage{PromptTokens: 3210, CompletionTokens: 40, TotalTokens: 3250, CachedTokens: 3000}); u != want {
		t.Errorf("adapter usage = %+v, want %+v", u, want)
	}
}

func TestConvertResponseContent(t *testing.T) {
	for _, tc := range []struct {
		name, content string
		want          string // the choice's message
	}{
		{"text blocks are joined, thinking is dropped",
			`[{"type":"thinking","thinking":"hmm","signature":"c2ln"},{"type":"text","text":"Hello, "},{"type":"redacted_thinking","data":"x"},{"type":"text","text":"world."}]`,
			`{"role":"assistant","content":"Hello, world.","refusal":null}`},
		{"tool only: content null, arguments compact",
			`[{"type":"tool_use","id":"toolu_1","name":"f","input":{ "a" : [1, 2] }},{"type":"tool_use","id":"toolu_2","name":"g","input":{}}]`,
			`{"role":"assistant","content":null,"refusal":null,"tool_calls":[
				{"id":"toolu_1","type":"function","function":{"name":"f","arguments":"{\"a\":[1,2]}"}},
				{"id":"toolu_2","type":"function","function":{"name":"g","arguments":"{}"}}]}`},
		{"tool_use without input",
			`[{"type":"text","text":"ok"},{"type":"tool_use","id":"toolu_1","name":"f"}]`,
			`{"role":"assistant","content":"ok","refusal":null,"tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"f","arguments":"{}"}}]}`},
		{"empty content",
			`[]`,
			`{"role":"assistant","content":"","refusal":null}`},
		{"server tool blocks are dropped",
			`[{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"x"}},{"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":[]},{"type":"text","text":"found"}]`,
			`{"role":"assistant","content":"found","refusal":null}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := ConvertResponse(messageBody(tc.content, `"end_turn"`, smallUsage), created)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffJSON(t, []byte(tc.want), []byte(gjson.GetBytes(got, "choices.0.message").Raw)); d != "" {
				t.Errorf("message (-want +got):\n%s", d)
			}
			for path, want := range map[string]string{"id": "chatcmpl-msg_1", "object": "chat.completion", "model": "claude-x"} {
				if g := gjson.GetBytes(got, path).Str; g != want {
					t.Errorf("%s = %q, want %q", path, g, want)
				}
			}
			if g := gjson.GetBytes(got, "created").Int(); g != created {
				t.Errorf("created = %d, want %d", g, created)
			}
			if r := gjson.GetBytes(got, "choices.0.logprobs"); r.Raw != "null" {
				t.Errorf("logprobs = %s, want null", r.Raw)
			}
		})
	}
}

func TestConvertResponseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		status     int
		typ        string
	}{
		{"not JSON", `<html>`, http.StatusBadGateway, "upstream_error"},
		{"null", `null`, http.StatusBadGateway, "upstream_error"},
		{"not a message", `{"object":"chat.completion","choices":[]}`, http.StatusBadGateway, "upstream_error"},
		{"error body with status 200", `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, http.StatusServiceUnavailable, "overloaded_error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ConvertResponse([]byte(tc.body), created)
			if err == nil {
				t.Fatal("ConvertResponse succeeded")
			}
			ae := asAdapterError(t, err)
			if ae.Status != tc.status || ae.Err.Type != tc.typ {
				t.Errorf("error = %d %q, want %d %q", ae.Status, ae.Err.Type, tc.status, tc.typ)
			}
		})
	}
}

func TestFinishReasonNeverRaw(t *testing.T) {
	valid := map[string]bool{"stop": true, "length": true, "tool_calls": true, "content_filter": true}
	for _, r := range []string{"", "end_turn", "refusal", "REFUSAL", "tool_use ", "x"} {
		if got := finishReason(&r); !valid[got] {
			t.Errorf("finishReason(%q) = %q", r, got)
		}
	}
	if d := cmp.Diff("stop", finishReason(nil)); d != "" {
		t.Error(d)
	}
}
