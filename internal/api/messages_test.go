package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/tidwall/gjson"

	"aigateway/internal/mockllm"
)

// The Anthropic Messages API (/v1/messages) end to end: the official
// Anthropic Go SDK against the gateway, for an OpenAI-compatible, an
// Anthropic and a Gemini deployment of the mock.

// messagesModels are the deployments of messagesGateway: each model id
// names its upstream protocol.
const messagesModels = `
	{"id": "claude", "adapter": "custom_http", "protocol": "anthropic", "base_url": "MOCK", "api_key": "` + upstreamKey + `", "model": "claude-upstream", "max_output_tokens": 4096, "timeout": 5},
	{"id": "gem", "adapter": "custom_http", "protocol": "gemini", "base_url": "MOCK", "api_key": "` + upstreamKey + `", "model": "gemini-2.5-flash", "timeout": 5},
	{"id": "capped", "adapter": "openai_compat", "base_url": "MOCK/v1/", "api_key": "` + upstreamKey + `", "model": "mock-model", "max_output_tokens": 1000, "timeout": 5}`

// messagesGateway starts a gateway whose mock replies as *directive says
// when it is set.
func messagesGateway(t *testing.T, directive *atomic.Pointer[mockllm.Directive]) *gateway {
	return startGateway(t, gatewayOptions{
		extraModels: messagesModels,
		mock: mockllm.Options{Script: func(_ int64, _ *http.Request, d *mockllm.Directive) {
			if s := directive.Load(); s != nil {
				*d = *s
			}
		}},
	})
}

func anthropicClient(t *testing.T, g *gateway) anthropic.Client {
	httpClient := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(httpClient.CloseIdleConnections)
	return anthropic.NewClient(
		option.WithBaseURL(g.URL),
		option.WithAPIKey("sk-client-key-for-the-gateway"),
		option.WithMaxRetries(0),
		option.WithHTTPClient(httpClient),
	)
}

var anthropicToolID = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

var weatherTool = anthropic.ToolUnionParam{OfTool: &anthropic.ToolParam{
	Name:        "get_weather",
	Description: anthropic.String("The weather in a city"),
	InputSchema: anthropic.ToolInputSchemaParam{
		Properties: map[string]any{"city": map[string]any{"type": "string"}},
		Required:   []string{"city"},
	},
}}

// TestMessagesSDKToolRoundTrip: for each kind of deployment, stream and
// not, the SDK asks, gets a tool call, sends its result and gets the final
// answer; the upstream sees its own tool call id come back.
func TestMessagesSDKToolRoundTrip(t *testing.T) {
	var directive atomic.Pointer[mockllm.Directive]
	g := messagesGateway(t, &directive)
	client := anthropicClient(t, g)
	ctx := context.Background()
	for _, model := range []string{"chat", "claude", "gem"} {
		for _, stream := range []bool{false, true} {
			name := model
			if stream {
				name += "/stream"
			}
			t.Run(name, func(t *testing.T) {
				directive.Store(&mockllm.Directive{ToolCalls: []mockllm.ToolCall{{Name: "get_weather", Arguments: `{"city":"Paris"}`}}})
				params := anthropic.MessageNewParams{
					Model: anthropic.Model(model), MaxTokens: 1024,
					Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("What is the weather in Paris?"))},
					Tools:    []anthropic.ToolUnionParam{weatherTool},
				}
				first := sendMessage(t, ctx, client, params, stream)
				if first.StopReason != anthropic.StopReasonToolUse {
					t.Fatalf("stop_reason %q, want tool_use; content %+v", first.StopReason, first.Content)
				}
				var call anthropic.ToolUseBlock
				for _, b := range first.Content {
					if b.Type == "tool_use" {
						call = b.AsToolUse()
					}
				}
				if call.Name != "get_weather" || gjson.GetBytes(call.Input, "city").Str != "Paris" || !anthropicToolID.MatchString(call.ID) {
					t.Fatalf("tool call %+v", call)
				}
				if first.Usage.InputTokens <= 0 || first.Usage.OutputTokens <= 0 {
					t.Errorf("usage %+v", first.Usage)
				}
				upstreamCallID := upstreamToolCallID(t, g.lastUpstream(t), model)

				directive.Store(&mockllm.Directive{})
				params.Messages = append(params.Messages, first.ToParam(),
					anthropic.NewUserMessage(anthropic.NewToolResultBlock(call.ID, "18 degrees, cloudy", false)))
				second := sendMessage(t, ctx, client, params, stream)
				if second.StopReason != anthropic.StopReasonEndTurn || len(second.Content) != 1 || second.Content[0].Text != mockllm.ExpectedText(3) {
					t.Fatalf("second turn: stop_reason %q, content %+v", second.StopReason, second.Content)
				}
				up := g.lastUpstream(t)
				if got := toolResultID(t, up, model); got != upstreamCallID {
					t.Errorf("the upstream got the tool result for id %q, its call had id %q", got, upstreamCallID)
				}
				if !strings.Contains(string(up.Body), "18 degrees, cloudy") {
					t.Errorf("the tool result did not reach the upstream: %s", up.Body)
				}
			})
		}
	}
}

