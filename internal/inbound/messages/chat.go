package messages

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/inbound"
	"aigateway/internal/openai"
)

// maxStop is the most stop sequences OpenAI's API takes; more is a 400.
const maxStop = 4

// maxUser is the longest metadata.user_id passed as "user" unchanged; a
// longer one (Claude Code's is a JSON object of ids) is sent as its
// SHA-256, which still tells users apart.
const maxUser = 64

// Chat implements inbound.Request. The mapping per target kind:
//   - system (string or blocks) and every role "system" entry of messages,
//     wherever it is, become one leading system message: strict upstreams
//     refuse system text in the middle (INBOUND-PITFALLS 8);
//   - text blocks become text (empty ones are dropped), images become
//     image_url parts (data: URLs for base64), tool_use blocks tool_calls,
//     tool_result blocks tool messages (placed before the rest of their
//     user turn, as Chat Completions requires), with "Error: " before the
//     text of a result marked is_error and its images moved to a user
//     message that follows, since tool messages take text only;
//   - thinking blocks go back as reasoning_content only to the OpenAI
//     compatible deployment that made them (see thinking.go); the rest are
//     dropped;
//   - tools keep their input_schema as parameters; server tools (a type
//     other than "custom") are dropped; tool_choice auto/any/tool/none
//     becomes auto/required/function/none and disable_parallel_tool_use
//     parallel_tool_calls false (not for Gemini, which cannot honour it);
//   - max_tokens becomes max_completion_tokens, lowered to the entry's
//     max_output_tokens; stop_sequences stop (at most 4), temperature and
//     top_p are kept, top_k is dropped (Chat Completions has none),
//     metadata.user_id becomes user;
//   - thinking {type: enabled, budget_tokens} becomes reasoning_effort
//     (below 4096 low, below 16384 medium, else high); adaptive thinking
//     becomes medium for Anthropic and Gemini deployments and sends
//     nothing to others, so that a model that does not reason is not asked
//     to; disabled thinking sends nothing;
//   - cache_control, context_management, output_config, service_tier,
//     container and fields not listed here are dropped.
//
// A template or process target (ProtocolText) takes text only: tool calls
// and results are written as text, images are dropped and only the
// conversation goes (their sampling parameters need placeholders the
// request cannot know of).
func (r *Request) Chat(t inbound.Target) ([]byte, error) {
	c := chatWriter{t: t, sig: protocolDeployment{t.Upstream, t.Deployment}, text: t.Upstream == adapter.ProtocolText}
	b := make([]byte, 0, len(r.body)+256)
	b = append(b, `{"model":`...)
	b = openai.AppendString(b, r.model)
	b = append(b, `,"messages":[`...)
	b = c.messages(b, r.doc)
	b = append(b, ']')
	if r.stream {
		b = append(b, `,"stream":true,"stream_options":{"include_usage":true}`...)
	}
	if !c.text {
		b = c.params(b, r)
		b = c.tools(b, r.doc)
	}
	return append(b, '}'), nil
}

// chatWriter converts one request for one target.
type chatWriter struct {
	t    inbound.Target
	sig  protocolDeployment
	text bool // the target takes text only
	n    int  // messages written
}

// DroppedTools returns the names of the tools in the request that Chat
// leaves out for t: server tools, which no upstream but Anthropic runs,
// and every tool for a text-only target.
func (r *Request) DroppedTools(t inbound.Target) []string {
	var names []string
	r.doc.Get("tools").ForEach(func(_, tool gjson.Result) bool {
		if t.Upstream == adapter.ProtocolText || !clientTool(tool) {
			name := tool.Get("name").Str
			if name == "" {
				name = tool.Get("type").Str
			}
			names = append(names, name)
		}
		return true
	})
	return names
}

// clientTool reports whether a tool is one the client runs (type absent or
// "custom"), as opposed to a server tool such as web_search_20250305.
func clientTool(tool gjson.Result) bool {
	typ := tool.Get("type")
	return !typ.Exists() || typ.Type == gjson.Null || typ.Str == "custom"
}

func (c *chatWriter) open(b []byte) []byte {
	if c.n > 0 {
		b = append(b, ',')
	}
	c.n++
	return b
}

// messages writes the system message and the conversation.
func (c *chatWriter) messages(b []byte, doc gjson.Result) []byte {
	var sys strings.Builder
	appendSystem(&sys, doc.Get("system"))
	msgs := doc.Get("messages")
	msgs.ForEach(func(_, m gjson.Result) bool {
		if m.Get("role").Str == "system" {
			appendSystem(&sys, m.Get("content"))
		}
		return true
	})
	if sys.Len() > 0 {
		b = c.open(b)
		b = append(b, `{"role":"system","content":`...)
		b = openai.AppendString(b, sys.String())
		b = append(b, '}')
	}
	msgs.ForEach(func(_, m gjson.Result) bool {
		switch m.Get("role").Str {
		case "system":
		case "assistant":
			b = c.assistant(b, m.Get("content"))
		default: // user, and any role a newer client may invent
			b = c.user(b, m.Get("content"))
		}
		return true
	})
	return b
}

