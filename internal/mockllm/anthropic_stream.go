package mockllm

import (
	"errors"

	"aigateway/internal/openai"
)

// anthropicPing is the keep-alive event of a Messages stream.
const anthropicPing = "event: ping\ndata: {\"type\":\"ping\"}\n\n"

// errInBand ends a stream after an in-band error event; the response is
// complete, so the handler reports success.
var errInBand = errors.New("mockllm: stream ended by an in-band error")

// anthropicStreamer writes one Messages event stream (PROTOCOLS.md 4.5).
type anthropicStreamer struct {
	sw      *sseWriter
	p       *pacer
	d       *Directive
	b       []byte
	errAt   int // body chunks before the stream_error event; -1: off
	pinged  bool
	nBlocks int // content blocks started so far
}

func (c *call) anthropicStream(d *Directive, rp *reply, m *anthropicHead) error {
	p := c.pacer(d, true)
	defer p.stop()
	bp := c.s.getBuf()
	defer c.s.putBuf(bp)
	st := &anthropicStreamer{p: p, d: d, b: (*bp)[:0], errAt: -1}
	defer func() { *bp = st.b[:0] }()
	if d.StreamError != "" {
		st.errAt = 1
		if d.StreamErrorAfter != nil {
			st.errAt = max(*d.StreamErrorAfter, 0)
		}
	}
	sw, err := c.startSSE()
	if err != nil {
		return err
	}
	if err := p.begin(sw, []byte(anthropicPing)); err != nil {
		return err
	}
	st.sw = sw
	err = st.run(rp, m)
	if errors.Is(err, errInBand) {
		return nil
	}
	return err
}

func (st *anthropicStreamer) run(rp *reply, m *anthropicHead) error {
	st.event("message_start")
	st.b = append(st.b, `{"type":"message_start","message":{"id":`...)
	st.b = openai.AppendString(st.b, m.id)
	st.b = append(st.b, `,"type":"message","role":"assistant","model":`...)
	st.b = openai.AppendString(st.b, m.model)
	st.b = append(st.b, `,"content":[],"stop_reason":null,"stop_sequence":null,"usage":`...)
	// output_tokens is 1 as with the real API, so a client that adds it to
	// message_delta's cumulative count instead of replacing it is caught.
	st.b = appendAnthropicUsage(st.b, rp.promptTokens, 1)
	st.b = append(st.b, "}}"...)
	if err := st.send(); err != nil {
		return err
	}
	if m.reasoning != "" {
		if err := st.thinkingBlock(m); err != nil {
			return err
		}
	}
	if rp.hasText {
		if err := st.textBlock(rp); err != nil {
			return err
		}
	}
	for i := range rp.calls {
		if err := st.toolBlock(&rp.calls[i]); err != nil {
			return err
		}
	}
	if st.errAt >= st.p.i {
		return st.inBandError()
	}
	if err := st.p.end(); err != nil {
		return err
	}
	st.event("message_delta")
	st.b = append(st.b, `{"type":"message_delta","delta":{"stop_reason":`...)
	st.b = openai.AppendString(st.b, anthropicStopReason(rp.finish))
	st.b = append(st.b, `,"stop_sequence":null},"usage":{"output_tokens":`...)
	st.b = appendInt(st.b, int64(rp.completionTokens))
	st.b = append(st.b, "}}"...)
	if err := st.send(); err != nil {
		return err
	}
	st.event("message_stop")
	st.b = append(st.b, `{"type":"message_stop"}`...)
	return st.send()
}

func (st *anthropicStreamer) textBlock(rp *reply) error {
	idx := st.startBlock()
	st.b = append(st.b, `{"type":"text","text":""}}`...)
	if err := st.send(); err != nil {
		return err
	}
	for i := range rp.numPieces() {
		if err := st.next(); err != nil {
			return err
		}
		st.delta(idx)
		st.b = append(st.b, `{"type":"text_delta","text":`...)
		st.b = rp.appendPiece(st.b, i)
		st.b = append(st.b, "}}"...)
		if err := st.sendDelta(); err != nil {
			return err
		}
	}
	return st.stopBlock(idx)
}

