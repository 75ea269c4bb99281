package geminiapi

import (
	"net/http"
	"strconv"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/inbound"
	"aigateway/internal/openai"
)

// maxCandidates bounds the choice indexes a stream keeps state for; an
// upstream that numbers choices wildly cannot make it allocate more.
const maxCandidates = 64

// NewStream implements inbound.Request.
func (r *request) NewStream(inbound.Target) inbound.Stream {
	return &stream{model: r.model, thoughts: r.includeThoughts}
}

// stream converts Chat Completions chunks into GenerateContentResponse
// stream elements: one per chunk that adds text or thoughts, function calls
// whole once their arguments are complete (when a later call starts, or at
// the end), and a last element with the finishReason and usageMetadata.
// Text is copied as the JSON string it came in, never unescaped and
// escaped again.
type stream struct {
	model    string
	thoughts bool // the client asked for thought parts

	id     string
	cands  []candState
	usage  usage
	buf    []byte
	out    [1]adapter.Chunk
	parts  partWriter
	opened bool // an element's candidates array is open in buf
}

// candState is one choice's progress.
type candState struct {
	used   bool
	finish string
	calls  []toolCall // started and not yet sent
}

// toolCall is a function call whose arguments are still arriving.
type toolCall struct {
	index int64
	id    string
	name  string
	args  []byte
}

func (s *stream) cand(i int64) *candState {
	if i < 0 || i >= maxCandidates {
		return nil
	}
	for int64(len(s.cands)) <= i {
		s.cands = append(s.cands, candState{})
	}
	c := &s.cands[i]
	c.used = true
	return c
}

// Chunk implements inbound.Stream.
func (s *stream) Chunk(data []byte) ([]adapter.Chunk, error) {
	root := gjson.ParseBytes(data)
	if e := root.Get("error"); e.Exists() && !root.Get("choices").Exists() {
		return nil, chunkError(e)
	}
	if s.id == "" {
		s.id = root.Get("id").String()
	}
	if u := root.Get("usage"); u.IsObject() {
		s.usage = usageOf(u)
	}
	s.buf = s.buf[:0]
	s.opened = false
	root.Get("choices").ForEach(func(_, ch gjson.Result) bool {
		idx := ch.Get("index").Int()
		c := s.cand(idx)
		if c == nil {
			return true
		}
		s.choice(idx, c, ch)
		return true
	})
	if !s.opened {
		return nil, nil
	}
	s.buf = append(s.buf, ']')
	s.buf = appendTail(s.buf, s.model, s.id)
	s.buf = append(s.buf, '}')
	s.out[0] = adapter.Chunk{Data: s.buf}
	return s.out[:], nil
}

// choice handles one choice of a chunk, appending a candidate to the
// element when it yields parts.
func (s *stream) choice(idx int64, c *candState, ch gjson.Result) {
	d := ch.Get("delta")
	s.parts = partWriter{}
	begin := func() {
		if s.parts.n > 0 {
			return
		}
		s.beginCandidate(idx)
		s.parts.b = s.buf
	}
	d.Get("tool_calls").ForEach(func(_, tc gjson.Result) bool {
		i := tc.Get("index").Int()
		if n := len(c.calls); n > 0 && c.calls[n-1].index != i {
			// A new call starts: the earlier ones are complete.
			begin()
			s.flushCalls(c)
		}
		if n := len(c.calls); n == 0 || c.calls[n-1].index != i {
			c.calls = append(c.calls, toolCall{index: i})
		}
		call := &c.calls[len(c.calls)-1]
		if id := tc.Get("id").String(); id != "" {
			call.id = id
		}
		if name := tc.Get("function.name").String(); name != "" {
			call.name = name
		}
		call.args = append(call.args, tc.Get("function.arguments").String()...)
		return true
	})
	if s.thoughts {
		if r := rawReasoning(d); r.Type == gjson.String && len(r.Raw) > 2 {
			begin()
			s.rawPart(r.Raw, true)
		}
	}
	if t := d.Get("content"); t.Type == gjson.String && len(t.Raw) > 2 {
		begin()
		s.rawPart(t.Raw, false)
	}
	if f := ch.Get("finish_reason"); f.Type == gjson.String {
		c.finish = f.String()
	}
	if s.parts.n == 0 {
		return // nothing for this candidate: begin was never called
	}
	s.buf = append(s.parts.b, `]},"index":`...)
	s.buf = strconv.AppendInt(s.buf, idx, 10)
	s.buf = append(s.buf, '}')
}

