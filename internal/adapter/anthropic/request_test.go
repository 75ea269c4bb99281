package anthropic

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
	"aigateway/internal/toolcallid"
)

// requestCase is one conversion: a client body and, for success, the JSON
// expected at some paths of the output (compared as JSON values; "<absent>"
// means the path must not exist), or the param a 400 must name.
type requestCase struct {
	name     string
	body     string
	opts     RequestOptions
	want     map[string]string
	errParam string
	errText  string // a substring of the error message
}

const absent = "<absent>"

func runRequestCases(t *testing.T, cases []requestCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := decodeRequest(t, tc.body)
			got, err := ConvertRequest(req, tc.opts)
			if tc.errParam != "" {
				if err == nil {
					t.Fatalf("ConvertRequest succeeded, want a 400 naming %q; got\n%s", tc.errParam, got)
				}
				ae := asAdapterError(t, err)
				if ae.Status != http.StatusBadRequest || ae.Err.Type != openai.TypeInvalidRequest || ae.Err.Param != tc.errParam {
					t.Errorf("error = %d %s param %q (%s), want 400 invalid_request_error param %q", ae.Status, ae.Err.Type, ae.Err.Param, ae.Err.Message, tc.errParam)
				}
				if !strings.Contains(ae.Err.Message, tc.errText) {
					t.Errorf("message %q does not contain %q", ae.Err.Message, tc.errText)
				}
				return
			}
			if err != nil {
				t.Fatalf("ConvertRequest: %v", err)
			}
			for path, want := range tc.want {
				r := gjson.GetBytes(got, path)
				if want == absent {
					if r.Exists() {
						t.Errorf("%s = %s, want it absent", path, r.Raw)
					}
					continue
				}
				if !r.Exists() {
					t.Errorf("%s is missing, want %s; body:\n%s", path, want, got)
					continue
				}
				if d := diffJSON(t, []byte(want), []byte(r.Raw)); d != "" {
					t.Errorf("%s (-want +got):\n%s\nbody:\n%s", path, d, got)
				}
			}
		})
	}
}

// msgs wraps a messages array into a request body.
func msgs(messages string) string { return `{"model":"m","messages":` + messages + `}` }

// withUser is a request with one user message and extra top-level fields.
func withUser(fields string) string {
	return `{"model":"m","messages":[{"role":"user","content":"hi"}]` + fields + `}`
}

const toolsJSON = `,"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{}}}}]`

func TestConvertRequestSystem(t *testing.T) {
	runRequestCases(t, []requestCase{
		{name: "system and developer anywhere are joined in order",
			body: msgs(`[{"role":"system","content":"A"},{"role":"user","content":"hi"},{"role":"developer","content":"B"},{"role":"user","content":"again"}]`),
			want: map[string]string{
				"system":   `"A\n\nB"`,
				"messages": `[{"role":"user","content":[{"type":"text","text":"hi"},{"type":"text","text":"again"}]}]`,
			}},
		{name: "text parts of one system message are concatenated",
			body: msgs(`[{"role":"system","content":[{"type":"text","text":"x"},{"type":"text","text":"y"}]},{"role":"user","content":"hi"}]`),
			want: map[string]string{"system": `"xy"`}},
		{name: "only system messages become a user message",
			body: msgs(`[{"role":"system","content":"A"},{"role":"developer","content":"B"}]`),
			want: map[string]string{
				"system":   absent,
				"messages": `[{"role":"user","content":[{"type":"text","text":"A\n\nB"}]}]`,
			}},
		{name: "blank system message is dropped",
			body: msgs(`[{"role":"system","content":"  \n"},{"role":"user","content":"hi"}]`),
			want: map[string]string{"system": absent}},
		{name: "image in a system message",
			body:     msgs(`[{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]},{"role":"user","content":"hi"}]`),
			errParam: "messages[0].content[0].type"},
		{name: "nothing to send",
			body:     msgs(`[{"role":"user","content":" "},{"role":"system","content":""}]`),
			errParam: "messages"},
		{name: "unknown role",
			body:     msgs(`[{"role":"function","name":"f","content":"x"}]`),
			errParam: "messages[0].role"},
	})
}

