package mockllm

import (
	"strconv"

	"aigateway/internal/openai"
)

// geminiReply is a planned reply in Gemini's shape. Gemini sends each
// functionCall whole, so its body chunks are the text pieces plus one chunk
// holding every call.
type geminiReply struct {
	rp       *reply
	model    string
	id       string
	thoughts *int // usageMetadata.thoughtsTokenCount; nil: absent
	chunks   int
	thought  string // Directive.Reasoning, sent as a thought part
}

func (c *call) geminiGenerate(model string, stream bool) error {
	var req geminiRequest
	if !c.geminiRequest(&req) {
		return nil
	}
	d, ok := c.directive(req.Mock)
	if !ok {
		return nil
	}
	if done, err := c.start(d, stream); done {
		return err
	}
	gemini3 := isGemini3(model)
	if gemini3 && c.checkSignatures(&req) {
		return nil
	}
	rp := c.s.plan(d, req.promptWords(), true)
	if len(rp.calls) > 0 && rp.calls[0].sig == "" {
		switch {
		case d.ThoughtSignature != "":
			rp.calls[0].sig = d.ThoughtSignature
		case gemini3:
			rp.calls[0].sig = mockSignature(c.seq)
		}
	}
	for _, pc := range rp.calls {
		if pc.sig != "" {
			c.s.issued.add(pc.sig)
		}
	}
	g := geminiReply{rp: &rp, model: model, id: "mock-" + strconv.FormatInt(c.seq, 10), thoughts: d.ThoughtsTokens, chunks: rp.numPieces(), thought: d.Reasoning}
	if len(rp.calls) > 0 {
		g.chunks++
	}
	if d.CompletionTokens == nil {
		rp.completionTokens = g.chunks
	}
	if stream {
		return c.geminiStream(d, &g, c.r.URL.Query().Get("alt") == "sse")
	}
	if err := c.pace(d, g.chunks); err != nil {
		return err
	}
	bp := c.s.getBuf()
	defer c.s.putBuf(bp)
	b := g.appendHead((*bp)[:0])
	comma := g.thought != ""
	if comma {
		b = g.appendThought(b)
	}
	if rp.hasText {
		if comma {
			b = append(b, ',')
		}
		b = append(b, `{"text":`...)
		b = rp.appendText(b)
		b = append(b, '}')
		comma = true
	}
	b = g.appendCalls(b, comma)
	b = g.appendTail(b, true, rp.completionTokens)
	b = append(b, '\n')
	*bp = b
	return c.writeWhole(d, geminiJSON, b)
}

// geminiFinish maps the planned finish reason to a finishReason. There is
// no tool-call reason: replies with function calls end with STOP.
func geminiFinish(finish string) string {
	switch finish {
	case "stop", "tool_calls":
		return "STOP"
	case "length":
		return "MAX_TOKENS"
	}
	return finish
}

// appendHead appends a response up to the first part.
func (g *geminiReply) appendHead(dst []byte) []byte {
	return append(dst, `{"candidates":[{"content":{"role":"model","parts":[`...)
}

// appendThought appends the thought part.
func (g *geminiReply) appendThought(dst []byte) []byte {
	dst = append(dst, `{"text":`...)
	dst = openai.AppendString(dst, g.thought)
	return append(dst, `,"thought":true}`...)
}

