//go:build unix

package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"aigateway/internal/mockllm"
)

// The real-agent tests run Claude Code, Codex and Gemini CLI, as installed by npm, against
// the gateway, which routes them to a scripted model behind each kind of
// upstream (OpenAI-compatible, Anthropic, Gemini). .ci/run
// installs the agents (pinned versions) and sets agentsDirEnv to the npm
// prefix; without it the tests skip.
const agentsDirEnv = "AIGW_AGENTS_DIR"

// agentTimeout bounds one agent run: a turn against the mock takes about a
// second, so this only catches an agent that waits for something forever.
const agentTimeout = 120 * time.Second

// The scripted model asks the agent to run agentCommand with its shell tool.
// The command formats the marker, so the marker appears in the tool's output
// only if a shell really ran it; the model's final answer quotes the marker
// only if the tool result came back through the gateway. No $(( )): Gemini
// CLI refuses a command with a $( as command substitution.
const (
	agentCommand = `printf 'AGENT-%d-RAN\n' 42 > agent-marker.txt && cat agent-marker.txt`
	agentMarker  = "AGENT-42-RAN"
	agentFinal   = "Done: the shell printed " + agentMarker + "."
	agentPrompt  = "Run the shell command that writes the marker file, then tell me what it printed."
	agentModelID = "agent-model"
)

// shellTools maps the name of a shell tool an agent declares to the
// arguments that make it run a command: Claude Code's Bash, Codex's
// exec_command (unified exec) and its older shell tools, Gemini CLI's
// run_shell_command.
var shellTools = []struct {
	name string
	args func(cmd string) any
}{
	{"Bash", func(cmd string) any { return map[string]string{"command": cmd} }},
	{"exec_command", func(cmd string) any { return map[string]string{"cmd": cmd} }},
	{"shell_command", func(cmd string) any { return map[string]string{"command": cmd} }},
	{"shell", func(cmd string) any { return map[string][]string{"command": {"bash", "-lc", cmd}} }},
	{"run_shell_command", func(cmd string) any {
		return map[string]string{"command": cmd, "description": "Write and print the marker file"}
	}},
}

// agentModel is the model behind the gateway: the mock upstream
// (internal/mockllm, which speaks OpenAI chat completions and responses,
// Anthropic messages and Gemini generateContent, stream and non-stream) scripted per
// request from what the request holds. A request without a tool result
// gets a call of the shell tool the request declares; one with a tool
// result gets the final text, which quotes the marker if the tool result
// held it.
type agentModel struct {
	mock *mockllm.Server

	mu    sync.Mutex
	turns []modelTurn
}

// modelTurn is what the model saw in one generation request and how it
// answered.
type modelTurn struct {
	path        string
	tools       []string // declared tool names
	toolCallIDs []string // the ids (Gemini: names) the tool results answer
	toolResults string   // the tool results' contents, joined
	answer      string   // the directive the mock answered with
	body        []byte
}

func newAgentModel() *agentModel {
	return &agentModel{mock: mockllm.New(mockllm.Options{})}
}

// The parts of a request that scriptTurn reads, per upstream protocol.
type requestShape struct {
	tools   string                       // gjson path of the declared tool names
	results func(body []byte) []toolDone // the tool results in the request
}

type toolDone struct{ id, content string }

var (
	chatShape = requestShape{tools: "tools.#.function.name", results: func(body []byte) []toolDone {
		var done []toolDone
		for _, msg := range gjson.GetBytes(body, `messages.#(role=="tool")#`).Array() {
			done = append(done, toolDone{msg.Get("tool_call_id").String(), textOf(msg.Get("content"))})
		}
		return done
	}}
	anthropicShape = requestShape{tools: "tools.#.name", results: func(body []byte) []toolDone {
		var done []toolDone
		for _, msg := range gjson.GetBytes(body, "messages").Array() {
			for _, block := range msg.Get(`content.#(type=="tool_result")#`).Array() {
				done = append(done, toolDone{block.Get("tool_use_id").String(), textOf(block.Get("content"))})
			}
		}
		return done
	}}
	responsesShape = requestShape{tools: "tools.#.name", results: func(body []byte) []toolDone {
		var done []toolDone
		for _, item := range gjson.GetBytes(body, "input").Array() {
			if t := item.Get("type").String(); t == "function_call_output" || t == "custom_tool_call_output" {
				done = append(done, toolDone{item.Get("call_id").String(), textOf(item.Get("output"))})
			}
		}
		return done
	}}
	geminiShape = requestShape{tools: "tools.#.functionDeclarations.#.name|@flatten", results: func(body []byte) []toolDone {
		var done []toolDone
		for _, content := range gjson.GetBytes(body, "contents").Array() {
			for _, part := range content.Get("parts").Array() {
				if fr := part.Get("functionResponse"); fr.Exists() {
					done = append(done, toolDone{fr.Get("name").String(), fr.Get("response").Raw})
				}
			}
		}
		return done
	}}
)

