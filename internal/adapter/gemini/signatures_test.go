package gemini

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"aigateway/internal/openai"
	"aigateway/internal/toolcallid"
)

// sig is a signature as Gemini writes it: standard base64 with '+', '/'
// and padding, so that the URL-safe form in the id differs from it.
const sig = "Cs8BAY89a1+/ZrEfMkC4ZPVZx2Q/8yqTQw+Z6lvI0Aa0gXHn9q1aS2Qv3xL0/UmcsnPf+w=="

// The openai-go SDK's ChatCompletionMessage.ToParam, and most other
// clients, send the assistant message back without extra_content. The
// signature then comes from the tool call id, and the id proper answers the
// tool result; the signature part reaches Gemini nowhere but in
// thoughtSignature.
func TestSignatureFromToolCallID(t *testing.T) {
	upstream := `{"candidates":[{"content":{"role":"model","parts":[
		{"functionCall":{"name":"lookup","args":{"q":"x"}},"thoughtSignature":"` + sig + `"},
		{"functionCall":{"name":"fetch","args":{}}}]},"finishReason":"STOP"}],"responseId":"r1"}`
	body, _, err := ConvertResponse([]byte(upstream), "m", 1)
	if err != nil {
		t.Fatal(err)
	}
	var resp openai.ChatCompletion
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatal(err)
	}
	calls := resp.Choices[0].Message.ToolCalls
	if base, s := toolcallid.Split(calls[0].ID); base != "call_r1_0_0" || s != sig {
		t.Fatalf("first call id %q carries %q, %q; want call_r1_0_0 and the signature", calls[0].ID, base, s)
	}
	if calls[1].ID != "call_r1_0_1" {
		t.Errorf("second call id %q: a call without a signature keeps its plain id", calls[1].ID)
	}
	for i := range calls {
		calls[i].ExtraContent = nil // what ToParam does
	}
	history, _ := json.Marshal(resp.Choices[0].Message)
	next := `{"model":"m","messages":[{"role":"user","content":"go"},` + string(history) + `,
		{"role":"tool","tool_call_id":"` + calls[1].ID + `","content":"b"},{"role":"tool","tool_call_id":"` + calls[0].ID + `","content":"a"}]}`
	out, err := ConvertRequest(chatRequest(t, next), RequestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"role":"user","parts":[{"text":"go"}]},
		{"role":"model","parts":[{"functionCall":{"name":"lookup","args":{"q":"x"}},"thoughtSignature":"` + sig + `"},
			{"functionCall":{"name":"fetch","args":{}}}]},
		{"role":"user","parts":[{"functionResponse":{"name":"fetch","response":{"output":"b"}}},
			{"functionResponse":{"name":"lookup","response":{"output":"a"}}}]}]`
	got := decodeJSON(t, out).(map[string]any)
	if d := cmp.Diff(decodeJSON(t, []byte(want)), got["contents"]); d != "" {
		t.Errorf("contents (-want +got):\n%s", d)
	}
	if bytes.Contains(out, []byte(toolcallid.Separator)) {
		t.Errorf("the signed id reached Gemini: %s", out)
	}
}

// A client that keeps extra_content is believed over the id.
func TestSignatureExtraContentWins(t *testing.T) {
	id := toolcallid.Sign("c1", sig)
	body := `{"model":"m","messages":[{"role":"user","content":"go"},
		{"role":"assistant","tool_calls":[{"id":"` + id + `","type":"function","function":{"name":"f","arguments":"{}"},
			"extra_content":{"google":{"thought_signature":"c2ln"}}}]},
		{"role":"tool","tool_call_id":"` + id + `","content":"done"}]}`
	got := convert(t, body, RequestOptions{})
	part := got["contents"].([]any)[1].(map[string]any)["parts"].([]any)[0].(map[string]any)
	if part["thoughtSignature"] != "c2ln" {
		t.Errorf("thoughtSignature = %v, want c2ln from extra_content", part["thoughtSignature"])
	}
}

// Without any signature (history from another model), the first
// functionCall of each model content of the current turn gets Google's
// "skip the validator" value; parallel calls after it, model contents of
// earlier turns, and calls that have a signature are left alone.
func TestUnsignedCallsOfTheCurrentTurn(t *testing.T) {
	body := `{"model":"m","messages":[
		{"role":"user","content":"first question"},
		{"role":"assistant","tool_calls":[{"id":"a1","type":"function","function":{"name":"old","arguments":"{}"}}]},
		{"role":"tool","tool_call_id":"a1","content":"1"},
		{"role":"assistant","content":"Done."},
		{"role":"user","content":"second question"},
		{"role":"assistant","content":"Let me look.","tool_calls":[
			{"id":"b1","type":"function","function":{"name":"p","arguments":"{}"}},
			{"id":"b2","type":"function","function":{"name":"q","arguments":"{}"}}]},
		{"role":"tool","tool_call_id":"b1","content":"2"},
		{"role":"tool","tool_call_id":"b2","content":"3"},
		{"role":"assistant","tool_calls":[{"id":"` + toolcallid.Sign("c1", sig) + `","type":"function","function":{"name":"r","arguments":"{}"}}]},
		{"role":"tool","tool_call_id":"` + toolcallid.Sign("c1", sig) + `","content":"4"},
		{"role":"assistant","tool_calls":[{"id":"d1","type":"function","function":{"name":"s","arguments":"{}"}}]},
		{"role":"tool","tool_call_id":"d1","content":"5"}]}`
	got := convert(t, body, RequestOptions{})
	var signatures []string
	for _, c := range got["contents"].([]any) {
		c := c.(map[string]any)
		for _, p := range c["parts"].([]any) {
			p := p.(map[string]any)
			if fc, ok := p["functionCall"].(map[string]any); ok {
				s, _ := p["thoughtSignature"].(string)
				signatures = append(signatures, fc["name"].(string)+"="+s)
			}
		}
	}
	want := []string{
		"old=", // an earlier turn: Gemini does not check it
		"p=" + skipSignatureValidator,
		"q=", // a parallel call: only the first of a step has a signature
		"r=" + sig,
		"s=" + skipSignatureValidator,
	}
	if d := cmp.Diff(want, signatures); d != "" {
		t.Errorf("function call signatures (-want +got):\n%s", d)
	}
}

// A user message that adds text to the tool results starts a new turn: the
// calls before it are not checked and get nothing.
func TestCurrentTurnStartsAtUserText(t *testing.T) {
	body := `{"model":"m","messages":[{"role":"user","content":"go"},
		{"role":"assistant","tool_calls":[{"id":"a1","type":"function","function":{"name":"f","arguments":"{}"}}]},
		{"role":"tool","tool_call_id":"a1","content":"1"},
		{"role":"user","content":"and now?"}]}`
	out, err := ConvertRequest(chatRequest(t, body), RequestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), skipSignatureValidator) {
		t.Errorf("a call of an earlier turn got the validator value: %s", out)
	}
}

// The stream translator builds tool call ids the same way.
func TestTranslatorSignsToolCallIDs(t *testing.T) {
	stream := "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":\"f\",\"args\":{}},\"thoughtSignature\":\"" + sig +
		"\"}]},\"finishReason\":\"STOP\"}],\"responseId\":\"r2\"}\r\n\r\n"
	chunks, err := translate(t, strings.NewReader(stream), NewTranslator("m", false, 1))
	if err != nil {
		t.Fatal(err)
	}
	var chunk openai.Chunk
	if err := json.Unmarshal(chunks[0], &chunk); err != nil {
		t.Fatal(err)
	}
	id := chunk.Choices[0].Delta.ToolCalls[0].ID
	if base, s := toolcallid.Split(id); base != "call_r2_0_0" || s != sig {
		t.Errorf("streamed tool call id %q splits into %q, %q", id, base, s)
	}
}
