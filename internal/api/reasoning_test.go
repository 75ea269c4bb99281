package api_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"
	"github.com/tidwall/gjson"

	"aigateway/internal/mockllm"
)

// Reasoning through the Chat IR (README "Reasoning") end to end.

// TestResponsesReasoningFromAnthropic: openai-go's Responses client on an
// Anthropic deployment with reasoning.effort gets the thinking as summary
// deltas and a reasoning item; replayed statelessly (store: false,
// encrypted_content included), the thinking block goes back to the
// Anthropic upstream with its signature, leading the assistant turn.
func TestResponsesReasoningFromAnthropic(t *testing.T) {
	const thought = "The user asks about Paris."
	var replaying atomic.Bool
	g := startGateway(t, gatewayOptions{extraModels: responsesModels(), mock: mockllm.Options{
		Script: func(_ int64, _ *http.Request, d *mockllm.Directive) {
			if !replaying.Load() {
				d.Reasoning, d.ReasoningSignature = thought, "EqSignedByClaude=="
			}
		}}})
	c := g.client(t)
	for _, stream := range []bool{false, true} {
		replaying.Store(false)
		p := responses.ResponseNewParams{
			Model:     "claude",
			Store:     openai.Bool(false),
			Include:   []responses.ResponseIncludable{responses.ResponseIncludableReasoningEncryptedContent},
			Reasoning: shared.ReasoningParam{Effort: shared.ReasoningEffortLow},
			Input:     responses.ResponseNewParamsInputUnion{OfString: openai.String("Where is Paris?")},
		}
		var summary strings.Builder
		var final *responses.Response
		if stream {
			st := c.Responses.NewStreaming(context.Background(), p)
			for st.Next() {
				ev := st.Current()
				switch ev.Type {
				case "response.reasoning_summary_text.delta":
					summary.WriteString(ev.Delta)
				case "response.completed":
					r := ev.Response
					final = &r
				}
			}
			if err := st.Err(); err != nil {
				t.Fatal(err)
			}
			st.Close()
			if summary.String() != thought {
				t.Errorf("summary deltas %q, want %q", summary.String(), thought)
			}
		} else {
			r, err := c.Responses.New(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			final = r
		}
		up := g.lastUpstream(t)
		if th := gjson.GetBytes(up.Body, "thinking"); th.Get("type").Str != "enabled" || th.Get("budget_tokens").Int() != 2048 {
			t.Errorf("stream %v: the Anthropic upstream got thinking %s", stream, th.Raw)
		}
		if final == nil || len(final.Output) < 2 || final.Output[0].Type != "reasoning" {
			t.Fatalf("stream %v: output %+v", stream, final)
		}
		rs := final.Output[0].AsReasoning()
		if len(rs.Summary) != 1 || rs.Summary[0].Text != thought || rs.EncryptedContent == "" {
			t.Fatalf("stream %v: reasoning item %s", stream, rs.RawJSON())
		}

		// The replay: the reasoning and message items back, then a new question.
		replaying.Store(true)
		replayed := responses.ResponseInputItemParamOfReasoning(rs.ID, []responses.ResponseReasoningItemSummaryParam{{Text: rs.Summary[0].Text}})
		replayed.OfReasoning.EncryptedContent = openai.String(rs.EncryptedContent)
		input := responses.ResponseInputParam{
			responses.ResponseInputItemParamOfMessage("Where is Paris?", responses.EasyInputMessageRoleUser),
			replayed,
			responses.ResponseInputItemParamOfMessage(final.OutputText(), responses.EasyInputMessageRoleAssistant),
			responses.ResponseInputItemParamOfMessage("And Rome?", responses.EasyInputMessageRoleUser),
		}
		p.Input = responses.ResponseNewParamsInputUnion{OfInputItemList: input}
		if _, err := c.Responses.New(context.Background(), p); err != nil {
			t.Fatalf("replay: %v", err)
		}
		block := gjson.GetBytes(g.lastUpstream(t).Body, "messages.1.content.0")
		if gjson.GetBytes(g.lastUpstream(t).Body, "messages.1.role").Str != "assistant" || block.Get("type").Str != "thinking" ||
			block.Get("thinking").Str != thought || block.Get("signature").Str != "EqSignedByClaude==" {
			t.Errorf("stream %v: the replay reached the upstream as %s", stream, g.lastUpstream(t).Body)
		}
		// To another deployment, the thinking is dropped.
		p.Model = "gemini"
		if _, err := c.Responses.New(context.Background(), p); err != nil {
			t.Fatalf("replay to gemini: %v", err)
		}
		if body := g.lastUpstream(t).Body; strings.Contains(string(body), thought) {
			t.Errorf("stream %v: Claude's thinking reached Gemini: %s", stream, body)
		}
	}
}

// TestMessagesThinkingFromGemini: the Anthropic SDK on a Gemini deployment
// with thinking enabled gets Gemini's thoughts as a signed thinking block,
// stream and not; the upstream was asked for its thoughts (a budget of
// 4000 is low effort: 1024 tokens for Gemini).
func TestMessagesThinkingFromGemini(t *testing.T) {
	const thought = "Thinking about greetings."
	var directive atomic.Pointer[mockllm.Directive]
	g := messagesGateway(t, &directive)
	client := anthropicClient(t, g)
	directive.Store(&mockllm.Directive{Reasoning: thought})
	for _, stream := range []bool{false, true} {
		params := anthropic.MessageNewParams{Model: "gem", MaxTokens: 8000,
			Thinking: anthropic.ThinkingConfigParamOfEnabled(4000),
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}}
		msg := sendMessage(t, context.Background(), client, params, stream)
		if len(msg.Content) != 2 || msg.Content[0].Type != "thinking" || msg.Content[0].Thinking != thought ||
			!strings.HasPrefix(msg.Content[0].Signature, "aigw1.") || msg.Content[1].Type != "text" {
			t.Fatalf("stream %v: content %+v", stream, msg.Content)
		}
		if tc := gjson.GetBytes(g.lastUpstream(t).Body, "generationConfig.thinkingConfig"); !tc.Get("includeThoughts").Bool() || tc.Get("thinkingBudget").Int() != 1024 {
			t.Errorf("stream %v: Gemini got thinkingConfig %s", stream, tc.Raw)
		}
	}
}
