package geminiapi

import (
	"net/http"
	"strconv"

	"github.com/tidwall/gjson"

	"aigateway/internal/inbound"
	"aigateway/internal/openai"
	"aigateway/internal/toolcallid"
)

// Response implements inbound.Request: a Chat Completions answer as a
// GenerateContentResponse, one candidate per choice.
func (r *request) Response(_ inbound.Target, chat []byte) ([]byte, error) {
	root := gjson.ParseBytes(chat)
	choices := root.Get("choices")
	if !root.IsObject() || !choices.IsArray() {
		return nil, &inbound.Error{Status: http.StatusBadGateway, Type: "upstream_error",
			Message: "the upstream answer has no choices"}
	}
	b := make([]byte, 0, len(chat)+128)
	b = append(b, `{"candidates":[`...)
	n := 0
	choices.ForEach(func(_, ch gjson.Result) bool {
		if n > 0 {
			b = append(b, ',')
		}
		n++
		msg := ch.Get("message")
		b = append(b, `{"content":{"role":"model","parts":[`...)
		var p partWriter
		p.b = b
		if r.includeThoughts {
			p.thought(reasoningOf(msg))
		}
		p.text(msg.Get("content").String())
		if msg.Get("content").String() == "" {
			p.text(msg.Get("refusal").String())
		}
		msg.Get("tool_calls").ForEach(func(_, tc gjson.Result) bool {
			p.call(tc.Get("id").String(), tc.Get("function.name").String(), tc.Get("function.arguments").String())
			return true
		})
		b = append(p.b, `]},"finishReason":`...)
		b = openai.AppendString(b, finishReason(ch.Get("finish_reason").String()))
		b = append(b, `,"index":`...)
		b = strconv.AppendInt(b, ch.Get("index").Int(), 10)
		b = append(b, '}')
		return true
	})
	b = append(b, ']')
	if u := root.Get("usage"); u.IsObject() {
		b = appendUsage(b, usageOf(u))
	}
	b = appendTail(b, r.model, root.Get("id").String())
	return append(b, '}'), nil
}

// reasoningOf is a message's or delta's reasoning text: reasoning_content
// (DeepSeek, vLLM and the gateway's converters) or reasoning (OpenRouter,
// Ollama).
func reasoningOf(m gjson.Result) string {
	if s := m.Get("reasoning_content").String(); s != "" {
		return s
	}
	return m.Get("reasoning").String()
}

// finishReason maps a Chat finish_reason to Gemini's. Gemini ends a turn
// with function calls with STOP; it has no reason of its own for them.
func finishReason(reason string) string {
	switch reason {
	case "length":
		return "MAX_TOKENS"
	case "content_filter":
		return "SAFETY"
	}
	return "STOP"
}

// partWriter appends the parts of one content, with commas between them.
type partWriter struct {
	b []byte
	n int
}

func (p *partWriter) open() {
	if p.n > 0 {
		p.b = append(p.b, ',')
	}
	p.n++
}

func (p *partWriter) text(s string) {
	if s == "" {
		return
	}
	p.open()
	p.b = append(p.b, `{"text":`...)
	p.b = openai.AppendString(p.b, s)
	p.b = append(p.b, '}')
}

func (p *partWriter) thought(s string) {
	if s == "" {
		return
	}
	p.open()
	p.b = append(p.b, `{"text":`...)
	p.b = openai.AppendString(p.b, s)
	p.b = append(p.b, `,"thought":true}`...)
}

// call appends a functionCall part. A thought signature carried in the id
// (toolcallid) becomes the part's thoughtSignature and leaves the id.
// Arguments that are not a JSON object (cut off by max tokens, say) become
// {}, since args must be an object.
func (p *partWriter) call(id, name, args string) {
	base, sig := toolcallid.Split(id)
	p.open()
	p.b = append(p.b, `{"functionCall":{`...)
	if base != "" {
		p.b = append(p.b, `"id":`...)
		p.b = openai.AppendString(p.b, base)
		p.b = append(p.b, ',')
	}
	p.b = append(p.b, `"name":`...)
	p.b = openai.AppendString(p.b, name)
	p.b = append(p.b, `,"args":`...)
	if a := gjson.Parse(args); a.IsObject() && gjson.Valid(args) {
		p.b = append(p.b, compactJSON(args)...)
	} else {
		p.b = append(p.b, "{}"...)
	}
	p.b = append(p.b, '}')
	if sig != "" {
		p.b = append(p.b, `,"thoughtSignature":`...)
		p.b = openai.AppendString(p.b, sig)
	}
	p.b = append(p.b, '}')
}

// usage is a Chat usage object in Gemini's terms.
type usage struct {
	prompt, completion, total, thoughts, cached int64
	set                                         bool
}

func usageOf(u gjson.Result) usage {
	return usage{
		prompt:     u.Get("prompt_tokens").Int(),
		completion: u.Get("completion_tokens").Int(),
		total:      u.Get("total_tokens").Int(),
		thoughts:   u.Get("completion_tokens_details.reasoning_tokens").Int(),
		cached:     u.Get("prompt_tokens_details.cached_tokens").Int(),
		set:        true,
	}
}

// appendUsage appends usageMetadata. Gemini counts thoughts apart from
// candidatesTokenCount, whereas Chat's completion_tokens includes them.
func appendUsage(b []byte, u usage) []byte {
	candidates := max(u.completion-u.thoughts, 0)
	total := u.total
	if total == 0 {
		total = u.prompt + u.completion
	}
	b = append(b, `,"usageMetadata":{"promptTokenCount":`...)
	b = strconv.AppendInt(b, u.prompt, 10)
	b = append(b, `,"candidatesTokenCount":`...)
	b = strconv.AppendInt(b, candidates, 10)
	b = append(b, `,"totalTokenCount":`...)
	b = strconv.AppendInt(b, total, 10)
	if u.thoughts > 0 {
		b = append(b, `,"thoughtsTokenCount":`...)
		b = strconv.AppendInt(b, u.thoughts, 10)
	}
	if u.cached > 0 {
		b = append(b, `,"cachedContentTokenCount":`...)
		b = strconv.AppendInt(b, u.cached, 10)
	}
	return append(b, '}')
}

// appendTail appends modelVersion (the model the client asked for) and
// responseId.
func appendTail(b []byte, model, id string) []byte {
	b = append(b, `,"modelVersion":`...)
	b = openai.AppendString(b, model)
	b = append(b, `,"responseId":`...)
	return openai.AppendString(b, id)
}