func TestConvertRequestEmptyTextAndMerging(t *testing.T) {
	runRequestCases(t, []requestCase{
		{name: "empty and whitespace-only parts are dropped",
			body: msgs(`[{"role":"user","content":[{"type":"text","text":""},{"type":"text","text":" \n\t"},{"type":"input_text","text":"hi"}]}]`),
			want: map[string]string{"messages": `[{"role":"user","content":[{"type":"text","text":"hi"}]}]`}},
		{name: "assistant empty content with tool_calls gets no text block",
			body: msgs(`[{"role":"user","content":"q"},{"role":"assistant","content":"","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":""}}]},{"role":"tool","tool_call_id":"c1","content":"r"}]`),
			want: map[string]string{"messages.1": `{"role":"assistant","content":[{"type":"tool_use","id":"c1","name":"f","input":{}}]}`}},
		{name: "assistant text then tool_use",
			body: msgs(`[{"role":"user","content":"q"},{"role":"assistant","content":"Let me check.","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\": [1, 2]}"}}]}]`),
			want: map[string]string{"messages.1.content": `[{"type":"text","text":"Let me check."},{"type":"tool_use","id":"c1","name":"f","input":{"a":[1,2]}}]`}},
		{name: "an empty message disappears and its neighbours merge",
			body: msgs(`[{"role":"user","content":"hi"},{"role":"assistant","content":"a"},{"role":"user","content":""},{"role":"assistant","content":"b"},{"role":"user","content":"go on"}]`),
			want: map[string]string{"messages": `[
				{"role":"user","content":[{"type":"text","text":"hi"}]},
				{"role":"assistant","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},
				{"role":"user","content":[{"type":"text","text":"go on"}]}]`}},
		{name: "final assistant prefill loses trailing whitespace",
			body: msgs(`[{"role":"user","content":"hi"},{"role":"assistant","content":"Sure: \n"}]`),
			want: map[string]string{"messages.1.content": `[{"type":"text","text":"Sure:"}]`}},
		{name: "assistant refusal is kept as text",
			body: msgs(`[{"role":"user","content":"hi"},{"role":"assistant","content":null,"refusal":"I can't."},{"role":"user","content":"why"}]`),
			want: map[string]string{"messages.1.content": `[{"type":"text","text":"I can't."}]`}},
		{name: "consecutive tool messages and the next user message form one turn, results first",
			body: msgs(`[{"role":"user","content":"q"},
				{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}},{"id":"c2","type":"function","function":{"name":"f","arguments":"{}"}}]},
				{"role":"tool","tool_call_id":"c1","content":"one"},{"role":"tool","tool_call_id":"c2","content":[{"type":"text","text":"two"},{"type":"text","text":" "}]},
				{"role":"user","content":"next"}]`),
			want: map[string]string{"messages": `[
				{"role":"user","content":[{"type":"text","text":"q"}]},
				{"role":"assistant","content":[{"type":"tool_use","id":"c1","name":"f","input":{}},{"type":"tool_use","id":"c2","name":"f","input":{}}]},
				{"role":"user","content":[
					{"type":"tool_result","tool_use_id":"c1","content":"one"},
					{"type":"tool_result","tool_use_id":"c2","content":[{"type":"text","text":"two"}]},
					{"type":"text","text":"next"}]}]`}},
		{name: "tool results go before user text that came first",
			body: msgs(`[{"role":"user","content":"q"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},
				{"role":"user","content":"note"},{"role":"tool","tool_call_id":"c1","content":"r"}]`),
			want: map[string]string{"messages.2.content": `[{"type":"tool_result","tool_use_id":"c1","content":"r"},{"type":"text","text":"note"}]`}},
		{name: "empty tool content is left out",
			body: msgs(`[{"role":"user","content":"q"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":""}]`),
			want: map[string]string{"messages.2.content": `[{"type":"tool_result","tool_use_id":"c1"}]`}},
		{name: "tool message without tool_call_id",
			body:     msgs(`[{"role":"user","content":"q"},{"role":"tool","content":"r"}]`),
			errParam: "messages[1].tool_call_id"},
		{name: "invalid tool call arguments",
			body:     msgs(`[{"role":"user","content":"q"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":"}}]}]`),
			errParam: "messages[1].tool_calls[0].function.arguments", errText: "not valid JSON"},
		{name: "tool call arguments that are not an object",
			body:     msgs(`[{"role":"user","content":"q"},{"role":"assistant","tool_calls":[{"id":"c0","type":"function","function":{"name":"f","arguments":"{}"}},{"id":"c1","type":"function","function":{"name":"f","arguments":"[1]"}}]}]`),
			errParam: "messages[1].tool_calls[1].function.arguments", errText: "JSON object"},
		{name: "tool call without id",
			body:     msgs(`[{"role":"user","content":"q"},{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}]`),
			errParam: "messages[1].tool_calls[0].id"},
	})
}

