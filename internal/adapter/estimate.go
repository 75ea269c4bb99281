package adapter

import "bytes"

// StreamCounts is what a stream saw of its usage: the counts the upstream
// reported, and the bytes to estimate the others from. A stream that is cut
// short (the client left, the upstream broke off) or whose upstream never
// reports usage still has a usage for the ledger and the limits, marked
// Estimated, instead of zeros that read like a free request.
type StreamCounts struct {
	// Reported are the upstream's counts, valid as far as PromptKnown and
	// CompletionKnown say.
	Reported                     Usage
	PromptKnown, CompletionKnown bool
	// PromptBytes is the size of the request body sent upstream, which
	// stands in for an unreported prompt count.
	PromptBytes int
	// TextBytes counts the text the upstream streamed so far (content,
	// reasoning, tool call arguments), which stands in for an unreported
	// completion count.
	TextBytes int
}

// Usage returns the reported usage with each unreported count estimated.
func (c *StreamCounts) Usage() Usage {
	u := c.Reported
	if c.PromptKnown && c.CompletionKnown {
		return u
	}
	if !c.PromptKnown {
		u.PromptTokens, u.CachedTokens = EstimateTokens(c.PromptBytes), 0
	}
	if !c.CompletionKnown {
		u.CompletionTokens, u.ReasoningTokens = EstimateTokens(c.TextBytes), 0
	}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	u.Estimated = true
	return u
}

// colonKey ends every member name of a JSON object (compact, or with
// spaces after the colon).
var colonKey = []byte(`":`)

var choicesKey = []byte(`"choices"`)

// ChunkTextBytes counts the bytes of the model's text in an OpenAI stream
// chunk without decoding it: the string values of its content, reasoning,
// refusal, tool argument and text members, as written (escapes included).
// It is an estimate's input, so it need not be exact: a string inside an
// array that contains `\":` may be miscounted.
func ChunkTextBytes(data []byte) int {
	// The text is inside "choices": skip the id, object and model.
	i := bytes.Index(data, choicesKey)
	if i < 0 {
		return 0
	}
	n := 0
	for i < len(data) {
		j := bytes.Index(data[i:], colonKey)
		if j < 0 {
			break
		}
		key := data[:i+j+1] // up to the name's closing quote
		v := i + j + 2
		for v < len(data) && (data[v] == ' ' || data[v] == '\t' || data[v] == '\n' || data[v] == '\r') {
			v++
		}
		if v >= len(data) || data[v] != '"' {
			i = v
			continue
		}
		end := stringEnd(data, v+1)
		if end < 0 {
			break
		}
		if isTextMember(key) {
			n += end - v - 1
		}
		i = end + 1
	}
	return n
}

// stringEnd returns the index of the quote that closes the JSON string
// whose contents start at from, or -1.
func stringEnd(data []byte, from int) int {
	for i := from; i < len(data); {
		q := bytes.IndexByte(data[i:], '"')
		if q < 0 {
			return -1
		}
		q += i
		backslashes := 0
		for k := q - 1; k >= from && data[k] == '\\'; k-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			return q
		}
		i = q + 1
	}
	return -1
}

// isTextMember reports whether the member named before a colon at the end
// of key (which ends with the name's closing quote) is model output:
// Chat Completions delta content, reasoning (reasoning_content, or
// reasoning on OpenRouter and newer vLLM), refusal, tool call arguments, or
// the text of a legacy completion.
func isTextMember(key []byte) bool {
	open := bytes.LastIndexByte(key[:len(key)-1], '"')
	if open < 0 || (open > 0 && key[open-1] == '\\') {
		return false
	}
	switch string(key[open+1 : len(key)-1]) { // no allocation: the conversion only feeds the switch
	case "content", "arguments", "reasoning_content", "reasoning", "text", "refusal":
		return true
	}
	return false
}
