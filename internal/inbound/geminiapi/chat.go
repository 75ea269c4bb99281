package geminiapi

import (
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/inbound"
	"aigateway/internal/openai"
	"aigateway/internal/toolcallid"
)

// placeholderSignatures are the thoughtSignature values Google documents
// for function calls no Gemini model made (Gemini CLI sends the first on
// every replayed call): they carry no reasoning and are not kept.
func isPlaceholderSignature(s string) bool {
	return s == "skip_thought_signature_validator" || s == "context_engineering_is_the_way_to_go"
}

// Chat implements inbound.Request: the GenerateContentRequest as a Chat
// Completions body for the deployment t (see the package comment and
// README for what is mapped and what is dropped).
func (r *request) Chat(t inbound.Target) ([]byte, error) {
	g := r.gen
	b := make([]byte, 0, len(r.body)+256)
	b = append(b, `{"model":`...)
	b = openai.AppendString(b, r.model)
	b = append(b, `,"messages":[`...)
	c := chatWriter{b: b, t: t}
	c.system(g.Get("systemInstruction"))
	c.contents(g.Get("contents"))
	b = append(c.b, ']')
	b = appendTools(b, g, t)
	b = appendGenerationConfig(b, g.Get("generationConfig"), t)
	if r.stream {
		b = append(b, `,"stream":true,"stream_options":{"include_usage":true}`...)
	}
	return append(b, '}'), nil
}

// chatWriter appends Chat messages to b.
type chatWriter struct {
	b []byte
	t inbound.Target
	n int // messages written
	// pending are the calls not answered yet, in order: a functionResponse
	// takes the one with its id, else the first with its name.
	pending []pendingCall
}

type pendingCall struct{ id, name string }

func (c *chatWriter) open() {
	if c.n > 0 {
		c.b = append(c.b, ',')
	}
	c.n++
}

// system writes systemInstruction's text parts as one system message.
func (c *chatWriter) system(si gjson.Result) {
	if !si.Exists() {
		return
	}
	var text strings.Builder
	si.Get("parts").ForEach(func(_, p gjson.Result) bool {
		if t := p.Get("text"); t.Exists() && !p.Get("thought").Bool() && t.String() != "" {
			if text.Len() > 0 {
				text.WriteByte('\n')
			}
			text.WriteString(t.String())
		}
		return true
	})
	if text.Len() == 0 {
		return
	}
	c.open()
	c.b = append(c.b, `{"role":"system","content":`...)
	c.b = openai.AppendString(c.b, text.String())
	c.b = append(c.b, '}')
}

func (c *chatWriter) contents(contents gjson.Result) {
	i := 0
	contents.ForEach(func(_, content gjson.Result) bool {
		if content.Get("role").String() == "model" {
			c.model(i, content.Get("parts"))
		} else {
			c.user(content.Get("parts"))
		}
		i++
		return true
	})
}

// model writes a model content as one assistant message: its text (thoughts
// left out) and its function calls as tool calls.
func (c *chatWriter) model(ci int, parts gjson.Result) {
	var text strings.Builder
	type call struct {
		id, name, args string
	}
	var calls []call
	pi := 0
	parts.ForEach(func(_, p gjson.Result) bool {
		defer func() { pi++ }()
		if p.Get("thought").Bool() {
			return true
		}
		if fc := p.Get("functionCall"); fc.IsObject() {
			id := fc.Get("id").String()
			if id == "" {
				id = "call_" + strconv.Itoa(ci) + "_" + strconv.Itoa(pi)
			}
			name := fc.Get("name").String()
			c.pending = append(c.pending, pendingCall{id: id, name: name})
			if sig := p.Get("thoughtSignature").String(); c.t.Upstream == adapter.ProtocolGemini && !isPlaceholderSignature(sig) {
				id = toolcallid.Sign(id, sig)
			}
			args := fc.Get("args")
			a := "{}"
			if args.IsObject() {
				a = args.Raw
			}
			calls = append(calls, call{id: id, name: name, args: a})
			return true
		}
		if t := p.Get("text"); t.Exists() {
			text.WriteString(t.String())
		}
		return true
	})
	if text.Len() == 0 && len(calls) == 0 {
		return
	}
	c.open()
	c.b = append(c.b, `{"role":"assistant","content":`...)
	if text.Len() > 0 {
		c.b = openai.AppendString(c.b, text.String())
	} else {
		c.b = append(c.b, "null"...)
	}
	if len(calls) > 0 {
		c.b = append(c.b, `,"tool_calls":[`...)
		for k, tc := range calls {
			if k > 0 {
				c.b = append(c.b, ',')
			}
			c.b = append(c.b, `{"id":`...)
			c.b = openai.AppendString(c.b, tc.id)
			c.b = append(c.b, `,"type":"function","function":{"name":`...)
			c.b = openai.AppendString(c.b, tc.name)
			c.b = append(c.b, `,"arguments":`...)
			c.b = openai.AppendString(c.b, compactJSON(tc.args))
			c.b = append(c.b, "}}"...)
		}
		c.b = append(c.b, ']')
	}
	c.b = append(c.b, '}')
}

