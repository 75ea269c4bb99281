package geminiapi

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"aigateway/internal/adapter"
	"aigateway/internal/inbound"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var (
	openaiTarget    = inbound.Target{Upstream: adapter.ProtocolChat, Deployment: "gpt", MaxOutputTokens: 16384}
	anthropicTarget = inbound.Target{Upstream: adapter.ProtocolMessages, Deployment: "claude"}
	geminiTarget    = inbound.Target{Upstream: adapter.ProtocolGemini, Deployment: "gemini"}
)

var targets = map[string]inbound.Target{"openai": openaiTarget, "anthropic": anthropicTarget, "gemini": geminiTarget}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkGolden compares got with testdata/name, after indenting JSON for a
// readable file. With -update it writes the file instead.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s (-want +got):\n%s", name, d)
	}
}

func indent(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatalf("not valid JSON: %v\n%s", err, b)
	}
	return append(out.Bytes(), '\n')
}

func parse(t *testing.T, body []byte, stream bool) inbound.Request {
	t.Helper()
	req, err := ParseGemini(body, "client-model", stream)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestChatGolden converts each request, the Gemini CLI captures among them,
// for each kind of target.
func TestChatGolden(t *testing.T) {
	for _, in := range []string{"gemini-cli-1-first-turn", "gemini-cli-2-tool-result", "features"} {
		for tname, target := range targets {
			t.Run(in+"/"+tname, func(t *testing.T) {
				req := parse(t, readFile(t, in+".json"), true)
				got, err := req.Chat(target)
				if err != nil {
					t.Fatal(err)
				}
				checkGolden(t, in+".chat-"+tname+".json", indent(t, got))
			})
		}
	}
}

func TestResponseGolden(t *testing.T) {
	for _, tc := range []struct{ in, request, golden string }{
		{"openai-chat-response.json", `{"contents":[{"parts":[{"text":"hi"}]}]}`, "openai-chat-response.gemini.json"},
		{"reasoning-response.json", `{"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"thinkingConfig":{"includeThoughts":true}}}`, "reasoning-response.gemini.json"},
		{"reasoning-response.json", `{"contents":[{"parts":[{"text":"hi"}]}]}`, "reasoning-response.nothoughts.gemini.json"},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			req := parse(t, []byte(tc.request), false)
			got, err := req.Response(openaiTarget, readFile(t, tc.in))
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tc.golden, indent(t, got))
		})
	}
}

// sseData returns the data of each event of an SSE file, [DONE] left out.
func sseData(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for _, line := range strings.Split(string(b), "\n") {
		data, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		out = append(out, []byte(data))
	}
	if len(out) == 0 {
		t.Fatal("no events")
	}
	return out
}

// runStream feeds the chunks to a stream and returns its elements, one
// JSON per line.
func runStream(t *testing.T, s inbound.Stream, chunks [][]byte) []byte {
	t.Helper()
	var out []byte
	add := func(cs []adapter.Chunk) {
		for _, c := range cs {
			if len(c.Event) != 0 || c.Comment {
				t.Errorf("chunk with an event name or a comment: %+v", c)
			}
			if !json.Valid(c.Data) {
				t.Fatalf("element is not JSON: %s", c.Data)
			}
			out = append(append(out, c.Data...), '\n')
		}
	}
	for _, c := range chunks {
		cs, err := s.Chunk(c)
		if err != nil {
			t.Fatal(err)
		}
		add(cs)
	}
	add(s.End())
	return out
}

func TestStreamGolden(t *testing.T) {
	for _, tc := range []struct{ in, request, golden string }{
		{"stub-chat-text.sse", `{"contents":[{"parts":[{"text":"hi"}]}]}`, "stub-chat-text.gemini.jsonl"},
		{"stub-chat-tool_calls.sse", `{"contents":[{"parts":[{"text":"hi"}]}]}`, "stub-chat-tool_calls.gemini.jsonl"},
		{"openai-chat-stream-toolcalls.sse", `{"contents":[{"parts":[{"text":"hi"}]}]}`, "openai-chat-stream-toolcalls.gemini.jsonl"},
		{"reasoning-tools.sse", `{"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"thinkingConfig":{"includeThoughts":true}}}`, "reasoning-tools.gemini.jsonl"},
		{"reasoning-tools.sse", `{"contents":[{"parts":[{"text":"hi"}]}]}`, "reasoning-tools.nothoughts.gemini.jsonl"},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			req := parse(t, []byte(tc.request), true)
			got := runStream(t, req.NewStream(openaiTarget), sseData(t, readFile(t, tc.in)))
			checkGolden(t, tc.golden, got)
		})
	}
}
