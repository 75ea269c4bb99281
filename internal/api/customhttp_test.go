package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"

	"aigateway/internal/mockllm"
)

// mockHeader returns a models.json "headers" member that makes the mock
// follow directive d on every request of that model: converted requests
// cannot carry the "mock" body field through the conversion.
func mockHeader(d map[string]any) string {
	b, _ := json.Marshal(d)
	h, _ := json.Marshal(map[string]string{"X-Mock": string(b)})
	return `"headers": ` + string(h) + `,`
}

// providerModels configures claude and gemini models against the mock.
func providerModels(claudeDirective, geminiDirective map[string]any, extra string) string {
	return `{"id": "claude", "adapter": "anthropic", "base_url": "MOCK", "api_key": "` + upstreamKey + `", "model": "claude-sonnet-4-5", ` + mockHeader(claudeDirective) + ` "max_tokens": 512},
		{"id": "gemini", "adapter": "custom_http", "protocol": "gemini", "base_url": "MOCK", "api_key": "` + upstreamKey + `", "model": "gemini-2.5-flash", ` + mockHeader(geminiDirective) + ` "timeout": 5}` + extra
}

func toolDirective() map[string]any {
	return map[string]any{"chunks": 2, "tool_calls": []map[string]any{
		{"name": "get_weather", "arguments": `{"city":"Paris"}`},
		{"name": "get_weather", "arguments": `{"city":"Tokyo","unit":"celsius"}`},
	}}
}

func TestProvidersTextNonStreamAndStream(t *testing.T) {
	g := startGateway(t, gatewayOptions{mock: mockllm.Options{Chunks: 5}, extraModels: providerModels(map[string]any{}, map[string]any{}, "")})
	c := g.client(t)
	for _, model := range []string{"claude", "gemini"} {
		t.Run(model, func(t *testing.T) {
			resp, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
				Model:    model,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Hello")},
			})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := resp.Choices[0].Message.Content, mockllm.ExpectedText(5); got != want {
				t.Errorf("content = %q, want %q", got, want)
			}
			if resp.Choices[0].FinishReason != "stop" || resp.Object != "chat.completion" {
				t.Errorf("finish_reason %q, object %q", resp.Choices[0].FinishReason, resp.Object)
			}
			if resp.Usage.PromptTokens == 0 || resp.Usage.TotalTokens != resp.Usage.PromptTokens+resp.Usage.CompletionTokens {
				t.Errorf("usage = %+v", resp.Usage)
			}

			stream := c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
				Model:         model,
				Messages:      userMessage("Hello"),
				StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
			})
			var acc openai.ChatCompletionAccumulator
			ids := map[string]bool{}
			for stream.Next() {
				ch := stream.Current()
				acc.AddChunk(ch)
				ids[ch.ID] = true
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			stream.Close()
			if got, want := acc.Choices[0].Message.Content, mockllm.ExpectedText(5); got != want {
				t.Errorf("streamed content = %q, want %q", got, want)
			}
			if len(ids) != 1 {
				t.Errorf("chunk ids = %v, want one id for the whole stream", ids)
			}
			if acc.Usage.TotalTokens == 0 {
				t.Error("no usage chunk although include_usage was set")
			}
		})
	}
}