// textOf is a content that is a string or an array of text parts.
func textOf(content gjson.Result) string {
	if !content.IsArray() {
		return content.String()
	}
	var b strings.Builder
	for _, part := range content.Array() {
		b.WriteString(part.Get("text").String())
	}
	return b.String()
}

func shapeOf(r *http.Request) (requestShape, bool) {
	if r.Method != http.MethodPost {
		return requestShape{}, false
	}
	switch p := r.URL.Path; {
	case strings.HasSuffix(p, "/chat/completions"):
		return chatShape, true
	case strings.HasSuffix(p, "/responses"):
		return responsesShape, true
	case strings.HasSuffix(p, "/messages"):
		return anthropicShape, true
	case strings.HasSuffix(p, ":generateContent"), strings.HasSuffix(p, ":streamGenerateContent"):
		return geminiShape, true
	}
	return requestShape{}, false
}

func (m *agentModel) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if shape, ok := shapeOf(r); ok {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		turn := scriptTurn(shape, body)
		turn.path = r.URL.Path
		m.mu.Lock()
		m.turns = append(m.turns, turn)
		m.mu.Unlock()
		// The directive travels in mockllm's X-Mock header: the body is
		// the gateway's, unchanged.
		r.Header.Set("X-Mock", turn.answer)
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	m.mock.ServeHTTP(w, r)
}

// scriptTurn decides the model's answer to one request.
func scriptTurn(shape requestShape, body []byte) modelTurn {
	turn := modelTurn{body: body}
	for _, name := range gjson.GetBytes(body, shape.tools).Array() {
		turn.tools = append(turn.tools, name.String())
	}
	var results strings.Builder
	for _, done := range shape.results(body) {
		turn.toolCallIDs = append(turn.toolCallIDs, done.id)
		results.WriteString(done.content)
		results.WriteByte('\n')
	}
	turn.toolResults = results.String()
	directive := map[string]any{}
	switch {
	case len(turn.toolCallIDs) > 0 && strings.Contains(turn.toolResults, agentMarker):
		directive["content"] = agentFinal
	case len(turn.toolCallIDs) > 0:
		directive["content"] = "The tool result lacked the marker."
	default:
		directive["content"] = "No shell tool was declared."
		for _, tool := range shellTools {
			if slices.Contains(turn.tools, tool.name) {
				args, _ := json.Marshal(tool.args(agentCommand))
				directive = map[string]any{"tool_calls": []map[string]any{{"name": tool.name, "arguments": string(args)}}}
				break
			}
		}
	}
	answer, _ := json.Marshal(directive)
	turn.answer = string(answer)
	return turn
}

func (m *agentModel) seen() []modelTurn {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.turns)
}

// describe summarises what the model received, for failure messages.
func (m *agentModel) describe() string {
	var b strings.Builder
	for i, turn := range m.seen() {
		fmt.Fprintf(&b, "model request %d: POST %s, tools %v, tool result ids %v, answered %s\n  tool results: %.300q\n  body: %.1500s\n",
			i+1, turn.path, turn.tools, turn.toolCallIDs, turn.answer, turn.toolResults, turn.body)
	}
	if b.Len() == 0 {
		return "the model received no chat completions request\n"
	}
	return b.String()
}

// agentsDir returns the npm prefix holding the agents, or skips the test.
func agentsDir(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs real agents")
	}
	dir := os.Getenv(agentsDirEnv)
	if dir == "" {
		t.Skipf("real agents not installed: %s is not set (.ci/run installs @anthropic-ai/claude-code, @openai/codex and @google/gemini-cli with npm and sets it)", agentsDirEnv)
	}
	return dir
}

// agentBinary returns the agent's executable under the npm prefix dir. The
// prefix was named on purpose, so a missing agent fails the test.
func agentBinary(t *testing.T, dir, name string) string {
	t.Helper()
	bin := filepath.Join(dir, "node_modules", ".bin", name)
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s=%s holds no %s: %v", agentsDirEnv, dir, name, err)
	}
	return bin
}

