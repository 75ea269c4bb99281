package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
	"google.golang.org/genai"

	"aigateway/internal/mockllm"
)

// The Gemini inbound API (/v1beta/models/{model}:generateContent and
// friends) driven by the official Google Gen AI Go SDK, for an
// OpenAI-compatible, an Anthropic and a Gemini deployment. g-* models
// answer with text; t-* models answer with one get_weather call.

var geminiInboundModels = []string{"openai", "claude", "gemini"}

func geminiInboundEntries() string {
	calls := map[string]any{"tool_calls": []map[string]any{{"name": "get_weather", "arguments": `{"city":"Paris"}`}}}
	entry := func(id, kind, directive string) string {
		switch kind {
		case "openai":
			return `{"id": "` + id + `", "adapter": "openai_compat", "base_url": "MOCK/v1", "api_key": "` + upstreamKey + `", "model": "mock-model", ` + directive + ` "timeout": 5}`
		case "claude":
			return `{"id": "` + id + `", "adapter": "anthropic", "base_url": "MOCK", "api_key": "` + upstreamKey + `", "model": "claude-sonnet-4-5", ` + directive + ` "max_tokens": 512, "timeout": 5}`
		}
		return `{"id": "` + id + `", "adapter": "gemini", "base_url": "MOCK", "api_key": "` + upstreamKey + `", "model": "gemini-2.5-flash", ` + directive + ` "timeout": 5}`
	}
	var out []string
	for _, k := range geminiInboundModels {
		out = append(out, entry("g-"+k, k, ""), entry("t-"+k, k, mockHeader(calls)))
	}
	return strings.Join(out, ",\n")
}

func startGeminiGateway(t *testing.T) *gateway {
	t.Helper()
	return startGateway(t, gatewayOptions{mock: mockllm.Options{Chunks: 3}, extraModels: geminiInboundEntries()})
}

