package anthropic

import (
	"encoding/json"
	"fmt"
	"net/http"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
	"aigateway/internal/sse"
)

// NewTranslator returns the stream translator for one streamed request
// (PROTOCOLS.md 6.5). includeUsage adds the final usage chunk
// (stream_options.include_usage); created goes into every chunk.
func NewTranslator(includeUsage bool, created int64) adapter.Translator {
	return NewTranslatorOptions(TranslatorOptions{IncludeUsage: includeUsage, Created: created})
}

// TranslatorOptions configure NewTranslatorOptions.
type TranslatorOptions struct {
	IncludeUsage bool  // add the final usage chunk
	Created      int64 // the chunks' "created"
	// Reasoning sends thinking as delta.reasoning_content and the
	// signatures (and redacted_thinking data) as delta.reasoning_signature,
	// for a request that asked for reasoning; else thinking is dropped.
	Reasoning bool
	// PromptBytes is the size of the body sent upstream, from which the
	// prompt tokens of a stream cut before message_start are estimated.
	PromptBytes int
}

// NewTranslatorOptions returns the stream translator for one streamed
// request.
func NewTranslatorOptions(o TranslatorOptions) adapter.Translator {
	return &translator{w: openai.ChunkWriter{Created: o.Created}, includeUsage: o.IncludeUsage, reasoning: o.Reasoning, tools: map[int]*toolBlock{},
		promptBytes: o.PromptBytes}
}

// translator turns Messages API stream events into OpenAI chunks.
type translator struct {
	w            openai.ChunkWriter // id and model are set by message_start
	includeUsage bool
	reasoning    bool       // send thinking (TranslatorOptions.Reasoning)
	sigs         signatures // the reasoning signatures sent so far

	started  bool // message_start was seen
	finished bool // the finish chunk was sent
	done     bool // message_stop was seen

	// tools maps a content block index to its tool call. OpenAI's tool index
	// counts tool calls only (0, 1, ...), whereas Anthropic's block index
	// counts text blocks too; mixing them up broke parallel calls in litellm
	// (#5231) and bifrost (#1961).
	tools    map[int]*toolBlock
	nextTool int

	usage counts
	// finalOutput: a message_delta reported output_tokens. Until then the
	// output count is message_start's placeholder (often 1), and a cut
	// stream's output is estimated from textBytes instead.
	finalOutput bool
	// textBytes counts the text, thinking and tool input streamed so far;
	// promptBytes is the request body's size (TranslatorOptions).
	textBytes, promptBytes int

	// malformed is an event that was not JSON. It is reported by the next
	// call: by Event as a malformed stream, by End as a cut stream, since the
	// SSE reader hands over an event cut off by EOF as if it were complete.
	malformed error
}

// toolBlock is an open or finished tool_use block.
type toolBlock struct {
	index   int             // OpenAI tool call index
	input   json.RawMessage // the input of content_block_start
	gotArgs bool            // a non-empty input_json_delta was sent
}

// Event handles one upstream event. Every well-formed event shows the
// upstream at work, a ping or a thinking delta included; one that is not
// JSON is judged by the next call (see malformed), and must not start the
// stream meanwhile.
func (t *translator) Event(ev sse.Event) (adapter.Output, error) {
	chunks, done, err := t.event(ev)
	return adapter.Output{Chunks: chunks, Done: done, Alive: t.malformed == nil}, err
}

// event converts one upstream event. The event type is read from the data
// (compatible servers may leave out the event: line); an event named
// "error" is an error whatever its data says.
func (t *translator) event(ev sse.Event) ([][]byte, bool, error) {
	if t.done {
		return nil, true, nil // nothing may follow message_stop
	}
	if t.malformed != nil {
		return nil, false, badUpstream("the upstream sent a malformed stream event", t.malformed)
	}
	var e streamEvent
	fast := false
	if t.started && string(ev.Name) != "error" {
		e, fast = fastEvent(ev.Data)
	}
	if !fast {
		if err := adapter.DecodeJSON(ev.Data, &e); err != nil {
			t.malformed = err
			return nil, false, nil
		}
	}
	if string(ev.Name) == "error" || e.Type == "error" {
		if e.Error == nil {
			e.Error = &apiError{Type: "api_error"}
		}
		return nil, false, streamError(e.Error)
	}
	if !t.started && e.Type != "message_start" && e.Type != "ping" && isKnown(e.Type) {
		return nil, false, badUpstream(fmt.Sprintf("the upstream sent %s before message_start", e.Type), nil)
	}
	switch e.Type {
	case "message_start":
		return t.messageStart(&e), false, nil
	case "content_block_start":
		return t.blockStart(&e), false, nil
	case "content_block_delta":
		return t.blockDelta(&e), false, nil
	case "content_block_stop":
		return t.blockStop(&e), false, nil
	case "message_delta":
		return t.messageDelta(&e), false, nil
	case "message_stop":
		t.done = true
		var out [][]byte
		if !t.finished { // a stream without message_delta still ends properly
			out = append(out, t.finish(nil))
		}
		if t.includeUsage {
			out = append(out, t.w.Usage(t.usage.openai()))
		}
		return out, true, nil
	}
	// ping and event types added after this was written carry nothing a
	// Chat Completions client could use (the TS SDK skips unknown ones too).
	return nil, false, nil
}

