package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// Hostile bodies on the inbound APIs: nesting deeper than any parser should
// follow, bodies larger than the limit, and valid JSON of the wrong shape.
// Each gets the dialect's own error shape with a 4xx (or, for a shape the
// converter can map or drop, a normal answer); none gets a 500 or stops the
// gateway.

// hostileModels adds deployments that speak each client protocol natively,
// so that the wrong shapes are tried converted and passed through.
const hostileModels = `
	{"id": "claude", "adapter": "custom_http", "protocol": "anthropic", "base_url": "MOCK", "api_key": "` + upstreamKey + `", "model": "claude-upstream", "timeout": 5},
	{"id": "gem", "adapter": "custom_http", "protocol": "gemini", "base_url": "MOCK", "api_key": "` + upstreamKey + `", "model": "gemini-2.5-flash", "timeout": 5},
	{"id": "native", "adapter": "openai_compat", "base_url": "MOCK/v1", "api_key": "` + upstreamKey + `", "model": "mock-model", "responses": "native", "timeout": 5}`

// inboundDialect is one inbound API as the hostile tests use it.
type inboundDialect struct {
	name string
	// path returns the endpoint for model.
	path func(model string) string
	// body returns a valid request for model with extra members (each
	// starting with a comma) appended to the object.
	body func(model, extra string) string
	// shaped reports whether body is the dialect's error shape for status.
	shaped func(status int, body string) bool
	models []string
}

var inboundDialects = []inboundDialect{{
	name: "messages",
	path: func(string) string { return "/v1/messages" },
	body: func(model, extra string) string {
		return `{"model":"` + model + `","max_tokens":64,"messages":[{"role":"user","content":"hi"}]` + extra + `}`
	},
	shaped: func(_ int, body string) bool {
		d := gjson.Parse(body)
		return d.Get("type").Str == "error" && d.Get("error.type").Str != "" && d.Get("error.message").Str != ""
	},
	models: []string{"chat", "claude", "gem"},
}, {
	name: "responses",
	path: func(string) string { return "/v1/responses" },
	body: func(model, extra string) string {
		return `{"model":"` + model + `","input":"hi","store":false` + extra + `}`
	},
	shaped: func(_ int, body string) bool {
		d := gjson.Parse(body)
		return d.Get("error.message").Str != "" && d.Get("error.type").Exists()
	},
	models: []string{"chat", "native", "gem"},
}, {
	name: "gemini",
	path: func(model string) string { return "/v1beta/models/" + model + ":generateContent" },
	body: func(_, extra string) string {
		return `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]` + extra + `}`
	},
	shaped: func(status int, body string) bool {
		d := gjson.Parse(body)
		return d.Get("error.code").Int() == int64(status) && d.Get("error.message").Str != "" && d.Get("error.status").Str != ""
	},
	models: []string{"chat", "gem", "claude"},
}}

// checkAlive checks that the gateway still answers a plain request of each
// dialect after the hostile ones.
func checkAlive(t *testing.T, g *gateway) {
	t.Helper()
	for _, d := range inboundDialects {
		if status, _, body := g.post(t, d.path("chat"), d.body("chat", "")); status != http.StatusOK {
			t.Errorf("%s after hostile requests: %d %s", d.name, status, body)
		}
	}
}

func TestInboundDeepNestingIs400(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraModels: hostileModels})
	deepValue := strings.Repeat(`{"a":[`, 5000) + "1" + strings.Repeat("]}", 5000) // 10000 levels
	for _, d := range inboundDialects {
		for _, model := range d.models {
			cases := map[string]string{
				"10000 levels in an unknown member": d.body(model, `,"x":`+deepValue),
				"10000 levels of [":                 strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
				"20 MB of [":                        strings.Repeat("[", 20<<20),
			}
			for name, body := range cases {
				t.Run(d.name+"/"+model+"/"+name, func(t *testing.T) {
					status, _, out := g.post(t, d.path(model), body)
					if status != http.StatusBadRequest || !d.shaped(status, out) {
						t.Errorf("status %d, body %.300s; want 400 in the %s error shape", status, out, d.name)
					}
				})
			}
		}
	}
	// The count endpoints read the same bodies.
	for _, path := range []string{"/v1/messages/count_tokens", "/v1beta/models/chat:countTokens"} {
		status, _, out := g.post(t, path, `{"model":"chat","messages":[{"role":"user","content":"hi"}],"contents":[],"x":`+deepValue+`}`)
		if status != http.StatusBadRequest {
			t.Errorf("%s with 10000 levels: %d %.300s; want 400", path, status, out)
		}
	}
	if n := len(g.mock.Requests()); n != 0 {
		t.Errorf("the upstream got %d requests, want none", n)
	}
	checkAlive(t, g)
}

func TestInboundBodyLimitIs413(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraModels: hostileModels, maxBody: 8 << 20})
	// 20 MB of text in an otherwise valid request.
	big := `,"metadata_padding":"` + strings.Repeat("a", 20<<20) + `"`
	for _, d := range inboundDialects {
		t.Run(d.name, func(t *testing.T) {
			status, _, out := g.post(t, d.path("chat"), d.body("chat", big))
			if status != http.StatusRequestEntityTooLarge || !d.shaped(status, out) {
				t.Errorf("status %d, body %.300s; want 413 in the %s error shape", status, out, d.name)
			}
		})
	}
	if n := len(g.mock.Requests()); n != 0 {
		t.Errorf("the upstream got %d requests, want none", n)
	}
	checkAlive(t, g)
}

