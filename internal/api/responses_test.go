package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"
	"github.com/tidwall/gjson"

	"aigateway/internal/ledger"
	"aigateway/internal/mockllm"
	"aigateway/internal/sse"
)

const applyPatch = "*** Begin Patch\n*** Add File: hello.txt\n+TOOL-RAN \"42\"\n*** End Patch\n"

// responsesModels are the deployments the Responses tests reach: "chat"
// (openai_compat, converted; startGateway's own), an Anthropic and a
// Gemini one, and an openai_compat entry with responses: native.
func responsesModels() string {
	return providerModels(map[string]any{}, map[string]any{}, `,
		{"id": "native", "adapter": "openai_compat", "base_url": "MOCK/v1", "api_key": "`+upstreamKey+`", "model": "mock-model", "responses": "native"}`)
}

// turnScript makes the mock answer every odd request with a tool call
// (apply_patch when custom is set, else get_weather) and every even one
// with text: a tool round trip is two requests.
func turnScript(custom *atomic.Bool) func(int64, *http.Request, *mockllm.Directive) {
	return func(seq int64, r *http.Request, d *mockllm.Directive) {
		if seq%2 == 0 {
			text := "All done."
			d.Content = &text
			return
		}
		switch {
		case !custom.Load():
			d.ToolCalls = []mockllm.ToolCall{{Name: "get_weather", Arguments: `{"city":"Paris"}`}}
		case r.URL.Path == "/v1/responses": // a native upstream has custom tools
			d.ToolCalls = []mockllm.ToolCall{{Name: "apply_patch", Arguments: applyPatch}}
		default:
			d.ToolCalls = []mockllm.ToolCall{{Name: "apply_patch", Arguments: `{"input":` + string(quote(applyPatch)) + `}`}}
		}
	}
}

func quote(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}

var responsesTools = []responses.ToolUnionParam{
	{OfFunction: &responses.FunctionToolParam{Name: "get_weather", Strict: openai.Bool(false),
		Parameters: map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}}}},
	{OfCustom: &responses.CustomToolParam{Name: "apply_patch", Description: openai.String("Edit files with a patch.")}},
}

// askResponses sends one request through the SDK, streamed or not, and returns the
// final response; for a stream it checks the event sequence.
func askResponses(t *testing.T, c openai.Client, stream bool, p responses.ResponseNewParams) *responses.Response {
	t.Helper()
	ctx := context.Background()
	if !stream {
		r, err := c.Responses.New(ctx, p)
		if err != nil {
			t.Fatalf("Responses.New: %v", err)
		}
		return r
	}
	st := c.Responses.NewStreaming(ctx, p)
	defer st.Close()
	var final *responses.Response
	var last int64 = -1
	var inputDeltas, argDeltas, textDeltas strings.Builder
	for st.Next() {
		ev := st.Current()
		if ev.SequenceNumber != last+1 {
			t.Errorf("%s has sequence_number %d after %d", ev.Type, ev.SequenceNumber, last)
		}
		last = ev.SequenceNumber
		switch ev.Type {
		case "response.completed":
			r := ev.Response
			final = &r
		case "response.custom_tool_call_input.delta":
			inputDeltas.WriteString(ev.Delta)
		case "response.function_call_arguments.delta":
			argDeltas.WriteString(ev.Delta)
		case "response.output_text.delta":
			textDeltas.WriteString(ev.Delta)
		case "response.failed", "response.incomplete", "error":
			t.Fatalf("stream ended with %s: %s", ev.Type, ev.RawJSON())
		}
	}
	if err := st.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if final == nil {
		t.Fatal("the stream has no response.completed")
	}
	for _, it := range final.Output {
		switch it.Type {
		case "custom_tool_call":
			if inputDeltas.String() != it.Input {
				t.Errorf("input deltas %q, final input %q", inputDeltas.String(), it.Input)
			}
		case "function_call":
			if argDeltas.String() != it.AsFunctionCall().Arguments {
				t.Errorf("argument deltas %q, final arguments %q", argDeltas.String(), it.AsFunctionCall().Arguments)
			}
		case "message":
			if textDeltas.String() != final.OutputText() {
				t.Errorf("text deltas %q, final text %q", textDeltas.String(), final.OutputText())
			}
		}
	}
	return final
}

