package gemini

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
	"aigateway/internal/sse"
)

// NewTranslator returns the translator for one streamGenerateContent?alt=sse
// stream (PROTOCOLS.md 6.6). model is the upstream model name, replaced by
// the first event's modelVersion when it has one; includeUsage adds the
// final usage chunk; created is the chunks' Unix time.
func NewTranslator(model string, includeUsage bool, created int64) adapter.Translator {
	return NewTranslatorOptions(TranslatorOptions{Model: model, IncludeUsage: includeUsage, Created: created})
}

// TranslatorOptions configure NewTranslatorOptions.
type TranslatorOptions struct {
	Model        string // the upstream model name
	IncludeUsage bool   // add the final usage chunk
	Created      int64  // the chunks' Unix time
	// Reasoning sends thought parts as delta.reasoning_content, for a
	// request that asked for reasoning; else they are dropped.
	Reasoning bool
	// PromptBytes is the size of the body sent upstream, from which the
	// prompt tokens of a stream cut before any usageMetadata are estimated.
	PromptBytes int
}

// NewTranslatorOptions returns the translator for one stream.
func NewTranslatorOptions(o TranslatorOptions) adapter.Translator {
	return &translator{w: openai.ChunkWriter{Model: o.Model, Created: o.Created}, includeUsage: o.IncludeUsage, reasoning: o.Reasoning, cands: map[int]*candidateState{},
		promptBytes: o.PromptBytes}
}

// translator turns Gemini stream events into OpenAI chunks. Every chunk has
// the id and model fixed by the first event, and the same created.
type translator struct {
	// w writes the chunks; its id and model are set by the first event.
	w            openai.ChunkWriter
	includeUsage bool
	reasoning    bool // send thought parts (TranslatorOptions.Reasoning)

	started bool
	token   string // base of minted tool call ids
	cands   map[int]*candidateState
	usage   usageTotals
	// textBytes counts the text, thoughts and call arguments streamed so
	// far; promptBytes is the request body's size (TranslatorOptions).
	textBytes, promptBytes int
}

// candidateState is the progress of one candidate (one OpenAI choice).
type candidateState struct {
	roleSent bool // the first delta, carrying role, went out
	calls    int  // function calls so far: the next tool_calls index
	finished bool
}

// Event handles one SSE event: a GenerateContentResponse, or a Google error.
// Gemini never marks the end in band, so Done is always false; End decides.
// An event that yields nothing (thought parts only, say) is alive.
func (t *translator) Event(ev sse.Event) (adapter.Output, error) {
	chunks, err := t.event(ev)
	return adapter.Output{Chunks: chunks, Alive: true}, err
}

func (t *translator) event(ev sse.Event) ([][]byte, error) {
	data := bytes.TrimSpace(ev.Data)
	if len(data) == 0 {
		return nil, nil
	}
	var resps []generateContentResponse
	if data[0] == '[' {
		// Not SSE framing, but seen for errors; accept it anyway.
		if err := adapter.DecodeJSON(data, &resps); err != nil {
			return nil, badUpstream(err, "Gemini sent a stream event that is not valid JSON")
		}
	} else {
		// The usual event: one response, converted without a slice.
		var r generateContentResponse
		if err := decodeResponse(data, &r); err != nil {
			return nil, badUpstream(err, "Gemini sent a stream event that is not valid JSON")
		}
		return t.response(&r, data)
	}
	var chunks [][]byte
	for i := range resps {
		c, err := t.response(&resps[i], data)
		chunks = append(chunks, c...)
		if err != nil {
			return chunks, err
		}
	}
	return chunks, nil
}

// response converts one GenerateContentResponse.
func (t *translator) response(r *generateContentResponse, raw []byte) ([][]byte, error) {
	if r.Error != nil {
		return nil, inBandError(r.Error.Code, raw)
	}
	if !t.started {
		t.started = true
		t.w.ID = responseID(r.ResponseID, raw)
		t.token = idToken(r.ResponseID, raw)
		if r.ModelVersion != "" {
			t.w.Model = r.ModelVersion
		}
	}
	t.usage.update(r.UsageMetadata)
	var chunks [][]byte
	if len(r.Candidates) == 0 && r.PromptFeedback != nil && r.PromptFeedback.BlockReason != "" {
		// A blocked prompt: one event, no candidates.
		return t.finish(0, t.state(0), "content_filter"), nil
	}
	for i := range r.Candidates {
		c := &r.Candidates[i]
		idx := i
		if c.Index != nil {
			idx = *c.Index
		}
		st := t.state(idx)
		var parts []part
		if c.Content != nil {
			parts = c.Content.Parts
		}
		for j := range parts {
			t.textBytes += len(parts[j].Text)
			if fc := parts[j].FunctionCall; fc != nil {
				t.textBytes += len(fc.Name) + len(fc.Args)
			}
		}
		base := st.calls
		d, err := convertParts(parts, t.token, idx, &st.calls)
		if err != nil {
			return chunks, err
		}
		if !t.reasoning {
			d.thought = ""
		}
		if d.hasText || len(d.calls) > 0 || d.thought != "" {
			chunks = append(chunks, t.delta(idx, st, d, base, c.LogprobsResult))
		}
		if c.FinishReason != "" {
			chunks = append(chunks, t.finish(idx, st, finishReason(c.FinishReason, st.calls > 0))...)
		}
	}
	return chunks, nil
}