// agentUpstream is a kind of model the agents run against: an entry of
// models.json (without id; %s is the scripted model's URL) and the id the
// tool result must come back under, the one mockllm gave the call.
// Gemini's calls carry no id: its result must name the tool instead ("").
type agentUpstream struct {
	name, entry, resultID string
}

var agentUpstreams = []agentUpstream{
	{"openai_compat", `"adapter": "openai_compat", "base_url": "%s/v1", "model": "mock-model"`, "call_mock_0"},
	{"anthropic", `"adapter": "anthropic", "base_url": "%s", "model": "mock-claude"`, "toolu_mock_0"},
	{"gemini", `"adapter": "gemini", "base_url": "%s", "model": "mock-gemini"`, ""},
}

// responsesNative is an OpenAI-compatible upstream that serves /responses
// itself: Codex's requests pass through. Claude Code's would be converted
// to chat completions as for openai_compat.
var responsesNative = agentUpstream{"openai_compat_responses_native",
	`"adapter": "openai_compat", "base_url": "%s/v1", "model": "mock-model", "responses": "native"`, "call_mock_0"}

// agentKey is the gateway key the agents send.
const agentKey = "sk-agent-gateway-key-0123456789"

// startAgentGateway starts the gateway in front of a fresh agentModel,
// serving agentModelID as an entry of kind up.
func startAgentGateway(t *testing.T, up agentUpstream) (url string, model *agentModel, logs *lockedBuffer) {
	t.Helper()
	model = newAgentModel()
	upstream := httptest.NewServer(model)
	t.Cleanup(upstream.Close)
	cfg := filepath.Join(t.TempDir(), "models.json")
	// The agents authenticate with a gateway key, each the way it sends
	// its API key, under limits that send the x-ratelimit-* headers.
	config := fmt.Sprintf(`{"keys": [{"name": "agent", "key": %q, "rpm": 1000, "tpm": 10000000}],
		"models": [{"id": %q, "api_key": "sk-upstream", `+up.entry+`}]}`, agentKey, agentModelID, upstream.URL)
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	logs, _, _ = startRun(t, "--config", cfg, "--port", "0", "--drain-delay", "0")
	return waitListening(t, logs), model, logs
}

// agentEnv is the environment of an agent run: nothing of the caller's but
// PATH (the agents need node and a shell), so that no real credential or
// configuration reaches it.
func agentEnv(home string, vars ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "LANG=C.UTF-8", "NO_COLOR=1"}
	return append(env, vars...)
}

// runAgent runs an agent in dir, bounded by agentTimeout; the whole process
// group is killed at the deadline, shell children included.
func runAgent(t *testing.T, dir string, env []string, bin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), agentTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("no exit within %s: %w", agentTimeout, err)
	}
	t.Logf("%s ran %s", filepath.Base(bin), time.Since(start).Round(time.Millisecond))
	return out.String(), errOut.String(), err
}

// checkAgentTurn asserts what every agent's turn must show: the tool ran in
// dir, the model got its result under the id of the call it made (wantID),
// and the agent's final output (final) holds the model's final text.
func checkAgentTurn(t *testing.T, dir string, model *agentModel, logs *lockedBuffer, wantID, final string, report func() string) {
	t.Helper()
	if b, err := os.ReadFile(filepath.Join(dir, "agent-marker.txt")); err != nil || strings.TrimSpace(string(b)) != agentMarker {
		t.Errorf("the shell tool did not run: agent-marker.txt: %q, %v\n%s", b, err, report())
	}
	var sawResult bool
	for _, turn := range model.seen() {
		if len(turn.toolCallIDs) == 0 {
			continue
		}
		sawResult = true
		// A gateway that rewrites tool ids must map them back.
		if !slices.Contains(turn.toolCallIDs, wantID) {
			t.Errorf("the tool result came back under ids %v, not the model's %s\n%s", turn.toolCallIDs, wantID, report())
		}
		if !strings.Contains(turn.toolResults, agentMarker) {
			t.Errorf("the tool result the model got lacks %s\n%s", agentMarker, report())
		}
	}
	if !sawResult {
		t.Errorf("the model never got a tool result\n%s", report())
	}
	if !strings.Contains(final, agentFinal) {
		t.Errorf("the agent's final output %q lacks the model's final text %q\n%s", final, agentFinal, report())
	}
	checkAgentRequests(t, logs, len(model.seen()), report)
	for i, turn := range model.seen() {
		t.Logf("model request %d: POST %s, %d tools declared, tool results %v, answered %s", i+1, turn.path, len(turn.tools), turn.toolCallIDs, turn.answer)
	}
}