var anthropicID = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

func TestConvertRequestToolIDsAreSanitizedConsistently(t *testing.T) {
	body := msgs(`[{"role":"user","content":"q"},
		{"role":"assistant","tool_calls":[{"id":"functions.Read:1","type":"function","function":{"name":"f","arguments":"{}"}},{"id":"a.b","type":"function","function":{"name":"f","arguments":"{}"}},{"id":"a:b","type":"function","function":{"name":"f","arguments":"{}"}}]},
		{"role":"tool","tool_call_id":"functions.Read:1","content":"1"},{"role":"tool","tool_call_id":"a.b","content":"2"},{"role":"tool","tool_call_id":"a:b","content":"3"}]`)
	got, err := ConvertRequest(decodeRequest(t, body), RequestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	uses := gjson.GetBytes(got, "messages.1.content.#.id").Array()
	results := gjson.GetBytes(got, "messages.2.content.#.tool_use_id").Array()
	if len(uses) != 3 || len(results) != 3 {
		t.Fatalf("got %d tool_use and %d tool_result blocks, want 3 each:\n%s", len(uses), len(results), got)
	}
	seen := map[string]bool{}
	for i := range uses {
		u, r := uses[i].Str, results[i].Str
		if !anthropicID.MatchString(u) {
			t.Errorf("tool_use id %q does not match %s", u, anthropicID)
		}
		if u != r {
			t.Errorf("tool_use id %q and tool_result tool_use_id %q differ", u, r)
		}
		if seen[u] {
			t.Errorf("two different ids were both rewritten to %q", u)
		}
		seen[u] = true
	}
}

// A conversation that moves here from a Gemini model carries tool call ids
// with a thought signature appended; Anthropic gets the ids without it, the
// call and its result still matching.
func TestConvertRequestToolIDsLoseTheThoughtSignature(t *testing.T) {
	signed := "call_r1_0_0" + toolcallid.Separator + "Cs8BAY89a1-_ZrEfMkC4ZPVZx2Q"
	plainWithColon := "functions.Read:1" + toolcallid.Separator + "QUJD"
	body := msgs(`[{"role":"user","content":"q"},
		{"role":"assistant","tool_calls":[{"id":"` + signed + `","type":"function","function":{"name":"f","arguments":"{}"}},
			{"id":"` + plainWithColon + `","type":"function","function":{"name":"g","arguments":"{}"}}]},
		{"role":"tool","tool_call_id":"` + signed + `","content":"1"},{"role":"tool","tool_call_id":"` + plainWithColon + `","content":"2"}]`)
	got, err := ConvertRequest(decodeRequest(t, body), RequestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	uses := gjson.GetBytes(got, "messages.1.content.#.id").Array()
	results := gjson.GetBytes(got, "messages.2.content.#.tool_use_id").Array()
	if len(uses) != 2 || len(results) != 2 {
		t.Fatalf("got %d tool_use and %d tool_result blocks:\n%s", len(uses), len(results), got)
	}
	if uses[0].Str != "call_r1_0_0" || results[0].Str != "call_r1_0_0" {
		t.Errorf("ids %q / %q, want call_r1_0_0 for both", uses[0].Str, results[0].Str)
	}
	if uses[1].Str != sanitizeID("functions.Read:1") || results[1].Str != uses[1].Str {
		t.Errorf("ids %q / %q, want %q for both", uses[1].Str, results[1].Str, sanitizeID("functions.Read:1"))
	}
	if strings.Contains(string(got), toolcallid.Separator) {
		t.Errorf("a signature part reached Anthropic:\n%s", got)
	}
}

func TestSanitizeID(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"toolu_01Tk", "toolu_01Tk"}, // valid ids are untouched
		{"call_7qPx1-x", "call_7qPx1-x"},
		{"functions.Read:1", "functions_Read_1_"}, // prefix; a hash follows
		{"é", "__"},
	} {
		got := sanitizeID(tc.in)
		if !anthropicID.MatchString(got) {
			t.Errorf("sanitizeID(%q) = %q, not a valid id", tc.in, got)
		}
		if got != sanitizeID(tc.in) {
			t.Errorf("sanitizeID(%q) is not deterministic", tc.in)
		}
		if anthropicID.MatchString(tc.in) && got != tc.want || !anthropicID.MatchString(tc.in) && !strings.HasPrefix(got, tc.want) {
			t.Errorf("sanitizeID(%q) = %q, want %q (as prefix for rewritten ids)", tc.in, got, tc.want)
		}
	}
	if sanitizeID("a.b") == sanitizeID("a:b") {
		t.Error(`sanitizeID("a.b") == sanitizeID("a:b"): distinct ids collide`)
	}
}

