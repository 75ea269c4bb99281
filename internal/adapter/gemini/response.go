package gemini

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
	"aigateway/internal/toolcallid"
)

// ConvertResponse turns a non-streamed GenerateContentResponse into an
// OpenAI chat.completion JSON body. model is the upstream model name; the
// response's modelVersion is preferred when present. created is the
// completion's Unix time.
func ConvertResponse(body []byte, model string, created int64) ([]byte, adapter.Usage, error) {
	return convertResponse(body, model, created, false)
}

// ConvertResponseWithReasoning is ConvertResponse for a request that asked
// for reasoning: the text of thought parts becomes the message's
// reasoning_content.
func ConvertResponseWithReasoning(body []byte, model string, created int64) ([]byte, adapter.Usage, error) {
	return convertResponse(body, model, created, true)
}

func convertResponse(body []byte, model string, created int64, reasoning bool) ([]byte, adapter.Usage, error) {
	var r generateContentResponse
	if err := adapter.DecodeJSON(body, &r); err != nil {
		return nil, adapter.Usage{}, badUpstream(err, "Gemini returned a response that is not valid JSON")
	}
	if r.Error != nil {
		return nil, adapter.Usage{}, inBandError(r.Error.Code, body)
	}
	token := idToken(r.ResponseID, body)
	out := openai.ChatCompletion{
		ID:      responseID(r.ResponseID, body),
		Object:  "chat.completion",
		Created: created,
		Model:   model,
	}
	if r.ModelVersion != "" {
		out.Model = r.ModelVersion
	}
	switch {
	case len(r.Candidates) > 0:
		for i := range r.Candidates {
			ch, err := convertCandidate(&r.Candidates[i], i, token, reasoning)
			if err != nil {
				return nil, adapter.Usage{}, err
			}
			out.Choices = append(out.Choices, ch)
		}
	case r.PromptFeedback != nil && r.PromptFeedback.BlockReason != "":
		// The prompt was blocked: Gemini returns no candidates at all.
		empty := ""
		out.Choices = []openai.Choice{{Message: openai.ResponseMessage{Role: "assistant", Content: &empty}, FinishReason: "content_filter"}}
	default:
		return nil, adapter.Usage{}, badUpstream(errors.New("no candidates and no promptFeedback.blockReason"), "Gemini returned no answer")
	}
	var usage usageTotals
	if r.UsageMetadata != nil {
		usage.update(r.UsageMetadata)
		u := usage.openai()
		out.Usage = &u
	}
	b, err := json.Marshal(&out)
	if err != nil {
		return nil, adapter.Usage{}, fmt.Errorf("gemini: encoding the response: %w", err)
	}
	return b, usage.adapter(), nil
}

// convertCandidate converts the candidate at position pos into a choice.
func convertCandidate(c *candidate, pos int, token string, reasoning bool) (openai.Choice, error) {
	idx := pos
	if c.Index != nil {
		idx = *c.Index
	}
	var parts []part
	if c.Content != nil {
		parts = c.Content.Parts
	}
	calls := 0
	d, err := convertParts(parts, token, idx, &calls)
	if err != nil {
		return openai.Choice{}, err
	}
	msg := openai.ResponseMessage{Role: "assistant", ToolCalls: d.calls}
	if reasoning {
		msg.ReasoningContent = d.thought
	}
	if d.hasText || len(d.calls) == 0 {
		msg.Content = &d.text // "" for a reply that was cut off or filtered before any text
	}
	return openai.Choice{
		Index:        idx,
		Message:      msg,
		Logprobs:     openaiLogprobs(c.LogprobsResult),
		FinishReason: finishReason(c.FinishReason, len(d.calls) > 0),
	}, nil
}

// partsDelta is what a candidate's parts add to the reply.
type partsDelta struct {
	text    string
	hasText bool
	calls   []openai.ToolCall
	thought string // the text of thought parts (summaries of the reasoning)
}

// convertParts joins the text parts and converts the function calls of one
// candidate. nextCall counts the candidate's calls so far (in a stream it
// spans events) and numbers minted ids. Thought summaries are kept apart
// (the caller sends them as reasoning_content when asked). Thought
// signatures on text parts are dropped: chat completions has nowhere to keep
// them, and Gemini requires only those of function calls back.
func convertParts(parts []part, token string, cand int, nextCall *int) (partsDelta, error) {
	var d partsDelta
	var text, thought strings.Builder
	for i := range parts {
		p := &parts[i]
		switch {
		case p.Thought:
			thought.WriteString(p.Text)
		case p.FunctionCall != nil:
			tc, err := toolCall(p, token, cand, *nextCall)
			if err != nil {
				return partsDelta{}, err
			}
			*nextCall++
			d.calls = append(d.calls, tc)
		case p.InlineData != nil || len(p.FileData) > 0:
			return partsDelta{}, badUpstream(errors.New("inlineData or fileData part in the response"),
				"Gemini answered with media (such as an image), which chat completions cannot carry")
		case p.Text != "":
			text.WriteString(p.Text)
			d.hasText = true
		}
	}
	d.text = text.String()
	d.thought = thought.String()
	return d, nil
}

// toolCall converts a functionCall part. The arguments are the args object
// as Gemini sent it, compacted; a call without args has arguments "{}". The
// thought signature goes into extra_content and, for the clients that drop
// that field, into the id (package toolcallid).
func toolCall(p *part, token string, cand, n int) (openai.ToolCall, error) {
	fc := p.FunctionCall
	args := "{}"
	if a := bytes.TrimSpace(fc.Args); len(a) > 0 && !bytes.Equal(a, []byte("null")) {
		var buf bytes.Buffer
		if err := json.Compact(&buf, a); err != nil {
			return openai.ToolCall{}, badUpstream(err, "Gemini returned a function call with invalid arguments")
		}
		args = buf.String()
	}
	return openai.ToolCall{
		ID:           toolcallid.Sign(toolCallID(fc.ID, token, cand, n), p.ThoughtSignature),
		Type:         "function",
		Function:     openai.FunctionCall{Name: fc.Name, Arguments: args},
		ExtraContent: extraContent(p.ThoughtSignature, fc.ID),
	}, nil
}
