package messages

import (
	"hash"
	"strconv"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/inbound"
	"aigateway/internal/openai"
)

// Event names of a Messages stream.
var (
	evMessageStart = []byte("message_start")
	evBlockStart   = []byte("content_block_start")
	evBlockDelta   = []byte("content_block_delta")
	evBlockStop    = []byte("content_block_stop")
	evMessageDelta = []byte("message_delta")
	evMessageStop  = []byte("message_stop")
	evPing         = []byte("ping")
)

type blockKind uint8

const (
	noBlock blockKind = iota
	thinkingBlock
	textBlock
	toolBlock
)

// NewStream implements inbound.Request. The converter writes the event
// sequence of PROTOCOLS.md 4.5 from Chat Completions chunks (6.7):
// message_start (and a ping) with the first chunk, then the blocks one at a
// time, each opened, filled and closed before the next (reasoning as
// thinking with a signature_delta, content as text, each tool call as
// tool_use with input_json_delta), indexes counting from 0 without gaps,
// and at the end message_delta and message_stop. message_start carries the
// upstream's prompt count when its first chunk has one, else the request's
// estimate, never 0 (Claude Code's context meter reads it); message_delta
// carries the real counts once the usage chunk came. The stop reason is
// tool_use whenever a tool was called, whatever finish_reason said.
//
// Only the first choice is converted; a Messages client cannot take more.
func (r *Request) NewStream(t inbound.Target) inbound.Stream {
	return &stream{r: r, sig: protocolDeployment{t.Upstream, t.Deployment}, toolIdx: -1}
}

// stream converts one Chat Completions stream.
type stream struct {
	r   *Request
	sig protocolDeployment

	// The events of one call are written one after another into buf;
	// spans records where each one is, so that the chunks can point into
	// buf once it stops growing.
	buf   []byte
	spans []span
	out   []adapter.Chunk

	started bool
	ended   bool
	msgID   string
	input   int64 // the input_tokens of message_start

	block   blockKind // the open block
	index   int       // the open block's index, or the next one's when none is open
	signer  hash.Hash // the open thinking block's signature
	upSig   []byte    // the upstream's signature of the open thinking block (Anthropic targets)
	toolIdx int       // the Chat index of the open or last tool call
	toolID  string    // its upstream id
	tools   int       // tool calls seen

	finish   string
	usage    usage
	outBytes int // output text, reasoning and arguments, for an estimate
}

type span struct {
	event      []byte
	start, end int
}

var _ inbound.Stream = (*stream)(nil)

// Chunk implements inbound.Stream.
func (s *stream) Chunk(data []byte) ([]adapter.Chunk, error) {
	s.buf, s.spans = s.buf[:0], s.spans[:0]
	if s.ended {
		return nil, nil
	}
	if len(data) == 0 {
		return nil, nil
	}
	// Aliasing data saves a copy; whatever outlives this call is copied
	// (into buf, or cloned).
	doc := gjson.Parse(unsafe.String(&data[0], len(data)))
	if u := doc.Get("usage"); u.IsObject() {
		s.usage.read(u)
	}
	if !s.started {
		s.start(doc.Get("id").Str)
	}
	choice := doc.Get("choices.0")
	if choice.Exists() {
		delta := choice.Get("delta")
		if th := reasoningText(delta); th != "" {
			s.thinking(th)
		}
		if sig := delta.Get("reasoning_signature").Str; sig != "" && upstreamSignature(s.sig, sig) != "" {
			if s.block != thinkingBlock {
				s.thinking("")
			}
			s.upSig = append(s.upSig, sig...)
		}
		if c := delta.Get("content"); c.Type == gjson.String && c.Str != "" {
			s.text(c.Str)
		}
		delta.Get("tool_calls").ForEach(func(i, tc gjson.Result) bool {
			s.toolCall(int(i.Int()), tc)
			return true
		})
		if f := choice.Get("finish_reason"); f.Type == gjson.String && f.Str != "" {
			s.finish = strings.Clone(f.Str)
		}
	}
	return s.chunks(), nil
}