// A large body within the limit is answered like any other.
func TestInboundLargeBodyIsAnswered(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraModels: hostileModels, maxBody: 32 << 20})
	big := `,"metadata_padding":"` + strings.Repeat("a", 20<<20) + `"`
	for _, d := range inboundDialects {
		t.Run(d.name, func(t *testing.T) {
			if status, _, out := g.post(t, d.path("chat"), d.body("chat", big)); status != http.StatusOK {
				t.Errorf("status %d, body %.300s; want 200", status, out)
			}
		})
	}
}

// wrongShapes are valid JSON bodies with members of the wrong type, per
// dialect; MODEL is replaced by the model id.
var wrongShapes = map[string][]string{
	"messages": {
		`{"model":"MODEL","max_tokens":64,"messages":5}`,
		`{"model":"MODEL","max_tokens":64,"messages":{}}`,
		`{"model":"MODEL","max_tokens":64,"messages":[5,null,"x"]}`,
		`{"model":"MODEL","max_tokens":64,"messages":[{"role":"user","content":5}]}`,
		`{"model":"MODEL","max_tokens":64,"messages":[{"role":5,"content":[5,{"type":5},{"type":"image","source":"x"},{"type":"tool_result","content":{}},{"type":"text","text":[]}]}]}`,
		`{"model":"MODEL","max_tokens":"x","messages":[{"role":"user","content":"hi"}],"tools":"x","tool_choice":"auto","system":5,"stop_sequences":"x","metadata":[],"thinking":"on","temperature":"hot"}`,
		`{"model":"MODEL","max_tokens":64,"messages":[{"role":"user","content":"hi"}],"tools":[5,{"name":5,"input_schema":"x"},{"type":"web_search_20250305"}],"tool_choice":{"type":"tool","name":5}}`,
		`{"model":"MODEL","max_tokens":64,"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_use","id":5,"name":[],"input":"x"},{"type":"thinking","thinking":5,"signature":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":[],"is_error":"yes","content":5}]}]}`,
		`{"model":5,"max_tokens":64,"messages":[{"role":"user","content":"hi"}]}`,
		`[{"model":"MODEL"}]`,
		`"MODEL"`,
	},
	"responses": {
		`{"model":"MODEL","input":{}}`,
		`{"model":"MODEL","input":5}`,
		`{"model":"MODEL","input":[5,"x",null,[]]}`,
		`{"model":"MODEL","input":"hi","tools":"x","tool_choice":5,"text":"x","reasoning":5,"instructions":[],"max_output_tokens":"9","include":"x","parallel_tool_calls":"no"}`,
		`{"model":"MODEL","input":[{"type":"function_call_output","output":{}},{"type":"message","role":"user","content":{}},{"type":"function_call","arguments":{},"name":5},{"type":"reasoning","summary":"x","encrypted_content":5}]}`,
		`{"model":"MODEL","input":"hi","previous_response_id":5}`,
		`{"model":"MODEL","input":"hi","previous_response_id":"resp_unknown"}`,
		`{"model":"MODEL","input":"hi","tools":[{"type":"function"},{"type":"custom","format":"x"},5,{"type":"function","name":"f","parameters":"x"}],"text":{"format":{"type":"json_schema","schema":"x"}}}`,
		`{"model":["MODEL"],"input":"hi"}`,
		`[]`,
	},
	"gemini": {
		`{"contents":"x"}`,
		`{"contents":{}}`,
		`{"contents":[5,null]}`,
		`{"contents":[{"parts":"x"}]}`,
		`{"contents":[{"role":"user","parts":[{"text":5},{"functionCall":"x"},{"inlineData":5},null]}],"tools":"x","toolConfig":5,"systemInstruction":"s","generationConfig":"x","safetySettings":{}}`,
		`{"contents":[{"parts":[{"text":"hi"}]}],"tools":[{"functionDeclarations":"x"},5,{"functionDeclarations":[{"name":5,"parameters":"x"}]}],"generationConfig":{"maxOutputTokens":"9","thinkingConfig":5,"stopSequences":"x","responseSchema":5}}`,
		`{"contents":[{"role":"model","parts":[{"functionCall":{"name":"f","args":"x"}}]},{"role":"user","parts":[{"functionResponse":{"name":5,"response":"x"}}]}]}`,
		`[]`,
	},
}

func TestInboundWrongShapesAreNever500(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraModels: hostileModels})
	for _, d := range inboundDialects {
		for _, model := range d.models {
			for i, body := range wrongShapes[d.name] {
				body = strings.ReplaceAll(body, "MODEL", model)
				status, _, out := g.post(t, d.path(model), body)
				switch {
				case status == http.StatusOK:
				case status >= 400 && status < 500 && d.shaped(status, out):
				default:
					t.Errorf("%s/%s #%d %s: status %d, body %.300s; want 200, or a 4xx in the %s error shape", d.name, model, i, body, status, out, d.name)
				}
			}
		}
	}
	checkAlive(t, g)
}
