package api_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"aigateway/internal/mockllm"
)

func userMessage(text string) []openai.ChatCompletionMessageParamUnion {
	return []openai.ChatCompletionMessageParamUnion{openai.UserMessage(text)}
}

func TestSDKChatNonStream(t *testing.T) {
	g := startGateway(t, gatewayOptions{mock: mockllm.Options{Chunks: 4}})
	c := g.client(t)
	resp, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "chat",
		Messages: userMessage("Hello"),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if got, want := resp.Choices[0].Message.Content, mockllm.ExpectedText(4); got != want {
		t.Errorf("content = %q, want %q", got, want)
	}
	if resp.Choices[0].FinishReason != "stop" {
		t.Errorf("finish_reason = %q, want stop", resp.Choices[0].FinishReason)
	}
	if resp.Usage.TotalTokens == 0 {
		t.Error("usage.total_tokens = 0, want the upstream's usage")
	}
	up := g.lastUpstream(t)
	if up.Path != "/v1/chat/completions" {
		t.Errorf("upstream path = %q", up.Path)
	}
	if got := up.Header.Get("Authorization"); got != "Bearer "+upstreamKey {
		t.Errorf("upstream Authorization = %q, want the configured key", got)
	}
	if !strings.Contains(string(up.Body), `"model":"mock-model"`) {
		t.Errorf("upstream body does not name the upstream model: %s", up.Body)
	}
}

func TestSDKChatStream(t *testing.T) {
	for _, includeUsage := range []bool{false, true} {
		name := "without usage"
		if includeUsage {
			name = "include_usage"
		}
		t.Run(name, func(t *testing.T) {
			g := startGateway(t, gatewayOptions{mock: mockllm.Options{Chunks: 20}})
			c := g.client(t)
			params := openai.ChatCompletionNewParams{Model: "chat", Messages: userMessage("Hello")}
			if includeUsage {
				params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
			}
			stream := c.Chat.Completions.NewStreaming(context.Background(), params)
			var acc openai.ChatCompletionAccumulator
			chunks, usageChunks := 0, 0
			for stream.Next() {
				chunk := stream.Current()
				acc.AddChunk(chunk)
				chunks++
				if len(chunk.Choices) == 0 && chunk.Usage.TotalTokens > 0 {
					usageChunks++
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatalf("stream: %v", err)
			}
			stream.Close()
			if got, want := acc.Choices[0].Message.Content, mockllm.ExpectedText(20); got != want {
				t.Errorf("content = %q, want %q", got, want)
			}
			wantUsage := 0
			if includeUsage {
				wantUsage = 1
			}
			if usageChunks != wantUsage {
				t.Errorf("usage chunks = %d, want %d", usageChunks, wantUsage)
			}
			// role chunk + 20 content chunks + finish chunk (+ usage chunk)
			if want := 22 + wantUsage; chunks != want {
				t.Errorf("chunks = %d, want %d", chunks, want)
			}
			if includeUsage { // the log line is written after the client saw the end
				waitFor(t, "the access log line with the stream's usage", func() bool {
					return strings.Contains(g.logs.String(), "prompt_tokens=")
				})
			}
		})
	}
}

// toolsParams asks for a tool call; the mock directive makes the upstream
// answer with one.
func toolsParams() openai.ChatCompletionNewParams {
	p := openai.ChatCompletionNewParams{
		Model:    "chat",
		Messages: userMessage("What is the weather in Paris and Tokyo?"),
		Tools: []openai.ChatCompletionToolUnionParam{
			openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
				Name:        "get_weather",
				Description: openai.String("Current weather for a city"),
				Parameters: openai.FunctionParameters{
					"type":       "object",
					"properties": map[string]any{"city": map[string]any{"type": "string"}},
					"required":   []string{"city"},
				},
			}),
		},
		ToolChoice:        openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("auto")},
		ParallelToolCalls: openai.Bool(true),
	}
	p.SetExtraFields(map[string]any{"mock": map[string]any{"tool_calls": []map[string]any{
		{"name": "get_weather", "arguments": `{"city":"Paris"}`},
		{"name": "get_weather", "arguments": `{"city":"Tokyo","unit":"celsius"}`},
	}}})
	return p
}

