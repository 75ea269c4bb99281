package api_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/tidwall/gjson"

	"aigateway/internal/mockllm"
)

// The Gemini 3 tests run the conversation a tool-using client runs with the
// official SDK: send, append the reply with ChatCompletionMessage.ToParam
// (which drops extra_content, where the gateway also returns Gemini's
// thought signature), append the tool results, send again. The mock's
// gemini-3 model rejects, as Gemini 3 does, a turn whose function call
// comes back without the signature it issued.

const gemini3Model = "gemini-3-pro-preview"

// gemini3Models configures "gemini3", a Gemini 3 model replying with two
// parallel tool calls, and "claude"; extra adds entries.
func gemini3Models(extra string) string {
	calls := map[string]any{"tool_calls": []map[string]any{
		{"name": "get_weather", "arguments": `{"city":"Paris"}`},
		{"name": "get_weather", "arguments": `{"city":"Tokyo"}`},
	}}
	return `{"id": "gemini3", "adapter": "gemini", "base_url": "MOCK", "api_key": "` + upstreamKey + `", "model": "` + gemini3Model + `", ` + mockHeader(calls) + ` "timeout": 5},
		{"id": "claude", "adapter": "anthropic", "base_url": "MOCK", "api_key": "` + upstreamKey + `", "model": "claude-sonnet-4-5", "max_tokens": 512}` + extra
}

// issuedSignature is the thought signature the mock gives its reply to
// request seq: opaque bytes in standard base64, with '+', '/' and padding.
func issuedSignature(seq int64) string {
	var b []byte
	for i := byte(0); len(b) < 700; i++ {
		s := sha256.Sum256([]byte{byte(seq), i})
		b = append(b, s[:]...)
	}
	return base64.StdEncoding.EncodeToString(b[:700])
}

// signEveryReply makes the mock sign its reply to request seq with
// issuedSignature(seq).
func signEveryReply(seq int64, _ *http.Request, d *mockllm.Directive) {
	d.ThoughtSignature = issuedSignature(seq)
}

// weatherParams asks model for the weather, with msgs as the conversation.
func weatherParams(model string, msgs []openai.ChatCompletionMessageParamUnion) openai.ChatCompletionNewParams {
	p := toolsParams()
	p.Model = model
	p.Messages = msgs
	p.SetExtraFields(nil)
	return p
}

// ask sends p, streamed or not, and returns the reply's message.
func ask(t *testing.T, c openai.Client, p openai.ChatCompletionNewParams, streamed bool) openai.ChatCompletionMessage {
	t.Helper()
	if !streamed {
		resp, err := c.Chat.Completions.New(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Choices[0].Message
	}
	stream := c.Chat.Completions.NewStreaming(context.Background(), p)
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	stream.Close()
	return acc.Choices[0].Message
}

// answer appends msg as the client's SDK rebuilds it, and a result for
// each of its tool calls.
func answer(t *testing.T, msgs []openai.ChatCompletionMessageParamUnion, msg openai.ChatCompletionMessage) []openai.ChatCompletionMessageParamUnion {
	t.Helper()
	if len(msg.ToolCalls) != 2 {
		t.Fatalf("reply has %d tool calls, want 2: %+v", len(msg.ToolCalls), msg)
	}
	param := msg.ToParam()
	if b, _ := json.Marshal(param); strings.Contains(string(b), "extra_content") {
		t.Fatalf("ToParam kept extra_content, so this test no longer shows a client that drops it: %s", b)
	}
	msgs = append(msgs, param)
	for _, tc := range msg.ToolCalls {
		msgs = append(msgs, openai.ToolMessage(`{"temp_c":18}`, tc.ID))
	}
	return msgs
}

// modelTurnSignatures returns, for each model content of a recorded Gemini
// request, the thoughtSignature of each of its functionCall parts.
func modelTurnSignatures(t *testing.T, body []byte) [][]string {
	t.Helper()
	var out [][]string
	for _, c := range gjson.GetBytes(body, "contents").Array() {
		if c.Get("role").Str != "model" {
			continue
		}
		var sigs []string
		for _, p := range c.Get("parts").Array() {
			if p.Get("functionCall").Exists() {
				sigs = append(sigs, p.Get("thoughtSignature").Str)
			}
		}
		out = append(out, sigs)
	}
	return out
}

// Two tool turns through a Gemini 3 model with the SDK's ToParam: every
// turn succeeds, and each model turn reaches Gemini with the signature
// Gemini gave it, on its first call only.
func TestGemini3ToolTurnsWithToParam(t *testing.T) {
	for _, streamed := range []bool{false, true} {
		name := "non-stream"
		if streamed {
			name = "stream"
		}
		t.Run(name, func(t *testing.T) {
			g := startGateway(t, gatewayOptions{mock: mockllm.Options{Script: signEveryReply}, extraModels: gemini3Models("")})
			c := g.client(t)
			msgs := userMessage("What is the weather in Paris and Tokyo?")
			for range 2 {
				msgs = answer(t, msgs, ask(t, c, weatherParams("gemini3", msgs), streamed))
			}
			ask(t, c, weatherParams("gemini3", msgs), streamed)

			reqs := g.mock.Requests()
			if len(reqs) != 3 {
				t.Fatalf("the mock got %d requests, want 3", len(reqs))
			}
			for i, r := range reqs {
				if strings.Contains(string(r.Body), "__thought__") {
					t.Errorf("request %d: a signed tool call id reached Gemini: %s", i+1, r.Body)
				}
				got := modelTurnSignatures(t, r.Body)
				var want [][]string
				for k := range i { // the replies to requests 1..i, in order
					want = append(want, []string{issuedSignature(int64(k + 1)), ""})
				}
				if !jsonEqual(got, want) {
					t.Errorf("request %d: model turns carry signatures %q, want %q", i+1, got, want)
				}
			}
		})
	}
}

// A conversation that began on another model has plain tool call ids and
// no extra_content. Sent to a Gemini 3 model, its function calls get the
// value Google documents for that case, and the request succeeds.
func TestGemini3HistoryFromAnotherModel(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraModels: gemini3Models("")})
	c := g.client(t)
	first, err := c.Chat.Completions.New(context.Background(), toolsParams()) // "chat", an OpenAI-compatible model
	if err != nil {
		t.Fatal(err)
	}
	msgs := answer(t, userMessage("What is the weather in Paris and Tokyo?"), first.Choices[0].Message)
	ask(t, c, weatherParams("gemini3", msgs), false)

	up := g.lastUpstream(t)
	if !strings.Contains(up.Path, gemini3Model) {
		t.Fatalf("last upstream request went to %s", up.Path)
	}
	want := [][]string{{"skip_thought_signature_validator", ""}}
	if got := modelTurnSignatures(t, up.Body); !jsonEqual(got, want) {
		t.Errorf("model turns carry signatures %q, want %q", got, want)
	}
}

