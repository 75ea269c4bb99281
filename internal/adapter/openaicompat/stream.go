package openaicompat

import (
	"bytes"
	"io"

	"aigateway/internal/adapter"
	"aigateway/internal/sse"
)

// stream relays an upstream OpenAI SSE stream event by event. It reads on the
// caller's goroutine; canceling the request context unblocks a pending read.
type stream struct {
	call  *adapter.Call
	r     *sse.Reader
	usage adapter.Usage
	done  bool // the upstream sent [DONE]
}

func newStream(call *adapter.Call, maxEvent int) *stream {
	return &stream{call: call, r: sse.NewReader(call.Resp.Body, maxEvent)}
}

// usageKey marks a chunk that carries a usage object (the others say
// "usage":null or nothing), so that only that chunk is parsed.
var usageKey = []byte(`"usage":{`)

// errorKey marks an in-band error event (`data: {"error": {...}}` in a 200
// stream), whose provider text may echo the key like an error body does.
// Only such events are scanned for secrets; content chunks are not.
var errorKey = []byte(`"error"`)

func (s *stream) Next() ([]byte, error) {
	if s.done {
		return nil, io.EOF
	}
	// Restart the idle countdown right before reading: the time the
	// handler spent writing the last chunk to a slow client is not
	// upstream silence.
	s.call.Kick()
	ev, err := s.r.Next()
	if err != nil {
		return nil, s.call.StreamError(err)
	}
	if sse.IsDone(ev.Data) {
		s.done = true
		s.call.Finished()
		return nil, io.EOF
	}
	if bytes.Contains(ev.Data, usageKey) {
		s.usage = usageOf(ev.Data)
	}
	if bytes.Contains(ev.Data, errorKey) {
		return s.call.Redact(ev.Data), nil
	}
	return ev.Data, nil
}

func (s *stream) Buffered() bool { return !s.done && s.r.Buffered() }

func (s *stream) Usage() adapter.Usage { return s.usage }

func (s *stream) Close() error { return s.call.Close() }

var _ adapter.Stream = (*stream)(nil)
