package responses

import (
	"strconv"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/inbound"
)

// The event names, which are also the events' "type".
var (
	evCreated          = []byte("response.created")
	evInProgress       = []byte("response.in_progress")
	evItemAdded        = []byte("response.output_item.added")
	evItemDone         = []byte("response.output_item.done")
	evPartAdded        = []byte("response.content_part.added")
	evPartDone         = []byte("response.content_part.done")
	evTextDelta        = []byte("response.output_text.delta")
	evTextDone         = []byte("response.output_text.done")
	evArgsDelta        = []byte("response.function_call_arguments.delta")
	evArgsDone         = []byte("response.function_call_arguments.done")
	evInputDelta       = []byte("response.custom_tool_call_input.delta")
	evInputDone        = []byte("response.custom_tool_call_input.done")
	evSummaryPartAdded = []byte("response.reasoning_summary_part.added")
	evSummaryPartDone  = []byte("response.reasoning_summary_part.done")
	evSummaryDelta     = []byte("response.reasoning_summary_text.delta")
	evSummaryDone      = []byte("response.reasoning_summary_text.done")
	evCompleted        = []byte("response.completed")
	evIncomplete       = []byte("response.incomplete")
	evFailed           = []byte("response.failed")
)

// itemKind is the kind of the output item being streamed.
type itemKind uint8

const (
	itemNone itemKind = iota
	itemReasoning
	itemMessage
	itemCall
)

// stream converts a Chat Completions stream into Responses events. One
// output item is open at a time, as the Responses API streams them: a
// delta of another kind closes it and opens the next.
type stream struct {
	q *request
	t inbound.Target
	h header

	seq     int64
	started bool

	// The events of one Chunk or End call: their data in buf, delimited by
	// marks; out is rebuilt from them at the end of the call, since buf
	// may move while it grows.
	buf   []byte
	marks []mark
	out   []adapter.Chunk

	output []byte // the finished items, comma separated
	nItems int    // items opened so far: the next output_index

	cur   itemKind
	index int    // the open item's output_index
	id    []byte // the open item's id
	text  []byte // the open reasoning or message text
	sig   []byte // the open reasoning's upstream signature

	calls   map[int64]*streamCall // by the Chat tool call index
	curCall *streamCall

	finish string
	usage  usage
}

type mark struct {
	ev         []byte
	start, end int
}

type streamCall struct {
	call
	index   int
	id      []byte
	open    bool
	done    bool
	scan    inputScanner
	decoded []byte // a custom call's input decoded so far
	sent    int    // bytes of decoded sent as deltas
}

// NewStream implements inbound.Request.
func (q *request) NewStream(t inbound.Target) inbound.Stream {
	return &stream{q: q, t: t, h: q.header()}
}

// Chunk implements inbound.Stream. It reads the chunk in one pass over
// its keys (and one over its delta's), on the chunk's bytes without a copy;
// what outlives the call is cloned.
func (s *stream) Chunk(data []byte) ([]adapter.Chunk, error) {
	s.buf, s.marks = s.buf[:0], s.marks[:0]
	if !s.started {
		s.start()
	}
	gjson.Parse(unsafe.String(unsafe.SliceData(data), len(data))).ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "choices":
			v.ForEach(func(_, ch gjson.Result) bool {
				s.choice(ch)
				return false // choice 0 only: n > 1 is not asked for
			})
		case "usage":
			if v.IsObject() {
				s.usage = usageOf(v)
			}
		}
		return true
	})
	return s.chunks(), nil
}

func (s *stream) choice(ch gjson.Result) {
	var delta gjson.Result
	ch.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "delta":
			delta = v
		case "finish_reason":
			if v.Type == gjson.String {
				s.finish = strings.Clone(v.Str)
			}
		}
		return true
	})
	var reasoning, signature, content, refusal string
	var calls gjson.Result
	delta.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "content":
			content = v.Str
		case "reasoning_content":
			reasoning = v.Str
		case "reasoning":
			if reasoning == "" {
				reasoning = v.Str
			}
		case "reasoning_signature":
			signature = v.Str
		case "refusal":
			refusal = v.Str
		case "tool_calls":
			calls = v
		}
		return true
	})
	if reasoning != "" {
		s.reasoningDelta(reasoning)
	}
	if signature != "" {
		if s.cur != itemReasoning {
			s.openReasoning()
		}
		s.sig = append(s.sig, signature...)
	}
	if content != "" {
		s.textDelta(content)
	}
	if refusal != "" {
		s.textDelta(refusal)
	}
	calls.ForEach(func(_, tc gjson.Result) bool {
		s.toolDelta(tc)
		return true
	})
}