func TestConvertRequestTools(t *testing.T) {
	runRequestCases(t, []requestCase{
		{name: "missing parameters get an empty object schema",
			body: withUser(`,"tools":[{"type":"function","function":{"name":"now","description":"time"}}]`),
			want: map[string]string{"tools": `[{"name":"now","description":"time","input_schema":{"type":"object","properties":{}}}]`}},
		{name: "schema keywords are kept as is, strict is passed on",
			body: withUser(`,"tools":[{"type":"function","function":{"name":"f","strict":true,"parameters":{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"x":{"anyOf":[{"type":"string","format":"uri"},{"type":"null"}],"default":null}},"additionalProperties":false,"required":["x"]}}}]`),
			want: map[string]string{"tools.0": `{"name":"f","strict":true,"input_schema":{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"x":{"anyOf":[{"type":"string","format":"uri"},{"type":"null"}],"default":null}},"additionalProperties":false,"required":["x"]}}`}},
		{name: "strict false is not sent",
			body: withUser(`,"tools":[{"type":"function","function":{"name":"f","strict":false}}]`),
			want: map[string]string{"tools.0.strict": absent}},
		{name: "custom tools are rejected",
			body:     withUser(`,"tools":[{"type":"function","function":{"name":"f"}},{"type":"custom","custom":{"name":"g"}}]`),
			errParam: "tools[1].type"},
		{name: "parameters that are not an object",
			body:     withUser(`,"tools":[{"type":"function","function":{"name":"f","parameters":"x"}}]`),
			errParam: "tools[0].function.parameters"},
	})
}