// sendMessage sends params, streamed (accumulated as the SDK does) or not.
func sendMessage(t *testing.T, ctx context.Context, c anthropic.Client, params anthropic.MessageNewParams, stream bool) anthropic.Message {
	t.Helper()
	if !stream {
		msg, err := c.Messages.New(ctx, params)
		if err != nil {
			t.Fatalf("Messages.New: %v", err)
		}
		return *msg
	}
	s := c.Messages.NewStreaming(ctx, params)
	defer s.Close()
	var msg anthropic.Message
	for s.Next() {
		if err := msg.Accumulate(s.Current()); err != nil {
			t.Fatalf("Accumulate: %v", err)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	return msg
}

// upstreamToolCallID is the id the upstream gave its tool call, as the
// mock's protocols write them.
func upstreamToolCallID(t *testing.T, up mockllm.Request, model string) string {
	t.Helper()
	switch model {
	case "chat":
		return "call_mock_0"
	case "claude":
		return "toolu_mock_0"
	}
	return "" // Gemini's calls have no id of their own; the adapter matches them by name
}

// toolResultID is the tool call id of the tool result the upstream got.
func toolResultID(t *testing.T, up mockllm.Request, model string) string {
	t.Helper()
	var id string
	switch model {
	case "chat":
		gjson.GetBytes(up.Body, "messages").ForEach(func(_, m gjson.Result) bool {
			if m.Get("role").Str == "tool" {
				id = m.Get("tool_call_id").Str
			}
			return true
		})
	case "claude":
		id = gjson.GetBytes(up.Body, `messages.#.content.#(type=="tool_result").tool_use_id|0`).Str
	case "gem":
		if !strings.Contains(string(up.Body), `"functionResponse"`) {
			t.Errorf("no functionResponse reached Gemini: %s", up.Body)
		}
	}
	return id
}

// TestMessagesNativePassthrough: an Anthropic deployment gets the client's
// body as it came (unknown fields and cache_control kept), with its model
// rewritten, max_tokens capped and anthropic-beta forwarded; an OpenAI
// deployment gets no Anthropic header.
func TestMessagesNativePassthrough(t *testing.T) {
	var directive atomic.Pointer[mockllm.Directive]
	g := messagesGateway(t, &directive)
	body := `{"model":"claude","max_tokens":32000,"future_field":{"keep":true},
		"system":[{"type":"text","text":"be brief","cache_control":{"type":"ephemeral"}}],
		"messages":[{"role":"user","content":"hi"}]}`
	status, _, resp := g.post(t, "/v1/messages?beta=true", body, "Anthropic-Version", "2023-06-01",
		"Anthropic-Beta", "claude-code-20250219,context-management-2025-06-27", "X-Api-Key", "sk-client-key-for-the-gateway")
	if status != http.StatusOK || gjson.Get(resp, "type").Str != "message" {
		t.Fatalf("status %d: %s", status, resp)
	}
	up := g.lastUpstream(t)
	if up.Path != "/v1/messages" {
		t.Fatalf("upstream path %s", up.Path)
	}
	ub := gjson.ParseBytes(up.Body)
	if ub.Get("model").Str != "claude-upstream" || ub.Get("max_tokens").Int() != 4096 || !ub.Get("future_field.keep").Bool() ||
		ub.Get("system.0.cache_control.type").Str != "ephemeral" {
		t.Errorf("upstream body %s", up.Body)
	}
	if got := up.Header.Get("Anthropic-Beta"); got != "claude-code-20250219,context-management-2025-06-27" {
		t.Errorf("anthropic-beta upstream %q", got)
	}
	if up.Header.Get("X-Api-Key") != upstreamKey {
		t.Errorf("the upstream did not get the deployment's key")
	}

	// count_tokens goes to Anthropic's endpoint.
	status, _, resp = g.post(t, "/v1/messages/count_tokens?beta=true", `{"model":"claude","messages":[{"role":"user","content":"one two three"}]}`,
		"Anthropic-Version", "2023-06-01", "Anthropic-Beta", "token-counting-2024-11-01")
	if up := g.lastUpstream(t); status != http.StatusOK || up.Path != "/v1/messages/count_tokens" || gjson.Get(resp, "input_tokens").Int() <= 0 ||
		gjson.GetBytes(up.Body, "model").Str != "claude-upstream" || up.Header.Get("Anthropic-Beta") != "token-counting-2024-11-01" {
		t.Errorf("count_tokens: %d %s, upstream %s %s", status, resp, up.Path, up.Body)
	}

	// An OpenAI-compatible deployment: converted, no Anthropic headers,
	// max_tokens capped to its entry.
	status, _, resp = g.post(t, "/v1/messages", strings.Replace(body, `"claude"`, `"capped"`, 1), "Anthropic-Version", "2023-06-01",
		"Anthropic-Beta", "claude-code-20250219")
	if status != http.StatusOK || gjson.Get(resp, "content.0.text").Str != mockllm.ExpectedText(3) {
		t.Fatalf("converted: %d %s", status, resp)
	}
	up = g.lastUpstream(t)
	if up.Header.Get("Anthropic-Beta") != "" || up.Header.Get("Anthropic-Version") != "" || strings.Contains(string(up.Body), "cache_control") {
		t.Errorf("Anthropic specifics reached an OpenAI upstream: %v %s", up.Header, up.Body)
	}
	if gjson.GetBytes(up.Body, "max_completion_tokens").Int() != 1000 {
		t.Errorf("max tokens not capped: %s", up.Body)
	}
}

// TestMessagesErrorsAndCount: errors in Anthropic's shape with the status
// the SDK maps, count_tokens estimated for a deployment that cannot count,
// and the Anthropic model list for Anthropic clients.
func TestMessagesErrorsAndCount(t *testing.T) {
	var directive atomic.Pointer[mockllm.Directive]
	g := messagesGateway(t, &directive)
	client := anthropicClient(t, g)
	ctx := context.Background()

	directive.Store(&mockllm.Directive{Status: http.StatusTooManyRequests})
	_, err := client.Messages.New(ctx, anthropic.MessageNewParams{Model: "chat", MaxTokens: 10,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
	var apiErr *anthropic.Error
	if !asAnthropicError(err, &apiErr) || apiErr.StatusCode != http.StatusTooManyRequests || !strings.Contains(apiErr.RawJSON(), `"rate_limit_error"`) {
		t.Errorf("429: %v", err)
	}
	directive.Store(nil)

	_, err = client.Messages.New(ctx, anthropic.MessageNewParams{Model: "no-such-model", MaxTokens: 10,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
	if !asAnthropicError(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound || !strings.Contains(apiErr.RawJSON(), `"not_found_error"`) {
		t.Errorf("unknown model: %v", err)
	}

	n, err := client.Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{Model: "chat",
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(strings.Repeat("word ", 400)))}})
	if err != nil || n.InputTokens < 400 || n.InputTokens > 700 {
		t.Errorf("count_tokens for an OpenAI deployment: %+v, %v (want an estimate near 500)", n, err)
	}

	// For a Gemini deployment, Gemini's own countTokens answers.
	n, err = client.Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{Model: "gem",
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("one two three four"))}})
	if up := g.lastUpstream(t); err != nil || !strings.HasSuffix(up.Path, ":countTokens") || n.InputTokens != 4 {
		t.Errorf("count_tokens for a Gemini deployment: %+v, %v, upstream %s %s", n, err, up.Path, up.Body)
	}

	status, _, body := g.do(t, http.MethodGet, "/v1/models", "", "Anthropic-Version", "2023-06-01")
	if status != http.StatusOK || gjson.Get(body, "data.#(id==\"claude\").type").Str != "model" || !gjson.Get(body, "has_more").Exists() {
		t.Errorf("models for an Anthropic client: %d %s", status, body)
	}
}

func asAnthropicError(err error, target **anthropic.Error) bool {
	e, ok := err.(*anthropic.Error)
	if ok {
		*target = e
	}
	return ok
}

// TestMessagesThinkingFromReasoningContent: an OpenAI-compatible server's
// reasoning_content reaches the SDK as a signed thinking block, and goes
// back to that deployment as reasoning_content on the next turn.
func TestMessagesThinkingFromReasoningContent(t *testing.T) {
	var directive atomic.Pointer[mockllm.Directive]
	g := messagesGateway(t, &directive)
	client := anthropicClient(t, g)
	ctx := context.Background()
	directive.Store(&mockllm.Directive{Reasoning: "The user greets me. "})
	params := anthropic.MessageNewParams{Model: "chat", MaxTokens: 100,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}}
	msg := sendMessage(t, ctx, client, params, true)
	if len(msg.Content) != 2 || msg.Content[0].Type != "thinking" || msg.Content[0].Thinking != "The user greets me. " || msg.Content[0].Signature == "" {
		t.Fatalf("content %+v", msg.Content)
	}
	directive.Store(nil)
	params.Messages = append(params.Messages, msg.ToParam(), anthropic.NewUserMessage(anthropic.NewTextBlock("and?")))
	sendMessage(t, ctx, client, params, false)
	if got := gjson.GetBytes(g.lastUpstream(t).Body, "messages.1.reasoning_content").Str; got != "The user greets me. " {
		t.Errorf("reasoning_content replayed %q; upstream body %s", got, g.lastUpstream(t).Body)
	}
}