// appendCalls appends every functionCall part; comma says whether a part
// precedes them.
func (g *geminiReply) appendCalls(dst []byte, comma bool) []byte {
	for i, tc := range g.rp.calls {
		if i > 0 || comma {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"functionCall":{"name":`...)
		dst = openai.AppendString(dst, tc.name)
		dst = append(dst, `,"args":`...)
		dst = appendJSONArgs(dst, tc.args)
		dst = append(dst, '}')
		if tc.sig != "" {
			dst = append(dst, `,"thoughtSignature":`...)
			dst = openai.AppendString(dst, tc.sig)
		}
		dst = append(dst, '}')
	}
	return dst
}

// appendTail closes the parts and appends the rest of the response, with
// the finishReason if last and candidates counted as given.
func (g *geminiReply) appendTail(dst []byte, last bool, candidates int) []byte {
	dst = append(dst, "]}"...)
	if last {
		dst = append(dst, `,"finishReason":`...)
		dst = openai.AppendString(dst, geminiFinish(g.rp.finish))
	}
	dst = append(dst, `,"index":0}],"usageMetadata":{"promptTokenCount":`...)
	prompt := g.rp.promptTokens
	dst = appendInt(dst, int64(prompt))
	dst = append(dst, `,"candidatesTokenCount":`...)
	dst = appendInt(dst, int64(candidates))
	thoughts := 0
	if g.thoughts != nil {
		thoughts = *g.thoughts
	}
	dst = append(dst, `,"totalTokenCount":`...)
	dst = appendInt(dst, int64(prompt+candidates+thoughts))
	if g.thoughts != nil {
		dst = append(dst, `,"thoughtsTokenCount":`...)
		dst = appendInt(dst, int64(thoughts))
	}
	dst = append(dst, `},"modelVersion":`...)
	dst = openai.AppendString(dst, g.model)
	dst = append(dst, `,"responseId":`...)
	dst = openai.AppendString(dst, g.id)
	return append(dst, '}')
}

// geminiStream sends the reply as streamGenerateContent does: with sse,
// "data: <response>" events ended by CRLF CRLF as Google sends them;
// otherwise one JSON array whose elements arrive as they are made. Each
// element carries running usage; a last element with an empty text part
// carries the finishReason and the final usage. There is no [DONE].
func (c *call) geminiStream(d *Directive, g *geminiReply, sse bool) error {
	p := c.pacer(d, true)
	defer p.stop()
	bp := c.s.getBuf()
	defer c.s.putBuf(bp)
	k := geminiSink{sse: sse, b: (*bp)[:0]}
	defer func() { *bp = k.b[:0] }()
	ct := geminiJSON
	if sse {
		ct = "text/event-stream"
	}
	sw, err := c.startStream(ct)
	if err != nil {
		return err
	}
	k.sw = sw
	var ping []byte // a JSON array has no room for one
	if sse {
		ping = []byte(sseKeepAlive)
	}
	if err := p.begin(sw, ping); err != nil {
		return err
	}
	rp := g.rp
	running := func(n int) int { return min(n, rp.completionTokens) }
	if g.thought != "" {
		k.begin()
		k.b = g.appendTail(g.appendThought(g.appendHead(k.b)), false, 0)
		if err := k.send(); err != nil {
			return err
		}
	}
	for i := range rp.numPieces() {
		if err := p.next(); err != nil {
			return err
		}
		k.begin()
		k.b = append(g.appendHead(k.b), `{"text":`...)
		k.b = rp.appendPiece(k.b, i)
		k.b = g.appendTail(append(k.b, '}'), false, running(i+1))
		if err := k.send(); err != nil {
			return err
		}
	}
	if len(rp.calls) > 0 {
		if err := p.next(); err != nil {
			return err
		}
		k.begin()
		k.b = g.appendCalls(g.appendHead(k.b), false)
		k.b = g.appendTail(k.b, false, running(g.chunks))
		if err := k.send(); err != nil {
			return err
		}
	}
	if err := p.end(); err != nil {
		return err
	}
	k.begin()
	k.b = append(g.appendHead(k.b), `{"text":""}`...)
	k.b = g.appendTail(k.b, true, rp.completionTokens)
	if err := k.send(); err != nil {
		return err
	}
	if sse {
		return nil
	}
	k.b = append(k.b[:0], ']')
	return k.sw.send(k.b)
}

// geminiSink frames the elements of a Gemini stream.
type geminiSink struct {
	sw  *sseWriter
	sse bool
	n   int // elements sent
	b   []byte
}

// begin starts an element in k.b.
func (k *geminiSink) begin() {
	switch {
	case k.sse:
		k.b = append(k.b[:0], sseDataTag...)
	case k.n == 0:
		k.b = append(k.b[:0], '[')
	default:
		k.b = append(k.b[:0], ",\r\n"...)
	}
}

func (k *geminiSink) send() error {
	if k.sse {
		k.b = append(k.b, "\r\n\r\n"...)
	}
	k.n++
	return k.sw.send(k.b)
}