func TestConvertRequestToolChoice(t *testing.T) {
	runRequestCases(t, []requestCase{
		{name: "none given", body: withUser(toolsJSON), want: map[string]string{"tool_choice": absent}},
		{name: "auto", body: withUser(toolsJSON + `,"tool_choice":"auto"`), want: map[string]string{"tool_choice": `{"type":"auto"}`}},
		{name: "none", body: withUser(toolsJSON + `,"tool_choice":"none"`), want: map[string]string{"tool_choice": `{"type":"none"}`}},
		{name: "required", body: withUser(toolsJSON + `,"tool_choice":"required"`), want: map[string]string{"tool_choice": `{"type":"any"}`}},
		{name: "function", body: withUser(toolsJSON + `,"tool_choice":{"type":"function","function":{"name":"f"}}`),
			want: map[string]string{"tool_choice": `{"type":"tool","name":"f"}`}},
		{name: "parallel_tool_calls false alone", body: withUser(toolsJSON + `,"parallel_tool_calls":false`),
			want: map[string]string{"tool_choice": `{"type":"auto","disable_parallel_tool_use":true}`}},
		{name: "parallel_tool_calls false with required", body: withUser(toolsJSON + `,"tool_choice":"required","parallel_tool_calls":false`),
			want: map[string]string{"tool_choice": `{"type":"any","disable_parallel_tool_use":true}`}},
		{name: "parallel_tool_calls false with function", body: withUser(toolsJSON + `,"tool_choice":{"type":"function","function":{"name":"f"}},"parallel_tool_calls":false`),
			want: map[string]string{"tool_choice": `{"type":"tool","name":"f","disable_parallel_tool_use":true}`}},
		{name: "parallel_tool_calls false with none", body: withUser(toolsJSON + `,"tool_choice":"none","parallel_tool_calls":false`),
			want: map[string]string{"tool_choice": `{"type":"none"}`}},
		{name: "parallel_tool_calls true", body: withUser(toolsJSON + `,"tool_choice":"auto","parallel_tool_calls":true`),
			want: map[string]string{"tool_choice": `{"type":"auto"}`}},
		{name: "auto without tools", body: withUser(`,"tool_choice":"auto","parallel_tool_calls":false`),
			want: map[string]string{"tool_choice": absent, "tools": absent}},
		{name: "required without tools", body: withUser(`,"tool_choice":"required"`), errParam: "tool_choice"},
		{name: "allowed_tools", body: withUser(toolsJSON + `,"tool_choice":{"type":"allowed_tools","allowed_tools":{"mode":"auto","tools":[]}}`), errParam: "tool_choice"},
	})
}