func TestSDKToolCalls(t *testing.T) {
	want := []struct{ id, name, args string }{
		{"call_mock_0", "get_weather", `{"city":"Paris"}`},
		{"call_mock_1", "get_weather", `{"city":"Tokyo","unit":"celsius"}`},
	}
	check := func(t *testing.T, calls []openai.ChatCompletionMessageToolCallUnion, finish string) {
		t.Helper()
		if finish != "tool_calls" {
			t.Errorf("finish_reason = %q, want tool_calls", finish)
		}
		if len(calls) != len(want) {
			t.Fatalf("got %d tool calls, want %d", len(calls), len(want))
		}
		for i, w := range want {
			if calls[i].ID != w.id || calls[i].Function.Name != w.name || calls[i].Function.Arguments != w.args {
				t.Errorf("tool call %d = {%s %s %s}, want %+v", i, calls[i].ID, calls[i].Function.Name, calls[i].Function.Arguments, w)
			}
		}
	}
	g := startGateway(t, gatewayOptions{})
	c := g.client(t)

	t.Run("non-stream", func(t *testing.T) {
		resp, err := c.Chat.Completions.New(context.Background(), toolsParams())
		if err != nil {
			t.Fatal(err)
		}
		check(t, resp.Choices[0].Message.ToolCalls, string(resp.Choices[0].FinishReason))
		// The tool definitions reach the upstream as the SDK wrote them.
		body := string(g.lastUpstream(t).Body)
		for _, s := range []string{`"tools":[{`, `"name":"get_weather"`, `"tool_choice":"auto"`, `"parallel_tool_calls":true`, `"required":["city"]`} {
			if !strings.Contains(body, s) {
				t.Errorf("upstream body lacks %s: %s", s, body)
			}
		}
	})
	t.Run("stream", func(t *testing.T) {
		stream := c.Chat.Completions.NewStreaming(context.Background(), toolsParams())
		var acc openai.ChatCompletionAccumulator
		for stream.Next() {
			acc.AddChunk(stream.Current())
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		stream.Close()
		check(t, acc.Choices[0].Message.ToolCalls, acc.Choices[0].FinishReason)
	})
}

func TestSDKEmbeddings(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraModels: `{"id": "embed", "adapter": "openai_compat", "base_url": "MOCK/v1", "api_key": "` + upstreamKey + `", "model": "mock-embed", "temperature": 0.3}`})
	c := g.client(t)
	resp, err := c.Embeddings.New(context.Background(), openai.EmbeddingNewParams{
		Model: "embed",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"one", "two", "three"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Data) != 3 {
		t.Fatalf("got %d embeddings, want 3", len(resp.Data))
	}
	for i, d := range resp.Data {
		if d.Index != int64(i) || len(d.Embedding) == 0 {
			t.Errorf("embedding %d: index %d, %d dims", i, d.Index, len(d.Embedding))
		}
	}
	up := g.lastUpstream(t)
	if up.Path != "/v1/embeddings" {
		t.Errorf("upstream path = %q", up.Path)
	}
	if strings.Contains(string(up.Body), "temperature") {
		t.Errorf("a chat default reached an embeddings request: %s", up.Body)
	}
}

func TestSDKErrorStatuses(t *testing.T) {
	g := startGateway(t, gatewayOptions{
		// One attempt and no breaker in the way: each status must reach the SDK as the upstream sent it.
		chatDefaults: `"retries": 0, "breaker_failures": 1000,`,
		extraModels:  `{"id": "nokey", "adapter": "openai_compat", "base_url": "MOCK/v1", "api_key": "ENV:NOKEY_API_KEY"}`,
	})
	c := g.client(t)
	cases := []struct {
		name    string
		model   string
		mock    map[string]any
		status  int
		message string
	}{
		{"unknown model", "no-such-model", nil, 404, `The model "no-such-model" does not exist`},
		{"unavailable model", "nokey", nil, 503, `The model "nokey" is not configured on this gateway (no API key)`},
		{"upstream 400", "chat", map[string]any{"status": 400, "error_message": "bad temperature"}, 400, "bad temperature"},
		{"upstream 401", "chat", map[string]any{"status": 401}, 401, ""},
		{"upstream 429", "chat", map[string]any{"status": 429, "retry_after": "7"}, 429, ""},
		{"upstream 500", "chat", map[string]any{"status": 500}, 500, ""},
		{"upstream 503 plain text", "chat", map[string]any{"status": 503, "error_body": "upstream overloaded"}, 503, "upstream overloaded"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := openai.ChatCompletionNewParams{Model: tc.model, Messages: userMessage("hi")}
			if tc.mock != nil {
				p.SetExtraFields(map[string]any{"mock": tc.mock})
			}
			var raw *http.Response
			_, err := c.Chat.Completions.New(context.Background(), p, option.WithResponseInto(&raw))
			var apiErr *openai.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want *openai.Error", err)
			}
			if apiErr.StatusCode != tc.status {
				t.Errorf("status = %d, want %d", apiErr.StatusCode, tc.status)
			}
			if apiErr.Message == "" || !strings.Contains(apiErr.Message, tc.message) {
				t.Errorf("message = %q, want it to contain %q", apiErr.Message, tc.message)
			}
			if tc.status == 429 && raw != nil && raw.Header.Get("Retry-After") != "7" {
				t.Errorf("Retry-After = %q, want 7", raw.Header.Get("Retry-After"))
			}
		})
	}
}
