package api_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tidwall/gjson"

	"aigateway/internal/mockllm"
)

// TestChatClientCaptures replays the chat completions bodies opencode sent
// (testdata/clients, captured from the real client) against an
// OpenAI-compatible, an Anthropic and a Gemini deployment: each gets a
// well-formed answer.
func TestChatClientCaptures(t *testing.T) {
	var directive atomic.Pointer[mockllm.Directive]
	g := messagesGateway(t, &directive)
	files, _ := filepath.Glob("testdata/clients/chat-*.json")
	if len(files) == 0 {
		t.Fatal("no captures")
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			Body json.RawMessage `json:"body"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatal(err)
		}
		for _, model := range []string{"chat", "claude", "gem"} {
			t.Run(filepath.Base(f)+"/"+model, func(t *testing.T) {
				body := strings.Replace(string(c.Body), gjson.GetBytes(c.Body, "model").Raw, `"`+model+`"`, 1)
				status, _, resp := g.post(t, "/v1/chat/completions", body)
				if status != http.StatusOK {
					t.Fatalf("status %d: %s", status, resp)
				}
				if !gjson.Get(body, "stream").Bool() {
					if gjson.Get(resp, "choices.0.message").Type == gjson.Null {
						t.Errorf("answer: %s", resp)
					}
					return
				}
				if !strings.HasSuffix(resp, "data: [DONE]\n\n") || !strings.Contains(resp, `"finish_reason":"`) {
					t.Errorf("stream:\n%s", resp)
				}
			})
		}
	}
}