func TestConvertRequestParameters(t *testing.T) {
	runRequestCases(t, []requestCase{
		{name: "max_tokens default", body: withUser(``), want: map[string]string{"max_tokens": `4096`, "model": `"m"`, "stream": `false`}},
		{name: "max_tokens default from options", body: withUser(``), opts: RequestOptions{Model: "claude-x", DefaultMaxTokens: 1000},
			want: map[string]string{"max_tokens": `1000`, "model": `"claude-x"`}},
		{name: "max_tokens", body: withUser(`,"max_tokens":77`), opts: RequestOptions{DefaultMaxTokens: 1000}, want: map[string]string{"max_tokens": `77`}},
		{name: "max_completion_tokens wins", body: withUser(`,"max_tokens":77,"max_completion_tokens":99`), want: map[string]string{"max_tokens": `99`}},
		{name: "max_tokens zero", body: withUser(`,"max_tokens":0`), errParam: "max_tokens"},
		{name: "stream", body: withUser(`,"stream":true,"stream_options":{"include_usage":true}`),
			want: map[string]string{"stream": `true`, "stream_options": absent}},
		{name: "temperature above 1", body: withUser(`,"temperature":1.5`), errParam: "temperature", errText: "between 0 and 1"},
		{name: "temperature 1", body: withUser(`,"temperature":1`), want: map[string]string{"temperature": `1`}},
		{name: "temperature 0 is sent", body: withUser(`,"temperature":0,"top_p":0.9`), want: map[string]string{"temperature": `0`, "top_p": `0.9`}},
		{name: "stop string", body: withUser(`,"stop":"END"`), want: map[string]string{"stop_sequences": `["END"]`}},
		{name: "stop list", body: withUser(`,"stop":["a","b"]`), want: map[string]string{"stop_sequences": `["a","b"]`}},
		{name: "n=2", body: withUser(`,"n":2`), errParam: "n"},
		{name: "n=1", body: withUser(`,"n":1`), want: map[string]string{"n": absent}},
		{name: "seed", body: withUser(`,"seed":42`), errParam: "seed"},
		{name: "logprobs", body: withUser(`,"logprobs":true`), errParam: "logprobs"},
		{name: "top_logprobs", body: withUser(`,"top_logprobs":3`), errParam: "top_logprobs"},
		{name: "logit_bias", body: withUser(`,"logit_bias":{"50256":-100}`), errParam: "logit_bias"},
		{name: "presence_penalty", body: withUser(`,"presence_penalty":0.5`), errParam: "presence_penalty"},
		{name: "frequency_penalty", body: withUser(`,"frequency_penalty":-1`), errParam: "frequency_penalty"},
		{name: "harmless values pass", body: withUser(`,"logprobs":false,"top_logprobs":0,"logit_bias":{},"presence_penalty":0,"frequency_penalty":0`),
			want: map[string]string{"max_tokens": `4096`}},
		{name: "user", body: withUser(`,"user":"u1"`), want: map[string]string{"metadata": `{"user_id":"u1"}`}},
		{name: "safety_identifier wins over user", body: withUser(`,"user":"u1","safety_identifier":"s1"`), want: map[string]string{"metadata": `{"user_id":"s1"}`}},
		{name: "no user", body: withUser(``), want: map[string]string{"metadata": absent}},
		{name: "response_format text", body: withUser(`,"response_format":{"type":"text"}`), want: map[string]string{"output_config": absent}},
		{name: "response_format json_schema", body: withUser(`,"response_format":{"type":"json_schema","json_schema":{"name":"x","strict":true,"schema":{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false}}}`),
			want: map[string]string{"output_config": `{"format":{"type":"json_schema","schema":{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false}}}`}},
		{name: "response_format json_schema without schema", body: withUser(`,"response_format":{"type":"json_schema","json_schema":{"name":"x"}}`),
			errParam: "response_format.json_schema.schema"},
		{name: "response_format json_object", body: withUser(`,"response_format":{"type":"json_object"}`), errParam: "response_format"},
		{name: "reasoning_effort unknown", body: withUser(`,"reasoning_effort":"xhigh"`), errParam: "reasoning_effort"},
		{name: "reasoning_effort none", body: withUser(`,"reasoning_effort":"none"`), want: map[string]string{"thinking": absent}},
		// drop_params: the same parameters are left out; values of carried
		// parameters are still checked.
		{name: "dropped", body: withUser(`,"n":2,"seed":42,"logprobs":true,"top_logprobs":3,"logit_bias":{"1":1},"presence_penalty":0.5,"frequency_penalty":-1,"top_p":0.5`),
			opts: RequestOptions{Params: &adapter.Unsupported{Drop: true}},
			want: map[string]string{"top_p": `0.5`, "n": absent, "seed": absent, "thinking": absent, "max_tokens": `4096`}},
		{name: "dropped, temperature still checked", body: withUser(`,"seed":1,"temperature":1.5`), opts: RequestOptions{Params: &adapter.Unsupported{Drop: true}},
			errParam: "temperature"},
		{name: "dropped, json_object still refused", body: withUser(`,"response_format":{"type":"json_object"}`), opts: RequestOptions{Params: &adapter.Unsupported{Drop: true}},
			errParam: "response_format"},
	})
}

// The dropped parameters are recorded, in order, for the debug log.
func TestConvertRequestRecordsDroppedParameters(t *testing.T) {
	u := &adapter.Unsupported{Drop: true}
	if _, err := ConvertRequest(decodeRequest(t, withUser(`,"seed":42,"n":2,"frequency_penalty":1`)), RequestOptions{Params: u}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"n", "seed", "frequency_penalty"}, u.Dropped); diff != "" {
		t.Errorf("dropped (-want +got):\n%s", diff)
	}
}

