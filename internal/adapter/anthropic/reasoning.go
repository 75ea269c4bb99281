package anthropic

import (
	"strings"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
)

// thinkingBudgets maps reasoning_effort to thinking.budget_tokens. They
// follow the budgets Gemini's adapter uses (low 1K... high 24K) with
// Anthropic's minimum budget of 1024 for minimal and a doubled low, as
// Claude thinks less densely; "none" leaves thinking off, as Anthropic does
// by default.
var thinkingBudgets = map[string]int64{
	"minimal": 1024,
	"low":     2048,
	"medium":  8192,
	"high":    24576,
}

// minThinkingBudget is the smallest budget_tokens Anthropic accepts.
const minThinkingBudget = 1024

// redactedPrefix marks, in reasoning_signature, the data of a
// redacted_thinking block: Anthropic's encrypted reasoning, which has no
// text and goes back as the same block.
const redactedPrefix = "redacted:"

// ReasoningAsked reports whether a chat request asks for the model's
// reasoning: reasoning_effort set to anything but "none". Only then do the
// adapters turn thinking on and return reasoning_content, so that a client
// that did not ask sees no field it does not know.
func ReasoningAsked(req *openai.ChatRequest) bool {
	return req.ReasoningEffort != "" && req.ReasoningEffort != "none"
}

// convertThinking turns extended thinking on for reasoning_effort. The
// budget must be below max_tokens: a client that set no limit gets the
// budget on top of the default answer length; a client whose limit is not
// above the budget gets half its limit as budget (at least 1024), and its
// limit raised by the budget when even that does not fit. Anthropic refuses
// temperature (other than 1) and top_p below 0.95 with thinking, and a
// forced tool choice: the sampling parameters are dropped (see
// thinkingDrops), and a forced tool choice leaves thinking off, since the
// client's choice of tool is the stronger request.
func convertThinking(req *openai.ChatRequest, out *request) *adapter.Error {
	if !ReasoningAsked(req) {
		return nil
	}
	budget, ok := thinkingBudgets[req.ReasoningEffort]
	if !ok {
		return invalid("reasoning_effort", "invalid_value",
			"reasoning_effort %q is not supported for Anthropic models; use none, minimal, low, medium or high", req.ReasoningEffort)
	}
	if tc := out.ToolChoice; tc != nil && (tc.Type == "any" || tc.Type == "tool") {
		return nil
	}
	if unsignedToolTurn(req.Messages) {
		return nil
	}
	switch {
	case req.MaxOutputTokens() == nil:
		out.MaxTokens += budget
	case out.MaxTokens <= budget:
		budget = max(out.MaxTokens/2, minThinkingBudget)
		if out.MaxTokens <= budget {
			out.MaxTokens += budget
		}
	}
	out.Thinking = &thinking{Type: "enabled", BudgetTokens: budget}
	if t := out.Temperature; t != nil && *t != 1 {
		out.Temperature = nil
	}
	if out.TopP != nil && *out.TopP < 0.95 {
		out.TopP = nil
	}
	return nil
}

// unsignedToolTurn reports whether the conversation continues a tool turn
// (an assistant message with tool calls, followed by tool results only)
// whose thinking was not replayed. Anthropic refuses such a request with
// thinking on (the turn must start with its thinking block), whereas a
// turn without thinking may go on with thinking off: a client that could
// not keep the signature (one that replays no reasoning) still gets its
// answer.
func unsignedToolTurn(msgs []openai.Message) bool {
	for i := len(msgs) - 1; i >= 0; i-- {
		switch m := &msgs[i]; m.Role {
		case "tool":
		case "assistant":
			return len(m.ToolCalls) > 0 && m.ReasoningSignature == ""
		default:
			return false
		}
	}
	return false
}

// thinkingDrops names the parameters of req that convertThinking left out
// of body's request, for the log.
func thinkingDrops(req *openai.ChatRequest, out *request) []string {
	if out.Thinking == nil {
		return nil
	}
	var names []string
	if t := req.Temperature; t != nil && *t != 1 {
		names = append(names, "temperature")
	}
	if p := req.TopP; p != nil && *p < 0.95 {
		names = append(names, "top_p")
	}
	return names
}

// reasoningBlocks returns the thinking blocks that an assistant message
// replays: reasoning_signature holds, separated by spaces, the signature of
// each thinking block and "redacted:" + the data of each redacted_thinking
// block, in order. The text of reasoning_content belongs to the one
// thinking block; with several (interleaved thinking, a beta that converted
// requests do not ask for) it cannot be split back and nothing is replayed.
// Reasoning without a signature (another upstream's) is dropped: Anthropic
// accepts only its own.
func reasoningBlocks(m openai.Message) []block {
	if m.ReasoningSignature == "" {
		return nil
	}
	tokens := strings.Fields(m.ReasoningSignature)
	var out []block
	signed := 0
	for _, tok := range tokens {
		if data, ok := strings.CutPrefix(tok, redactedPrefix); ok {
			out = append(out, block{Type: "redacted_thinking", Data: data})
			continue
		}
		signed++
		text := m.ReasoningContent
		out = append(out, block{Type: "thinking", Thinking: &text, Signature: tok})
	}
	if signed > 1 {
		return nil
	}
	return out
}

// signatures joins the signatures of thinking blocks as reasoning_signature
// carries them.
type signatures struct{ b strings.Builder }

func (s *signatures) add(sig string) string {
	if sig == "" {
		return ""
	}
	if s.b.Len() > 0 {
		sig = " " + sig
	}
	s.b.WriteString(sig)
	return sig
}