func TestProvidersToolCalls(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraModels: providerModels(toolDirective(), toolDirective(), "")})
	c := g.client(t)
	for _, model := range []string{"claude", "gemini"} {
		for _, streamed := range []bool{false, true} {
			name := model + "/non-stream"
			if streamed {
				name = model + "/stream"
			}
			t.Run(name, func(t *testing.T) {
				p := toolsParams()
				p.Model = model
				p.SetExtraFields(nil)
				var msg openai.ChatCompletionMessage
				var finish string
				if streamed {
					stream := c.Chat.Completions.NewStreaming(context.Background(), p)
					var acc openai.ChatCompletionAccumulator
					for stream.Next() {
						acc.AddChunk(stream.Current())
					}
					if err := stream.Err(); err != nil {
						t.Fatal(err)
					}
					stream.Close()
					msg, finish = acc.Choices[0].Message, acc.Choices[0].FinishReason
				} else {
					resp, err := c.Chat.Completions.New(context.Background(), p)
					if err != nil {
						t.Fatal(err)
					}
					msg, finish = resp.Choices[0].Message, string(resp.Choices[0].FinishReason)
				}
				if finish != "tool_calls" {
					t.Errorf("finish_reason = %q, want tool_calls", finish)
				}
				if len(msg.ToolCalls) != 2 {
					t.Fatalf("tool calls = %+v", msg.ToolCalls)
				}
				for i, want := range []string{`{"city":"Paris"}`, `{"city":"Tokyo","unit":"celsius"}`} {
					tc := msg.ToolCalls[i]
					if tc.Function.Name != "get_weather" || tc.ID == "" {
						t.Errorf("tool call %d = %+v", i, tc)
					}
					var got, w any
					json.Unmarshal([]byte(tc.Function.Arguments), &got)
					json.Unmarshal([]byte(want), &w)
					if !jsonEqual(got, w) {
						t.Errorf("tool call %d arguments = %s, want %s", i, tc.Function.Arguments, want)
					}
				}
			})
		}
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// The upstream request the gateway produced, for a request with history,
// tool results and a tool definition: provider paths, headers and bodies.
func TestProvidersUpstreamRequests(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraModels: providerModels(map[string]any{}, map[string]any{}, "")})
	body := `{"model":"MODEL","stream":STREAM,"temperature":0.5,"messages":[
		{"role":"system","content":"Be brief."},
		{"role":"user","content":[{"type":"text","text":"Weather in Paris?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]},
		{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
		{"role":"tool","tool_call_id":"call_1","content":"{\"temp\":18}"}],
		"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}}}],
		"tool_choice":"required"}`
	cases := []struct {
		model, stream, path string
		header, want        map[string]string // upstream header; gjson-free checks on the body
		body                []string
	}{
		{"claude", "false", "/v1/messages", map[string]string{"X-Api-Key": upstreamKey, "Anthropic-Version": "2023-06-01"}, nil,
			[]string{`"model":"claude-sonnet-4-5"`, `"system":"Be brief."`, `"max_tokens":512`, `"temperature":0.5`, `"tool_choice":{"type":"any"}`, `"type":"tool_use"`, `"type":"tool_result"`, `"tool_use_id":"call_1"`, `"media_type":"image/png"`, `"input_schema":`}},
		{"claude", "true", "/v1/messages", map[string]string{"X-Api-Key": upstreamKey}, nil, []string{`"stream":true`}},
		{"gemini", "false", "/v1beta/models/gemini-2.5-flash:generateContent", map[string]string{"X-Goog-Api-Key": upstreamKey}, nil,
			[]string{`"systemInstruction"`, `"functionCall"`, `"functionResponse"`, `"name":"get_weather"`, `"inlineData"`, `"mode":"ANY"`, `"temperature":0.5`}},
		{"gemini", "true", "/v1beta/models/gemini-2.5-flash:streamGenerateContent", map[string]string{"X-Goog-Api-Key": upstreamKey}, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.model+"/stream="+tc.stream, func(t *testing.T) {
			b := strings.NewReplacer("MODEL", tc.model, "STREAM", tc.stream).Replace(body)
			status, _, resp := g.post(t, "/v1/chat/completions", b)
			if status != 200 {
				t.Fatalf("status %d: %s", status, resp)
			}
			up := g.lastUpstream(t)
			if !strings.HasPrefix(up.Path, tc.path) {
				t.Errorf("upstream path = %q, want %q", up.Path, tc.path)
			}
			for k, v := range tc.header {
				if got := up.Header.Get(k); got != v {
					t.Errorf("upstream %s = %q, want %q", k, got, v)
				}
			}
			if got := up.Header.Get("Authorization"); got != "" {
				t.Errorf("a provider request carries Authorization %q", got)
			}
			for _, s := range tc.body {
				if !strings.Contains(string(up.Body), s) {
					t.Errorf("upstream body lacks %s:\n%s", s, up.Body)
				}
			}
		})
	}
}

func TestProvidersErrors(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraModels: providerModels(map[string]any{"status": 529}, map[string]any{"status": 429, "retry_after": "3"},
		`,{"id": "gemini-badkey", "adapter": "gemini", "base_url": "MOCK", "api_key": "wrong-key", "model": "gemini-2.5-flash"}`)})
	c := g.client(t)
	cases := []struct {
		model  string
		status int
	}{
		{"claude", 503},        // Anthropic overloaded (529) -> the status OpenAI clients know
		{"gemini", 429},        // RESOURCE_EXHAUSTED
		{"gemini-badkey", 401}, // API_KEY_INVALID arrives as 400 from Google
	}
	for _, tc := range cases {
		t.Run(tc.model, func(t *testing.T) {
			_, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: tc.model, Messages: userMessage("hi")})
			var apiErr *openai.Error
			if !errors.As(err, &apiErr) || apiErr.StatusCode != tc.status || apiErr.Message == "" {
				t.Fatalf("err = %v, want status %d with a message", err, tc.status)
			}
		})
	}
	// What a provider cannot honour is a clear 400, not a silent drop.
	status, _, body := g.post(t, "/v1/chat/completions", `{"model":"claude","n":2,"messages":[{"role":"user","content":"hi"}]}`)
	if status != 400 || !strings.Contains(body, `"param":"n"`) {
		t.Errorf("n=2 for claude: %d %s", status, body)
	}
	status, _, body = g.post(t, "/v1/chat/completions", `{"model":"gemini","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}]}`)
	if status != 400 || !strings.Contains(body, "fetch_images") {
		t.Errorf("image URL for gemini without fetch_images: %d %s", status, body)
	}
	status, _, body = g.post(t, "/v1/completions", `{"model":"claude","prompt":"hi"}`)
	if status != 400 {
		t.Errorf("completions for claude: %d %s", status, body)
	}
}