// A conversation with signed ids that falls back from a Gemini model to an
// OpenAI-compatible or an Anthropic model reaches those upstreams with the
// ids alone, each call still matching its result.
func TestSignedToolCallIDsOnFallback(t *testing.T) {
	down := mockHeader(map[string]any{"status": 503})
	g := startGateway(t, gatewayOptions{mock: mockllm.Options{Script: signEveryReply}, extraModels: gemini3Models(`,
		{"id": "g3-to-chat", "adapter": "gemini", "base_url": "MOCK", "api_key": "` + upstreamKey + `", "model": "` + gemini3Model + `", ` + down + ` "retries": 0, "fallbacks": ["chat"]},
		{"id": "g3-to-claude", "adapter": "gemini", "base_url": "MOCK", "api_key": "` + upstreamKey + `", "model": "` + gemini3Model + `", ` + down + ` "retries": 0, "fallbacks": ["claude"]}`)})
	c := g.client(t)
	reply := ask(t, c, weatherParams("gemini3", userMessage("What is the weather in Paris and Tokyo?")), false)
	base := make([]string, len(reply.ToolCalls))
	for i, tc := range reply.ToolCalls {
		base[i], _, _ = strings.Cut(tc.ID, "__thought__")
	}
	if !strings.Contains(reply.ToolCalls[0].ID, "__thought__") || base[0] == "" {
		t.Fatalf("the first tool call id %q carries no signature", reply.ToolCalls[0].ID)
	}
	msgs := answer(t, userMessage("What is the weather in Paris and Tokyo?"), reply)

	cases := []struct {
		model, path      string
		callIDs, results string // gjson paths in the upstream body
	}{
		{"g3-to-chat", "/v1/chat/completions", "messages.1.tool_calls.#.id", "messages.#(role==\"tool\")#.tool_call_id"},
		{"g3-to-claude", "/v1/messages", "messages.1.content.#.id", "messages.2.content.#.tool_use_id"},
	}
	for _, tc := range cases {
		t.Run(tc.model, func(t *testing.T) {
			p := weatherParams(tc.model, msgs)
			resp, err := c.Chat.Completions.New(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Choices) == 0 {
				t.Fatal("no choices")
			}
			up := g.lastUpstream(t)
			if up.Path != tc.path {
				t.Fatalf("the fallback request went to %s, want %s", up.Path, tc.path)
			}
			if strings.Contains(string(up.Body), "__thought__") {
				t.Errorf("a signature part reached the upstream: %s", up.Body)
			}
			for _, path := range []string{tc.callIDs, tc.results} {
				var got []string
				for _, v := range gjson.GetBytes(up.Body, path).Array() {
					got = append(got, v.Str)
				}
				if !jsonEqual(got, base) {
					t.Errorf("%s = %q, want %q", path, got, base)
				}
			}
		})
	}
}
