package api_test

import (
	"context"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
)

// A template without token paths reports estimated usage, one token per 4
// bytes like a process model (the body sent for the prompt, the answer text
// for the completion), never zeros that read like real counts; the access
// log marks the estimate, and does not for an upstream's own counts.
func TestTemplateUsageIsEstimated(t *testing.T) {
	up := newRecordingAPI(t) // answers {"output":{"text":"ok"}}, no counts
	g := startGateway(t, gatewayOptions{extraModels: templateEntry("tpl", up.URL, `{"p": "{{prompt}}"}`, "") + "," +
		processEntry(t, "local", "words", `"retries": 0`)})
	c := g.client(t)
	ctx := context.Background()

	// The body sent is {"p":"Hello there, model"}: 26 bytes, 7 tokens;
	// "ok" is 1.
	resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "tpl", Messages: userMessage("Hello there, model")})
	if err != nil {
		t.Fatal(err)
	}
	if u := resp.Usage; u.PromptTokens != 7 || u.CompletionTokens != 1 || u.TotalTokens != 8 {
		t.Errorf("usage = %d/%d/%d, want the estimate 7/1/8", u.PromptTokens, u.CompletionTokens, u.TotalTokens)
	}

	stream := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "tpl", Messages: userMessage("Hello there, model"),
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}})
	var last openai.ChatCompletionChunk
	for stream.Next() {
		last = stream.Current()
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if u := last.Usage; u.PromptTokens != 7 || u.CompletionTokens != 1 {
		t.Errorf("stream usage = %d/%d, want the estimate 7/1", u.PromptTokens, u.CompletionTokens)
	}

	if _, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "local", Messages: userMessage("one two")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat", Messages: userMessage("hi")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "four access lines", func() bool { return strings.Count(g.logs.String(), "msg=request ") == 4 })
	for _, line := range strings.Split(g.logs.String(), "\n") {
		if !strings.Contains(line, "msg=request ") {
			continue
		}
		upstreamCounts := strings.Contains(line, "model=chat ")
		if estimated := strings.Contains(line, "usage_estimated=true"); estimated == upstreamCounts || !strings.Contains(line, "prompt_tokens=") {
			t.Errorf("access line with usage_estimated=%v, want %v and token counts:\n%s", estimated, !upstreamCounts, line)
		}
	}
}
