package gemini

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
	"aigateway/internal/toolcallid"
)

// TestConvertResponseFixture converts gemini-response.json: text plus two
// parallel function calls, the first with a thought signature, thinking
// tokens in the usage.
func TestConvertResponseFixture(t *testing.T) {
	got, usage, err := ConvertResponse(readTestdata(t, "gemini-response.json"), "gemini-upstream", 1755000000)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"chatcmpl-qpc2afWVFJK4vr0Pq6WiyAU","object":"chat.completion","created":1755000000,"model":"gemini-2.5-flash",
		"choices":[{"index":0,"message":{"role":"assistant","content":"Paris: 18°C, cloudy. Checking Tokyo and London.","refusal":null,
			"tool_calls":[
				{"id":"call_qpc2afWVFJK4vr0Pq6WiyAU_0_0","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Tokyo\"}"},
				 "extra_content":{"google":{"thought_signature":"CiQBcsjafA...opaque-base64...="}}},
				{"id":"call_qpc2afWVFJK4vr0Pq6WiyAU_0_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"London\"}"}}]},
			"logprobs":null,"finish_reason":"tool_calls"}],
		"usage":{"prompt_tokens":398,"completion_tokens":160,"total_tokens":558,
			"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":120}}}`
	if d := diffJSON(t, []byte(want), got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if want := (adapter.Usage{PromptTokens: 398, CompletionTokens: 160, TotalTokens: 558, ReasoningTokens: 120}); usage != want {
		t.Errorf("usage %+v, want %+v", usage, want)
	}
}

// TestThoughtSignatureRoundTrip sends the OpenAI reply for
// gemini-response.json back as history, with results for both calls, and
// checks the next Gemini request: the first functionCall part carries the
// thought signature it came with, the second none, and each functionResponse
// names the function of the call it answers.
func TestThoughtSignatureRoundTrip(t *testing.T) {
	body, _, err := ConvertResponse(readTestdata(t, "gemini-response.json"), "m", 1)
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Choices []struct {
			Message json.RawMessage `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatal(err)
	}
	// The client sends the assistant message back as it received it, the
	// way the OpenAI SDKs' message objects do (extra fields included).
	next := `{"model":"m","messages":[{"role":"user","content":"Weather in Paris, Tokyo, London?"},` + string(resp.Choices[0].Message) + `,
		{"role":"tool","tool_call_id":"call_qpc2afWVFJK4vr0Pq6WiyAU_0_1","content":"{\"temp_c\":12}"},
		{"role":"tool","tool_call_id":"call_qpc2afWVFJK4vr0Pq6WiyAU_0_0","content":"{\"temp_c\":25}"}]}`
	got := convert(t, next, RequestOptions{})
	want := `[
		{"role":"user","parts":[{"text":"Weather in Paris, Tokyo, London?"}]},
		{"role":"model","parts":[
			{"text":"Paris: 18°C, cloudy. Checking Tokyo and London."},
			{"functionCall":{"name":"get_weather","args":{"city":"Tokyo"}},"thoughtSignature":"CiQBcsjafA...opaque-base64...="},
			{"functionCall":{"name":"get_weather","args":{"city":"London"}}}]},
		{"role":"user","parts":[
			{"functionResponse":{"name":"get_weather","response":{"output":{"temp_c":12}}}},
			{"functionResponse":{"name":"get_weather","response":{"output":{"temp_c":25}}}}]}]`
	if d := cmp.Diff(decodeJSON(t, []byte(want)), got["contents"]); d != "" {
		t.Errorf("contents (-want +got):\n%s", d)
	}
}