// genaiClient is the Google Gen AI SDK pointed at the gateway.
func genaiClient(t *testing.T, g *gateway) *genai.Client {
	t.Helper()
	httpClient := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(httpClient.CloseIdleConnections)
	c, err := genai.NewClient(context.Background(), &genai.ClientConfig{
		APIKey: "client-key-for-the-gateway", Backend: genai.BackendGeminiAPI,
		HTTPClient: httpClient, HTTPOptions: genai.HTTPOptions{BaseURL: g.URL},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestGeminiSDKGenerateContent(t *testing.T) {
	g := startGeminiGateway(t)
	c := genaiClient(t, g)
	ctx := context.Background()
	for _, k := range geminiInboundModels {
		t.Run(k, func(t *testing.T) {
			model := "g-" + k
			resp, err := c.Models.GenerateContent(ctx, model, genai.Text("Say hello"), &genai.GenerateContentConfig{
				SystemInstruction: genai.NewContentFromText("Be brief.", genai.RoleUser),
				MaxOutputTokens:   100,
			})
			if err != nil {
				t.Fatal(err)
			}
			text := resp.Text()
			// A converted answer names the model the client asked for; a
			// Gemini deployment's passes through with Gemini's own.
			if text == "" || (k != "gemini" && resp.ModelVersion != model) {
				t.Errorf("text %q, modelVersion %q", text, resp.ModelVersion)
			}
			if resp.Candidates[0].FinishReason != genai.FinishReasonStop {
				t.Errorf("finishReason %q", resp.Candidates[0].FinishReason)
			}
			if u := resp.UsageMetadata; u == nil || u.PromptTokenCount == 0 || u.TotalTokenCount == 0 {
				t.Errorf("usage %+v", resp.UsageMetadata)
			}

			var streamed strings.Builder
			var last *genai.GenerateContentResponse
			n := 0
			for chunk, err := range c.Models.GenerateContentStream(ctx, model, genai.Text("Say hello"), nil) {
				if err != nil {
					t.Fatal(err)
				}
				streamed.WriteString(chunk.Text())
				last, n = chunk, n+1
			}
			if streamed.String() != text || n < 2 {
				t.Errorf("stream text %q in %d chunks, want %q", streamed.String(), n, text)
			}
			if last.Candidates[0].FinishReason != genai.FinishReasonStop || last.UsageMetadata == nil || last.UsageMetadata.TotalTokenCount == 0 {
				t.Errorf("last chunk %+v", last)
			}
		})
	}
}

// geminiWeatherTool declares get_weather with Gemini's upper-case OpenAPI schema.
func geminiWeatherTool() []*genai.Tool {
	return []*genai.Tool{{FunctionDeclarations: []*genai.FunctionDeclaration{{
		Name: "get_weather", Description: "The weather in a city",
		Parameters: &genai.Schema{Type: genai.TypeObject, Required: []string{"city"}, Properties: map[string]*genai.Schema{
			"city": {Type: genai.TypeString, Description: "City name"},
			"unit": {Type: genai.TypeString, Enum: []string{"celsius", "fahrenheit"}, Nullable: genai.Ptr(true)},
		}},
	}}}}
}

// TestGeminiSDKFunctionCallRoundTrip asks a t-* model, which calls
// get_weather, and answers the call on its g-* twin; the upstream must get
// the result paired with the call.
func TestGeminiSDKFunctionCallRoundTrip(t *testing.T) {
	g := startGeminiGateway(t)
	c := genaiClient(t, g)
	ctx := context.Background()
	for _, k := range geminiInboundModels {
		for _, streamed := range []bool{false, true} {
			name := k
			if streamed {
				name += "/stream"
			}
			t.Run(name, func(t *testing.T) {
				question := []*genai.Content{genai.NewContentFromText("Weather in Paris?", genai.RoleUser)}
				cfg := &genai.GenerateContentConfig{Tools: geminiWeatherTool()}
				var reply *genai.Content
				if streamed {
					reply = &genai.Content{Role: genai.RoleModel}
					for chunk, err := range c.Models.GenerateContentStream(ctx, "t-"+k, question, cfg) {
						if err != nil {
							t.Fatal(err)
						}
						for _, p := range chunk.Candidates[0].Content.Parts {
							if p.FunctionCall != nil && len(p.FunctionCall.Args) == 0 {
								t.Errorf("a function call arrived without its arguments: %+v", p.FunctionCall)
							}
						}
						reply.Parts = append(reply.Parts, chunk.Candidates[0].Content.Parts...)
					}
				} else {
					resp, err := c.Models.GenerateContent(ctx, "t-"+k, question, cfg)
					if err != nil {
						t.Fatal(err)
					}
					reply = resp.Candidates[0].Content
				}
				var call *genai.FunctionCall
				for _, p := range reply.Parts {
					if p.FunctionCall != nil {
						call = p.FunctionCall
					}
				}
				if call == nil || call.Name != "get_weather" || call.Args["city"] != "Paris" {
					t.Fatalf("no get_weather(Paris) call in %+v", reply.Parts)
				}
				if k != "gemini" && call.ID == "" {
					t.Error("the converted function call has no id")
				}
				upstream := g.lastUpstream(t)
				if k == "openai" && gjson.GetBytes(upstream.Body, `tools.0.function.parameters.properties.unit.type`).Raw != `["string","null"]` {
					t.Errorf("the upper-case schema was not converted: %s", gjson.GetBytes(upstream.Body, "tools").Raw)
				}

				history := append(question, reply, &genai.Content{Role: genai.RoleUser, Parts: []*genai.Part{{
					FunctionResponse: &genai.FunctionResponse{ID: call.ID, Name: call.Name, Response: map[string]any{"output": "18C and cloudy"}},
				}}})
				resp, err := c.Models.GenerateContent(ctx, "g-"+k, history, cfg)
				if err != nil {
					t.Fatal(err)
				}
				if resp.Text() == "" {
					t.Error("no answer after the tool result")
				}
				checkToolResultUpstream(t, k, g.lastUpstream(t).Body)
			})
		}
	}
}

// checkToolResultUpstream checks that the upstream got the tool result
// paired with its call, in its own protocol.
func checkToolResultUpstream(t *testing.T, kind string, body []byte) {
	t.Helper()
	var callID, resultID, result string
	switch kind {
	case "openai":
		callID = gjson.GetBytes(body, `messages.#(role=="assistant").tool_calls.0.id`).String()
		resultID = gjson.GetBytes(body, `messages.#(role=="tool").tool_call_id`).String()
		result = gjson.GetBytes(body, `messages.#(role=="tool").content`).String()
	case "claude":
		callID = gjson.GetBytes(body, `messages.#(role=="assistant").content.#(type=="tool_use").id`).String()
		resultID = gjson.GetBytes(body, `messages.#(role=="user")#.content.#(type=="tool_result").tool_use_id|0`).String()
		result = gjson.GetBytes(body, `messages.#(role=="user")#.content.#(type=="tool_result").content|0`).String()
	default:
		callID = gjson.GetBytes(body, `contents.1.parts.0.functionCall.name`).String()
		resultID = gjson.GetBytes(body, `contents.2.parts.0.functionResponse.name`).String()
		result = gjson.GetBytes(body, `contents.2.parts.0.functionResponse.response.output`).String()
	}
	if callID == "" || callID != resultID || !strings.Contains(result, "18C and cloudy") {
		t.Errorf("upstream %s: call %q, result for %q: %q\n%s", kind, callID, resultID, result, body)
	}
}

func TestGeminiSDKCountTokens(t *testing.T) {
	g := startGeminiGateway(t)
	c := genaiClient(t, g)
	for _, k := range geminiInboundModels {
		t.Run(k, func(t *testing.T) {
			before := len(g.mock.Requests())
			resp, err := c.Models.CountTokens(context.Background(), "g-"+k, genai.Text("one two three four five six seven eight"), nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.TotalTokens <= 0 {
				t.Errorf("totalTokens %d", resp.TotalTokens)
			}
			reqs := g.mock.Requests()[before:]
			if k == "gemini" {
				// Gemini counts; the mock counts words.
				if resp.TotalTokens != 8 || len(reqs) != 1 || !strings.HasSuffix(reqs[0].Path, ":countTokens") {
					t.Errorf("totalTokens %d, upstream requests %d", resp.TotalTokens, len(reqs))
				}
			} else if len(reqs) != 0 {
				t.Errorf("an estimate asked the upstream: %d requests", len(reqs))
			}
		})
	}
}

func TestGeminiSDKModels(t *testing.T) {
	g := startGeminiGateway(t)
	c := genaiClient(t, g)
	ctx := context.Background()
	names := map[string]*genai.Model{}
	for m, err := range c.Models.All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		names[m.Name] = m
	}
	for _, id := range []string{"g-openai", "g-claude", "g-gemini", "t-gemini"} {
		m := names["models/"+id]
		if m == nil {
			t.Errorf("models/%s not listed (got %d models)", id, len(names))
			continue
		}
		if m.DisplayName != id || !strings.Contains(strings.Join(m.SupportedActions, ","), "generateContent") {
			t.Errorf("model %+v", m)
		}
	}
	m, err := c.Models.Get(ctx, "g-claude", nil)
	if err != nil || m.Name != "models/g-claude" {
		t.Errorf("Get: %+v, %v", m, err)
	}
	_, err = c.Models.GenerateContent(ctx, "no-such-model", genai.Text("hi"), nil)
	var apiErr genai.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != http.StatusNotFound || apiErr.Status != "NOT_FOUND" {
		t.Errorf("unknown model: %v", err)
	}
}

// TestGeminiJSONArrayStream reads streamGenerateContent without alt=sse:
// one JSON array whose elements are the stream's responses.
func TestGeminiJSONArrayStream(t *testing.T) {
	g := startGeminiGateway(t)
	for _, k := range geminiInboundModels {
		t.Run(k, func(t *testing.T) {
			status, h, body := g.post(t, "/v1beta/models/t-"+k+":streamGenerateContent",
				`{"contents":[{"role":"user","parts":[{"text":"Weather?"}]}],"tools":[{"functionDeclarations":[{"name":"get_weather","parameters":{"type":"OBJECT","properties":{"city":{"type":"STRING"}}}}]}]}`)
			if status != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
				t.Fatalf("status %d, Content-Type %q: %s", status, h.Get("Content-Type"), body)
			}
			var elems []map[string]any
			if err := json.Unmarshal([]byte(body), &elems); err != nil || len(elems) == 0 {
				t.Fatalf("not a JSON array of responses: %v\n%s", err, body)
			}
			if trimmed := strings.TrimSpace(body); !strings.HasPrefix(trimmed, "[{") || !strings.HasSuffix(trimmed, "}]") {
				t.Errorf("framing: %q", body)
			}
			last, _ := json.Marshal(elems[len(elems)-1])
			if gjson.GetBytes(last, "candidates.0.finishReason").String() != "STOP" {
				t.Errorf("last element %s", last)
			}
			if !strings.Contains(body, `"functionCall"`) {
				t.Errorf("no function call in %s", body)
			}
		})
	}
}

// TestGeminiCLICapturesReplayed sends each body Gemini CLI sent, as it sent
// it (streamGenerateContent?alt=sse), to every kind of deployment.
func TestGeminiCLICapturesReplayed(t *testing.T) {
	g := startGeminiGateway(t)
	files, err := filepath.Glob(filepath.Join("..", "inbound", "geminiapi", "testdata", "gemini-cli-*-*-*.json"))
	files = slices.DeleteFunc(files, func(f string) bool { return strings.Contains(f, ".chat-") }) // the goldens
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures: %v", err)
	}
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range geminiInboundModels {
			for _, prefix := range []string{"g-", "t-"} {
				t.Run(filepath.Base(f)+"/"+prefix+k, func(t *testing.T) {
					status, h, out := g.post(t, "/v1beta/models/"+prefix+k+":streamGenerateContent?alt=sse", string(body),
						"x-goog-api-key", "client-key-for-the-gateway")
					if status != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/event-stream") {
						t.Fatalf("status %d: %s", status, out)
					}
					var events []string
					for _, line := range strings.Split(out, "\n") {
						if data, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), "data: "); ok {
							if !gjson.Valid(data) || gjson.Get(data, "error").Exists() {
								t.Fatalf("bad event %s", data)
							}
							events = append(events, data)
						}
					}
					if len(events) == 0 || gjson.Get(events[len(events)-1], "candidates.0.finishReason").String() != "STOP" {
						t.Fatalf("events %q", events)
					}
					if prefix == "t-" && !strings.Contains(out, `"functionCall":{`) {
						t.Errorf("no function call: %s", out)
					}
				})
			}
		}
	}
}

