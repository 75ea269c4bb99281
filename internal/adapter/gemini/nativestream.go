package gemini

import (
	"bytes"
	"io"
	"net/http"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
	"aigateway/internal/sse"
)

// nativeStream relays a streamGenerateContent?alt=sse stream event by
// event, and its comments as they come, reading on the caller's goroutine
// (the Call's watchdog bounds every silence). It tracks the usage from
// usageMetadata (running totals, the latest of each count kept) and knows
// a proper end: EOF after a finishReason or a blocked prompt. An in-band
// error ends it with an *adapter.Error carrying the redacted Google error.
type nativeStream struct {
	call     *adapter.Call
	r        *sse.Reader
	usage    usageTotals
	finished bool // a finishReason or a promptFeedback.blockReason went by
	done     bool
}

func newNativeStream(call *adapter.Call) *nativeStream {
	r := sse.NewReader(call.Body(), adapter.DefaultMaxResponseBytes)
	r.ReturnComments()
	return &nativeStream{call: call, r: r}
}

// Keys that mark the events worth a closer look; the others pass untouched.
var (
	usageKey  = []byte(`"usageMetadata"`)
	finishKey = []byte(`"finishReason"`)
	blockKey  = []byte(`"blockReason"`)
	errorKey  = []byte(`"error"`)
)

func (s *nativeStream) Next() (adapter.Chunk, error) {
	if s.done {
		return adapter.Chunk{}, io.EOF
	}
	ev, err := s.r.Next()
	if err == io.EOF && s.finished {
		s.done = true
		s.call.Finished()
		return adapter.Chunk{}, io.EOF
	}
	if err == io.EOF {
		e := adapter.Errorf(http.StatusBadGateway, openai.TypeUpstream, "stream_incomplete", "the Gemini stream ended before the reply was complete")
		e.Cause = errIncomplete
		return adapter.Chunk{}, e
	}
	if err != nil {
		return adapter.Chunk{}, s.call.StreamError(err)
	}
	if ev.Comment {
		return adapter.Chunk{Data: ev.Data, Comment: true}, nil
	}
	data := ev.Data
	if bytes.Contains(data, errorKey) {
		if d := bytes.TrimSpace(data); len(d) > 0 && d[0] == '[' || gjson.GetBytes(d, "error").IsObject() {
			if googleErrorBody(d) != nil {
				return adapter.Chunk{}, nativeInBandError(s.call, d)
			}
		}
	}
	if bytes.Contains(data, usageKey) {
		s.usage.updateJSON(gjson.GetBytes(data, "usageMetadata"))
	}
	if !s.finished && (bytes.Contains(data, finishKey) || bytes.Contains(data, blockKey)) {
		s.finished = true
	}
	return adapter.Chunk{Data: data}, nil
}

func (s *nativeStream) Buffered() bool { return !s.done && s.r.Buffered() }

func (s *nativeStream) Usage() adapter.Usage { return s.usage.adapter() }

func (s *nativeStream) Close() error { return s.call.Close() }

var _ adapter.Stream = (*nativeStream)(nil)
