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

// textMembers are the quoted names of the members whose string values are
// model output in an OpenAI stream chunk: Chat Completions delta content,
// reasoning (reasoning_content, or reasoning on OpenRouter and newer vLLM),
// tool call arguments, the text of a legacy completion, a refusal. Content
// comes first: nearly every chunk carries it and nothing else.
var textMembers = [][]byte{[]byte(`"content"`), []byte(`"reasoning_content"`), []byte(`"reasoning"`),
	[]byte(`"arguments"`), []byte(`"text"`), []byte(`"refusal"`)}

// ChunkTextBytes counts the bytes of the model's text in an OpenAI stream
// chunk without decoding it: the string value of the first of each of
// textMembers, as written (escapes included). A quoted name cannot occur
// inside a JSON string (its quotes would be escaped), so a match is a
// member name or a string value, which no colon follows. It runs on every
// chunk of every stream, so it is a few vectorized searches, not a parse;
// it is an estimate's input, so it need not be exact (a chunk with several
// choices or tool calls counts the first of each).
func ChunkTextBytes(data []byte) int {
	n := 0
	for i, name := range textMembers {
		j := bytes.Index(data, name)
		if j < 0 {
			continue
		}
		n += stringValueLen(data, j+len(name))
		if i == 0 && n > 0 {
			return n
		}
	}
	return n
}

// stringValueLen returns the length, as written, of the JSON string value
// that follows a member name ending before at (`: "..."`); 0 when what
// follows is not a colon and a complete string.
func stringValueLen(data []byte, at int) int {
	at = skipSpace(data, at)
	if at >= len(data) || data[at] != ':' {
		return 0
	}
	at = skipSpace(data, at+1)
	if at >= len(data) || data[at] != '"' {
		return 0
	}
	end := stringEnd(data, at+1)
	if end < 0 {
		return 0
	}
	return end - at - 1
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
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
