package responses

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3/responses"
	"github.com/tidwall/gjson"

	"aigateway/internal/inbound"
)

const chatAnswer = `{"id":"chatcmpl-1","object":"chat.completion","created":1800000000,"model":"up","choices":[{"index":0,
	"message":{"role":"assistant","content":"Let me check.","reasoning_content":"Need the weather.","tool_calls":[
		{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
		{"id":"call_2","type":"function","function":{"name":"apply_patch","arguments":"{\"input\":\"*** Begin Patch\\n*** End Patch\\n\"}"}}]},
	"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":30,"completion_tokens":12,"total_tokens":42,"prompt_tokens_details":{"cached_tokens":10},"completion_tokens_details":{"reasoning_tokens":4}}}`

func TestResponseGolden(t *testing.T) {
	q := mustParse(t, newTestDialect(nil), streamBody)
	out, err := q.Response(openaiTarget, []byte(chatAnswer))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "response-tool-calls.json", indent(t, out))

	// The SDK decodes it into the items Codex and SDK users switch on.
	var r responses.Response
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("openai-go cannot decode the response: %v", err)
	}
	if r.ID != "resp_test1" || r.Status != "completed" || len(r.Output) != 4 || r.Usage.InputTokensDetails.CachedTokens != 10 ||
		r.Usage.OutputTokensDetails.ReasoningTokens != 4 || r.Usage.TotalTokens != 42 || string(r.Model) != "client-model" {
		t.Fatalf("decoded response %+v", r)
	}
	kinds := []string{"reasoning", "message", "function_call", "custom_tool_call"}
	for i, k := range kinds {
		if r.Output[i].Type != k {
			t.Errorf("output %d is %q, want %q", i, r.Output[i].Type, k)
		}
	}
	if c := r.Output[3].AsCustomToolCall(); c.Input != "*** Begin Patch\n*** End Patch\n" || c.CallID != "call_2" {
		t.Errorf("custom tool call %+v", c)
	}
	if f := r.Output[2].AsFunctionCall(); f.Arguments != `{"city":"Paris"}` || f.CallID != "call_1" || f.Name != "get_weather" {
		t.Errorf("function call %+v", f)
	}
	if r.OutputText() != "Let me check." {
		t.Errorf("output text %q", r.OutputText())
	}
}