// rawReasoning is the delta's reasoning text as a JSON value.
func rawReasoning(d gjson.Result) gjson.Result {
	if r := d.Get("reasoning_content"); r.Type == gjson.String && len(r.Raw) > 2 {
		return r
	}
	return d.Get("reasoning")
}

// beginCandidate opens the element (on its first candidate) and a
// candidate's content.
func (s *stream) beginCandidate(idx int64) {
	if !s.opened {
		s.opened = true
		s.buf = append(s.buf, `{"candidates":[`...)
	} else {
		s.buf = append(s.buf, ',')
	}
	s.buf = append(s.buf, `{"content":{"role":"model","parts":[`...)
}

// rawPart appends a text part whose text is the JSON string raw.
func (s *stream) rawPart(raw string, thought bool) {
	p := &s.parts
	p.open()
	p.b = append(p.b, `{"text":`...)
	if gjson.Valid(raw) {
		p.b = append(p.b, raw...)
	} else {
		// gjson reads a chunk that is not JSON leniently ("\0" as a
		// string): what is copied must be JSON.
		p.b = openai.AppendString(p.b, gjson.Parse(raw).Str)
	}
	if thought {
		p.b = append(p.b, `,"thought":true`...)
	}
	p.b = append(p.b, '}')
}

// flushCalls appends c's started calls as functionCall parts.
func (s *stream) flushCalls(c *candState) {
	for i := range c.calls {
		tc := &c.calls[i]
		s.parts.call(tc.id, tc.name, string(tc.args))
	}
	c.calls = c.calls[:0]
}

// End implements inbound.Stream: the last element, with each candidate's
// remaining function calls, its finishReason and the usage.
func (s *stream) End() []adapter.Chunk {
	s.buf = append(s.buf[:0], `{"candidates":[`...)
	n := 0
	for i := range s.cands {
		c := &s.cands[i]
		if !c.used {
			continue
		}
		if n > 0 {
			s.buf = append(s.buf, ',')
		}
		n++
		s.buf = append(s.buf, `{"content":{"role":"model","parts":[`...)
		s.parts = partWriter{b: s.buf}
		s.flushCalls(c)
		if s.parts.n == 0 {
			s.parts.b = append(s.parts.b, `{"text":""}`...)
		}
		s.buf = append(s.parts.b, `]},"finishReason":`...)
		s.buf = append(s.buf, '"')
		s.buf = append(s.buf, finishReason(c.finish)...)
		s.buf = append(s.buf, `","index":`...)
		s.buf = strconv.AppendInt(s.buf, int64(i), 10)
		s.buf = append(s.buf, '}')
	}
	if n == 0 {
		s.buf = append(s.buf, `{"content":{"role":"model","parts":[{"text":""}]},"finishReason":"STOP","index":0}`...)
	}
	s.buf = append(s.buf, ']')
	if s.usage.set {
		s.buf = appendUsage(s.buf, s.usage)
	}
	s.buf = appendTail(s.buf, s.model, s.id)
	s.buf = append(s.buf, '}')
	s.out[0] = adapter.Chunk{Data: s.buf}
	return s.out[:]
}

// Usage implements inbound.Stream.
func (s *stream) Usage() adapter.Usage {
	total := s.usage.total
	if total == 0 {
		total = s.usage.prompt + s.usage.completion
	}
	return adapter.Usage{PromptTokens: s.usage.prompt, CompletionTokens: s.usage.completion, TotalTokens: total,
		CachedTokens: s.usage.cached, ReasoningTokens: s.usage.thoughts}
}

// chunkError is an in-band error of a Chat stream ({"error": {...}}) as an
// *inbound.Error, which the handler reports with StreamError.
func chunkError(e gjson.Result) *inbound.Error {
	status := http.StatusBadGateway
	if c := e.Get("code"); c.Type == gjson.Number && c.Int() >= 400 && c.Int() <= 599 {
		status = int(c.Int())
	}
	msg := e.Get("message").String()
	if msg == "" {
		msg = "the upstream reported an error in the stream"
	}
	return &inbound.Error{Status: status, Type: e.Get("type").String(), Code: e.Get("code").String(), Message: msg}
}

var _ inbound.Stream = (*stream)(nil)