// End implements inbound.Stream: it closes the open item, stores the
// response (when the client lets it be stored) and returns the terminal
// response.completed, or response.incomplete when the output was cut.
func (s *stream) End() []adapter.Chunk {
	s.buf, s.marks = s.buf[:0], s.marks[:0]
	if !s.started {
		s.start()
	}
	s.closeItem()
	if s.nItems == 0 { // an empty answer is still a message
		s.openMessage()
		s.closeItem()
	}
	o := outcomeOf(s.finish)
	obj := s.h.appendObject(make([]byte, 0, len(s.output)+len(s.h.echo)+256), o, s.output, s.usage)
	s.q.save(obj, s.output)
	ev := evCompleted
	if o.status == "incomplete" {
		ev = evIncomplete
	}
	s.begin(ev)
	s.buf = append(s.buf, `,"response":`...)
	s.buf = append(s.buf, obj...)
	s.end(ev)
	return s.chunks()
}

// Fail returns the response.failed event that ends a stream the upstream
// broke off: numbered after the events sent so far and naming this
// response, unlike Dialect.StreamError, which knows neither.
func (s *stream) Fail(e *inbound.Error) []adapter.Chunk {
	s.buf, s.marks = s.buf[:0], s.marks[:0]
	if !s.started {
		s.start()
	}
	start := len(s.buf)
	s.buf = s.h.appendFailed(s.buf, s.seq, e, s.output, s.usage)
	s.seq++
	s.marks = append(s.marks, mark{evFailed, start, len(s.buf)})
	return s.chunks()
}

// Usage implements inbound.Stream.
func (s *stream) Usage() adapter.Usage {
	return adapter.Usage{PromptTokens: s.usage.input, CompletionTokens: s.usage.output, TotalTokens: s.usage.total,
		CachedTokens: s.usage.cached, ReasoningTokens: s.usage.reasoning}
}

func (s *stream) chunks() []adapter.Chunk {
	s.out = s.out[:0]
	for _, m := range s.marks {
		s.out = append(s.out, adapter.Chunk{Event: m.ev, Data: s.buf[m.start:m.end]})
	}
	return s.out
}

func (s *stream) start() {
	s.started = true
	for _, ev := range [...][]byte{evCreated, evInProgress} {
		s.begin(ev)
		s.buf = append(s.buf, `,"response":`...)
		s.buf = s.h.appendObject(s.buf, outcome{status: "in_progress"}, nil, usage{})
		s.end(ev)
	}
}

// begin starts an event's data: its type and sequence number.
func (s *stream) begin(ev []byte) {
	s.marks = append(s.marks, mark{ev: ev, start: len(s.buf)})
	s.buf = append(s.buf, `{"type":"`...)
	s.buf = append(s.buf, ev...)
	s.buf = append(s.buf, `","sequence_number":`...)
	s.buf = strconv.AppendInt(s.buf, s.seq, 10)
	s.seq++
}

func (s *stream) end(ev []byte) {
	s.buf = append(s.buf, '}')
	s.marks[len(s.marks)-1].end = len(s.buf)
}

// itemRef appends the item_id and output_index of the open item.
func (s *stream) itemRef(id []byte, index int) {
	s.buf = append(s.buf, `,"item_id":"`...)
	s.buf = append(s.buf, id...)
	s.buf = append(s.buf, `","output_index":`...)
	s.buf = strconv.AppendInt(s.buf, int64(index), 10)
}

// open starts an output item and announces it with the item as given.
func (s *stream) open(kind itemKind, prefix string) {
	s.closeItem()
	s.cur, s.index = kind, s.nItems
	s.nItems++
	s.id = itemID(s.id[:0], prefix, s.h.id, s.index)
	s.text = s.text[:0]
}