func TestConvertRequestContentParts(t *testing.T) {
	const png = "iVBORw0KGgo="
	user := func(parts string) string {
		return msgs(`[{"role":"user","content":[{"type":"text","text":"see"},` + parts + `]}]`)
	}
	runRequestCases(t, []requestCase{
		{name: "data URL", body: user(`{"type":"image_url","image_url":{"url":"data:image/png;base64,` + png + `","detail":"high"}}`),
			want: map[string]string{"messages.0.content.1": `{"type":"image","source":{"type":"base64","media_type":"image/png","data":"` + png + `"}}`}},
		{name: "data URL image/jpg", body: user(`{"type":"image_url","image_url":{"url":"data:image/JPG;base64,` + png + `"}}`),
			want: map[string]string{"messages.0.content.1.source.media_type": `"image/jpeg"`}},
		{name: "https URL", body: user(`{"type":"image_url","image_url":{"url":"https://example.com/a.webp"}}`),
			want: map[string]string{"messages.0.content.1": `{"type":"image","source":{"type":"url","url":"https://example.com/a.webp"}}`}},
		{name: "bad media type", body: user(`{"type":"image_url","image_url":{"url":"data:image/bmp;base64,Qk0="}}`),
			errParam: "messages[0].content[1].image_url.url", errText: "image/bmp"},
		{name: "svg", body: user(`{"type":"image_url","image_url":{"url":"data:image/svg+xml;base64,PHN2Zz4="}}`),
			errParam: "messages[0].content[1].image_url.url"},
		{name: "data URL not base64", body: user(`{"type":"image_url","image_url":{"url":"data:image/png,abc"}}`),
			errParam: "messages[0].content[1].image_url.url", errText: "base64"},
		{name: "other scheme", body: user(`{"type":"image_url","image_url":{"url":"ftp://example.com/a.png"}}`),
			errParam: "messages[0].content[1].image_url.url"},
		{name: "no url", body: user(`{"type":"image_url","image_url":{}}`), errParam: "messages[0].content[1].image_url.url"},
		{name: "input_audio", body: user(`{"type":"input_audio","input_audio":{"data":"AAA=","format":"wav"}}`),
			errParam: "messages[0].content[1].type", errText: "input_audio"},
		{name: "file", body: user(`{"type":"file","file":{"file_id":"file-1"}}`), errParam: "messages[0].content[1].type"},
	})
}

// TestConvertRequestDoesNotChangeInput checks that converting twice gives
// the same body: the decoded request may be converted again for a retry or a
// fallback, so merging turns and trimming a prefill must not write into it.
func TestConvertRequestDoesNotChangeInput(t *testing.T) {
	for _, body := range []string{
		string(readTestdata(t, "opencode-chat-3-tool-result.json")),
		msgs(`[{"role":"user","content":"a"},{"role":"user","content":[{"type":"text","text":"b"}]},{"role":"assistant","content":"x"},{"role":"assistant","content":[{"type":"text","text":"y "}]}]`),
	} {
		req := decodeRequest(t, body)
		first, err := ConvertRequest(req, goldenOptions)
		if err != nil {
			t.Fatal(err)
		}
		second, err := ConvertRequest(req, goldenOptions)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(string(first), string(second)); d != "" {
			t.Errorf("second conversion differs (-first +second):\n%s", d)
		}
		if got := req.Messages[len(req.Messages)-1].Content.Parts; len(got) == 1 && got[0].Text != "y " {
			t.Errorf("the request's last text part was changed to %q", got[0].Text)
		}
	}
}

