package gemini

import (
	"aigateway/internal/adapter"
	"aigateway/internal/openai"
)

// usageTotals is Gemini usageMetadata as it stands after the events seen so
// far. Stream chunks carry running totals, so each count present overwrites
// the last one; a missing count keeps it.
type usageTotals struct {
	prompt, candidates, thoughts, cached, total int64
	hasTotal                                    bool
	// hasPrompt and hasCandidates: the counts were reported, so a stream
	// cut short need not estimate them.
	hasPrompt, hasCandidates bool
}

func (u *usageTotals) update(m *usageMetadata) {
	if m == nil {
		return
	}
	set := func(dst *int64, v *int64) {
		if v != nil {
			*dst = *v
		}
	}
	set(&u.prompt, m.PromptTokenCount)
	set(&u.candidates, m.CandidatesTokenCount)
	u.hasPrompt = u.hasPrompt || m.PromptTokenCount != nil
	u.hasCandidates = u.hasCandidates || m.CandidatesTokenCount != nil
	set(&u.thoughts, m.ThoughtsTokenCount)
	set(&u.cached, m.CachedContentTokenCount)
	if m.TotalTokenCount != nil {
		u.total, u.hasTotal = *m.TotalTokenCount, true
	}
}

// openai returns the OpenAI usage (PROTOCOLS.md 6.4). Thinking tokens are
// output tokens in OpenAI's accounting (completion_tokens includes
// reasoning_tokens) but not in Gemini's candidatesTokenCount, so they are
// added; leaving them out undercounts by the whole thinking budget.
// promptTokenCount already includes cached content.
func (u *usageTotals) openai() openai.Usage {
	completion := u.candidates + u.thoughts
	total := u.total
	if !u.hasTotal {
		total = u.prompt + completion
	}
	return openai.Usage{
		PromptTokens:            u.prompt,
		CompletionTokens:        completion,
		TotalTokens:             total,
		PromptTokensDetails:     &openai.PromptTokensDetails{CachedTokens: u.cached},
		CompletionTokensDetails: &openai.CompletionTokensDetails{ReasoningTokens: u.thoughts},
	}
}

func (u *usageTotals) adapter() adapter.Usage {
	o := u.openai()
	return adapter.Usage{PromptTokens: o.PromptTokens, CompletionTokens: o.CompletionTokens, TotalTokens: o.TotalTokens,
		CachedTokens: u.cached, ReasoningTokens: u.thoughts}
}