func (s *stream) itemEvent(ev []byte, item func([]byte) []byte) {
	s.begin(ev)
	s.buf = append(s.buf, `,"output_index":`...)
	s.buf = strconv.AppendInt(s.buf, int64(s.index), 10)
	s.buf = append(s.buf, `,"item":`...)
	s.buf = item(s.buf)
	s.end(ev)
}

func (s *stream) openReasoning() {
	s.open(itemReasoning, "rs_")
	s.itemEvent(evItemAdded, func(b []byte) []byte { return appendReasoningItem(b, s.id, "", "", false) })
	s.begin(evSummaryPartAdded)
	s.itemRef(s.id, s.index)
	s.buf = append(s.buf, `,"summary_index":0,"part":{"type":"summary_text","text":""}`...)
	s.end(evSummaryPartAdded)
}

func (s *stream) reasoningDelta(text string) {
	if s.cur != itemReasoning {
		s.openReasoning()
	}
	s.text = append(s.text, text...)
	s.begin(evSummaryDelta)
	s.itemRef(s.id, s.index)
	s.buf = append(s.buf, `,"summary_index":0,"delta":`...)
	s.buf = appendJSONString(s.buf, text)
	s.end(evSummaryDelta)
}

func (s *stream) openMessage() {
	s.open(itemMessage, "msg_")
	s.itemEvent(evItemAdded, func(b []byte) []byte { return appendMessageItem(b, s.id, "", "", "in_progress", false) })
	s.begin(evPartAdded)
	s.itemRef(s.id, s.index)
	s.buf = append(s.buf, `,"content_index":0,"part":`...)
	s.buf = appendTextPart(s.buf, "")
	s.end(evPartAdded)
}

func (s *stream) textDelta(text string) {
	if s.cur != itemMessage {
		s.openMessage()
	}
	s.text = append(s.text, text...)
	s.begin(evTextDelta)
	s.itemRef(s.id, s.index)
	s.buf = append(s.buf, `,"content_index":0,"delta":`...)
	s.buf = appendJSONString(s.buf, text)
	s.buf = append(s.buf, `,"logprobs":[]`...)
	s.end(evTextDelta)
}

// toolDelta takes one element of a chunk's delta.tool_calls. The item
// opens once the function's name is known, since the name decides between
// function_call and custom_tool_call.
func (s *stream) toolDelta(tc gjson.Result) {
	i := tc.Get("index").Int()
	c := s.calls[i]
	if c == nil {
		if s.calls == nil {
			s.calls = make(map[int64]*streamCall)
		}
		c = &streamCall{}
		s.calls[i] = c
	}
	if id := tc.Get("id").Str; id != "" && c.callID == "" {
		c.callID = strings.Clone(id)
	}
	if name := tc.Get("function.name").Str; name != "" && c.name == "" {
		c.name = strings.Clone(name)
	}
	frag := tc.Get("function.arguments").Str
	if !c.open && !c.done && (c.name != "" || frag != "") {
		s.openCall(c)
	}
	if frag == "" {
		return
	}
	c.args = append(c.args, frag...)
	if c != s.curCall || s.cur != itemCall {
		// A call resumed after another item began (no upstream seen does
		// this): its arguments still reach the final item.
		return
	}
	if c.origin.custom {
		c.decoded = c.scan.write(c.decoded, []byte(frag))
		s.inputDelta(c, completeUTF8(c.decoded))
		return
	}
	s.begin(evArgsDelta)
	s.itemRef(c.id, c.index)
	s.buf = append(s.buf, `,"delta":`...)
	s.buf = appendJSONString(s.buf, frag)
	s.end(evArgsDelta)
}

func (s *stream) openCall(c *streamCall) {
	c.origin = s.q.tools[c.name]
	prefix := "fc_"
	if c.origin.custom {
		prefix = "ctc_"
	}
	s.open(itemCall, prefix)
	c.open, c.index, c.id = true, s.index, append([]byte(nil), s.id...)
	if c.callID == "" {
		c.callID = "call_" + string(c.id)
	}
	s.curCall = c
	s.itemEvent(evItemAdded, func(b []byte) []byte { return appendCallItem(b, c.id, &c.call, false) })
}