// TestMessagesClientCaptures replays every captured Claude Code and
// opencode request against each kind of deployment; each gets a
// well-formed answer.
func TestMessagesClientCaptures(t *testing.T) {
	var directive atomic.Pointer[mockllm.Directive]
	g := messagesGateway(t, &directive)
	files, _ := filepath.Glob("../inbound/messages/testdata/clients/*.json")
	if len(files) == 0 {
		t.Fatal("no captures")
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			Path    string            `json:"path"`
			Headers map[string]string `json:"headers"`
			Body    json.RawMessage   `json:"body"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatal(err)
		}
		for _, model := range []string{"chat", "claude", "gem"} {
			t.Run(filepath.Base(f)+"/"+model, func(t *testing.T) {
				body, _ := json.Marshal(json.RawMessage(c.Body))
				body = []byte(strings.Replace(string(body), gjson.GetBytes(body, "model").Raw, `"`+model+`"`, 1))
				var hdr []string
				for k, v := range c.Headers {
					hdr = append(hdr, k, v)
				}
				status, h, resp := g.post(t, c.Path+"?beta=true", string(body), hdr...)
				if status != http.StatusOK {
					t.Fatalf("status %d: %s", status, resp)
				}
				switch {
				case strings.HasSuffix(c.Path, "/count_tokens"):
					if gjson.Get(resp, "input_tokens").Int() <= 0 {
						t.Errorf("count: %s", resp)
					}
				case gjson.GetBytes(body, "stream").Bool():
					if h.Get("Content-Type") != "text/event-stream" || !strings.HasPrefix(resp, "event: message_start\n") ||
						!strings.HasSuffix(resp, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n") {
						t.Errorf("stream:\n%s", resp)
					}
				default:
					if gjson.Get(resp, "type").Str != "message" || gjson.Get(resp, "stop_reason").Str == "" {
						t.Errorf("message: %s", resp)
					}
				}
			})
		}
	}
}

// TestMessagesNativeErrors: an Anthropic deployment's errors reach the
// Messages client as Anthropic sent them: a 529 stays 529, and an error
// event inside a stream ends the stream with an error event.
func TestMessagesNativeErrors(t *testing.T) {
	var directive atomic.Pointer[mockllm.Directive]
	g := messagesGateway(t, &directive)
	after := 1
	directive.Store(&mockllm.Directive{StreamError: "overloaded_error", StreamErrorAfter: &after})
	status, _, body := g.post(t, "/v1/messages", `{"model":"claude","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"hi"}]}`,
		"Anthropic-Version", "2023-06-01")
	if status != http.StatusOK || !strings.HasPrefix(body, "event: message_start\n") ||
		!strings.Contains(body, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"") || strings.Contains(body, "message_stop") {
		t.Errorf("stream with an error event: %d\n%s", status, body)
	}
	directive.Store(&mockllm.Directive{Status: 529})
	status, _, body = g.post(t, "/v1/messages", `{"model":"claude","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}`,
		"Anthropic-Version", "2023-06-01")
	if status != 529 || gjson.Get(body, "error.type").Str != "overloaded_error" {
		t.Errorf("529: %d %s", status, body)
	}
}

// A server tool (web_search) reaches an Anthropic upstream but is left out,
// and logged by name, for an upstream that cannot run it.
func TestMessagesServerToolsDroppedAndLogged(t *testing.T) {
	var directive atomic.Pointer[mockllm.Directive]
	g := messagesGateway(t, &directive)
	body := `{"model":"MODEL","max_tokens":100,"messages":[{"role":"user","content":"search"}],
		"tools":[{"type":"web_search_20250305","name":"web_search","max_uses":3},
		{"name":"get_weather","description":"w","input_schema":{"type":"object","properties":{}}}]}`
	status, _, resp := g.post(t, "/v1/messages", strings.Replace(body, "MODEL", "chat", 1), "anthropic-version", "2023-06-01")
	if up := g.lastUpstream(t); status != http.StatusOK || strings.Contains(string(up.Body), "web_search") || !strings.Contains(string(up.Body), "get_weather") {
		t.Fatalf("chat: %d %s; upstream got %s", status, resp, up.Body)
	}
	if logs := g.logs.String(); !strings.Contains(logs, "tools left out") || !strings.Contains(logs, "web_search") {
		t.Errorf("no log line names the dropped tool:\n%s", logs)
	}
	status, _, resp = g.post(t, "/v1/messages", strings.Replace(body, "MODEL", "claude", 1), "anthropic-version", "2023-06-01")
	if up := g.lastUpstream(t); status != http.StatusOK || !strings.Contains(string(up.Body), `"web_search_20250305"`) {
		t.Fatalf("claude: %d %s; upstream got %s", status, resp, up.Body)
	}
}

// An upstream with Mistral's id rule gets 9-character ids for the
// conversation's toolu_ ids, the call and its result alike.
func TestMessagesToolIDsForStrictUpstream(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraModels: `{"id": "strict", "adapter": "openai_compat", "base_url": "MOCK/v1", "api_key": "` + upstreamKey + `", "tool_call_ids": "alnum9"}`})
	body := `{"model":"strict","max_tokens":100,"messages":[{"role":"user","content":"weather?"},
		{"role":"assistant","content":[{"type":"tool_use","id":"toolu_01A09q90qw90lq917835lq9","name":"get_weather","input":{"city":"Paris"}}]},
		{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01A09q90qw90lq917835lq9","content":"18C"}]}],
		"tools":[{"name":"get_weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}]}`
	status, _, resp := g.post(t, "/v1/messages", body, "anthropic-version", "2023-06-01")
	up := g.lastUpstream(t)
	call, result := gjson.GetBytes(up.Body, "messages.1.tool_calls.0.id").Str, gjson.GetBytes(up.Body, "messages.2.tool_call_id").Str
	if status != http.StatusOK || !regexp.MustCompile(`^[a-zA-Z0-9]{9}$`).MatchString(call) || call != result {
		t.Fatalf("status %d %s; upstream ids %q and %q in %s", status, resp, call, result, up.Body)
	}
}