// TestResponsesSDKToolRoundTrips: openai-go's Responses client, against a
// converted openai_compat, an Anthropic, a Gemini and a native deployment,
// stream and not: a function tool and a custom tool (apply_patch) called
// and answered, the answer continued with previous_response_id at once
// (stored responses) or by replaying the items (native, store: false).
func TestResponsesSDKToolRoundTrips(t *testing.T) {
	var custom atomic.Bool
	g := startGateway(t, gatewayOptions{mock: mockllm.Options{Script: turnScript(&custom)}, extraModels: responsesModels()})
	c := g.client(t)
	for _, model := range []string{"chat", "claude", "gemini", "native"} {
		for _, stream := range []bool{false, true} {
			for _, isCustom := range []bool{false, true} {
				name := model + map[bool]string{false: "/json", true: "/stream"}[stream] + map[bool]string{false: "/function", true: "/custom"}[isCustom]
				t.Run(name, func(t *testing.T) {
					custom.Store(isCustom)
					native := model == "native"
					first := askResponses(t, c, stream, responses.ResponseNewParams{
						Model:        model,
						Instructions: openai.String("Use the tools."),
						Input:        responses.ResponseNewParamsInputUnion{OfString: openai.String("Add hello.txt and tell me the weather.")},
						Tools:        responsesTools,
						Store:        openai.Bool(!native),
					})
					// A native answer passes through with the upstream's model.
					if first.Status != "completed" || (first.Model != model && !native) || first.Usage.TotalTokens == 0 {
						t.Errorf("first answer: status %q, model %q, usage %+v", first.Status, first.Model, first.Usage)
					}
					var call responses.ResponseOutputItemUnion
					for _, it := range first.Output {
						if it.Type == "function_call" || it.Type == "custom_tool_call" {
							call = it
						}
					}
					var next responses.ResponseInputItemUnionParam
					if isCustom {
						if call.Type != "custom_tool_call" || call.Name != "apply_patch" || call.Input != applyPatch || call.CallID == "" {
							t.Fatalf("want a custom_tool_call with the patch, got %+v", first.Output)
						}
						next = responses.ResponseInputItemUnionParam{OfCustomToolCallOutput: &responses.ResponseCustomToolCallOutputParam{
							CallID: call.CallID, Output: responses.ResponseCustomToolCallOutputOutputUnionParam{OfString: openai.String("Patch applied: 18C")}}}
					} else {
						if call.Type != "function_call" || call.Name != "get_weather" || call.AsFunctionCall().Arguments != `{"city":"Paris"}` || call.CallID == "" {
							t.Fatalf("want a function_call of get_weather, got %+v", first.Output)
						}
						next = responses.ResponseInputItemUnionParam{OfFunctionCallOutput: &responses.ResponseInputItemFunctionCallOutputParam{
							CallID: openai.String(call.CallID), Output: responses.ResponseInputItemFunctionCallOutputOutputUnionParam{OfString: openai.String("Paris: 18C")}}}
					}
					p := responses.ResponseNewParams{Model: model, Tools: responsesTools}
					if native { // the upstream keeps nothing either: replay the items
						items := responses.ResponseInputParam{responses.ResponseInputItemParamOfMessage("Add hello.txt and tell me the weather.", responses.EasyInputMessageRoleUser)}
						if isCustom {
							cc := call.AsCustomToolCall().ToParam()
							items = append(items, responses.ResponseInputItemUnionParam{OfCustomToolCall: &cc})
						} else {
							fc := call.AsFunctionCall().ToParam()
							items = append(items, responses.ResponseInputItemUnionParam{OfFunctionCall: &fc})
						}
						p.Input = responses.ResponseNewParamsInputUnion{OfInputItemList: append(items, next)}
						p.Store = openai.Bool(false)
					} else {
						p.PreviousResponseID = openai.String(first.ID)
						p.Input = responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{next}}
					}
					second := askResponses(t, c, stream, p)
					if second.OutputText() != "All done." || second.Status != "completed" {
						t.Errorf("second answer %q (%s)", second.OutputText(), second.Status)
					}
					up := g.lastUpstream(t)
					if !bytes.Contains(up.Body, []byte("18C")) || !bytes.Contains(up.Body, []byte("hello.txt")) {
						t.Errorf("the follow-up did not carry the conversation: %s", up.Body)
					}
					if model == "chat" && !bytes.Contains(up.Body, []byte(`"tool_call_id":"`+call.CallID+`"`)) {
						t.Errorf("the tool result does not name the call %q: %s", call.CallID, up.Body)
					}
					if native {
						if up.Path != "/v1/responses" || gjson.GetBytes(up.Body, "model").Str != "mock-model" {
							t.Errorf("native: upstream %s %s", up.Path, up.Body)
						}
						return
					}
					got, err := c.Responses.Get(context.Background(), first.ID, responses.ResponseGetParams{})
					if err != nil || got.ID != first.ID || len(got.Output) != len(first.Output) {
						t.Errorf("GET /v1/responses/%s: %v %+v", first.ID, err, got)
					}
				})
			}
		}
	}
}

