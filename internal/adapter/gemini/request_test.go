package gemini

import (
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestConvertRequestGolden converts the shared example request
// (openai-chat-request.json) and compares the result with the reviewed
// golden file openai-chat-request.gemini.json. TestGoldenMatchesReference
// checks that the golden differs from the hand-written reference
// gemini-request.json only where intended.
func TestConvertRequestGolden(t *testing.T) {
	req, oerr := openai.DecodeChatRequest(readTestdata(t, "openai-chat-request.json"))
	if oerr != nil {
		t.Fatal(oerr.Message)
	}
	got, err := ConvertRequest(req, RequestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const golden = "openai-chat-request.gemini.json"
	if *update {
		var v any
		if err := json.Unmarshal(got, &v); err != nil {
			t.Fatal(err)
		}
		pretty, _ := json.MarshalIndent(v, "", "  ")
		if err := os.WriteFile(filepath.Join("testdata", golden), append(pretty, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if d := diffJSON(t, readTestdata(t, golden), got); d != "" {
		t.Errorf("ConvertRequest mismatch with %s (-want +got):\n%s", golden, d)
	}
}

// TestGoldenMatchesReference pins down how the golden differs from
// gemini-request.json, the same conversation written by hand from the Gemini
// docs. The differences, all intended:
//   - the tool schema is sent as parametersJsonSchema, not parameters (see
//     schema.go: the OpenAPI-subset field rejects common JSON Schema);
//   - the functionCall part's thoughtSignature is Google's "skip the
//     validator" value: the OpenAI request's tool call carries neither
//     extra_content nor a signed id, so there is no signature to restore
//     (TestThoughtSignatureRoundTrip restores one), and the call is in the
//     current turn, which Gemini 3 validates;
//   - generationConfig has no candidateCount: the request sets no n, and
//     Gemini's default is 1.
//
// user ("user-1234") is dropped in both: Gemini has no such field.
func TestGoldenMatchesReference(t *testing.T) {
	ref := decodeJSON(t, readTestdata(t, "gemini-request.json")).(map[string]any)
	decl := ref["tools"].([]any)[0].(map[string]any)["functionDeclarations"].([]any)[0].(map[string]any)
	decl["parametersJsonSchema"] = decl["parameters"]
	delete(decl, "parameters")
	ref["contents"].([]any)[1].(map[string]any)["parts"].([]any)[0].(map[string]any)["thoughtSignature"] = skipSignatureValidator
	delete(ref["generationConfig"].(map[string]any), "candidateCount")

	golden := decodeJSON(t, readTestdata(t, "openai-chat-request.gemini.json"))
	if d := cmp.Diff(any(ref), golden); d != "" {
		t.Errorf("golden differs from gemini-request.json beyond the documented edits (-reference +golden):\n%s", d)
	}
}

// TestConvertRequestGeminiCLI rebuilds, as an OpenAI request, the second
// turn Gemini CLI (Google's own client) sent, and checks that the converted
// contents, system instruction and tools equal what Gemini CLI sent: same
// parts, the functionCall with its id and thoughtSignature restored from
// extra_content, the functionResponse with the call's name and id, and the
// 15 tool schemas passed through unchanged but for "$schema".
func TestConvertRequestGeminiCLI(t *testing.T) {
	var capture struct {
		Body struct {
			Contents          []content `json:"contents"`
			SystemInstruction content   `json:"systemInstruction"`
			Tools             []struct {
				FunctionDeclarations []json.RawMessage `json:"functionDeclarations"`
			} `json:"tools"`
		} `json:"body"`
	}
	if err := json.Unmarshal(readTestdata(t, "streamGenerateContent-2-tool-result.json"), &capture); err != nil {
		t.Fatal(err)
	}
	b := capture.Body
	if len(b.Contents) != 3 || len(b.Tools) != 1 {
		t.Fatalf("unexpected capture shape: %d contents, %d tools", len(b.Contents), len(b.Tools))
	}
	call := b.Contents[1].Parts[0]
	resp := b.Contents[2].Parts[0].FunctionResponse
	var output struct {
		Output string `json:"output"`
	}
	if err := json.Unmarshal(resp.Response, &output); err != nil {
		t.Fatal(err)
	}

	userParts := make([]openai.ContentPart, len(b.Contents[0].Parts))
	for i, p := range b.Contents[0].Parts {
		userParts[i] = openai.ContentPart{Type: "text", Text: p.Text}
	}
	system := b.SystemInstruction.Parts[0].Text
	req := &openai.ChatRequest{
		Model: "gemini",
		Messages: []openai.Message{
			{Role: "system", Content: openai.MessageContent{Text: &system}},
			{Role: "user", Content: openai.MessageContent{Parts: userParts}},
			{Role: "assistant", ToolCalls: []openai.ToolCall{{
				ID:           "call_from_gateway",
				Type:         "function",
				Function:     openai.FunctionCall{Name: call.FunctionCall.Name, Arguments: string(call.FunctionCall.Args)},
				ExtraContent: extraContent(call.ThoughtSignature, call.FunctionCall.ID),
			}}},
			{Role: "tool", ToolCallID: "call_from_gateway", Content: openai.MessageContent{Text: &output.Output}},
		},
	}
	for _, raw := range b.Tools[0].FunctionDeclarations {
		var d struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Schema      json.RawMessage `json:"parametersJsonSchema"`
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatal(err)
		}
		req.Tools = append(req.Tools, openai.Tool{Type: "function", Function: openai.FunctionDef{Name: d.Name, Description: d.Description, Parameters: d.Schema}})
	}
	if len(req.Tools) != 15 {
		t.Fatalf("capture has %d tools, want 15", len(req.Tools))
	}

	out, err := ConvertRequest(req, RequestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := decodeJSON(t, out).(map[string]any)
	sent := decodeJSON(t, readTestdata(t, "streamGenerateContent-2-tool-result.json")).(map[string]any)["body"].(map[string]any)
	// Two intended differences: Gemini ignores the role of
	// systemInstruction, which Gemini CLI sets and the converter does not,
	// and the converter strips "$schema" (metadata that the OpenAPI-style
	// validators reject, qwen-code #1186); one of Gemini CLI's tools has it.
	delete(sent["systemInstruction"].(map[string]any), "role")
	stripped := 0
	for _, d := range sent["tools"].([]any)[0].(map[string]any)["functionDeclarations"].([]any) {
		if s, ok := d.(map[string]any)["parametersJsonSchema"].(map[string]any); ok && s["$schema"] != nil {
			delete(s, "$schema")
			stripped++
		}
	}
	if stripped != 1 {
		t.Errorf("stripped $schema from %d capture schemas, expected 1 (capture changed?)", stripped)
	}
	for _, key := range []string{"contents", "systemInstruction", "tools"} {
		if d := cmp.Diff(sent[key], got[key]); d != "" {
			t.Errorf("%s differs from what Gemini CLI sent (-gemini-cli +converted):\n%s", key, d)
		}
	}
}

// TestConvertRequest covers the mapping rules one by one. want is the whole
// converted body.
func TestConvertRequest(t *testing.T) {
	const png = "iVBORw0KGgo="
	fetch := func(url string) (string, string, error) {
		if url != "https://example.com/cat.png" {
			return "", "", errors.New("unexpected URL " + url)
		}
		return png, "image/png", nil
	}
	tests := []struct {
		name string
		body string
		opts RequestOptions
		want string
	}{{
		name: "system and developer messages go to systemInstruction in order, from anywhere",
		body: `{"model":"m","messages":[{"role":"system","content":"A"},{"role":"user","content":"hi"},
			{"role":"developer","content":[{"type":"text","text":"B"},{"type":"text","text":"C"}]}]}`,
		want: `{"systemInstruction":{"parts":[{"text":"A"},{"text":"B"},{"text":"C"}]},
			"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`,
	}, {
		name: "assistant becomes model; consecutive same-role messages merge",
		body: `{"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":[{"type":"text","text":"b"}]},
			{"role":"assistant","content":"c"},{"role":"assistant","content":"d"},{"role":"user","content":"e"}]}`,
		want: `{"contents":[{"role":"user","parts":[{"text":"a"},{"text":"b"}]},
			{"role":"model","parts":[{"text":"c"},{"text":"d"}]},{"role":"user","parts":[{"text":"e"}]}]}`,
	}, {
		name: "empty text parts and empty messages are dropped",
		body: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":""},{"type":"text","text":"x"}]},
			{"role":"assistant","content":""},{"role":"user","content":"y"}]}`,
		want: `{"contents":[{"role":"user","parts":[{"text":"x"},{"text":"y"}]}]}`,
	}, {
		name: "data URL image becomes inlineData",
		body: `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,` + png + `","detail":"high"}}]}]}`,
		want: `{"contents":[{"role":"user","parts":[{"inlineData":{"mimeType":"image/png","data":"` + png + `"}}]}]}`,
	}, {
		name: "http image URL is fetched when FetchImage is set",
		body: `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}]}`,
		opts: RequestOptions{FetchImage: fetch},
		want: `{"contents":[{"role":"user","parts":[{"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}}]}]}`,
	}, {
		name: "fetched image without MIME type is sniffed",
		body: `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}]}`,
		opts: RequestOptions{FetchImage: func(string) (string, string, error) { return png, "", nil }},
		want: `{"contents":[{"role":"user","parts":[{"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}}]}]}`,
	}, {
		name: "input_audio and inline files become inlineData",
		body: `{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"UklGRg==","format":"wav"}},
			{"type":"file","file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,JVBERg=="}}]}]}`,
		want: `{"contents":[{"role":"user","parts":[{"inlineData":{"mimeType":"audio/wav","data":"UklGRg=="}},
			{"inlineData":{"mimeType":"application/pdf","data":"JVBERg=="}}]}]}`,
	}, {
		name: "tool calls become functionCall parts; empty arguments are {}",
		body: `{"model":"m","messages":[{"role":"user","content":"go"},
			{"role":"assistant","content":"Checking.","tool_calls":[
				{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":[1,2]}"}},
				{"id":"c2","type":"function","function":{"name":"g","arguments":""}}]},
			{"role":"tool","tool_call_id":"c2","content":"plain text"},
			{"role":"tool","tool_call_id":"c1","content":"{\"ok\":true}"},
			{"role":"user","content":"and?"}]}`,
		want: `{"contents":[{"role":"user","parts":[{"text":"go"}]},
			{"role":"model","parts":[{"text":"Checking."},{"functionCall":{"name":"f","args":{"a":[1,2]}}},{"functionCall":{"name":"g","args":{}}}]},
			{"role":"user","parts":[
				{"functionResponse":{"name":"g","response":{"output":"plain text"}}},
				{"functionResponse":{"name":"f","response":{"output":{"ok":true}}}},
				{"text":"and?"}]}]}`,
	}, {
		name: "JSON that is not an object stays a string output",
		body: `{"model":"m","messages":[{"role":"user","content":"go"},
			{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},
			{"role":"tool","tool_call_id":"c1","content":[{"type":"text","text":"[1,"},{"type":"text","text":"2]"}]}]}`,
		want: `{"contents":[{"role":"user","parts":[{"text":"go"}]},
			{"role":"model","parts":[{"functionCall":{"name":"f","args":{}},"thoughtSignature":"skip_thought_signature_validator"}]},
			{"role":"user","parts":[{"functionResponse":{"name":"f","response":{"output":"[1,2]"}}}]}]}`,
	}, {
		name: "Gemini's call id and thought signature come back from extra_content",
		body: `{"model":"m","messages":[{"role":"user","content":"go"},
			{"role":"assistant","tool_calls":[{"id":"fc-1","type":"function","function":{"name":"f","arguments":"{}"},
				"extra_content":{"google":{"thought_signature":"c2ln","function_call_id":"fc-1"}}}]},
			{"role":"tool","tool_call_id":"fc-1","content":"done"}]}`,
		want: `{"contents":[{"role":"user","parts":[{"text":"go"}]},
			{"role":"model","parts":[{"functionCall":{"id":"fc-1","name":"f","args":{}},"thoughtSignature":"c2ln"}]},
			{"role":"user","parts":[{"functionResponse":{"id":"fc-1","name":"f","response":{"output":"done"}}}]}]}`,
	}, {
		name: "a tool result answers the nearest earlier call with its id",
		body: `{"model":"m","messages":[{"role":"user","content":"go"},
			{"role":"assistant","tool_calls":[{"id":"x","type":"function","function":{"name":"old","arguments":"{}"}}]},
			{"role":"tool","tool_call_id":"x","content":"1"},
			{"role":"assistant","tool_calls":[{"id":"x","type":"function","function":{"name":"new","arguments":"{}"}}]},
			{"role":"tool","tool_call_id":"x","content":"2"}]}`,
		want: `{"contents":[{"role":"user","parts":[{"text":"go"}]},
			{"role":"model","parts":[{"functionCall":{"name":"old","args":{}},"thoughtSignature":"skip_thought_signature_validator"}]},
			{"role":"user","parts":[{"functionResponse":{"name":"old","response":{"output":"1"}}}]},
			{"role":"model","parts":[{"functionCall":{"name":"new","args":{}},"thoughtSignature":"skip_thought_signature_validator"}]},
			{"role":"user","parts":[{"functionResponse":{"name":"new","response":{"output":"2"}}}]}]}`,
	}, {
		name: "tools, tool_choice auto",
		body: `{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"auto","tools":[
			{"type":"function","function":{"name":"f","description":"d","parameters":{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}}},
			{"type":"function","function":{"name":"g"}}]}`,
		want: `{"contents":[{"role":"user","parts":[{"text":"x"}]}],
			"tools":[{"functionDeclarations":[
				{"name":"f","description":"d","parametersJsonSchema":{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}},
				{"name":"g"}]}],
			"toolConfig":{"functionCallingConfig":{"mode":"AUTO"}}}`,
	}, {
		name: "tool_choice none",
		body: `{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"none","parallel_tool_calls":false,
			"tools":[{"type":"function","function":{"name":"f"}}]}`,
		want: `{"contents":[{"role":"user","parts":[{"text":"x"}]}],"tools":[{"functionDeclarations":[{"name":"f"}]}],
			"toolConfig":{"functionCallingConfig":{"mode":"NONE"}}}`,
	}, {
		name: "tool_choice required",
		body: `{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"required","tools":[{"type":"function","function":{"name":"f"}}]}`,
		want: `{"contents":[{"role":"user","parts":[{"text":"x"}]}],"tools":[{"functionDeclarations":[{"name":"f"}]}],
			"toolConfig":{"functionCallingConfig":{"mode":"ANY"}}}`,
	}, {
		name: "tool_choice function",
		body: `{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"function","function":{"name":"g"}},
			"parallel_tool_calls":true,"tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"g"}}]}`,
		want: `{"contents":[{"role":"user","parts":[{"text":"x"}]}],"tools":[{"functionDeclarations":[{"name":"f"},{"name":"g"}]}],
			"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["g"]}}}`,
	}, {
		name: "no tool_choice, and tool_choice auto without tools, send no toolConfig",
		body: `{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"auto"}`,
		want: `{"contents":[{"role":"user","parts":[{"text":"x"}]}]}`,
	}, {
		name: "sampling parameters; max_completion_tokens wins over max_tokens; stop string becomes a list",
		body: `{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":0,"top_p":0.5,"max_tokens":10,
			"max_completion_tokens":20,"stop":"END","n":2,"seed":7,"presence_penalty":0.1,"frequency_penalty":-0.2,
			"logprobs":true,"top_logprobs":3}`,
		want: `{"contents":[{"role":"user","parts":[{"text":"x"}]}],"generationConfig":{"temperature":0,"topP":0.5,
			"maxOutputTokens":20,"stopSequences":["END"],"candidateCount":2,"seed":7,"presencePenalty":0.1,
			"frequencyPenalty":-0.2,"responseLogprobs":true,"logprobs":3}}`,
	}, {
		name: "max_tokens alone; user and safety_identifier are ignored",
		body: `{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":10,"user":"u","safety_identifier":"s","logit_bias":{}}`,
		want: `{"contents":[{"role":"user","parts":[{"text":"x"}]}],"generationConfig":{"maxOutputTokens":10}}`,
	}, {
		name: "response_format json_object",
		body: `{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object"}}`,
		want: `{"contents":[{"role":"user","parts":[{"text":"x"}]}],"generationConfig":{"responseMimeType":"application/json"}}`,
	}, {
		name: "response_format json_schema, schema prepared",
		body: `{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"n","strict":true,
			"schema":{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"k":{"type":["string","null"]}}}}}}`,
		want: `{"contents":[{"role":"user","parts":[{"text":"x"}]}],"generationConfig":{"responseMimeType":"application/json",
			"responseJsonSchema":{"type":"object","properties":{"k":{"type":["string","null"]}}}}}`,
	}, {
		name: "response_format text asks for nothing",
		body: `{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"text"}}`,
		want: `{"contents":[{"role":"user","parts":[{"text":"x"}]}]}`,
	}, {
		name: "reasoning_effort becomes a thinking budget, with the thoughts asked for",
		body: `{"model":"m","messages":[{"role":"user","content":"x"}],"reasoning_effort":"medium"}`,
		want: `{"contents":[{"role":"user","parts":[{"text":"x"}]}],"generationConfig":{"thinkingConfig":{"thinkingBudget":8192,"includeThoughts":true}}}`,
	}, {
		name: "reasoning_effort none turns thinking off",
		body: `{"model":"m","messages":[{"role":"user","content":"x"}],"reasoning_effort":"none"}`,
		want: `{"contents":[{"role":"user","parts":[{"text":"x"}]}],"generationConfig":{"thinkingConfig":{"thinkingBudget":0}}}`,
	}, {
		name: "only system messages are sent as the user turn",
		body: `{"model":"m","messages":[{"role":"system","content":"Say hi."}]}`,
		want: `{"contents":[{"role":"user","parts":[{"text":"Say hi."}]}]}`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ConvertRequest(chatRequest(t, tt.body), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffJSON(t, []byte(tt.want), got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// TestConvertRequestErrors checks that what Gemini cannot take, or what is
// malformed, is a 400 naming the field.
func TestConvertRequestErrors(t *testing.T) {
	const user = `{"role":"user","content":"x"}`
	const call = `{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]}`
	const tools = `"tools":[{"type":"function","function":{"name":"f"}}]`
	failFetch := func(string) (string, string, error) {
		return "", "", errors.New("dial tcp 10.0.0.5:80: connection refused")
	}
	tooBig := func(string) (string, string, error) {
		return "", "", adapter.Errorf(http.StatusRequestEntityTooLarge, openai.TypeInvalidRequest, "image_too_large", "too large")
	}
	tooMany := func(string) (string, string, error) {
		return "", "", &imageLimitError{code: "too_many_images", msg: "at most 16 image URLs per request"}
	}
	tests := []struct {
		name       string
		body       string
		opts       RequestOptions
		wantStatus int
		wantParam  string
		wantInMsg  string
	}{
		{"image URL without FetchImage", `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"},{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]}]}`,
			RequestOptions{}, 400, "messages[0].content[1].image_url.url", `"fetch_images": true`},
		{"image download fails: one message, whatever the cause", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"http://example.com/a.png"}}]}]}`,
			RequestOptions{FetchImage: failFetch}, 400, "messages[0].content[0].image_url.url", "could not fetch the image. The gateway fetches only public http(s) URLs"},
		{"a fetch limit is named", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"http://example.com/a.png"}}]}]}`,
			RequestOptions{FetchImage: tooMany}, 400, "messages[0].content[0].image_url.url", "at most 16 image URLs per request"},
		{"FetchImage's own error is kept", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"http://example.com/a.png"}}]}]}`,
			RequestOptions{FetchImage: tooBig}, 413, "", "too large"},
		{"image URL of another scheme", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x/a.png"}}]}]}`,
			RequestOptions{}, 400, "messages[0].content[0].image_url.url", "http(s)"},
		{"data URL without base64", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,abc"}}]}]}`,
			RequestOptions{}, 400, "messages[0].content[0].image_url.url", "base64"},
		{"audio format", `{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AA==","format":"flac"}}]}]}`,
			RequestOptions{}, 400, "messages[0].content[0].input_audio.format", "wav or mp3"},
		{"file by id", `{"model":"m","messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"file-1"}}]}]}`,
			RequestOptions{}, 400, "messages[0].content[0].file.file_id", "file_id"},
		{"image in a system message", `{"model":"m","messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]},` + user + `]}`,
			RequestOptions{}, 400, "messages[0].content[0]", "only contain text"},
		{"unknown part type", `{"model":"m","messages":[{"role":"user","content":[{"type":"video","text":"x"}]}]}`,
			RequestOptions{}, 400, "messages[0].content[0].type", `"video"`},
		{"unknown role", `{"model":"m","messages":[{"role":"function","content":"x"}]}`,
			RequestOptions{}, 400, "messages[0].role", `"function"`},
		{"invalid tool call arguments", `{"model":"m","messages":[` + user + `,{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":"}}]}]}`,
			RequestOptions{}, 400, "messages[1].tool_calls[0].function.arguments", "JSON object"},
		{"tool call arguments that are not an object", `{"model":"m","messages":[` + user + `,{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`,
			RequestOptions{}, 400, "messages[1].tool_calls[0].function.arguments", "JSON object"},
		{"tool result for an unknown call", `{"model":"m","messages":[` + user + `,` + call + `,{"role":"tool","tool_call_id":"c9","content":"r"}]}`,
			RequestOptions{}, 400, "messages[2].tool_call_id", `"c9"`},
		{"tool result before its call", `{"model":"m","messages":[` + user + `,{"role":"tool","tool_call_id":"c1","content":"r"},` + call + `]}`,
			RequestOptions{}, 400, "messages[1].tool_call_id", `"c1"`},
		{"custom tool", `{"model":"m","messages":[` + user + `],"tools":[{"type":"custom","function":{"name":"f"}}]}`,
			RequestOptions{}, 400, "tools[0].type", `"custom"`},
		{"tool schema not an object", `{"model":"m","messages":[` + user + `],"tools":[{"type":"function","function":{"name":"f","parameters":[1]}}]}`,
			RequestOptions{}, 400, "tools[0].function.parameters", "JSON Schema object"},
		{"tool_choice names an unknown function", `{"model":"m","messages":[` + user + `],` + tools + `,"tool_choice":{"type":"function","function":{"name":"g"}}}`,
			RequestOptions{}, 400, "tool_choice", `"g"`},
		{"tool_choice required without tools", `{"model":"m","messages":[` + user + `],"tool_choice":"required"}`,
			RequestOptions{}, 400, "tool_choice", "requires tools"},
		{"tool_choice allowed_tools", `{"model":"m","messages":[` + user + `],` + tools + `,"tool_choice":{"type":"allowed_tools"}}`,
			RequestOptions{}, 400, "tool_choice", "allowed_tools"},
		{"parallel_tool_calls false with tools", `{"model":"m","messages":[` + user + `],` + tools + `,"parallel_tool_calls":false}`,
			RequestOptions{}, 400, "parallel_tool_calls", "several tools"},
		{"logit_bias", `{"model":"m","messages":[` + user + `],"logit_bias":{"50256":-100}}`,
			RequestOptions{}, 400, "logit_bias", "logit_bias"},
		{"top_logprobs without logprobs", `{"model":"m","messages":[` + user + `],"top_logprobs":2}`,
			RequestOptions{}, 400, "top_logprobs", "logprobs: true"},
		{"unknown reasoning_effort", `{"model":"m","messages":[` + user + `],"reasoning_effort":"xhigh"}`,
			RequestOptions{}, 400, "reasoning_effort", `"xhigh"`},
		{"unknown response_format", `{"model":"m","messages":[` + user + `],"response_format":{"type":"grammar"}}`,
			RequestOptions{}, 400, "response_format.type", `"grammar"`},
		{"no messages", `{"model":"m","messages":[]}`, RequestOptions{}, 400, "messages", "non-empty"},
		{"only empty messages", `{"model":"m","messages":[{"role":"user","content":""}]}`, RequestOptions{}, 400, "messages", "no text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := ConvertRequest(chatRequest(t, tt.body), tt.opts)
			if err == nil {
				t.Fatalf("no error; body %s", out)
			}
			ae := asAdapterError(t, err)
			if ae.Status != tt.wantStatus || ae.Err.Param != tt.wantParam || !strings.Contains(ae.Err.Message, tt.wantInMsg) {
				t.Errorf("got %d param %q message %q; want %d param %q message containing %q",
					ae.Status, ae.Err.Param, ae.Err.Message, tt.wantStatus, tt.wantParam, tt.wantInMsg)
			}
			if ae.Status == 400 && ae.Err.Type != openai.TypeInvalidRequest {
				t.Errorf("type %q, want %q", ae.Err.Type, openai.TypeInvalidRequest)
			}
			if strings.Contains(ae.Err.Message, "10.0.0.5") || strings.Contains(ae.Err.Message, "refused") {
				t.Errorf("the message tells the client what the gateway saw: %q", ae.Err.Message)
			}
		})
	}
}

// logit_bias, which Gemini has no field for, is a 400 unsupported_parameter,
// or with drop_params left out and recorded.
func TestConvertRequestDropsLogitBias(t *testing.T) {
	const body = `{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":0.5,"logit_bias":{"50256":-100}}`
	_, err := ConvertRequest(chatRequest(t, body), RequestOptions{})
	if ae := asAdapterError(t, err); ae.Err.Code != "unsupported_parameter" || ae.Err.Param != "logit_bias" {
		t.Errorf("got %q %q, want unsupported_parameter naming logit_bias", ae.Err.Code, ae.Err.Param)
	}
	u := &adapter.Unsupported{Drop: true}
	out, err := ConvertRequest(chatRequest(t, body), RequestOptions{Params: u})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(out); !strings.Contains(got, `"generationConfig":{"temperature":0.5}`) {
		t.Errorf("body %s, want the temperature and nothing for logit_bias", got)
	}
	if len(u.Dropped) != 1 || u.Dropped[0] != "logit_bias" {
		t.Errorf("dropped %v", u.Dropped)
	}
}
