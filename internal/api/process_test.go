package api_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
)

// A local program behind the gateway, used with the OpenAI SDK like any
// other model.
func TestProcessModel(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd, _ := json.Marshal([]string{self, "-test.run=^$", "{prompt}"})
	g := startGateway(t, gatewayOptions{extraModels: `{"id": "local", "adapter": "process", "command": ` + string(cmd) + `, "env": {"AIGW_TEST_PROGRAM": "words"}, "timeout": 20},
		{"id": "missing", "adapter": "process", "command": ["aigw-no-such-program-xyz", "{prompt}"]}`})
	c := g.client(t)
	resp, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "local", Messages: userMessage("one two three")})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Choices[0].Message.Content; got != "one two three " || resp.Choices[0].FinishReason != "stop" {
		t.Errorf("content %q, finish %q", got, resp.Choices[0].FinishReason)
	}
	stream := c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model: "local", Messages: userMessage("alpha beta gamma delta"),
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	var acc openai.ChatCompletionAccumulator
	chunks := 0
	for stream.Next() {
		acc.AddChunk(stream.Current())
		chunks++
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	stream.Close()
	if got := acc.Choices[0].Message.Content; got != "alpha beta gamma delta " || chunks < 4 || acc.Usage.TotalTokens == 0 {
		t.Errorf("stream: %q in %d chunks, usage %+v", got, chunks, acc.Usage)
	}
	status, _, body := g.do(t, "GET", "/health", "")
	if status != 200 || !strings.Contains(body, `program \"aigw-no-such-program-xyz\" not found`) {
		t.Errorf("/health does not explain the missing program: %s", body)
	}
}
