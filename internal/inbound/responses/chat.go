package responses

import (
	"math"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/inbound"
	"aigateway/internal/openai"
)

// Chat implements inbound.Request: the Chat Completions body for the
// deployment t.
func (q *request) Chat(t inbound.Target) ([]byte, error) {
	if q.prevID != "" && q.prev == nil {
		return nil, prevNotFound(q.prevID)
	}
	root := q.root
	b := make([]byte, 0, len(q.body)+len(q.prev)+256)
	b = append(b, `{"model":`...)
	b = openai.AppendString(b, q.model)
	b = append(b, `,"messages":[`...)
	c := converter{t: t, b: b, tools: q.tools}
	if in := root.Get("instructions"); in.Type == gjson.String && in.Str != "" {
		c.message("system", in.Str, nil)
	}
	if q.prev != nil {
		c.items(gjson.ParseBytes(q.prev))
	}
	switch in := root.Get("input"); {
	case in.Type == gjson.String:
		c.flush()
		c.flushImages()
		c.message("user", in.Str, nil)
	case in.IsArray():
		c.items(in)
	}
	c.flush()
	c.flushImages()
	b = append(c.b, ']')

	if q.stream {
		b = append(b, `,"stream":true,"stream_options":{"include_usage":true}`...)
	}
	if mt := root.Get("max_output_tokens"); mt.Type == gjson.Number {
		n := mt.Int()
		if t.MaxOutputTokens > 0 && n > t.MaxOutputTokens {
			n = t.MaxOutputTokens
		}
		// Beyond what any model writes (1e400 reads as MaxInt64): the most
		// a Chat Completions body may ask. Below 1: the upstream's default.
		if n = min(n, math.MaxInt32); n > 0 {
			b = append(b, `,"max_tokens":`...)
			b = strconv.AppendInt(b, n, 10)
		}
	}
	for _, k := range [...]string{"temperature", "top_p"} {
		if v := root.Get(k); v.Type == gjson.Number {
			b = append(b, `,"`...)
			b = append(b, k...)
			b = append(b, `":`...)
			b = append(b, v.Raw...)
		}
	}
	if u := root.Get("user"); u.Type == gjson.String && u.Str != "" {
		b = append(b, `,"user":`...)
		b = append(b, u.Raw...)
	}
	b = appendEffort(b, t, root.Get("reasoning.effort"))
	if t.Upstream == adapter.ProtocolText {
		// Templates and local programs answer with text: an agent's tools
		// and formats would only make their adapters refuse the request.
		return append(b, '}'), nil
	}
	b = appendResponseFormat(b, root.Get("text.format"))

	start := len(b)
	b = append(b, `,"tools":[`...)
	b, n := appendTools(b, root.Get("tools"))
	if n == 0 { // Chat upstreams refuse tool_choice without tools.
		return append(b[:start], '}'), nil
	}
	b = append(b, ']')
	b = appendToolChoice(b, root.Get("tool_choice"))
	if p := root.Get("parallel_tool_calls"); p.Type == gjson.False || p.Type == gjson.True {
		b = append(b, `,"parallel_tool_calls":`...)
		b = append(b, p.Raw...)
	}
	return append(b, '}'), nil
}

// appendEffort maps reasoning.effort. OpenAI-compatible upstreams take
// reasoning_effort as is; the Anthropic and Gemini adapters map it to a
// thinking budget but know only none..high, so Codex's higher levels
// (xhigh) become high; templates and programs cannot reason, so it is
// dropped for them.
func appendEffort(dst []byte, t inbound.Target, effort gjson.Result) []byte {
	if effort.Type != gjson.String || effort.Str == "" {
		return dst
	}
	e := effort.Str
	switch t.Upstream {
	case adapter.ProtocolChat:
	case adapter.ProtocolGemini, adapter.ProtocolMessages:
		switch e {
		case "none", "minimal", "low", "medium", "high":
		default:
			e = "high"
		}
	default:
		return dst
	}
	dst = append(dst, `,"reasoning_effort":`...)
	return openai.AppendString(dst, e)
}

// appendResponseFormat maps text.format to response_format.
func appendResponseFormat(dst []byte, f gjson.Result) []byte {
	switch f.Get("type").Str {
	case "json_object":
		return append(dst, `,"response_format":{"type":"json_object"}`...)
	case "json_schema":
		dst = append(dst, `,"response_format":{"type":"json_schema","json_schema":{"name":`...)
		name := f.Get("name").Str
		if name == "" {
			name = "response"
		}
		dst = openai.AppendString(dst, name)
		for _, k := range [...]string{"schema", "description", "strict"} {
			if v := f.Get(k); v.Exists() && v.Type != gjson.Null {
				dst = append(dst, `,"`...)
				dst = append(dst, k...)
				dst = append(dst, `":`...)
				dst = append(dst, v.Raw...)
			}
		}
		return append(dst, "}}"...)
	}
	return dst
}