// appendSystem adds the text of a system value (a string or text blocks)
// to sys, parts separated by a blank line.
func appendSystem(sys *strings.Builder, v gjson.Result) {
	add := func(s string) {
		if strings.TrimSpace(s) == "" {
			return
		}
		if sys.Len() > 0 {
			sys.WriteString("\n\n")
		}
		sys.WriteString(s)
	}
	if v.Type == gjson.String {
		add(v.Str)
		return
	}
	v.ForEach(func(_, blk gjson.Result) bool {
		if typ := blk.Get("type").Str; typ == "text" || typ == "" {
			add(blk.Get("text").Str)
		}
		return true
	})
}

// user writes a user turn: its tool results first (each a tool message,
// which must follow the assistant's tool calls directly), then the rest of
// its content with the images of those results.
func (c *chatWriter) user(b []byte, content gjson.Result) []byte {
	if content.Type == gjson.String {
		if content.Str == "" {
			return b
		}
		b = c.open(b)
		b = append(b, `{"role":"user","content":`...)
		b = openai.AppendString(b, content.Str)
		return append(b, '}')
	}
	var parts []byte // the user message's parts, comma-separated
	nparts := 0
	addPart := func(p []byte) {
		if nparts > 0 {
			parts = append(parts, ',')
		}
		parts = append(parts, p...)
		nparts++
	}
	var tmp []byte
	content.ForEach(func(_, blk gjson.Result) bool {
		switch blk.Get("type").Str {
		case "tool_result":
			b, parts, nparts = c.toolResult(b, blk, parts, nparts)
		case "text":
			if s := blk.Get("text").Str; s != "" {
				tmp = appendTextPart(tmp[:0], s)
				addPart(tmp)
			}
		case "image":
			if p, ok := c.imagePart(tmp[:0], blk); ok {
				tmp = p
				addPart(tmp)
			}
		case "document":
			if p, ok := c.documentPart(tmp[:0], blk); ok {
				tmp = p
				addPart(tmp)
			}
		}
		return true
	})
	if nparts == 0 {
		return b
	}
	b = c.open(b)
	b = append(b, `{"role":"user","content":[`...)
	b = append(b, parts...)
	return append(b, "]}"...)
}

func appendTextPart(b []byte, s string) []byte {
	b = append(b, `{"type":"text","text":`...)
	b = openai.AppendString(b, s)
	return append(b, '}')
}

// imagePart writes an image block as an image_url part. A text-only target
// gets a note instead; an image source the Chat format has no form for
// (file ids) is dropped.
func (c *chatWriter) imagePart(b []byte, blk gjson.Result) ([]byte, bool) {
	if c.text {
		return appendTextPart(b, "[image omitted: this model takes text only]"), true
	}
	src := blk.Get("source")
	var url string
	switch src.Get("type").Str {
	case "base64":
		url = "data:" + src.Get("media_type").Str + ";base64," + src.Get("data").Str
	case "url":
		url = src.Get("url").Str
	}
	if url == "" {
		return b, false
	}
	b = append(b, `{"type":"image_url","image_url":{"url":`...)
	b = openai.AppendString(b, url)
	return append(b, "}}"...), true
}

// documentPart writes a document block: plain text as text, a base64 PDF as
// a file part; other sources are dropped.
func (c *chatWriter) documentPart(b []byte, blk gjson.Result) ([]byte, bool) {
	src := blk.Get("source")
	switch src.Get("type").Str {
	case "text":
		if s := src.Get("data").Str; s != "" {
			return appendTextPart(b, s), true
		}
	case "base64":
		if c.text {
			return appendTextPart(b, "[document omitted: this model takes text only]"), true
		}
		b = append(b, `{"type":"file","file":{"file_data":`...)
		b = openai.AppendString(b, "data:"+src.Get("media_type").Str+";base64,"+src.Get("data").Str)
		if title := blk.Get("title").Str; title != "" {
			b = append(b, `,"filename":`...)
			b = openai.AppendString(b, title)
		}
		return append(b, "}}"...), true
	}
	return b, false
}