func TestResponsesErrors(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraModels: responsesModels() + `,
		{"id": "cut", "adapter": "openai_compat", "base_url": "MOCK/v1", "api_key": "` + upstreamKey + `", "model": "mock-model", ` + mockHeader(map[string]any{"cut_after": 1}) + ` "timeout": 5}`})
	status, _, body := g.post(t, "/v1/responses", `{"model":"chat","input":"hi","previous_response_id":"resp_unknown"}`)
	if status != 400 || gjson.Get(body, "error.param").Str != "previous_response_id" ||
		gjson.Get(body, "error.message").Str != "Previous response with id 'resp_unknown' not found." {
		t.Errorf("unknown previous_response_id: %d %s", status, body)
	}
	status, _, body = g.do(t, http.MethodGet, "/v1/responses/resp_unknown", "")
	if status != 404 || !gjson.Get(body, "error.message").Exists() {
		t.Errorf("GET unknown: %d %s", status, body)
	}
	status, _, body = g.post(t, "/v1/responses", `{"model":"nope","input":"hi"}`)
	if status != 404 || !gjson.Get(body, "error.message").Exists() {
		t.Errorf("unknown model: %d %s", status, body)
	}
	// A stream the upstream cuts ends with response.failed.
	status, _, body = g.post(t, "/v1/responses", `{"model":"cut","stream":true,"input":"hi"}`)
	events := streamEvents(t, body)
	if status != 200 || len(events) == 0 || events[len(events)-1].name != "response.failed" {
		t.Fatalf("cut stream: %d %s", status, body)
	}
	if f := events[len(events)-1].data; gjson.Get(f, "response.status").Str != "failed" || gjson.Get(f, "sequence_number").Int() != int64(len(events)-1) {
		t.Errorf("response.failed %s", f)
	}
}

type event struct{ name, data string }

func streamEvents(t *testing.T, body string) []event {
	t.Helper()
	r := sse.NewReader(strings.NewReader(body), 0)
	var out []event
	for {
		ev, err := r.Next()
		if err != nil {
			return out
		}
		if !gjson.ValidBytes(ev.Data) || gjson.GetBytes(ev.Data, "type").Str != string(ev.Name) {
			t.Fatalf("bad event %s: %s", ev.Name, ev.Data)
		}
		out = append(out, event{string(ev.Name), string(ev.Data)})
	}
}

// TestResponsesClientCaptures replays every Codex and opencode body: each
// gets a well-formed stream that ends in response.completed, on every kind
// of deployment.
func TestResponsesClientCaptures(t *testing.T) {
	files, _ := filepath.Glob("../inbound/responses/testdata/clients/*.json")
	if len(files) == 0 {
		t.Fatal("no captures")
	}
	g := startGateway(t, gatewayOptions{extraModels: responsesModels()})
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m := gjson.GetBytes(body, "model")
		for _, model := range []string{"chat", "claude", "gemini", "native"} {
			t.Run(filepath.Base(f)+"/"+model, func(t *testing.T) {
				b := string(body[:m.Index]) + `"` + model + `"` + string(body[m.Index+len(m.Raw):])
				status, h, out := g.post(t, "/v1/responses", b)
				if status != 200 || h.Get("Content-Type") != "text/event-stream" {
					t.Fatalf("%d %s", status, out)
				}
				events := streamEvents(t, out)
				for i, ev := range events {
					if gjson.Get(ev.data, "sequence_number").Int() != int64(i) {
						t.Fatalf("event %d (%s) has sequence_number %s", i, ev.name, gjson.Get(ev.data, "sequence_number").Raw)
					}
				}
				if len(events) < 3 || events[0].name != "response.created" || events[len(events)-1].name != "response.completed" {
					t.Fatalf("events %v", events)
				}
			})
		}
	}
}