// TestClaudeCodeShellTurn runs `claude -p` with ANTHROPIC_BASE_URL set to the
// gateway (POST /v1/messages), once per kind of upstream: the model calls
// Bash, Claude Code runs it and sends the result, the model answers.
func TestClaudeCodeShellTurn(t *testing.T) {
	bin := agentBinary(t, agentsDir(t), "claude")
	for _, up := range agentUpstreams {
		t.Run(up.name, func(t *testing.T) { claudeCodeShellTurn(t, bin, up) })
	}
}

func claudeCodeShellTurn(t *testing.T, bin string, up agentUpstream) {
	url, model, logs := startAgentGateway(t, up)
	home, work := t.TempDir(), t.TempDir()
	env := agentEnv(home,
		"ANTHROPIC_BASE_URL="+url,
		"ANTHROPIC_API_KEY="+agentKey,
		"ANTHROPIC_MODEL="+agentModelID,
		"ANTHROPIC_SMALL_FAST_MODEL="+agentModelID,
		"ANTHROPIC_DEFAULT_HAIKU_MODEL="+agentModelID,
		// No update checks, telemetry or error reports: the gateway is the
		// only server the run talks to.
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
		"DISABLE_AUTOUPDATER=1",
		"DISABLE_TELEMETRY=1",
		"DISABLE_ERROR_REPORTING=1",
	)
	// --allowedTools instead of --dangerously-skip-permissions, which
	// Claude Code refuses to honour as root (CI containers).
	stdout, stderr, err := runAgent(t, work, env, bin,
		"-p", agentPrompt, "--allowedTools", "Bash", "--output-format", "json")
	report := func() string {
		return fmt.Sprintf("claude stdout:\n%s\nclaude stderr:\n%s\n%sgateway log:\n%s", stdout, stderr, model.describe(), logs)
	}
	if err != nil {
		t.Fatalf("claude -p: %v\n%s", err, report())
	}
	var result struct {
		IsError bool   `json:"is_error"`
		Result  string `json:"result"`
	}
	if err := json.Unmarshal([]byte(lastLine(stdout)), &result); err != nil {
		t.Fatalf("claude -p --output-format json printed no result: %v\n%s", err, report())
	}
	if result.IsError {
		t.Errorf("claude reports an error\n%s", report())
	}
	checkAgentTurn(t, work, model, logs, cmp.Or(up.resultID, "Bash"), result.Result, report)
}

// TestCodexShellTurn runs `codex exec` with a model provider whose base_url
// is the gateway (POST /v1/responses), once per kind of upstream and once
// passed through to an upstream serving /responses: the model
// calls exec_command, Codex runs it and sends the function_call_output, the
// model answers.
func TestCodexShellTurn(t *testing.T) {
	bin := agentBinary(t, agentsDir(t), "codex")
	for _, up := range append(slices.Clone(agentUpstreams), responsesNative) {
		t.Run(up.name, func(t *testing.T) { codexShellTurn(t, bin, up) })
	}
}

