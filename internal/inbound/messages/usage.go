package messages

import (
	"strconv"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
)

// usage is a Chat Completions usage in the terms Anthropic splits it into
// (PROTOCOLS.md 6.4): input excludes the cached parts.
type usage struct {
	prompt, completion int64 // as the upstream reported them
	cacheRead          int64 // prompt_tokens_details.cached_tokens
	cacheWrite         int64 // prompt_tokens_details.cache_write_tokens
	reasoning          int64 // completion_tokens_details.reasoning_tokens
	known              bool  // the upstream reported a prompt count
	knownOutput        bool
}

// read assigns the counts a usage object carries.
func (u *usage) read(v gjson.Result) {
	if !v.IsObject() {
		return
	}
	if p := v.Get("prompt_tokens"); p.Type == gjson.Number {
		u.prompt, u.known = p.Int(), true
	}
	if c := v.Get("completion_tokens"); c.Type == gjson.Number {
		u.completion, u.knownOutput = c.Int(), true
	}
	if c := v.Get("prompt_tokens_details.cached_tokens"); c.Type == gjson.Number {
		u.cacheRead = c.Int()
	}
	if c := v.Get("prompt_tokens_details.cache_write_tokens"); c.Type == gjson.Number {
		u.cacheWrite = c.Int()
	}
	if c := v.Get("completion_tokens_details.reasoning_tokens"); c.Type == gjson.Number {
		u.reasoning = c.Int()
	}
}

// input is Anthropic's input_tokens: the prompt without its cached parts.
func (u *usage) input() int64 {
	n := u.prompt - u.cacheRead - u.cacheWrite
	if n < 0 {
		n = 0
	}
	return n
}

// appendAnthropic appends the members of an Anthropic usage object
// (without braces).
func (u *usage) appendAnthropic(b []byte, input, output int64) []byte {
	b = append(b, `"input_tokens":`...)
	b = strconv.AppendInt(b, input, 10)
	b = append(b, `,"cache_creation_input_tokens":`...)
	b = strconv.AppendInt(b, u.cacheWrite, 10)
	b = append(b, `,"cache_read_input_tokens":`...)
	b = strconv.AppendInt(b, u.cacheRead, 10)
	b = append(b, `,"output_tokens":`...)
	return strconv.AppendInt(b, output, 10)
}

// gateway returns the usage in the gateway's terms; estimate stands in for
// an unreported prompt count, outBytes for an unreported output count.
func (u *usage) gateway(estimate int64, outBytes int) adapter.Usage {
	g := adapter.Usage{PromptTokens: u.prompt, CompletionTokens: u.completion, CachedTokens: u.cacheRead, ReasoningTokens: u.reasoning}
	if !u.known {
		g.PromptTokens, g.CachedTokens, g.Estimated = estimate, 0, true
	}
	if !u.knownOutput {
		g.CompletionTokens, g.ReasoningTokens, g.Estimated = adapter.EstimateTokens(outBytes), 0, true
	}
	g.TotalTokens = g.PromptTokens + g.CompletionTokens
	return g
}