// plainInt reports whether raw is a small non-negative integer literal.
func plainInt(raw string) bool {
	if raw == "" || len(raw) > 9 {
		return false
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] < '0' || raw[i] > '9' {
			return false
		}
	}
	return true
}

func isKnown(typ string) bool {
	switch typ {
	case "message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop":
		return true
	}
	return false
}

func (t *translator) messageStart(e *streamEvent) [][]byte {
	if t.started || e.Message == nil {
		return nil
	}
	t.started = true
	t.w.ID, t.w.Model = "chatcmpl-"+e.Message.ID, e.Message.Model
	t.usage.assign(&e.Message.Usage)
	return [][]byte{t.w.Role()}
}

func (t *translator) blockStart(e *streamEvent) [][]byte {
	cb := e.ContentBlock
	if cb == nil {
		return nil
	}
	switch cb.Type {
	case "text":
		t.textBytes += len(cb.Text)
		if cb.Text != "" {
			return [][]byte{t.w.Content(cb.Text)}
		}
	case "tool_use":
		if _, dup := t.tools[e.Index]; dup {
			return nil
		}
		tb := &toolBlock{index: t.nextTool, input: cb.Input}
		t.nextTool++
		t.tools[e.Index] = tb
		return [][]byte{t.toolDelta(openai.ToolCall{Index: &tb.index, ID: cb.ID, Type: "function",
			Function: openai.FunctionCall{Name: cb.Name}})}
	case "thinking":
		t.textBytes += len(cb.Thinking)
		return t.thinking(cb.Thinking, cb.Signature)
	case "redacted_thinking":
		if cb.Data != "" {
			return t.thinking("", redactedPrefix+cb.Data)
		}
	}
	return nil // server tools
}

// thinking returns the chunk adding reasoning text and a signature, or
// nothing when the request did not ask for reasoning.
func (t *translator) thinking(text, sig string) [][]byte {
	if !t.reasoning || (text == "" && sig == "") {
		return nil
	}
	d := openai.Delta{ReasoningSignature: t.sigs.add(sig)}
	if text != "" {
		d.ReasoningContent = &text
	}
	return [][]byte{t.w.Delta(d)}
}

func (t *translator) blockDelta(e *streamEvent) [][]byte {
	d := e.Delta
	if d == nil {
		return nil
	}
	t.textBytes += len(d.Text) + len(d.PartialJSON) + len(d.Thinking)
	switch d.Type {
	case "text_delta":
		if d.Text != "" {
			return [][]byte{t.w.Content(d.Text)}
		}
	case "input_json_delta":
		// The first fragment is often "" (PROTOCOLS.md 4.5): skipping it
		// saves a chunk that adds nothing.
		tb := t.tools[e.Index]
		if tb == nil || d.PartialJSON == "" {
			return nil
		}
		tb.gotArgs = true
		return [][]byte{t.toolDelta(openai.ToolCall{Index: &tb.index, Function: openai.FunctionCall{Arguments: d.PartialJSON}})}
	case "thinking_delta":
		return t.thinking(d.Thinking, "")
	case "signature_delta":
		return t.thinking("", d.Signature)
	}
	return nil // citations_delta
}

// blockStop completes a tool call that got no argument fragment: its input is
// the one of content_block_start, normally {} (the Go SDK's Accumulate does
// the same). Clients that parse the arguments would fail on "".
func (t *translator) blockStop(e *streamEvent) [][]byte {
	tb := t.tools[e.Index]
	if tb == nil || tb.gotArgs {
		return nil
	}
	tb.gotArgs = true
	return [][]byte{t.toolDelta(openai.ToolCall{Index: &tb.index, Function: openai.FunctionCall{Arguments: compactInput(tb.input)}})}
}

func (t *translator) messageDelta(e *streamEvent) [][]byte {
	if e.Usage != nil {
		t.usage.assign(e.Usage)
		t.finalOutput = t.finalOutput || e.Usage.OutputTokens != nil
	}
	if t.finished || e.Delta == nil || e.Delta.StopReason == nil {
		return nil
	}
	return [][]byte{t.finish(e.Delta.StopReason)}
}

func (t *translator) finish(reason *string) []byte {
	t.finished = true
	return t.w.Finish(finishReason(reason))
}

func (t *translator) toolDelta(tc openai.ToolCall) []byte {
	return t.w.Delta(openai.Delta{ToolCalls: []openai.ToolCall{tc}})
}

// End reports a stream that stopped without message_stop as cut short.
func (t *translator) End() ([][]byte, error) {
	if t.done {
		return nil, nil
	}
	e := adapter.Errorf(http.StatusBadGateway, openai.TypeUpstream, "stream_incomplete",
		"the upstream ended the stream before it was complete (no message_stop)")
	e.Cause = t.malformed
	return nil, e
}

// Usage returns the usage known so far, with the counts the upstream has
// not reported yet (a stream cut short) estimated: the prompt before
// message_start, the output before message_delta.
func (t *translator) Usage() adapter.Usage {
	c := adapter.StreamCounts{Reported: t.usage.adapter(), PromptKnown: t.started, CompletionKnown: t.finalOutput,
		PromptBytes: t.promptBytes, TextBytes: t.textBytes}
	return c.Usage()
}

var _ adapter.Translator = (*translator)(nil)