// TestResponsesReasoningReplay: the reasoning_content of an
// OpenAI-compatible reasoner comes back as a reasoning item whose
// encrypted_content, replayed by a stateless client, returns to that
// deployment as reasoning_content, and to no other.
func TestResponsesReasoningReplay(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraModels: `{"id": "reasoner", "adapter": "openai_compat", "base_url": "MOCK/v1", "api_key": "` + upstreamKey + `", "model": "mock-model", ` +
		mockHeader(map[string]any{"reasoning": "Paris is in France."}) + ` "timeout": 5}`})
	for _, stream := range []string{"false", "true"} {
		status, _, body := g.post(t, "/v1/responses", `{"model":"reasoner","store":false,"stream":`+stream+`,"include":["reasoning.encrypted_content"],"input":"Where is Paris?"}`)
		resp := gjson.Parse(body)
		if stream == "true" {
			events := streamEvents(t, body)
			resp = gjson.Get(events[len(events)-1].data, "response")
			names := ""
			for _, ev := range events {
				names += ev.name + " "
			}
			if !strings.Contains(names, "response.reasoning_summary_text.delta") {
				t.Errorf("no reasoning summary deltas: %s", names)
			}
		}
		rs := resp.Get("output.0")
		if status != 200 || rs.Get("type").Str != "reasoning" || rs.Get("summary.0.text").Str != "Paris is in France." ||
			!strings.HasPrefix(rs.Get("encrypted_content").Str, "aigw1:") {
			t.Fatalf("stream %s: %d %s", stream, status, body)
		}
		replay := `{"store":false,"input":[{"role":"user","content":"Where is Paris?"},` + rs.Raw + `,` + resp.Get("output.1").Raw + `,{"role":"user","content":"And Rome?"}]}`
		for _, tc := range []struct {
			model string
			want  string
		}{{"reasoner", "Paris is in France."}, {"chat", ""}} {
			status, _, body = g.post(t, "/v1/responses", `{"model":"`+tc.model+`",`+replay[1:])
			if status != 200 {
				t.Fatalf("replay to %s: %d %s", tc.model, status, body)
			}
			up := g.lastUpstream(t)
			if got := gjson.GetBytes(up.Body, "messages.1.reasoning_content").Str; got != tc.want || gjson.GetBytes(up.Body, "messages.1.role").Str != "assistant" {
				t.Errorf("replay to %s: upstream got %s", tc.model, up.Body)
			}
		}
	}
}

// benchmarkResponses is benchmarkChat for /v1/responses: converted for the
// "chat" entry, passed through for "native". Compare with
// BenchmarkChatStream (all of client, gateway and mock run in this process).
func benchmarkResponses(b *testing.B, model string, stream bool) {
	g := startGateway(b, gatewayOptions{mock: mockllm.Options{Chunks: 20}, extraModels: responsesModels()})
	body := []byte(`{"model":"` + model + `","stream":` + map[bool]string{false: "false", true: "true"}[stream] + `,"store":false,"input":"Write a short greeting.","temperature":0.7}`)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 32<<10)
		for pb.Next() {
			resp, err := client.Post(g.URL+"/v1/responses", "application/json", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			n, _ := io.CopyBuffer(io.Discard, resp.Body, buf)
			resp.Body.Close()
			if resp.StatusCode != 200 || n == 0 {
				b.Errorf("status %d, %d bytes", resp.StatusCode, n)
				return
			}
		}
	})
}

func BenchmarkResponsesStream(b *testing.B)          { benchmarkResponses(b, "chat", true) }
func BenchmarkResponsesNativeStream(b *testing.B)    { benchmarkResponses(b, "native", true) }
func BenchmarkResponsesNonStream(b *testing.B)       { benchmarkResponses(b, "chat", false) }
func BenchmarkResponsesNativeNonStream(b *testing.B) { benchmarkResponses(b, "native", false) }

// TestResponsesClientThatLeavesAtTheEndIsCompleted: Codex hangs up as soon
// as it has response.completed. Against a native upstream that has not
// closed its stream yet, that is a finished answer (200, completed in the
// ledger), not a client that left (499).
func TestResponsesClientThatLeavesAtTheEndIsCompleted(t *testing.T) {
	release := make(chan struct{})
	holding := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\"}}\n\n"+
			"event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\",\"usage\":{\"input_tokens\":5,\"output_tokens\":2,\"total_tokens\":7}}}\n\n")
		w.(http.Flusher).Flush()
		select { // the upstream closes its end later
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(holding.Close)
	t.Cleanup(func() { close(release) })
	led := newMemLedger()
	g := startGateway(t, gatewayOptions{ledger: led, extraModels: `{"id": "native", "adapter": "openai_compat", "base_url": "` + holding.URL +
		`/v1", "api_key": "` + upstreamKey + `", "model": "up", "responses": "native"}`})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, g.URL+"/v1/responses", strings.NewReader(`{"model": "native", "stream": true, "input": "hi"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r := sse.NewReader(resp.Body, 0)
	for {
		ev, err := r.Next()
		if err != nil {
			t.Fatalf("before response.completed: %v", err)
		}
		if string(ev.Name) == "response.completed" {
			break
		}
	}
	resp.Body.Close() // like Codex: done, hang up

	rec := led.next(t)
	if rec.Outcome != ledger.OutcomeCompleted || rec.Status != http.StatusOK || rec.PromptTokens != 5 || rec.CompletionTokens != 2 {
		t.Errorf("record %+v, want completed 200 with the upstream's usage", rec)
	}
	line := g.waitLine(t, "path=/v1/responses")
	if !strings.Contains(line, " status=200 ") || strings.Contains(line, "error=") {
		t.Errorf("access line %s, want status 200 and no error", line)
	}
}