// With fetch_images, the gateway downloads an image URL for Gemini and
// sends it inline. The image server is local, so the entry allows private
// addresses (geminifetch_test.go has the refusals).
func TestGeminiFetchImages(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\nfake-image-bytes")
	images := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(png)
	}))
	defer images.Close()
	g := startGateway(t, gatewayOptions{extraModels: `{"id": "gemini", "adapter": "gemini", "base_url": "MOCK", "api_key": "` + upstreamKey + `", "model": "gemini-2.5-flash", "fetch_images": true, "fetch_private_addresses": true}`})
	status, _, body := g.post(t, "/v1/chat/completions", `{"model":"gemini","messages":[{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"`+images.URL+`/cat.png"}}]}]}`)
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	if up := string(g.lastUpstream(t).Body); !strings.Contains(up, `"mimeType":"image/png"`) || !strings.Contains(up, `"data":"iVBORw0KGgpmYWtlLWltYWdlLWJ5dGVz"`) {
		t.Errorf("upstream body lacks the inline image:\n%s", up)
	}
}

func TestGeminiEmbeddings(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraModels: `{"id": "gemini-embed", "adapter": "gemini", "base_url": "MOCK", "api_key": "` + upstreamKey + `", "model": "text-embedding-004"}`})
	c := g.client(t)
	resp, err := c.Embeddings.New(context.Background(), openai.EmbeddingNewParams{
		Model: "gemini-embed",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b", "c"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Data) != 3 || resp.Model != "gemini-embed" {
		t.Fatalf("embeddings: %d items, model %q", len(resp.Data), resp.Model)
	}
	for i, d := range resp.Data {
		if d.Index != int64(i) || len(d.Embedding) == 0 {
			t.Errorf("item %d: index %d, %d dims", i, d.Index, len(d.Embedding))
		}
	}
	if p := g.lastUpstream(t).Path; !strings.HasPrefix(p, "/v1beta/models/text-embedding-004:batchEmbedContents") {
		t.Errorf("upstream path = %q", p)
	}
}