// toolResult writes a tool_result block as a tool message (or, for a
// text-only target, as text of the user turn) and adds its images to the
// user turn's parts.
func (c *chatWriter) toolResult(b []byte, blk gjson.Result, parts []byte, nparts int) ([]byte, []byte, int) {
	id := upstreamID(blk.Get("tool_use_id").Str)
	var text strings.Builder
	if blk.Get("is_error").Bool() {
		text.WriteString("Error: ")
	}
	var images [][]byte
	content := blk.Get("content")
	if content.Type == gjson.String {
		text.WriteString(content.Str)
	} else {
		first := true
		content.ForEach(func(_, inner gjson.Result) bool {
			switch inner.Get("type").Str {
			case "text":
				if !first {
					text.WriteByte('\n')
				}
				text.WriteString(inner.Get("text").Str)
				first = false
			case "image":
				if p, ok := c.imagePart(nil, inner); ok {
					images = append(images, p)
				}
			case "document":
				if inner.Get("source.type").Str == "text" {
					if !first {
						text.WriteByte('\n')
					}
					text.WriteString(inner.Get("source.data").Str)
					first = false
				}
			}
			return true
		})
	}
	s := strings.TrimSuffix(text.String(), " ")
	add := func(p []byte) {
		if nparts > 0 {
			parts = append(parts, ',')
		}
		parts = append(parts, p...)
		nparts++
	}
	if c.text {
		add(appendTextPart(nil, "[result of tool call "+id+"]\n"+s))
	} else {
		b = c.open(b)
		b = append(b, `{"role":"tool","tool_call_id":`...)
		b = openai.AppendString(b, id)
		b = append(b, `,"content":`...)
		b = openai.AppendString(b, s)
		b = append(b, '}')
	}
	if len(images) > 0 {
		add(appendTextPart(nil, "The result of tool call "+id+" included these images:"))
		for _, p := range images {
			add(p)
		}
	}
	return b, parts, nparts
}

// assistant writes an assistant turn: its text, its replayable reasoning
// and its tool calls. Text after a tool_use is kept. A turn left with
// nothing (only thinking that is dropped) is skipped.
func (c *chatWriter) assistant(b []byte, content gjson.Result) []byte {
	if content.Type == gjson.String {
		if content.Str == "" {
			return b
		}
		b = c.open(b)
		b = append(b, `{"role":"assistant","content":`...)
		b = openai.AppendString(b, content.Str)
		return append(b, '}')
	}
	var text, reasoning, signature strings.Builder
	var calls []byte
	ncalls := 0
	addText := func(s string) {
		if s == "" {
			return
		}
		if text.Len() > 0 {
			text.WriteByte('\n')
		}
		text.WriteString(s)
	}
	content.ForEach(func(_, blk gjson.Result) bool {
		switch blk.Get("type").Str {
		case "text":
			addText(blk.Get("text").Str)
		case "thinking":
			th, sig := blk.Get("thinking").Str, blk.Get("signature").Str
			switch {
			case c.text:
			case replayable(c.sig, th, sig):
				reasoning.WriteString(th)
			case c.t.Upstream == adapter.ProtocolMessages && sig != "" && !strings.HasPrefix(sig, signaturePrefix):
				// Anthropic's own block, to an Anthropic deployment
				// reached through the Chat IR: its signature goes along.
				reasoning.WriteString(th)
				addSignature(&signature, sig)
			}
		case "redacted_thinking":
			if data := blk.Get("data").Str; c.t.Upstream == adapter.ProtocolMessages && data != "" {
				addSignature(&signature, redactedPrefix+data)
			}
		case "tool_use":
			id, name := upstreamID(blk.Get("id").Str), blk.Get("name").Str
			input := blk.Get("input")
			args := input.Raw
			if !input.IsObject() {
				args = "{}"
			}
			if c.text {
				addText("[tool call " + id + ": " + name + " " + args + "]")
				return true
			}
			if ncalls > 0 {
				calls = append(calls, ',')
			}
			ncalls++
			calls = append(calls, `{"id":`...)
			calls = openai.AppendString(calls, id)
			calls = append(calls, `,"type":"function","function":{"name":`...)
			calls = openai.AppendString(calls, name)
			calls = append(calls, `,"arguments":`...)
			calls = openai.AppendString(calls, args)
			calls = append(calls, "}}"...)
		}
		return true
	})
	if text.Len() == 0 && ncalls == 0 {
		return b
	}
	b = c.open(b)
	b = append(b, `{"role":"assistant","content":`...)
	if text.Len() > 0 {
		b = openai.AppendString(b, text.String())
	} else {
		b = append(b, "null"...)
	}
	if reasoning.Len() > 0 {
		b = append(b, `,"reasoning_content":`...)
		b = openai.AppendString(b, reasoning.String())
	}
	if signature.Len() > 0 {
		b = append(b, `,"reasoning_signature":`...)
		b = openai.AppendString(b, signature.String())
	}
	if ncalls > 0 {
		b = append(b, `,"tool_calls":[`...)
		b = append(b, calls...)
		b = append(b, ']')
	}
	return append(b, '}')
}