func TestResponseLength(t *testing.T) {
	q := mustParse(t, newTestDialect(nil), `{"model":"m","input":"hi"}`)
	out, err := q.Response(openaiTarget, []byte(`{"choices":[{"index":0,"message":{"role":"assistant","content":"Once"},"finish_reason":"length"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	r := gjson.ParseBytes(out)
	if r.Get("status").Str != "incomplete" || r.Get("incomplete_details.reason").Str != "max_output_tokens" || r.Get("usage").Type != gjson.Null {
		t.Errorf("response %s", out)
	}
}

// TestPreviousResponse: a stored response continues with its whole
// conversation, at once; GET finds it; an unknown id is OpenAI's 400.
func TestPreviousResponse(t *testing.T) {
	store := NewMemoryStore(MemoryOptions{})
	d := newTestDialect(store)
	q1 := mustParse(t, d, `{"model":"m","instructions":"Be brief.","input":"What is the weather in Paris?","tools":[{"type":"function","name":"get_weather"}]}`)
	if _, err := q1.Response(openaiTarget, []byte(chatAnswer)); err != nil {
		t.Fatal(err)
	}
	got, ok, err := d.Get(context.Background(), "resp_test1")
	if err != nil || !ok || gjson.GetBytes(got, "id").Str != "resp_test1" {
		t.Fatalf("Get: %s %v %v", got, ok, err)
	}

	// The follow-up streams, without storing itself.
	q2 := mustParse(t, d, `{"model":"m","store":false,"previous_response_id":"resp_test1","input":[
		{"type":"function_call_output","call_id":"call_1","output":"18C"},
		{"type":"custom_tool_call_output","call_id":"call_2","output":"Done"}]}`)
	chat, err := q2.Chat(openaiTarget)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "chat/previous-response.json", indent(t, chat))
	if n := len(gjson.GetBytes(chat, "messages").Array()); n != 4 {
		t.Errorf("%d messages, want user, assistant with calls, 2 tool results (instructions are not carried over)", n)
	}
	_ = runStream(t, q2.NewStream(openaiTarget), readChunks(t, "testdata/streams/chat-completions-text.sse"))
	if store.Len() != 1 {
		t.Errorf("store: false stored the response")
	}

	// A chain of three: the third sees the first two turns.
	q3 := mustParse(t, d, `{"model":"m","previous_response_id":"resp_test1","input":"And London?"}`)
	_ = runStream(t, q3.NewStream(openaiTarget), readChunks(t, "testdata/streams/chat-completions-text.sse"))
	q4 := mustParse(t, d, `{"model":"m","previous_response_id":"`+q3.id+`","input":"Thanks"}`)
	chat, err = q4.Chat(openaiTarget)
	if err != nil {
		t.Fatal(err)
	}
	var roles []string
	for _, m := range gjson.GetBytes(chat, "messages").Array() {
		roles = append(roles, m.Get("role").Str)
	}
	if want := "user assistant user assistant user"; join(roles) != want {
		t.Errorf("roles %q, want %q", join(roles), want)
	}

	// Native passthrough gets the conversation expanded into input.
	n := q4.Native()
	nb := gjson.ParseBytes(n.Body)
	if nb.Get("previous_response_id").Exists() || len(nb.Get("input").Array()) != 8 || string(n.Body[n.ModelStart:n.ModelEnd]) != `"m"` {
		t.Errorf("native body %s", n.Body)
	}

	q5 := mustParse(t, d, `{"model":"m","previous_response_id":"resp_nope","input":"x"}`)
	_, err = q5.Chat(openaiTarget)
	if e, ok := err.(*inbound.Error); !ok || e.Status != 400 || e.Param != "previous_response_id" ||
		e.Message != "Previous response with id 'resp_nope' not found." {
		t.Errorf("unknown previous id: %v", err)
	}
	if n := q5.Native(); string(n.Body) != `{"model":"m","previous_response_id":"resp_nope","input":"x"}` {
		t.Errorf("an id the gateway does not know must pass through to a native upstream: %s", n.Body)
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}

func TestMemoryStoreBounds(t *testing.T) {
	now := time.Unix(0, 0)
	m := NewMemoryStore(MemoryOptions{TTL: time.Minute, MaxEntries: 3, MaxBytes: 100, Now: func() time.Time { return now }})
	ctx := context.Background()
	put := func(id string, n int) {
		if err := m.Put(ctx, id, Stored{Response: make([]byte, n)}); err != nil {
			t.Fatal(err)
		}
	}
	has := func(id string) bool { _, ok, _ := m.Get(ctx, id); return ok }
	put("a", 10)
	put("b", 10)
	put("c", 10)
	put("d", 10)
	if has("a") || !has("b") || !has("d") || m.Len() != 3 {
		t.Errorf("max entries: a kept or b/d lost (len %d)", m.Len())
	}
	put("e", 85) // 10+10+85 > 100: b and c go
	if has("b") || has("c") || !has("d") || !has("e") {
		t.Errorf("max bytes not enforced oldest first")
	}
	put("huge", 101)
	if has("huge") {
		t.Errorf("a response larger than the store was kept")
	}
	now = now.Add(time.Minute)
	if has("d") || has("e") {
		t.Errorf("expired responses returned")
	}
	put("f", 1)
	if m.Len() != 1 {
		t.Errorf("expired entries not evicted: len %d", m.Len())
	}
}

// failingStore is a Store whose server is down.
type failingStore struct{}

func (failingStore) Put(context.Context, string, Stored) error {
	return errors.New("redis SET: dial tcp: connection refused")
}

func (failingStore) Get(context.Context, string) (Stored, bool, error) {
	return Stored{}, false, errors.New("redis GET: dial tcp: connection refused")
}

// TestStoreDown: a store that cannot be read makes a follow-up a 503 (the
// conversation may exist; SDKs retry a 503), not OpenAI's 400 "not found";
// a store that cannot be written still gives the client its answer.
func TestStoreDown(t *testing.T) {
	d := newTestDialect(failingStore{})
	_, err := d.Parse([]byte(`{"model":"m","previous_response_id":"resp_x","input":"x"}`), nil)
	if e, ok := err.(*inbound.Error); !ok || e.Status != 503 || e.Param != "previous_response_id" || !strings.Contains(e.Message, "resp_x") {
		t.Errorf("follow-up with the store down: %v", err)
	}
	q := mustParse(t, d, `{"model":"m","input":"hi"}`)
	out, err := q.Response(openaiTarget, []byte(chatAnswer))
	if err != nil || gjson.GetBytes(out, "status").Str != "completed" {
		t.Errorf("answer with the store down: %s %v", out, err)
	}
	q = mustParse(t, d, `{"model":"m","stream":true,"input":"hi"}`)
	events := runStream(t, q.NewStream(openaiTarget), readChunks(t, "testdata/streams/chat-completions-text.sse"))
	if !strings.Contains(string(events), "response.completed") {
		t.Errorf("stream with the store down did not complete:\n%s", events)
	}
}