// inputDelta sends a custom call's decoded input up to upto.
func (s *stream) inputDelta(c *streamCall, upto int) {
	if upto <= c.sent {
		return
	}
	s.begin(evInputDelta)
	s.itemRef(c.id, c.index)
	s.buf = append(s.buf, `,"delta":`...)
	s.buf = appendJSONBytes(s.buf, c.decoded[c.sent:upto])
	s.end(evInputDelta)
	c.sent = upto
}

// closeItem finishes the open item with its .done events.
func (s *stream) closeItem() {
	switch s.cur {
	case itemNone:
		return
	case itemReasoning:
		text := string(s.text)
		s.begin(evSummaryDone)
		s.itemRef(s.id, s.index)
		s.buf = append(s.buf, `,"summary_index":0,"text":`...)
		s.buf = appendJSONString(s.buf, text)
		s.end(evSummaryDone)
		s.begin(evSummaryPartDone)
		s.itemRef(s.id, s.index)
		s.buf = append(s.buf, `,"summary_index":0,"part":{"type":"summary_text","text":`...)
		s.buf = appendJSONString(s.buf, text)
		s.buf = append(s.buf, '}')
		s.end(evSummaryPartDone)
		sig := string(s.sig)
		s.sig = s.sig[:0]
		s.finishItem(func(b []byte) []byte { return appendReasoningItem(b, s.id, text, mintReasoning(s.t, text, sig), true) })
	case itemMessage:
		text := string(s.text)
		s.begin(evTextDone)
		s.itemRef(s.id, s.index)
		s.buf = append(s.buf, `,"content_index":0,"text":`...)
		s.buf = appendJSONString(s.buf, text)
		s.buf = append(s.buf, `,"logprobs":[]`...)
		s.end(evTextDone)
		s.begin(evPartDone)
		s.itemRef(s.id, s.index)
		s.buf = append(s.buf, `,"content_index":0,"part":`...)
		s.buf = appendTextPart(s.buf, text)
		s.end(evPartDone)
		status := "completed"
		if s.finish == "length" {
			status = "incomplete"
		}
		s.finishItem(func(b []byte) []byte { return appendMessageItem(b, s.id, text, "", status, true) })
	case itemCall:
		c := s.curCall
		c.open, c.done = false, true
		if len(c.args) == 0 {
			c.args = append(c.args, "{}"...)
		}
		if c.origin.custom {
			input := c.input()
			if len(input) > c.sent && input[:c.sent] == string(c.decoded[:c.sent]) {
				c.decoded = append(c.decoded[:c.sent], input[c.sent:]...)
				s.inputDelta(c, len(c.decoded))
			}
			s.begin(evInputDone)
			s.itemRef(c.id, c.index)
			s.buf = append(s.buf, `,"input":`...)
			s.buf = appendJSONString(s.buf, input)
			s.end(evInputDone)
		} else {
			s.begin(evArgsDone)
			s.itemRef(c.id, c.index)
			s.buf = append(s.buf, `,"name":`...)
			s.buf = appendJSONString(s.buf, c.name)
			s.buf = append(s.buf, `,"arguments":`...)
			s.buf = appendJSONBytes(s.buf, c.args)
			s.end(evArgsDone)
		}
		s.finishItem(func(b []byte) []byte { return appendCallItem(b, c.id, &c.call, true) })
		s.curCall = nil
	}
	s.cur = itemNone
}

// finishItem sends output_item.done with the item and keeps it for the
// final response.
func (s *stream) finishItem(item func([]byte) []byte) {
	start := len(s.output)
	s.output = sep(s.output, start)
	s.output = item(s.output)
	s.begin(evItemDone)
	s.buf = append(s.buf, `,"output_index":`...)
	s.buf = strconv.AppendInt(s.buf, int64(s.index), 10)
	s.buf = append(s.buf, `,"item":`...)
	s.buf = append(s.buf, s.output[start+sepLen(start):]...)
	s.end(evItemDone)
}

func sepLen(n int) int {
	if n > 0 {
		return 1
	}
	return 0
}

var _ inbound.Stream = (*stream)(nil)