// thinkingBlock sends the reasoning as a thinking block: one
// thinking_delta and one signature_delta, as Anthropic ends each block.
func (st *anthropicStreamer) thinkingBlock(m *anthropicHead) error {
	idx := st.startBlock()
	st.b = append(st.b, `{"type":"thinking","thinking":"","signature":""}}`...)
	if err := st.send(); err != nil {
		return err
	}
	st.delta(idx)
	st.b = append(st.b, `{"type":"thinking_delta","thinking":`...)
	st.b = openai.AppendString(st.b, m.reasoning)
	st.b = append(st.b, "}}"...)
	if err := st.send(); err != nil {
		return err
	}
	st.delta(idx)
	st.b = append(st.b, `{"type":"signature_delta","signature":`...)
	st.b = openai.AppendString(st.b, m.signature)
	st.b = append(st.b, "}}"...)
	if err := st.send(); err != nil {
		return err
	}
	return st.stopBlock(idx)
}

func (st *anthropicStreamer) toolBlock(tc *plannedCall) error {
	if err := st.next(); err != nil {
		return err
	}
	idx := st.startBlock()
	st.b = appendToolUse(st.b, tc, true)
	st.b = append(st.b, '}')
	if err := st.send(); err != nil {
		return err
	}
	for _, frag := range tc.frags {
		if err := st.next(); err != nil {
			return err
		}
		st.delta(idx)
		st.b = append(st.b, `{"type":"input_json_delta","partial_json":`...)
		st.b = openai.AppendString(st.b, frag)
		st.b = append(st.b, "}}"...)
		if err := st.sendDelta(); err != nil {
			return err
		}
	}
	return st.stopBlock(idx)
}

// next is called before each body chunk: it sends the scripted in-band
// error when its turn has come, else runs the pacer.
func (st *anthropicStreamer) next() error {
	if st.errAt == st.p.i {
		return st.inBandError()
	}
	return st.p.next()
}

func (st *anthropicStreamer) inBandError() error {
	st.p.stop()
	st.event("error")
	st.b = appendAnthropicError(st.b, st.d.StreamError, streamErrorMessage(st.d))
	if err := st.send(); err != nil {
		return err
	}
	return errInBand
}

// startBlock begins a content_block_start event up to its content_block
// value and returns the block's index.
func (st *anthropicStreamer) startBlock() int {
	idx := st.nBlocks
	st.nBlocks++
	st.event("content_block_start")
	st.b = append(st.b, `{"type":"content_block_start","index":`...)
	st.b = appendInt(st.b, int64(idx))
	st.b = append(st.b, `,"content_block":`...)
	return idx
}

func (st *anthropicStreamer) stopBlock(idx int) error {
	st.event("content_block_stop")
	st.b = append(st.b, `{"type":"content_block_stop","index":`...)
	st.b = appendInt(st.b, int64(idx))
	st.b = append(st.b, '}')
	return st.send()
}

// delta begins a content_block_delta event up to its delta value.
func (st *anthropicStreamer) delta(idx int) {
	st.event("content_block_delta")
	st.b = append(st.b, `{"type":"content_block_delta","index":`...)
	st.b = appendInt(st.b, int64(idx))
	st.b = append(st.b, `,"delta":`...)
}

// sendDelta sends a delta event, followed by a ping after the first one:
// clients must ignore pings anywhere in the stream.
func (st *anthropicStreamer) sendDelta() error {
	if err := st.send(); err != nil {
		return err
	}
	if st.pinged {
		return nil
	}
	st.pinged = true
	st.event("ping")
	st.b = append(st.b, `{"type":"ping"}`...)
	return st.send()
}

// event starts a new event in st.b: its name line and "data: ".
func (st *anthropicStreamer) event(name string) {
	st.b = append(st.b[:0], "event: "...)
	st.b = append(st.b, name...)
	st.b = append(st.b, "\ndata: "...)
}

func (st *anthropicStreamer) send() error {
	st.b = append(st.b, "\n\n"...)
	return st.sw.send(st.b)
}