// reasoning_effort turns extended thinking on with the documented budget,
// keeps max_tokens above it, and drops the sampling parameters Anthropic
// refuses with thinking.
func TestConvertRequestThinking(t *testing.T) {
	runRequestCases(t, []requestCase{
		{name: "high without max_tokens: the budget comes on top of the default",
			body: withUser(`,"reasoning_effort":"high","temperature":0.2,"top_p":0.5`),
			want: map[string]string{"thinking": `{"type":"enabled","budget_tokens":24576}`, "max_tokens": `28672`,
				"temperature": absent, "top_p": absent}},
		{name: "minimal", body: withUser(`,"reasoning_effort":"minimal"`),
			want: map[string]string{"thinking": `{"type":"enabled","budget_tokens":1024}`}},
		{name: "low", body: withUser(`,"reasoning_effort":"low","max_tokens":16000`),
			want: map[string]string{"thinking": `{"type":"enabled","budget_tokens":2048}`, "max_tokens": `16000`}},
		{name: "medium with a small limit: half of it as budget",
			body: withUser(`,"reasoning_effort":"medium","max_completion_tokens":6000,"temperature":1,"top_p":0.97`),
			want: map[string]string{"thinking": `{"type":"enabled","budget_tokens":3000}`, "max_tokens": `6000`,
				"temperature": `1`, "top_p": `0.97`}},
		{name: "a limit below the minimum budget is raised by it",
			body: withUser(`,"reasoning_effort":"high","max_tokens":500`),
			want: map[string]string{"thinking": `{"type":"enabled","budget_tokens":1024}`, "max_tokens": `1524`}},
		{name: "temperature out of range is dropped with thinking, not refused",
			body: withUser(`,"reasoning_effort":"low","temperature":1.5`),
			want: map[string]string{"temperature": absent, "thinking.type": `"enabled"`}},
		{name: "a forced tool leaves thinking off",
			body: withUser(`,"reasoning_effort":"low","tool_choice":"required"` + toolsJSON),
			want: map[string]string{"thinking": absent, "tool_choice.type": `"any"`}},
		{name: "a tool turn whose thinking was not replayed goes on without thinking",
			body: `{"model":"m","reasoning_effort":"low","messages":[{"role":"user","content":"q"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":"r"}]}`,
			want: map[string]string{"thinking": absent}},
		{name: "a signed tool turn keeps thinking on",
			body: `{"model":"m","reasoning_effort":"low","messages":[{"role":"user","content":"q"},{"role":"assistant","content":null,"reasoning_content":"T","reasoning_signature":"s","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":"r"}]}`,
			want: map[string]string{"thinking.type": `"enabled"`}},
		{name: "replayed thinking leads the assistant turn",
			body: msgs(`[{"role":"user","content":"q"},{"role":"assistant","content":"Let me check.","reasoning_content":"I should call f.","reasoning_signature":"sig-1",
				"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":"r"}]`),
			want: map[string]string{"messages.1.content": `[{"type":"thinking","thinking":"I should call f.","signature":"sig-1"},
				{"type":"text","text":"Let me check."},{"type":"tool_use","id":"c1","name":"f","input":{}}]`}},
		{name: "redacted thinking is replayed as redacted_thinking",
			body: msgs(`[{"role":"user","content":"q"},{"role":"assistant","content":"A","reasoning_content":"T","reasoning_signature":"redacted:ZGF0YQ sig-2"},{"role":"user","content":"more"}]`),
			want: map[string]string{"messages.1.content": `[{"type":"redacted_thinking","data":"ZGF0YQ"},{"type":"thinking","thinking":"T","signature":"sig-2"},{"type":"text","text":"A"}]`}},
		{name: "reasoning without a signature is not Anthropic's and is dropped",
			body: msgs(`[{"role":"user","content":"q"},{"role":"assistant","content":"A","reasoning_content":"T"},{"role":"user","content":"more"}]`),
			want: map[string]string{"messages.1.content": `[{"type":"text","text":"A"}]`}},
		{name: "several signed blocks cannot be split back and are dropped",
			body: msgs(`[{"role":"user","content":"q"},{"role":"assistant","content":"A","reasoning_content":"T","reasoning_signature":"s1 s2"},{"role":"user","content":"more"}]`),
			want: map[string]string{"messages.1.content": `[{"type":"text","text":"A"}]`}},
	})
}
