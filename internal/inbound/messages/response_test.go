package messages

import (
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/inbound"
)

func TestResponseGolden(t *testing.T) {
	chat, err := os.ReadFile("testdata/streams/openai-chat-response.json")
	if err != nil {
		t.Fatal(err)
	}
	req := parse(t, "/v1/messages", nil, []byte(simpleRequest))
	got, err := req.Response(chatTarget, chat)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "openai-chat-response.messages.json", got)
	d := gjson.ParseBytes(got)
	if d.Get("stop_reason").Str != "tool_use" || d.Get("content.1.input.city").Str != "Tokyo" || d.Get("usage.input_tokens").Int() != 412 {
		t.Errorf("response: %s", got)
	}
}

func TestResponseDetails(t *testing.T) {
	req := parse(t, "/v1/messages", nil, []byte(simpleRequest))
	tests := []struct {
		name, chat, want string
	}{{
		name: "tool calls with finish_reason stop are tool_use; bad arguments become {}; reasoning is signed thinking",
		chat: `{"id":"chatcmpl-x","choices":[{"index":0,"message":{"role":"assistant","content":"","reasoning_content":"hmm",
			"tool_calls":[{"id":"call_a","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}},{"id":"functions.g:1","type":"function","function":{"name":"g","arguments":"not json"}}]},"finish_reason":"stop"}],
			"usage":{"prompt_tokens":100,"completion_tokens":20,"prompt_tokens_details":{"cached_tokens":60}}}`,
		want: `{"id":"msg_x","type":"message","role":"assistant","model":"claude-via-gateway","content":[` +
			`{"type":"thinking","thinking":"hmm","signature":"` + signThinking(protocolDeployment{chatTarget.Upstream, chatTarget.Deployment}, "hmm") + `"},` +
			`{"type":"tool_use","id":"toolu_gw_call_a","name":"f","input":{"a":1}},{"type":"tool_use","id":"toolu_gw64_ZnVuY3Rpb25zLmc6MQ","name":"g","input":{}}],` +
			`"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":40,"cache_creation_input_tokens":0,"cache_read_input_tokens":60,"output_tokens":20}}`,
	}, {
		name: "length is max_tokens; a missing usage is estimated, never 0",
		chat: `{"id":"chatcmpl-y","choices":[{"index":0,"message":{"role":"assistant","content":"cut"},"finish_reason":"length"}]}`,
		want: `{"id":"msg_y","type":"message","role":"assistant","model":"claude-via-gateway","content":[{"type":"text","text":"cut"}],` +
			`"stop_reason":"max_tokens","stop_sequence":null,"usage":{"input_tokens":` + itoa(req.EstimateInputTokens()) + `,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}`,
	}, {
		name: "content_filter is refusal; tool_calls without calls is end_turn",
		chat: `{"id":"z","choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":"no"},"finish_reason":"content_filter"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}`,
		want: `{"id":"msg_z","type":"message","role":"assistant","model":"claude-via-gateway","content":[{"type":"text","text":"no"}],` +
			`"stop_reason":"refusal","stop_sequence":null,"usage":{"input_tokens":3,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := req.Response(chatTarget, []byte(tc.chat))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
	for _, bad := range []string{`nope`, `{"choices":[]}`} {
		if _, err := req.Response(chatTarget, []byte(bad)); err == nil {
			t.Errorf("Response(%s) succeeded", bad)
		}
	}
}

func itoa(n int64) string {
	return string(CountTokensBody(n)[len(`{"input_tokens":`) : len(CountTokensBody(n))-1])
}

func TestToolIDs(t *testing.T) {
	for _, id := range []string{"call_abc123", "toolu_01XyZ", "call_tok_0_0__thought__c2lnbmF0dXJl", "functions.Read:1", "toolu_gw_x", "toolu_gw64_x", "toolu_", "a", "ü"} {
		c := clientID(id)
		if !validID(c) || !strings.HasPrefix(c, "toolu_") {
			t.Errorf("clientID(%q) = %q, not a valid toolu_ id", id, c)
		}
		if back := upstreamID(c); back != id {
			t.Errorf("upstreamID(clientID(%q)) = %q", id, back)
		}
	}
	if got := clientID("toolu_01XyZ"); got != "toolu_01XyZ" {
		t.Errorf("an Anthropic id was rewritten: %q", got)
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		status, wantStatus int
		typ                string
	}{
		{400, 400, "invalid_request_error"}, {401, 401, "authentication_error"}, {403, 403, "permission_error"},
		{404, 404, "not_found_error"}, {413, 413, "request_too_large"}, {429, 429, "rate_limit_error"},
		{500, 500, "api_error"}, {502, 502, "api_error"}, {503, 529, "overloaded_error"}, {529, 529, "overloaded_error"},
		{504, 504, "timeout_error"}, {422, 422, "invalid_request_error"},
	} {
		rec := httptest.NewRecorder()
		rec.Header().Set("X-Request-Id", "req_1")
		Dialect{}.WriteError(rec, &inbound.Error{Status: tc.status, Message: "went wrong"})
		want := `{"type":"error","error":{"type":"` + tc.typ + `","message":"went wrong"},"request_id":"req_1"}`
		if rec.Code != tc.wantStatus || rec.Body.String() != want || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("status %d: got %d %s", tc.status, rec.Code, rec.Body)
		}
	}
	ev := Dialect{}.StreamError(&inbound.Error{Status: 503, Message: "Overloaded"})
	if len(ev) != 1 || string(ev[0].Event) != "error" || string(ev[0].Data) != `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}` {
		t.Errorf("StreamError = %q %s", ev[0].Event, ev[0].Data)
	}
	if (Dialect{}).StreamEnd() != nil || (Dialect{}).Protocol() != adapter.ProtocolMessages {
		t.Error("StreamEnd or Protocol")
	}
}

func TestHelpers(t *testing.T) {
	if got := string(CountTokensBody(11)); got != `{"input_tokens":11}` {
		t.Errorf("CountTokensBody = %s", got)
	}
	d := Dialect{}
	created := time.Unix(1700000000, 0)
	want := `{"data":[{"type":"model","id":"a","display_name":"a","created_at":"2023-11-14T22:13:20Z"},` +
		`{"type":"model","id":"b","display_name":"b","created_at":"2023-11-14T22:13:20Z","max_input_tokens":200000,"max_tokens":8192}],"has_more":false,"first_id":"a","last_id":"b"}`
	if got := string(d.ListModels([]inbound.Model{{ID: "a"}, {ID: "b", ContextWindow: 200000, MaxOutputTokens: 8192}}, created)); got != want {
		t.Errorf("ListModels: %s", got)
	}
	if got := string(d.ListModels(nil, created)); got != `{"data":[],"has_more":false,"first_id":null,"last_id":null}` {
		t.Errorf("ListModels(nil) = %s", got)
	}
	if got := string(d.ModelObject(inbound.Model{ID: "a"}, created)); got != `{"type":"model","id":"a","display_name":"a","created_at":"2023-11-14T22:13:20Z"}` {
		t.Errorf("ModelObject = %s", got)
	}
	if got := string(d.CountAnswer(7)); got != `{"input_tokens":7}` {
		t.Errorf("CountAnswer = %s", got)
	}
}