// A provider stream that breaks off is visible to the client, and an
// in-band provider error arrives as an error event.
func TestProviderStreamFailures(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraModels: providerModels(map[string]any{"stream_error": "overloaded_error", "chunks": 3}, map[string]any{"cut_after": 1, "chunks": 3}, "")})
	for _, tc := range []struct{ model, want string }{{"claude", "overloaded_error"}, {"gemini", "stream_incomplete"}} {
		status, _, body := g.post(t, "/v1/chat/completions", `{"model":"`+tc.model+`","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
		if status != 200 || !strings.Contains(body, `data: {"error":`) || !strings.Contains(body, tc.want) || strings.Contains(body, "[DONE]") {
			t.Errorf("%s: %d\n%s", tc.model, status, body)
		}
	}
}

// A template model end to end: config -> registry -> template adapter ->
// a made-up JSON API, with the key in a configured header.
func TestTemplateModel(t *testing.T) {
	var gotAuth, gotBody string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotAuth, gotBody = r.Header.Get("Authorization"), string(b)
		if r.URL.Path != "/api/v2/generate" {
			http.Error(w, `{"detail":"no such path"}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"output":{"text":"Bonjour"},"usage":{"in":3,"out":1}}`)
	}))
	defer api.Close()
	g := startGateway(t, gatewayOptions{
		env: map[string]string{"TPL_KEY": "tpl-secret-key"},
		extraModels: `{"id": "tpl", "adapter": "custom_http", "protocol": "template", "base_url": "` + api.URL + `/api/",
			"api_key": "ENV:TPL_KEY", "model": "big-1", "max_tokens": 50, "headers": {"Authorization": "Token {api_key}"},
			"template": {"path": "/v2/generate", "body": {"model": "{{model}}", "input": "{{prompt}}", "params": {"max_new_tokens": "{{max_tokens}}", "temperature": "{{temperature}}"}},
			             "response": {"text": "output.text", "prompt_tokens": "usage.in", "completion_tokens": "usage.out"}}}`,
	})
	c := g.client(t)
	resp, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "tpl", Messages: userMessage("Say hello in French")})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].Message.Content != "Bonjour" || resp.Usage.PromptTokens != 3 || resp.Usage.CompletionTokens != 1 {
		t.Errorf("response = %+v", resp)
	}
	if gotAuth != "Token tpl-secret-key" {
		t.Errorf("upstream Authorization = %q", gotAuth)
	}
	if want := `{"model":"big-1","input":"Say hello in French","params":{"max_new_tokens":50}}`; gotBody != want {
		t.Errorf("upstream body = %s, want %s", gotBody, want)
	}
	// Streamed from a template without a stream section: one upstream call, a synthetic stream.
	stream := c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{Model: "tpl", Messages: userMessage("Say hello in French")})
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil || acc.Choices[0].Message.Content != "Bonjour" {
		t.Errorf("stream: %q, %v", acc.Choices[0].Message.Content, err)
	}
	stream.Close()
}

// A client that leaves a converted stream cancels the provider request.
func TestProviderStreamClientDisconnect(t *testing.T) {
	for _, model := range []string{"claude", "gemini"} {
		t.Run(model, func(t *testing.T) {
			hang := map[string]any{"hang_after_chunks": 1, "chunks": 3}
			g := startGateway(t, gatewayOptions{extraModels: providerModels(hang, hang, "")})
			ctx, cancel := context.WithCancel(context.Background())
			body := `{"model":"` + model + `","stream":true,"messages":[{"role":"user","content":"hi"}]}`
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, g.URL+"/v1/chat/completions", strings.NewReader(body))
			client := &http.Client{Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 1)
			if _, err := resp.Body.Read(buf); err != nil { // the stream has started
				t.Fatal(err)
			}
			cancel()
			resp.Body.Close()
			waitFor(t, "the provider request to be canceled", func() bool { return g.mock.Stats().Canceled == 1 })
		})
	}
}

// A base_url that already ends in the API version works as well.
func TestProviderBaseURLWithVersion(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraModels: `{"id": "c", "adapter": "anthropic", "base_url": "MOCK/v1", "api_key": "` + upstreamKey + `"},
		{"id": "g", "adapter": "gemini", "base_url": "MOCK/v1beta", "api_key": "` + upstreamKey + `", "model": "gemini-2.5-flash"}`})
	for model, path := range map[string]string{"c": "/v1/messages", "g": "/v1beta/models/gemini-2.5-flash:generateContent"} {
		if status, _, body := g.post(t, "/v1/chat/completions", chatFor(model, "")); status != 200 {
			t.Errorf("%s: %d %s", model, status, body)
		}
		if got := g.lastUpstream(t).Path; got != path {
			t.Errorf("%s: upstream path %q, want %q", model, got, path)
		}
	}
}

// fanOutSchema is a 3 KB tool schema whose definitions refer eight times
// each to the next, five levels deep, down to a 2 KB description: inlined,
// 18 MB. With siblings every reference carries a description, so it must
// be inlined.
func fanOutSchema(siblings bool) string {
	extra := ""
	if siblings {
		extra = `,"description":"x"`
	}
	var defs []string
	for i := range 5 {
		var props []string
		for j := range 8 {
			props = append(props, fmt.Sprintf(`"p%d":{"$ref":"#/$defs/L%d"%s}`, j, i+1, extra))
		}
		defs = append(defs, fmt.Sprintf(`"L%d":{"type":"object","properties":{%s}}`, i, strings.Join(props, ",")))
	}
	defs = append(defs, `"L5":{"type":"string","description":"`+strings.Repeat("d", 2048)+`"}`)
	return `{"type":"object","properties":{"root":{"$ref":"#/$defs/L0"}},"$defs":{` + strings.Join(defs, ",") + `}}`
}

// A tool schema whose shared definitions are used many times reaches
// Gemini the size the client sent it; one that would have to be expanded
// past the budget is a 400 naming the tool, and Gemini is not called.
func TestGeminiToolSchemaFanOut(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraModels: providerModels(map[string]any{}, map[string]any{}, "")})
	request := func(schema string) string {
		return `{"model":"gemini","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"lookup","parameters":` + schema + `}}]}`
	}
	body := request(fanOutSchema(false))
	status, _, resp := g.post(t, "/v1/chat/completions", body)
	if status != 200 {
		t.Fatalf("status %d: %s", status, resp)
	}
	if up := g.lastUpstream(t).Body; len(up) > len(body)+1024 || !strings.Contains(string(up), `"$ref":"#/$defs/L5"`) {
		t.Errorf("upstream body is %d bytes for a %d-byte request", len(up), len(body))
	}
	calls := len(g.mock.Requests())

	status, _, resp = g.post(t, "/v1/chat/completions", request(fanOutSchema(true)))
	code, param, msg := errorBody(t, resp)
	if status != 400 || code != "schema_too_large" || param != "tools[0].function.parameters" || !strings.Contains(msg, `function "lookup"`) {
		t.Errorf("schema past the budget: %d %s", status, resp)
	}
	if n := len(g.mock.Requests()); n != calls {
		t.Errorf("Gemini was called for a refused request")
	}
}