func (t *translator) state(idx int) *candidateState {
	st := t.cands[idx]
	if st == nil {
		st = &candidateState{}
		t.cands[idx] = st
	}
	return st
}

// delta returns the chunk adding d to choice idx. Each function call is one
// whole tool_calls entry (Gemini sends calls whole), indexed by the
// candidate's call count, which base is before d.
func (t *translator) delta(idx int, st *candidateState, d partsDelta, base int, lp *logprobsResult) []byte {
	var delta openai.Delta
	if !st.roleSent {
		delta.Role = "assistant"
		st.roleSent = true
	}
	if d.thought != "" {
		delta.ReasoningContent = &d.thought
	}
	if d.hasText {
		delta.Content = &d.text
	}
	if idx == 0 && lp == nil && len(d.calls) == 0 {
		return t.w.Delta(delta) // the usual chunk, without encoding/json
	}
	for k := range d.calls {
		n := base + k
		d.calls[k].Index = &n
	}
	delta.ToolCalls = d.calls
	return t.chunk([]openai.ChunkChoice{{Index: idx, Delta: delta, Logprobs: openaiLogprobs(lp)}}, nil)
}

// finish returns the chunks ending choice idx: the role chunk if nothing was
// sent for it yet, then an empty delta with the finish reason.
func (t *translator) finish(idx int, st *candidateState, reason string) [][]byte {
	if st.finished {
		return nil
	}
	st.finished = true
	var chunks [][]byte
	if !st.roleSent {
		st.roleSent = true
		empty := ""
		chunks = append(chunks, t.chunk([]openai.ChunkChoice{{Index: idx, Delta: openai.Delta{Role: "assistant", Content: &empty}}}, nil))
	}
	if idx == 0 {
		return append(chunks, t.w.Finish(reason))
	}
	return append(chunks, t.chunk([]openai.ChunkChoice{{Index: idx, FinishReason: &reason}}, nil))
}

func (t *translator) chunk(choices []openai.ChunkChoice, u *openai.Usage) []byte {
	b, err := json.Marshal(openai.Chunk{ID: t.w.ID, Object: "chat.completion.chunk", Created: t.w.Created, Model: t.w.Model, Choices: choices, Usage: u})
	if err != nil { // the types always encode
		panic(fmt.Sprintf("gemini: encoding a chunk: %v", err))
	}
	return b
}

// errIncomplete is the cause of the error End returns for a cut-off stream.
var errIncomplete = errors.New("gemini stream ended before every candidate had a finishReason")

// End is called at EOF, which is how Gemini ends a stream. It is a proper
// end only once every candidate has its finishReason; then the usage chunk
// follows if the client asked for it.
func (t *translator) End() ([][]byte, error) {
	complete := len(t.cands) > 0
	for _, st := range t.cands {
		complete = complete && st.finished
	}
	if !complete {
		e := adapter.Errorf(http.StatusBadGateway, openai.TypeUpstream, "stream_incomplete", "the Gemini stream ended before the reply was complete")
		e.Cause = errIncomplete
		return nil, e
	}
	if !t.includeUsage {
		return nil, nil
	}
	u := t.usage.openai()
	return [][]byte{t.chunk([]openai.ChunkChoice{}, &u)}, nil
}

// Usage returns the usage reported so far, with the counts Gemini has not
// reported (a stream cut short) estimated.
func (t *translator) Usage() adapter.Usage {
	c := adapter.StreamCounts{Reported: t.usage.adapter(), PromptKnown: t.usage.hasPrompt, CompletionKnown: t.usage.hasCandidates,
		PromptBytes: t.promptBytes, TextBytes: t.textBytes}
	return c.Usage()
}

var _ adapter.Translator = (*translator)(nil)