// End implements inbound.Stream: it closes the open block and writes
// message_delta and message_stop.
func (s *stream) End() []adapter.Chunk {
	s.buf, s.spans = s.buf[:0], s.spans[:0]
	if s.ended {
		return nil
	}
	if !s.started {
		s.start("")
	}
	s.closeBlock()
	s.ended = true
	g := s.usage.gateway(s.input, s.outBytes)
	st := len(s.buf)
	s.buf = append(s.buf, `{"type":"message_delta","delta":{"stop_reason":"`...)
	s.buf = append(s.buf, stopReason(s.finish, s.tools > 0)...)
	s.buf = append(s.buf, `","stop_sequence":null},"usage":{`...)
	if in := s.usage.input(); s.usage.known && in != s.input {
		s.buf = append(s.buf, `"input_tokens":`...)
		s.buf = strconv.AppendInt(s.buf, in, 10)
		s.buf = append(s.buf, ',')
	}
	if s.usage.cacheRead > 0 {
		s.buf = append(s.buf, `"cache_read_input_tokens":`...)
		s.buf = strconv.AppendInt(s.buf, s.usage.cacheRead, 10)
		s.buf = append(s.buf, ',')
	}
	s.buf = append(s.buf, `"output_tokens":`...)
	s.buf = strconv.AppendInt(s.buf, max(g.CompletionTokens, 1), 10)
	s.buf = append(s.buf, "}}"...)
	s.mark(evMessageDelta, st)
	st = len(s.buf)
	s.buf = append(s.buf, `{"type":"message_stop"}`...)
	s.mark(evMessageStop, st)
	return s.chunks()
}

// Usage implements inbound.Stream.
func (s *stream) Usage() adapter.Usage {
	est := s.input
	if est == 0 {
		est = s.r.EstimateInputTokens()
	}
	return s.usage.gateway(est, s.outBytes)
}

func (s *stream) mark(ev []byte, start int) {
	s.spans = append(s.spans, span{ev, start, len(s.buf)})
}

func (s *stream) chunks() []adapter.Chunk {
	s.out = s.out[:0]
	for _, sp := range s.spans {
		s.out = append(s.out, adapter.Chunk{Event: sp.event, Data: s.buf[sp.start:sp.end]})
	}
	return s.out
}

// start writes message_start and a ping.
func (s *stream) start(chatID string) {
	s.started = true
	s.msgID = messageID(chatID, []byte(s.r.model))
	if s.usage.known {
		s.input = s.usage.input()
	}
	if s.input <= 0 {
		s.input = s.r.EstimateInputTokens()
	}
	st := len(s.buf)
	s.buf = append(s.buf, `{"type":"message_start","message":{"id":`...)
	s.buf = openai.AppendString(s.buf, s.msgID)
	s.buf = append(s.buf, `,"type":"message","role":"assistant","model":`...)
	s.buf = openai.AppendString(s.buf, s.r.model)
	s.buf = append(s.buf, `,"content":[],"stop_reason":null,"stop_sequence":null,"usage":{`...)
	s.buf = s.usage.appendAnthropic(s.buf, s.input, 1)
	s.buf = append(s.buf, "}}}"...)
	s.mark(evMessageStart, st)
	st = len(s.buf)
	s.buf = append(s.buf, `{"type":"ping"}`...)
	s.mark(evPing, st)
}

// openBlock closes the open block and opens one of kind k; head is the
// content_block JSON.
func (s *stream) openBlock(k blockKind, head func(b []byte) []byte) {
	s.closeBlock()
	s.block = k
	st := len(s.buf)
	s.buf = append(s.buf, `{"type":"content_block_start","index":`...)
	s.buf = strconv.AppendInt(s.buf, int64(s.index), 10)
	s.buf = append(s.buf, `,"content_block":`...)
	s.buf = head(s.buf)
	s.buf = append(s.buf, '}')
	s.mark(evBlockStart, st)
}

