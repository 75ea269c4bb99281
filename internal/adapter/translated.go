package adapter

import (
	"errors"
	"io"

	"aigateway/internal/sse"
)

var errEventTooLarge = sse.ErrEventTooLarge

// translatedStream reads a provider's SSE stream and hands each event to a
// Translator, returning the OpenAI chunks it yields one at a time. It reads
// on the caller's goroutine, like every Stream.
type translatedStream struct {
	call    *Call
	r       *sse.Reader
	t       Translator
	pending [][]byte // chunks yielded but not yet returned
	done    bool     // the upstream ended properly; return pending, then EOF
	err     error    // returned after pending
}

// NewTranslatedStream returns a Stream over call's SSE body, converted by t.
func NewTranslatedStream(call *Call, t Translator) Stream {
	return &translatedStream{call: call, r: sse.NewReader(call.Resp.Body, call.u.MaxResponse()), t: t}
}

func (s *translatedStream) Next() ([]byte, error) {
	for len(s.pending) == 0 {
		if s.done {
			return nil, io.EOF
		}
		if s.err != nil {
			return nil, s.err
		}
		s.read()
	}
	chunk := s.pending[0]
	s.pending = s.pending[1:]
	return chunk, nil
}

// read handles one upstream event (or the end of the upstream stream).
func (s *translatedStream) read() {
	s.call.Kick() // before the read: time spent writing to the client is not upstream silence
	ev, err := s.r.Next()
	if err == io.EOF {
		chunks, endErr := s.t.End()
		s.pending = chunks
		if endErr != nil {
			s.err = s.streamError(endErr)
			return
		}
		s.done = true
		s.call.Finished()
		return
	}
	if err != nil {
		s.err = s.call.StreamError(err)
		return
	}
	chunks, done, err := s.t.Event(ev)
	s.pending = chunks
	if err != nil {
		s.err = s.streamError(err)
		return
	}
	if done {
		s.done = true
		s.call.Finished()
	}
}

// streamError keeps a translator's *Error (an in-band upstream error, or a
// cut-off stream) unless the request was canceled meanwhile.
func (s *translatedStream) streamError(err error) error {
	if s.call.Ctx.Err() != nil {
		return s.call.StreamError(err)
	}
	var ae *Error
	if errors.As(err, &ae) {
		ae.Err.Message = s.call.u.redact(ae.Err.Message) // provider text, which may echo a key
		return ae
	}
	return s.call.StreamError(err)
}

// Buffered counts only chunks already converted: a buffered upstream event
// may yield no chunk (a ping), and Next would then block with the previous
// chunk unflushed.
func (s *translatedStream) Buffered() bool { return len(s.pending) > 0 }

func (s *translatedStream) Usage() Usage { return s.t.Usage() }

func (s *translatedStream) Close() error { return s.call.Close() }