// An entry's context_window and max_output_tokens reach the Anthropic and
// Gemini model lists (Claude Code sizes its context by max_input_tokens).
func TestModelListsCarryLimits(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraModels: `{"id": "big", "adapter": "openai_compat", "base_url": "MOCK/v1", "api_key": "` + upstreamKey + `", "context_window": 128000, "max_output_tokens": 16384}`})
	_, _, body := g.do(t, http.MethodGet, "/v1/models", "", "anthropic-version", "2023-06-01")
	if m := gjson.Get(body, `data.#(id=="big")`); m.Get("max_input_tokens").Int() != 128000 || m.Get("max_tokens").Int() != 16384 {
		t.Errorf("Anthropic list: %s", body)
	}
	if m := gjson.Get(body, `data.#(id=="chat")`); m.Get("max_input_tokens").Exists() {
		t.Errorf("a model without context_window has a limit: %s", body)
	}
	_, _, body = g.do(t, http.MethodGet, "/v1/models/big", "", "anthropic-version", "2023-06-01")
	if gjson.Get(body, "max_input_tokens").Int() != 128000 {
		t.Errorf("Anthropic model: %s", body)
	}
	_, _, body = g.do(t, http.MethodGet, "/v1beta/models/big", "")
	if gjson.Get(body, "inputTokenLimit").Int() != 128000 || gjson.Get(body, "outputTokenLimit").Int() != 16384 {
		t.Errorf("Gemini model: %s", body)
	}
}