// closeBlock closes the open block, if any; a thinking block gets its
// signature first.
func (s *stream) closeBlock() {
	if s.block == noBlock {
		return
	}
	if s.block == thinkingBlock {
		sig := finishSignature(s.signer)
		if len(s.upSig) > 0 {
			// One block per stream: a redacted_thinking block, which
			// cannot follow once this block is open, is not kept.
			sig, _, _ = strings.Cut(strings.TrimSpace(string(s.upSig)), " ")
			s.upSig = s.upSig[:0]
		}
		s.delta(`"signature_delta","signature":`, sig)
		s.signer = nil
	}
	st := len(s.buf)
	s.buf = append(s.buf, `{"type":"content_block_stop","index":`...)
	s.buf = strconv.AppendInt(s.buf, int64(s.index), 10)
	s.buf = append(s.buf, '}')
	s.mark(evBlockStop, st)
	s.block = noBlock
	s.index++
}

// delta writes a content_block_delta for the open block; kind is the
// delta's type and key, as `"text_delta","text":`.
func (s *stream) delta(kind, value string) {
	st := len(s.buf)
	s.buf = append(s.buf, `{"type":"content_block_delta","index":`...)
	s.buf = strconv.AppendInt(s.buf, int64(s.index), 10)
	s.buf = append(s.buf, `,"delta":{"type":`...)
	s.buf = append(s.buf, kind...)
	s.buf = openai.AppendString(s.buf, value)
	s.buf = append(s.buf, "}}"...)
	s.mark(evBlockDelta, st)
}

func (s *stream) thinking(text string) {
	if s.block != thinkingBlock {
		s.openBlock(thinkingBlock, func(b []byte) []byte {
			return append(b, `{"type":"thinking","thinking":"","signature":""}`...)
		})
		s.signer = newSigner(s.sig)
	}
	if text == "" {
		return
	}
	s.signer.Write([]byte(text)) //nolint:errcheck // hash writes never fail
	s.outBytes += len(text)
	s.delta(`"thinking_delta","thinking":`, text)
}

func (s *stream) text(text string) {
	if s.block != textBlock {
		s.openBlock(textBlock, func(b []byte) []byte {
			return append(b, `{"type":"text","text":""}`...)
		})
	}
	s.outBytes += len(text)
	s.delta(`"text_delta","text":`, text)
}

// toolCall handles one tool_calls entry of a delta (pos is its position in
// the array, the index when the server sent none). A new index, or a new
// id at the same index, starts a new tool_use block. Servers send one call
// after the other; a fragment for a call whose block is already closed
// cannot be sent any more and is dropped.
func (s *stream) toolCall(pos int, tc gjson.Result) {
	idx := pos
	if i := tc.Get("index"); i.Type == gjson.Number {
		idx = int(i.Int())
	}
	id := tc.Get("id").Str
	fn := tc.Get("function")
	if s.block != toolBlock || idx != s.toolIdx || (id != "" && id != s.toolID) {
		if s.tools > 0 && idx < s.toolIdx && id == "" {
			return // a late fragment of a closed call
		}
		s.tools++
		s.toolIdx, s.toolID = idx, strings.Clone(id)
		cid := clientID(id)
		if id == "" {
			cid = "toolu_gwmint_" + strings.TrimPrefix(s.msgID, "msg_") + "_" + strconv.Itoa(s.tools)
			if !validID(cid) {
				cid = "toolu_gwmint_" + strconv.Itoa(s.tools)
			}
		}
		name := fn.Get("name").Str
		s.openBlock(toolBlock, func(b []byte) []byte {
			b = append(b, `{"type":"tool_use","id":`...)
			b = openai.AppendString(b, cid)
			b = append(b, `,"name":`...)
			b = openai.AppendString(b, name)
			return append(b, `,"input":{}}`...)
		})
	}
	if args := fn.Get("arguments").Str; args != "" {
		s.outBytes += len(args)
		s.delta(`"input_json_delta","partial_json":`, args)
	}
}