func codexShellTurn(t *testing.T, bin string, up agentUpstream) {
	url, model, logs := startAgentGateway(t, up)
	home, work := t.TempDir(), t.TempDir()
	codexHome := filepath.Join(home, ".codex")
	if err := os.Mkdir(codexHome, 0o700); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`model = %q
model_provider = "aigateway"
check_for_update_on_startup = false

[analytics]
enabled = false

[model_providers.aigateway]
name = "aigateway"
base_url = %q
wire_api = "responses"
env_key = "AIGW_AGENT_KEY"
`, agentModelID, url+"/v1")
	if err := os.WriteFile(filepath.Join(codexHome, "config.toml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	last := filepath.Join(home, "last-message.txt")
	env := agentEnv(home, "CODEX_HOME="+codexHome, "AIGW_AGENT_KEY="+agentKey)
	// The sandbox is bypassed because CI containers cannot nest one; the
	// command only writes into the test's own temporary directory.
	stdout, stderr, err := runAgent(t, work, env, bin, "exec",
		"--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox", "--ephemeral",
		"--color", "never", "-o", last, agentPrompt)
	report := func() string {
		return fmt.Sprintf("codex stdout:\n%s\ncodex stderr:\n%s\n%sgateway log:\n%s", stdout, stderr, model.describe(), logs)
	}
	if err != nil {
		t.Fatalf("codex exec: %v\n%s", err, report())
	}
	final, err := os.ReadFile(last)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	checkAgentTurn(t, work, model, logs, cmp.Or(up.resultID, "exec_command"), string(final), report)
}

// TestGeminiCLIShellTurn runs `gemini -p` with GOOGLE_GEMINI_BASE_URL set
// to the gateway (POST /v1beta/models/{model}:streamGenerateContent), once
// per kind of upstream: the model calls run_shell_command, Gemini CLI runs
// it and sends the functionResponse, the model answers.
func TestGeminiCLIShellTurn(t *testing.T) {
	bin := agentBinary(t, agentsDir(t), "gemini")
	for _, up := range agentUpstreams {
		t.Run(up.name, func(t *testing.T) { geminiCLIShellTurn(t, bin, up) })
	}
}

func geminiCLIShellTurn(t *testing.T, bin string, up agentUpstream) {
	url, model, logs := startAgentGateway(t, up)
	home, work := t.TempDir(), t.TempDir()
	// An API key as the auth type (else Gemini CLI asks how to sign in), and
	// no telemetry or usage statistics: the gateway is the only server the
	// run talks to.
	settings := `{"security": {"auth": {"selectedType": "gemini-api-key"}}, "telemetry": {"enabled": false}, "privacy": {"usageStatisticsEnabled": false}}`
	if err := os.Mkdir(filepath.Join(home, ".gemini"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".gemini", "settings.json"), []byte(settings), 0o600); err != nil {
		t.Fatal(err)
	}
	env := agentEnv(home,
		// The gateway's root: Gemini CLI appends /v1beta/models/... itself.
		"GOOGLE_GEMINI_BASE_URL="+url,
		"GEMINI_API_KEY="+agentKey,
		// Headless runs refuse an untrusted folder.
		"GEMINI_CLI_TRUST_WORKSPACE=true",
	)
	// Headless, the default approval mode leaves every tool that needs a
	// confirmation (run_shell_command among them) out of the declarations;
	// yolo declares and runs them. The command only writes into the test's
	// own temporary directory.
	stdout, stderr, err := runAgent(t, work, env, bin,
		"-m", agentModelID, "-p", agentPrompt, "--approval-mode", "yolo", "--output-format", "json")
	report := func() string {
		return fmt.Sprintf("gemini stdout:\n%s\ngemini stderr:\n%s\n%sgateway log:\n%s", stdout, stderr, model.describe(), logs)
	}
	if err != nil {
		t.Fatalf("gemini -p: %v\n%s", err, report())
	}
	var result struct {
		Response string `json:"response"`
		Error    any    `json:"error"`
	}
	if err := json.Unmarshal([]byte(stdout), &result); err != nil {
		t.Fatalf("gemini -p --output-format json printed no result: %v\n%s", err, report())
	}
	if result.Error != nil {
		t.Errorf("gemini reports an error: %v\n%s", result.Error, report())
	}
	checkAgentTurn(t, work, model, logs, cmp.Or(up.resultID, "run_shell_command"), result.Response, report)
}

// checkAgentRequests asserts that the gateway answered every generation
// request of the agent with 200: agents retry some errors on their own
// (Claude Code answers a 400 by retrying with features stripped, Codex
// retries five times), so a turn that completes may still hide a refusal.
// The access line of a request is written after its answer and batched
// (up to 100 ms), so the agent may exit before the line of its last request
// is in the log: wait for one line per request the model saw.
func checkAgentRequests(t *testing.T, logs *lockedBuffer, modelRequests int, report func() string) {
	t.Helper()
	want := max(modelRequests, 2)
	var lines []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		lines = lines[:0]
		for line := range strings.Lines(logs.String()) {
			if strings.Contains(line, "msg=request ") && strings.Contains(line, "method=POST") {
				lines = append(lines, line)
			}
		}
		if len(lines) >= want || time.Now().After(deadline) {
			break
		}
	}
	for _, line := range lines {
		if !strings.Contains(line, " status=200 ") || !strings.Contains(line, " key=agent ") {
			t.Errorf("the gateway refused a request of the agent, or took it without its key: %s\n%s", line, report())
		}
	}
	if len(lines) < want {
		t.Errorf("the gateway logged %d generation requests, want at least %d\n%s", len(lines), want, report())
	}
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