// user writes a user content: its function responses as tool messages
// first (a tool message must follow the assistant message that made the
// call), then the rest as one user message.
func (c *chatWriter) user(parts gjson.Result) {
	var rest []gjson.Result
	parts.ForEach(func(_, p gjson.Result) bool {
		if fr := p.Get("functionResponse"); fr.IsObject() {
			c.toolResult(fr)
			return true
		}
		if !p.Get("thought").Bool() {
			rest = append(rest, p)
		}
		return true
	})
	start := len(c.b)
	c.open()
	c.b = append(c.b, `{"role":"user","content":[`...)
	wrote := 0
	for _, p := range rest {
		wrote += c.userPart(p, wrote > 0)
	}
	if wrote == 0 { // nothing the upstream can take: no empty message
		c.b = c.b[:start]
		c.n--
		return
	}
	c.b = append(c.b, "]}"...)
}

// userPart appends one part of a user message and reports how many it
// wrote (0 or 1).
func (c *chatWriter) userPart(p gjson.Result, comma bool) int {
	sep := func() {
		if comma {
			c.b = append(c.b, ',')
		}
	}
	switch {
	case p.Get("text").Exists():
		s := p.Get("text").String()
		if s == "" {
			return 0
		}
		sep()
		c.appendText(s)
	case p.Get("inlineData").IsObject():
		d := p.Get("inlineData")
		mime := d.Get("mimeType").String()
		sep()
		if strings.HasPrefix(mime, "image/") {
			c.b = append(c.b, `{"type":"image_url","image_url":{"url":"data:`...)
			c.b = openai.AppendEscaped(c.b, mime)
			c.b = append(c.b, ";base64,"...)
			c.b = openai.AppendEscaped(c.b, d.Get("data").String())
			c.b = append(c.b, `"}}`...)
			return 1
		}
		c.appendText("[inline " + mime + " data omitted: this model takes only text and images]")
	case p.Get("fileData").IsObject():
		f := p.Get("fileData")
		uri, mime := f.Get("fileUri").String(), f.Get("mimeType").String()
		sep()
		if strings.HasPrefix(mime, "image/") && (strings.HasPrefix(uri, "https://") || strings.HasPrefix(uri, "http://")) {
			c.b = append(c.b, `{"type":"image_url","image_url":{"url":`...)
			c.b = openai.AppendString(c.b, uri)
			c.b = append(c.b, "}}"...)
			return 1
		}
		c.appendText("[file " + uri + " (" + mime + ") omitted: this model cannot read it]")
	case p.Get("executableCode").IsObject():
		sep()
		c.appendText("```" + strings.ToLower(p.Get("executableCode.language").String()) + "\n" + p.Get("executableCode.code").String() + "\n```")
	case p.Get("codeExecutionResult").IsObject():
		sep()
		c.appendText("Code execution result (" + p.Get("codeExecutionResult.outcome").String() + "):\n" + p.Get("codeExecutionResult.output").String())
	default:
		return 0 // videoMetadata alone, an empty part: nothing to say
	}
	return 1
}

func (c *chatWriter) appendText(s string) {
	c.b = append(c.b, `{"type":"text","text":`...)
	c.b = openai.AppendString(c.b, s)
	c.b = append(c.b, '}')
}

// toolResult writes a functionResponse as the tool message answering its
// call, or as user text when it answers none. The tool message carries the
// call's id without a signature: adapters match and send ids without it
// (toolcallid.Base).
func (c *chatWriter) toolResult(fr gjson.Result) {
	id, name := fr.Get("id").String(), fr.Get("name").String()
	content := toolContent(fr.Get("response"))
	k := c.match(id, name)
	c.open()
	if k < 0 {
		c.b = append(c.b, `{"role":"user","content":`...)
		c.b = openai.AppendString(c.b, "Result of function "+name+": "+content)
		c.b = append(c.b, '}')
		return
	}
	call := c.pending[k]
	c.pending = append(c.pending[:k], c.pending[k+1:]...)
	c.b = append(c.b, `{"role":"tool","tool_call_id":`...)
	c.b = openai.AppendString(c.b, call.id)
	c.b = append(c.b, `,"content":`...)
	c.b = openai.AppendString(c.b, content)
	c.b = append(c.b, '}')
}

// match returns the index in pending of the call a function response with
// id and name answers, or -1.
func (c *chatWriter) match(id, name string) int {
	if id != "" {
		for k, p := range c.pending {
			if p.id == id {
				return k
			}
		}
	}
	for k, p := range c.pending {
		if p.name == name {
			return k
		}
	}
	return -1
}

// toolContent is a function response as tool message text: the output
// itself when the response is {"output": "<text>"}, else the response's
// JSON.
func toolContent(resp gjson.Result) string {
	if !resp.Exists() {
		return ""
	}
	if resp.IsObject() {
		n := 0
		resp.ForEach(func(_, _ gjson.Result) bool { n++; return n < 2 })
		if out := resp.Get("output"); n == 1 && out.Type == gjson.String {
			return out.String()
		}
	}
	return compactJSON(resp.Raw)
}

// compactJSON removes the insignificant whitespace of a JSON value.
func compactJSON(raw string) string {
	if !strings.ContainsAny(raw, " \t\r\n") {
		return raw
	}
	return gjson.Get(raw, "@ugly").Raw
}
