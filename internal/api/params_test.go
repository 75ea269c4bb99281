package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/tidwall/gjson"
)

// recordingAPI is a made-up JSON API that answers "ok" and keeps the bodies
// it received.
type recordingAPI struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
}

func newRecordingAPI(t *testing.T) *recordingAPI {
	a := &recordingAPI{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		a.mu.Lock()
		a.bodies = append(a.bodies, string(b))
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"output":{"text":"ok"}}`)
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *recordingAPI) last(t *testing.T) string {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.bodies) == 0 {
		t.Fatal("the upstream received nothing")
	}
	return a.bodies[len(a.bodies)-1]
}

func (a *recordingAPI) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.bodies)
}

// templateEntry is a template model on api whose body template is body.
func templateEntry(id, url, body, extra string) string {
	return `{"id": "` + id + `", "adapter": "custom_http", "protocol": "template", "base_url": "` + url + `"` + extra + `,
		"template": {"path": "/gen", "body": ` + body + `, "response": {"text": "output.text"}}}`
}

// samplingParams are what an OpenAI SDK user sets for top_p, seed and the
// penalties.
func samplingParams(model string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{Model: model, Messages: userMessage("Hi"),
		TopP: openai.Float(0.9), Seed: openai.Int(424242), PresencePenalty: openai.Float(-0.5), FrequencyPenalty: openai.Float(1.5)}
}

// wantUnsupported checks that err is the gateway's 400 naming param.
func wantUnsupported(t *testing.T, err error, param string) {
	t.Helper()
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("got %v, want a 400 naming %s", err, param)
	}
	if apiErr.StatusCode != http.StatusBadRequest || apiErr.Param != param || apiErr.Code != "unsupported_parameter" {
		t.Errorf("got %d param %q code %q (%s), want 400 unsupported_parameter naming %s",
			apiErr.StatusCode, apiErr.Param, apiErr.Code, apiErr.Message, param)
	}
}

// wantDropLog checks the debug line of a drop: the model and the names of
// the dropped parameters, not their values.
func wantDropLog(t *testing.T, logs, model, params string, values ...string) {
	t.Helper()
	for _, line := range strings.Split(logs, "\n") {
		if !strings.Contains(line, "drop_params") || !strings.Contains(line, "model="+model+" ") {
			continue
		}
		named := strings.Contains(line, `params="[`+params+`]"`) || strings.Contains(line, `params=[`+params+`]`) // quoted when it holds spaces
		if !strings.Contains(line, "level=DEBUG") || !named {
			t.Errorf("drop line %q, want a debug line with params [%s]", line, params)
		}
		for _, v := range values {
			if strings.Contains(line, v) {
				t.Errorf("the drop line shows the value %s: %s", v, line)
			}
		}
		return
	}
	t.Errorf("no debug line names the dropped parameters of %s:\n%s", model, logs)
}

// Template models: top_p, seed and the penalties reach the upstream through
// their placeholders; a template without them refuses them with a 400
// naming the parameter; with drop_params it drops them and says so in a
// debug line.
func TestTemplateSamplingParameters(t *testing.T) {
	up := newRecordingAPI(t)
	const full = `{"p": "{{prompt}}", "top_p": "{{top_p}}", "seed": "{{seed}}", "presence": "{{presence_penalty}}", "frequency": "{{frequency_penalty}}"}`
	g := startGateway(t, gatewayOptions{extraModels: templateEntry("tpl", up.URL, full, "") + "," +
		templateEntry("tpl-plain", up.URL, `{"p": "{{prompt}}"}`, "") + "," +
		templateEntry("tpl-lenient", up.URL, `{"p": "{{prompt}}"}`, `, "drop_params": true`)})
	c := g.client(t)
	ctx := context.Background()

	if _, err := c.Chat.Completions.New(ctx, samplingParams("tpl")); err != nil {
		t.Fatal(err)
	}
	if got, want := up.last(t), `{"p":"Hi","top_p":0.9,"seed":424242,"presence":-0.5,"frequency":1.5}`; got != want {
		t.Errorf("upstream body %s, want %s", got, want)
	}

	sent := up.count()
	_, err := c.Chat.Completions.New(ctx, samplingParams("tpl-plain"))
	wantUnsupported(t, err, "top_p")
	_, err = c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "tpl-plain", Messages: userMessage("Hi"), Seed: openai.Int(1)})
	wantUnsupported(t, err, "seed")
	if up.count() != sent {
		t.Error("a refused request reached the upstream")
	}

	resp, err := c.Chat.Completions.New(ctx, samplingParams("tpl-lenient"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].Message.Content != "ok" || up.last(t) != `{"p":"Hi"}` {
		t.Errorf("answer %q, upstream body %s", resp.Choices[0].Message.Content, up.last(t))
	}
	wantDropLog(t, g.logs.String(), "tpl-lenient", "top_p seed presence_penalty frequency_penalty", "424242", "0.9")
}

// Process models: the same parameters reach the program through their
// placeholders, are refused without them, and dropped with drop_params.
func TestProcessSamplingParameters(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// "words" prints its last argument, word by word.
	full, _ := json.Marshal([]string{self, "-test.run=^$", "top_p={top_p} seed={seed} presence={presence_penalty} frequency={frequency_penalty}"})
	plain, _ := json.Marshal([]string{self, "-test.run=^$", "fixed answer"})
	entry := func(id string, cmd []byte, extra string) string {
		return `{"id": "` + id + `", "adapter": "process", "command": ` + string(cmd) + `, "env": {"AIGW_TEST_PROGRAM": "words"}, "timeout": 20` + extra + `}`
	}
	g := startGateway(t, gatewayOptions{extraModels: entry("local", full, "") + "," + entry("local-plain", plain, "") + "," +
		entry("local-lenient", plain, `, "drop_params": true`)})
	c := g.client(t)
	ctx := context.Background()

	resp, err := c.Chat.Completions.New(ctx, samplingParams("local"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := resp.Choices[0].Message.Content, "top_p=0.9 seed=424242 presence=-0.5 frequency=1.5 "; got != want {
		t.Errorf("the program got %q, want %q", got, want)
	}

	_, err = c.Chat.Completions.New(ctx, samplingParams("local-plain"))
	wantUnsupported(t, err, "top_p")
	// Stop sequences cannot reach a program at all.
	status, _, body := g.post(t, "/v1/chat/completions", chatFor("local-plain", `,"stop":["\n"]`))
	if status != http.StatusBadRequest || gjson.Get(body, "error.param").Str != "stop" || gjson.Get(body, "error.code").Str != "unsupported_parameter" {
		t.Errorf("stop: %d %s", status, body)
	}

	resp, err = c.Chat.Completions.New(ctx, samplingParams("local-lenient"))
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Choices[0].Message.Content; got != "fixed answer " {
		t.Errorf("the program answered %q", got)
	}
	wantDropLog(t, g.logs.String(), "local-lenient", "top_p seed presence_penalty frequency_penalty", "424242")
}

// drop_params applies to the Anthropic and Gemini converters too: what
// their APIs cannot carry is dropped instead of refused.
func TestProviderDropParams(t *testing.T) {
	lenient := `,{"id": "claude-lenient", "adapter": "anthropic", "base_url": "MOCK", "api_key": "` + upstreamKey + `", "drop_params": true},
		{"id": "gemini-lenient", "adapter": "gemini", "base_url": "MOCK", "api_key": "` + upstreamKey + `", "model": "gemini-2.5-flash", "drop_params": true}`
	g := startGateway(t, gatewayOptions{extraModels: providerModels(map[string]any{}, map[string]any{}, lenient)})

	status, _, body := g.post(t, "/v1/chat/completions", chatFor("claude", `,"seed":777777`))
	if status != http.StatusBadRequest || gjson.Get(body, "error.param").Str != "seed" || gjson.Get(body, "error.code").Str != "unsupported_parameter" {
		t.Errorf("claude without drop_params: %d %s", status, body)
	}
	status, _, body = g.post(t, "/v1/chat/completions", chatFor("claude-lenient", `,"seed":777777,"presence_penalty":0.5,"top_p":0.5`))
	if status != http.StatusOK {
		t.Fatalf("claude with drop_params: %d %s", status, body)
	}
	sent := g.lastUpstream(t).Body
	if gjson.GetBytes(sent, "seed").Exists() || gjson.GetBytes(sent, "top_p").Float() != 0.5 {
		t.Errorf("upstream body %s, want top_p and no seed", sent)
	}
	wantDropLog(t, g.logs.String(), "claude-lenient", "seed presence_penalty", "777777")

	status, _, body = g.post(t, "/v1/chat/completions", chatFor("gemini", `,"logit_bias":{"50256":-100}`))
	if status != http.StatusBadRequest || gjson.Get(body, "error.param").Str != "logit_bias" {
		t.Errorf("gemini without drop_params: %d %s", status, body)
	}
	if status, _, body = g.post(t, "/v1/chat/completions", chatFor("gemini-lenient", `,"logit_bias":{"50256":-100}`)); status != http.StatusOK {
		t.Fatalf("gemini with drop_params: %d %s", status, body)
	}
	wantDropLog(t, g.logs.String(), "gemini-lenient", "logit_bias", "50256")
}

// A value or content a provider cannot honour gets the same code as a
// parameter it cannot carry, with param naming the field: a client has
// one code to handle, whichever adapter serves the model.
func TestUnsupportedValuesShareOneCode(t *testing.T) {
	g := startGateway(t, gatewayOptions{extraModels: providerModels(map[string]any{}, map[string]any{}, "")})
	image := `{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}`
	cases := []struct {
		name, model, body, param string
	}{
		{"anthropic json_object", "claude", `{"model":"claude","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_object"}}`, "response_format"},
		{"gemini parallel_tool_calls false", "gemini", `{"model":"gemini","messages":[{"role":"user","content":"hi"}],"parallel_tool_calls":false,
			"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]}`, "parallel_tool_calls"},
		{"gemini reasoning_effort", "gemini", `{"model":"gemini","messages":[{"role":"user","content":"hi"}],"reasoning_effort":"xhigh"}`, "reasoning_effort"},
		{"gemini image URL", "gemini", `{"model":"gemini","messages":[` + image + `]}`, "messages[0].content[0].image_url.url"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := g.post(t, "/v1/chat/completions", tc.body)
			if status != http.StatusBadRequest || gjson.Get(body, "error.code").Str != "unsupported_parameter" || gjson.Get(body, "error.param").Str != tc.param {
				t.Errorf("%s: %d %s\nwant 400 unsupported_parameter naming %s", tc.model, status, body, tc.param)
			}
		})
	}
}