// TestGeminiSDKStreamSurvivesKeepAlives streams from upstreams that ping
// before they answer: the Gemini SDKs fail on SSE comments, so the
// keep-alives must reach them as blank lines.
func TestGeminiSDKStreamSurvivesKeepAlives(t *testing.T) {
	pings := mockHeader(map[string]any{"pings_before_first": 3, "ping_every_ms": 5})
	g := startGateway(t, gatewayOptions{extraModels: `{"id": "p-openai", "adapter": "openai_compat", "base_url": "MOCK/v1", "api_key": "` + upstreamKey + `", "model": "mock-model", ` + pings + ` "timeout": 5},
		{"id": "p-gemini", "adapter": "gemini", "base_url": "MOCK", "api_key": "` + upstreamKey + `", "model": "gemini-2.5-flash", ` + pings + ` "timeout": 5},
		{"id": "p-claude", "adapter": "anthropic", "base_url": "MOCK", "api_key": "` + upstreamKey + `", "model": "claude-sonnet-4-5", ` + pings + ` "max_tokens": 512, "timeout": 5}`})
	c := genaiClient(t, g)
	for _, model := range []string{"p-openai", "p-gemini", "p-claude"} {
		t.Run(model, func(t *testing.T) {
			var text strings.Builder
			for chunk, err := range c.Models.GenerateContentStream(context.Background(), model, genai.Text("hi"), nil) {
				if err != nil {
					t.Fatal(err)
				}
				text.WriteString(chunk.Text())
			}
			if text.Len() == 0 {
				t.Error("no text")
			}
			_, _, raw := g.post(t, "/v1beta/models/"+model+":streamGenerateContent?alt=sse", `{"contents":[{"parts":[{"text":"hi"}]}]}`)
			for _, line := range strings.Split(raw, "\n") {
				if strings.HasPrefix(line, ":") {
					t.Fatalf("an SSE comment reached a Gemini client: %q", line)
				}
			}
		})
	}
}

// A model id may hold a colon (Ollama's qwen3:8b): GET of the model is not
// a method call, and a call on it splits at the last colon.
func TestGeminiModelIDWithColon(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraModels: `{"id": "qwen3:8b", "adapter": "openai_compat", "base_url": "MOCK/v1", "api_key": "` + upstreamKey + `", "model": "qwen3"}`})
	status, _, body := g.do(t, http.MethodGet, "/v1beta/models/qwen3:8b", "")
	if status != http.StatusOK || !strings.Contains(body, `"models/qwen3:8b"`) {
		t.Fatalf("GET: status %d, body %s", status, body)
	}
	status, _, body = g.post(t, "/v1beta/models/qwen3:8b:generateContent", `{"contents":[{"parts":[{"text":"hi"}]}]}`)
	if status != http.StatusOK || !strings.Contains(body, `"candidates"`) {
		t.Fatalf("generateContent: status %d, body %s", status, body)
	}
}
