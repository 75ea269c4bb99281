package openaicompat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
	"aigateway/internal/sse"
)

// stream relays an upstream OpenAI SSE stream event by event. It reads on the
// caller's goroutine; canceling the request context unblocks a pending read.
type stream struct {
	ctx   context.Context
	a     *Adapter
	body  io.ReadCloser
	r     *sse.Reader
	wd    *adapter.Watchdog
	usage adapter.Usage
	done  bool // the upstream sent [DONE]
}

func newStream(ctx context.Context, a *Adapter, body io.ReadCloser, wd *adapter.Watchdog) *stream {
	return &stream{ctx: ctx, a: a, body: body, r: sse.NewReader(body, a.maxResponse), wd: wd}
}

// usageKey marks a chunk that carries a usage object (the others say
// "usage":null or nothing), so that only that chunk is parsed.
var usageKey = []byte(`"usage":{`)

func (s *stream) Next() ([]byte, error) {
	if s.done {
		return nil, io.EOF
	}
	ev, err := s.r.Next()
	if err != nil {
		return nil, s.failure(err)
	}
	s.wd.Kick()
	if sse.IsDone(ev.Data) {
		s.done = true
		return nil, io.EOF
	}
	if bytes.Contains(ev.Data, usageKey) {
		s.usage = usageOf(ev.Data)
	}
	return ev.Data, nil
}

// failure explains why the stream stopped before [DONE].
func (s *stream) failure(err error) error {
	if s.ctx.Err() != nil && !adapter.TimedOut(s.ctx) {
		return fmt.Errorf("reading the stream: %w", context.Cause(s.ctx))
	}
	e := &adapter.Error{
		Status: http.StatusBadGateway,
		Err:    openai.Error{Type: openai.TypeUpstream, Code: "stream_incomplete"},
		Cause:  err,
	}
	switch {
	case adapter.TimedOut(s.ctx):
		e.Status, e.Err.Type, e.Err.Code = http.StatusGatewayTimeout, openai.TypeTimeout, "upstream_timeout"
		e.Err.Message = fmt.Sprintf("model %q: the upstream stream was silent for %s", s.a.id, s.a.timeout)
	case errors.Is(err, sse.ErrEventTooLarge):
		e.Err.Code = "upstream_response_too_large"
		e.Err.Message = fmt.Sprintf("model %q: an upstream stream event exceeds %d bytes", s.a.id, s.a.maxResponse)
	case err == io.EOF:
		e.Err.Message = fmt.Sprintf("model %q: the upstream ended the stream before it was complete (no [DONE])", s.a.id)
	default:
		e.Err.Message = fmt.Sprintf("model %q: the upstream stream broke off before it was complete: %s", s.a.id, reason(err))
	}
	return e
}

func (s *stream) Buffered() bool { return !s.done && s.r.Buffered() }

func (s *stream) Usage() adapter.Usage { return s.usage }

// Close releases the upstream response. After [DONE] it first reads what is
// left (normally just the end of the chunked body) so that the connection
// goes back to the pool instead of being torn down.
func (s *stream) Close() error {
	if s.done {
		s.wd.Extend(drainTimeout)
		io.Copy(io.Discard, io.LimitReader(s.body, 64<<10)) //nolint:errcheck // best effort
	}
	s.wd.Stop()
	return s.body.Close()
}

var _ adapter.Stream = (*stream)(nil)