// TestGeminiCallIDRoundTrip: a functionCall.id from Gemini is the OpenAI
// id (with the call's thought signature appended), and both the
// functionCall and the functionResponse of the next request carry it.
func TestGeminiCallIDRoundTrip(t *testing.T) {
	upstream := `{"candidates":[{"content":{"role":"model","parts":[
		{"functionCall":{"id":"fc_7","name":"lookup","args":{"q":"x"}},"thoughtSignature":"c2ln"},
		{"functionCall":{"id":"fc_8","name":"fetch"}}]},"finishReason":"STOP"}],"responseId":"r1"}`
	body, _, err := ConvertResponse([]byte(upstream), "m", 1)
	if err != nil {
		t.Fatal(err)
	}
	var resp openai.ChatCompletion
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatal(err)
	}
	calls := resp.Choices[0].Message.ToolCalls
	if len(calls) != 2 || calls[0].ID != "fc_7"+toolcallid.Separator+"c2ln" || calls[1].ID != "fc_8" || calls[1].Function.Arguments != "{}" {
		t.Fatalf("tool calls %s", jsonOf(t, calls))
	}
	history, _ := json.Marshal(resp.Choices[0].Message)
	next := `{"model":"m","messages":[{"role":"user","content":"go"},` + string(history) + `,
		{"role":"tool","tool_call_id":"fc_8","content":"b"},{"role":"tool","tool_call_id":"` + calls[0].ID + `","content":"a"}]}`
	got := convert(t, next, RequestOptions{})
	want := `[{"role":"user","parts":[{"text":"go"}]},
		{"role":"model","parts":[{"functionCall":{"id":"fc_7","name":"lookup","args":{"q":"x"}},"thoughtSignature":"c2ln"},
			{"functionCall":{"id":"fc_8","name":"fetch","args":{}}}]},
		{"role":"user","parts":[{"functionResponse":{"id":"fc_8","name":"fetch","response":{"output":"b"}}},
			{"functionResponse":{"id":"fc_7","name":"lookup","response":{"output":"a"}}}]}]`
	if d := cmp.Diff(decodeJSON(t, []byte(want)), got["contents"]); d != "" {
		t.Errorf("contents (-want +got):\n%s", d)
	}
}

func TestConvertResponse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // choices
	}{{
		name: "thought parts are dropped; text parts are joined",
		in: `{"candidates":[{"content":{"role":"model","parts":[{"text":"plan...","thought":true},{"text":"Hello, "},{"text":""},
			{"text":"world.","thoughtSignature":"c2ln"}]},"finishReason":"STOP","index":0}],"responseId":"r"}`,
		want: `[{"index":0,"message":{"role":"assistant","content":"Hello, world.","refusal":null},"logprobs":null,"finish_reason":"stop"}]`,
	}, {
		name: "several candidates become choices by index",
		in: `{"candidates":[{"content":{"parts":[{"text":"A"}]},"finishReason":"STOP","index":0},
			{"content":{"parts":[{"functionCall":{"name":"f","args":{}}}]},"finishReason":"STOP","index":1},
			{"content":{"parts":[{"text":"C"}]},"finishReason":"MAX_TOKENS","index":2}],"responseId":"r"}`,
		want: `[{"index":0,"message":{"role":"assistant","content":"A","refusal":null},"logprobs":null,"finish_reason":"stop"},
			{"index":1,"message":{"role":"assistant","content":null,"refusal":null,"tool_calls":[{"id":"call_r_1_0","type":"function","function":{"name":"f","arguments":"{}"}}]},"logprobs":null,"finish_reason":"tool_calls"},
			{"index":2,"message":{"role":"assistant","content":"C","refusal":null},"logprobs":null,"finish_reason":"length"}]`,
	}, {
		name: "a safety stop without content is content_filter with empty content",
		in:   `{"candidates":[{"finishReason":"SAFETY","index":0}],"responseId":"r"}`,
		want: `[{"index":0,"message":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":"content_filter"}]`,
	}, {
		name: "a blocked prompt has no candidates",
		in:   `{"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"},"usageMetadata":{"promptTokenCount":5,"totalTokenCount":5},"responseId":"r"}`,
		want: `[{"index":0,"message":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":"content_filter"}]`,
	}, {
		name: "logprobs are converted",
		in: `{"candidates":[{"content":{"parts":[{"text":"Hi"}]},"finishReason":"STOP",
			"logprobsResult":{"chosenCandidates":[{"token":"Hi","logProbability":-0.5}],
				"topCandidates":[{"candidates":[{"token":"Hi","logProbability":-0.5},{"token":"Yo","logProbability":-1.5}]}]}}],"responseId":"r"}`,
		want: `[{"index":0,"message":{"role":"assistant","content":"Hi","refusal":null},"finish_reason":"stop",
			"logprobs":{"content":[{"token":"Hi","logprob":-0.5,"bytes":[72,105],
				"top_logprobs":[{"token":"Hi","logprob":-0.5,"bytes":[72,105]},{"token":"Yo","logprob":-1.5,"bytes":[89,111]}]}],"refusal":null}}]`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := ConvertResponse([]byte(tt.in), "m", 1)
			if err != nil {
				t.Fatal(err)
			}
			var v map[string]any
			if err := json.Unmarshal(got, &v); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(decodeJSON(t, []byte(tt.want)), v["choices"]); d != "" {
				t.Errorf("choices (-want +got):\n%s", d)
			}
		})
	}
}

