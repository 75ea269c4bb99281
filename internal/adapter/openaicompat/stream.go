package openaicompat

import (
	"bytes"
	"io"

	"aigateway/internal/adapter"
	"aigateway/internal/sse"
)

// stream relays an upstream OpenAI SSE stream event by event, and its SSE
// comments (": keep-alive", ": OPENROUTER PROCESSING") as they come. It
// reads on the caller's goroutine; canceling the request context unblocks a
// pending read.
type stream struct {
	call  *adapter.Call
	r     *sse.Reader
	usage adapter.Usage
	done  bool // the upstream sent [DONE]
}

func newStream(call *adapter.Call, maxEvent int) *stream {
	r := sse.NewReader(call.Body(), maxEvent)
	r.ReturnComments()
	return &stream{call: call, r: r}
}

// usageKey marks a chunk that carries a usage object (the others say
// "usage":null or nothing), so that only that chunk is parsed.
var usageKey = []byte(`"usage":{`)

// errorKey marks an in-band error event (`data: {"error": {...}}` in a 200
// stream), whose provider text may echo the key like an error body does.
// Only such events are scanned for secrets; content chunks are not.
var errorKey = []byte(`"error"`)

func (s *stream) Next() (adapter.Chunk, error) {
	if s.done {
		return adapter.Chunk{}, io.EOF
	}
	ev, err := s.r.Next()
	if err != nil {
		return adapter.Chunk{}, s.call.StreamError(err)
	}
	if ev.Comment {
		return adapter.Chunk{Data: ev.Data, Comment: true}, nil
	}
	if sse.IsDone(ev.Data) {
		s.done = true
		s.call.Finished()
		return adapter.Chunk{}, io.EOF
	}
	if bytes.Contains(ev.Data, usageKey) {
		s.usage = usageOf(ev.Data)
	}
	if bytes.Contains(ev.Data, errorKey) {
		return adapter.Chunk{Data: s.call.Redact(ev.Data)}, nil
	}
	return adapter.Chunk{Data: ev.Data}, nil
}

func (s *stream) Buffered() bool { return !s.done && s.r.Buffered() }

func (s *stream) Usage() adapter.Usage { return s.usage }

func (s *stream) Close() error { return s.call.Close() }

var _ adapter.Stream = (*stream)(nil)