// converter turns Responses input items into Chat messages, appended to b.
// An assistant turn is held open in pending so that the items that make it
// up in Responses (reasoning, message, function calls) become one Chat
// assistant message.
type converter struct {
	t     inbound.Target
	b     []byte
	n     int // messages written
	tools map[string]toolOrigin

	pending struct {
		open      bool
		text      strings.Builder
		reasoning string
		signature string // reasoning_signature (Anthropic's)
		calls     []byte // tool_calls elements, comma separated
		ncalls    int
	}
	// images from tool outputs, sent in a user message after the run of
	// tool messages: Chat tool messages carry text only.
	images []byte
}

func (c *converter) items(arr gjson.Result) {
	arr.ForEach(func(_, it gjson.Result) bool {
		c.item(it)
		return true
	})
}

func (c *converter) item(it gjson.Result) {
	typ := it.Get("type").Str
	if typ == "" && it.Get("role").Exists() {
		typ = "message"
	}
	if typ != "function_call_output" && typ != "custom_tool_call_output" {
		c.flushImages()
	}
	switch typ {
	case "message":
		c.messageItem(it)
	case "function_call":
		c.call(it.Get("call_id").Str, it.Get("name").Str, it.Get("arguments").Str)
	case "custom_tool_call":
		args := append([]byte(`{"input":`), openai.AppendString(nil, it.Get("input").Str)...)
		c.call(it.Get("call_id").Str, it.Get("name").Str, string(append(args, '}')))
	case "function_call_output", "custom_tool_call_output":
		c.flush()
		c.toolOutput(it.Get("call_id").Str, it.Get("output"))
	case "reasoning":
		if c.pending.text.Len() > 0 || c.pending.ncalls > 0 {
			c.flush()
		}
		if text, sig := replayReasoning(c.t, it.Get("encrypted_content").Str); text != "" || sig != "" {
			c.pending.open = true
			c.pending.reasoning += text
			if sig != "" {
				if c.pending.signature != "" {
					c.pending.signature += " "
				}
				c.pending.signature += sig
			}
		}
	default:
		// item_reference, web_search_call, local_shell_call, ...: nothing
		// a Chat upstream can take.
	}
}

func (c *converter) messageItem(it gjson.Result) {
	role := it.Get("role").Str
	text, parts := content(it.Get("content"), role == "user")
	if role == "assistant" {
		if c.pending.ncalls > 0 || c.pending.text.Len() > 0 {
			c.flush()
		}
		c.pending.open = true
		c.pending.text.WriteString(text)
		return
	}
	c.flush()
	switch role {
	case "system", "developer":
		role = "system"
	default:
		role = "user"
	}
	c.message(role, text, parts)
}

// content reads a message's content: its text (parts joined by blank
// lines) and, when images are allowed and present, the Chat parts instead.
func content(v gjson.Result, images bool) (text string, parts []byte) {
	if v.Type == gjson.String {
		return v.Str, nil
	}
	var sb strings.Builder
	var img []byte
	nparts := 0
	addText := func(s string) {
		if s == "" {
			return
		}
		if sb.Len() > 0 {
			sb.WriteString("\n\n")
		}
		sb.WriteString(s)
	}
	v.ForEach(func(_, p gjson.Result) bool {
		switch p.Get("type").Str {
		case "input_text", "output_text", "text", "summary_text", "reasoning_text":
			addText(p.Get("text").Str)
		case "refusal":
			addText(p.Get("refusal").Str)
		case "input_image":
			url := p.Get("image_url").Str
			switch {
			case url == "":
				addText("[an image given by file id was left out: this model is reached through a gateway that cannot read OpenAI files]")
			case !images:
				addText("[an image was left out: it can only be sent in a user message]")
			default:
				img = sep(img, nparts)
				nparts++
				img = append(img, `{"type":"image_url","image_url":{"url":`...)
				img = openai.AppendString(img, url)
				if d := p.Get("detail").Str; d == "low" || d == "high" || d == "auto" {
					img = append(img, `,"detail":"`...)
					img = append(img, d...)
					img = append(img, '"')
				}
				img = append(img, "}}"...)
			}
		case "input_file":
			if data := p.Get("file_data").Str; data != "" && images {
				img = sep(img, nparts)
				nparts++
				img = append(img, `{"type":"file","file":{"file_data":`...)
				img = openai.AppendString(img, data)
				if fn := p.Get("filename").Str; fn != "" {
					img = append(img, `,"filename":`...)
					img = openai.AppendString(img, fn)
				}
				img = append(img, "}}"...)
			} else {
				addText("[a file was left out: this model is reached through a gateway that cannot pass it on]")
			}
		}
		return true
	})
	if img == nil {
		return sb.String(), nil
	}
	parts = make([]byte, 0, len(img)+sb.Len()+32)
	parts = append(parts, '[')
	if sb.Len() > 0 {
		parts = append(parts, `{"type":"text","text":`...)
		parts = openai.AppendString(parts, sb.String())
		parts = append(parts, "},"...)
	}
	parts = append(parts, img...)
	return "", append(parts, ']')
}