// params writes the sampling parameters.
func (c *chatWriter) params(b []byte, r *Request) []byte {
	n := r.maxTokens
	if lim := c.t.MaxOutputTokens; lim > 0 && (n <= 0 || n > lim) {
		n = lim
	}
	// Beyond what any model writes (1e400 reads as MaxInt64): the most a
	// Chat Completions body may ask.
	n = min(n, math.MaxInt32)
	if n > 0 {
		b = append(b, `,"max_completion_tokens":`...)
		b = strconv.AppendInt(b, n, 10)
	}
	for _, k := range [...]string{"temperature", "top_p"} {
		if v := r.doc.Get(k); v.Type == gjson.Number {
			b = append(b, ',', '"')
			b = append(b, k...)
			b = append(b, '"', ':')
			b = append(b, v.Raw...)
		}
	}
	if stops := r.doc.Get("stop_sequences"); stops.IsArray() {
		k := 0
		stops.ForEach(func(_, s gjson.Result) bool {
			if s.Type != gjson.String || s.Str == "" {
				return true
			}
			if k == 0 {
				b = append(b, `,"stop":[`...)
			} else {
				b = append(b, ',')
			}
			b = openai.AppendString(b, s.Str)
			k++
			return k < maxStop
		})
		if k > 0 {
			b = append(b, ']')
		}
	}
	if user := r.doc.Get("metadata.user_id").Str; user != "" {
		if len(user) > maxUser {
			sum := sha256.Sum256([]byte(user))
			user = hex.EncodeToString(sum[:])
		}
		b = append(b, `,"user":`...)
		b = openai.AppendString(b, user)
	}
	if effort := reasoningEffort(r.doc.Get("thinking"), c.t.Upstream); effort != "" {
		b = append(b, `,"reasoning_effort":"`...)
		b = append(b, effort...)
		b = append(b, '"')
	}
	return b
}

// reasoningEffort maps an explicit thinking budget to reasoning_effort.
// Adaptive thinking (the model decides) asks Anthropic and Gemini
// deployments, which reason only when asked, for medium effort; an
// OpenAI-compatible model is not asked, as it may not reason at all.
func reasoningEffort(thinking gjson.Result, target adapter.Protocol) string {
	switch thinking.Get("type").Str {
	case "enabled":
	case "adaptive":
		if target == adapter.ProtocolMessages || target == adapter.ProtocolGemini {
			return "medium"
		}
		return ""
	default:
		return ""
	}
	switch budget := thinking.Get("budget_tokens").Int(); {
	case budget <= 0:
		return ""
	case budget < 4096:
		return "low"
	case budget < 16384:
		return "medium"
	}
	return "high"
}

// tools writes tools, tool_choice and parallel_tool_calls. tool_choice and
// parallel_tool_calls go only with tools: OpenAI refuses them alone.
func (c *chatWriter) tools(b []byte, doc gjson.Result) []byte {
	names := map[string]bool{}
	k := 0
	doc.Get("tools").ForEach(func(_, tool gjson.Result) bool {
		if !clientTool(tool) {
			return true
		}
		name := tool.Get("name").Str
		if name == "" {
			return true
		}
		if k == 0 {
			b = append(b, `,"tools":[`...)
		} else {
			b = append(b, ',')
		}
		k++
		names[name] = true
		b = append(b, `{"type":"function","function":{"name":`...)
		b = openai.AppendString(b, name)
		if d := tool.Get("description").Str; d != "" {
			b = append(b, `,"description":`...)
			b = openai.AppendString(b, d)
		}
		b = append(b, `,"parameters":`...)
		if s := tool.Get("input_schema"); s.IsObject() {
			b = append(b, s.Raw...)
		} else {
			b = append(b, `{"type":"object","properties":{}}`...)
		}
		b = append(b, "}}"...)
		return true
	})
	if k == 0 {
		return b
	}
	b = append(b, ']')
	choice := doc.Get("tool_choice")
	switch choice.Get("type").Str {
	case "auto":
		b = append(b, `,"tool_choice":"auto"`...)
	case "any":
		b = append(b, `,"tool_choice":"required"`...)
	case "none":
		b = append(b, `,"tool_choice":"none"`...)
	case "tool":
		if name := choice.Get("name").Str; names[name] {
			b = append(b, `,"tool_choice":{"type":"function","function":{"name":`...)
			b = openai.AppendString(b, name)
			b = append(b, "}}"...)
		}
		// A named tool the target cannot run (a server tool) was
		// dropped: the model chooses among the others.
	}
	if choice.Get("disable_parallel_tool_use").Bool() && c.t.Upstream == adapter.ProtocolChat {
		b = append(b, `,"parallel_tool_calls":false`...)
	}
	return b
}