func TestFinishReason(t *testing.T) {
	tests := []struct {
		reason  string
		sawTool bool
		want    string
	}{
		{"STOP", false, "stop"},
		{"STOP", true, "tool_calls"},
		{"MAX_TOKENS", true, "length"},
		{"SAFETY", false, "content_filter"},
		{"RECITATION", false, "content_filter"},
		{"BLOCKLIST", false, "content_filter"},
		{"PROHIBITED_CONTENT", false, "content_filter"},
		{"SPII", false, "content_filter"},
		{"LANGUAGE", false, "content_filter"},
		{"OTHER", false, "content_filter"},
		{"IMAGE_SAFETY", false, "content_filter"},
		{"NO_IMAGE", false, "content_filter"},
		{"MALFORMED_FUNCTION_CALL", true, "stop"},
		{"UNEXPECTED_TOOL_CALL", false, "stop"},
		{"TOO_MANY_TOOL_CALLS", true, "stop"},
		{"FINISH_REASON_UNSPECIFIED", false, "stop"},
		{"SOMETHING_NEW", false, "stop"},
	}
	for _, tt := range tests {
		if got := finishReason(tt.reason, tt.sawTool); got != tt.want {
			t.Errorf("finishReason(%q, %v) = %q, want %q", tt.reason, tt.sawTool, got, tt.want)
		}
	}
}

// TestUsageThoughtsAndCache: completion tokens include thinking tokens, and
// the cached count is reported.
func TestUsageThoughtsAndCache(t *testing.T) {
	in := `{"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"STOP"}],"responseId":"r",
		"usageMetadata":{"promptTokenCount":100,"cachedContentTokenCount":60,"candidatesTokenCount":7,"thoughtsTokenCount":30,"totalTokenCount":137}}`
	got, usage, err := ConvertResponse([]byte(in), "m", 1)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"prompt_tokens":100,"completion_tokens":37,"total_tokens":137,"prompt_tokens_details":{"cached_tokens":60},"completion_tokens_details":{"reasoning_tokens":30}}`
	if d := cmp.Diff(decodeJSON(t, []byte(want)), decodeJSON(t, got).(map[string]any)["usage"]); d != "" {
		t.Errorf("usage (-want +got):\n%s", d)
	}
	if usage != (adapter.Usage{PromptTokens: 100, CompletionTokens: 37, TotalTokens: 137, CachedTokens: 60, ReasoningTokens: 30}) {
		t.Errorf("adapter usage %+v", usage)
	}
}

// TestConvertResponseIDs: the model defaults to the upstream name, and
// without a responseId the ids are still deterministic.
func TestConvertResponseIDs(t *testing.T) {
	in := []byte(`{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{"a":1}}}]},"finishReason":"STOP"}]}`)
	a, _, err := ConvertResponse(in, "gemini-2.5-pro", 1)
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := ConvertResponse(in, "gemini-2.5-pro", 1)
	if string(a) != string(b) {
		t.Errorf("not deterministic:\n%s\n%s", a, b)
	}
	var r openai.ChatCompletion
	if err := json.Unmarshal(a, &r); err != nil {
		t.Fatal(err)
	}
	if r.Model != "gemini-2.5-pro" || !strings.HasPrefix(r.ID, "chatcmpl-") || len(r.ID) <= len("chatcmpl-") {
		t.Errorf("model %q id %q", r.Model, r.ID)
	}
	id := r.Choices[0].Message.ToolCalls[0].ID
	if !strings.HasPrefix(id, "call_") || strings.ContainsAny(id, "/+= ") {
		t.Errorf("minted tool call id %q", id)
	}
}

func TestConvertResponseErrors(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		wantStatus int
	}{
		{"not JSON", `<html>`, http.StatusBadGateway},
		{"no candidates, not blocked", `{"responseId":"r"}`, http.StatusBadGateway},
		{"media output", `{"candidates":[{"content":{"parts":[{"inlineData":{"mimeType":"image/png","data":"AA=="}}]},"finishReason":"STOP"}]}`, http.StatusBadGateway},
		{"error object in a 200 body", `{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}`, http.StatusTooManyRequests},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ConvertResponse([]byte(tt.in), "m", 1)
			if err == nil {
				t.Fatal("no error")
			}
			if ae := asAdapterError(t, err); ae.Status != tt.wantStatus {
				t.Errorf("status %d, want %d (%v)", ae.Status, tt.wantStatus, err)
			}
		})
	}
}