// message writes one Chat message with a string content, or parts (a JSON
// array) when set. Empty messages are left out: several upstreams refuse
// empty text.
func (c *converter) message(role, text string, parts []byte) {
	if text == "" && parts == nil {
		return
	}
	c.b = sep(c.b, c.n)
	c.n++
	c.b = append(c.b, `{"role":"`...)
	c.b = append(c.b, role...)
	c.b = append(c.b, `","content":`...)
	if parts != nil {
		c.b = append(c.b, parts...)
	} else {
		c.b = openai.AppendString(c.b, text)
	}
	c.b = append(c.b, '}')
}

// call adds a tool call to the pending assistant message.
func (c *converter) call(id, name, args string) {
	if args == "" {
		args = "{}"
	}
	c.pending.open = true
	p := &c.pending
	p.calls = sep(p.calls, p.ncalls)
	p.ncalls++
	p.calls = append(p.calls, `{"id":`...)
	p.calls = openai.AppendString(p.calls, id)
	p.calls = append(p.calls, `,"type":"function","function":{"name":`...)
	p.calls = openai.AppendString(p.calls, name)
	p.calls = append(p.calls, `,"arguments":`...)
	p.calls = openai.AppendString(p.calls, args)
	p.calls = append(p.calls, "}}"...)
}

// flush writes the pending assistant message, if it has anything to say.
func (c *converter) flush() {
	p := &c.pending
	if !p.open {
		return
	}
	if p.text.Len() > 0 || p.ncalls > 0 {
		c.b = sep(c.b, c.n)
		c.n++
		c.b = append(c.b, `{"role":"assistant","content":`...)
		if p.text.Len() > 0 {
			c.b = openai.AppendString(c.b, p.text.String())
		} else {
			c.b = append(c.b, "null"...)
		}
		if p.reasoning != "" {
			c.b = append(c.b, `,"reasoning_content":`...)
			c.b = openai.AppendString(c.b, p.reasoning)
		}
		if p.signature != "" {
			c.b = append(c.b, `,"reasoning_signature":`...)
			c.b = openai.AppendString(c.b, p.signature)
		}
		if p.ncalls > 0 {
			c.b = append(c.b, `,"tool_calls":[`...)
			c.b = append(c.b, p.calls...)
			c.b = append(c.b, ']')
		}
		c.b = append(c.b, '}')
	}
	p.open = false
	p.text.Reset()
	p.reasoning = ""
	p.signature = ""
	p.calls = p.calls[:0]
	p.ncalls = 0
}

// toolOutput writes a tool message. An output given as parts keeps its
// text; its images follow in a user message after the tool messages.
func (c *converter) toolOutput(callID string, out gjson.Result) {
	var text string
	if out.Type == gjson.String {
		text = out.Str
	} else {
		var parts []byte
		text, parts = content(out, true)
		if parts != nil {
			text = ""
			gjson.ParseBytes(parts).ForEach(func(_, p gjson.Result) bool {
				if p.Get("type").Str == "text" {
					text = p.Get("text").Str
					return true
				}
				c.images = sep(c.images, len(c.images))
				c.images = append(c.images, p.Raw...)
				return true
			})
			if text == "" {
				text = "(images follow)"
			}
		}
	}
	c.b = sep(c.b, c.n)
	c.n++
	c.b = append(c.b, `{"role":"tool","tool_call_id":`...)
	c.b = openai.AppendString(c.b, callID)
	c.b = append(c.b, `,"content":`...)
	c.b = openai.AppendString(c.b, text)
	c.b = append(c.b, '}')
}

func (c *converter) flushImages() {
	if len(c.images) == 0 {
		return
	}
	parts := append([]byte(`[{"type":"text","text":"The images from the tool results above:"},`), c.images...)
	c.message("user", "", append(parts, ']'))
	c.images = c.images[:0]
}
