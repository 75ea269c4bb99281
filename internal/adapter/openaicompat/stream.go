package openaicompat

import (
	"bytes"
	"io"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/sse"
)

// stream relays an upstream OpenAI SSE stream event by event, and its SSE
// comments (": keep-alive", ": OPENROUTER PROCESSING") as they come. It
// reads on the caller's goroutine; canceling the request context unblocks a
// pending read.
//
// It keeps the usage the upstream reported, and counts the text it relayed
// so that a stream without one (cut short, or from an upstream that never
// reports usage) still has an estimate.
type stream struct {
	call   *adapter.Call
	r      *sse.Reader
	counts adapter.StreamCounts
	// hideUsage drops the usage-only chunk ("choices": [] and the usage):
	// the gateway asked for it, the client did not (see Adapter.send).
	hideUsage bool
	done      bool // the upstream sent [DONE]
}

func newStream(call *adapter.Call, maxEvent int, promptBytes int, hideUsage bool) *stream {
	r := sse.NewReader(call.Body(), maxEvent)
	r.ReturnComments()
	return &stream{call: call, r: r, counts: adapter.StreamCounts{PromptBytes: promptBytes}, hideUsage: hideUsage}
}

// usageKey marks a chunk that carries a usage object (the others say
// "usage":null or nothing), so that only that chunk is parsed.
var usageKey = []byte(`"usage":{`)

// errorKey marks an in-band error event (`data: {"error": {...}}` in a 200
// stream), whose provider text may echo the key like an error body does.
// Only such events are scanned for secrets; content chunks are not.
var errorKey = []byte(`"error"`)

func (s *stream) Next() (adapter.Chunk, error) {
	for {
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
			s.counts.Reported = usageOf(ev.Data)
			s.counts.PromptKnown, s.counts.CompletionKnown = true, true
			if s.hideUsage && usageOnly(ev.Data) {
				continue
			}
		}
		s.counts.TextBytes += adapter.ChunkTextBytes(ev.Data)
		if bytes.Contains(ev.Data, errorKey) {
			return adapter.Chunk{Data: s.call.Redact(ev.Data)}, nil
		}
		return adapter.Chunk{Data: ev.Data}, nil
	}
}

// usageOnly reports whether a chunk that carries usage is the final usage
// chunk of stream_options.include_usage: "choices" is an empty array. An
// upstream that puts usage on a chunk with choices keeps that chunk.
func usageOnly(data []byte) bool {
	c := gjson.GetBytes(data, "choices")
	return c.IsArray() && emptyArray(c.Raw)
}

// emptyArray reports whether raw, a JSON array, has no elements.
func emptyArray(raw string) bool {
	for i := 1; i < len(raw); i++ {
		switch raw[i] {
		case ' ', '\t', '\n', '\r':
		default:
			return raw[i] == ']'
		}
	}
	return true
}

func (s *stream) Buffered() bool { return !s.done && s.r.Buffered() }

// Usage returns the upstream's usage, or an estimate (Estimated) when the
// upstream reported none: from the request body's size and the text relayed.
func (s *stream) Usage() adapter.Usage { return s.counts.Usage() }

func (s *stream) Close() error { return s.call.Close() }

var _ adapter.Stream = (*stream)(nil)
