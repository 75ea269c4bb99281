package template

import (
	"bufio"
	"bytes"
	"errors"
	"io"

	"aigateway/internal/adapter"
	"aigateway/internal/sse"
)

// lineStream reads a JSONL stream (one JSON object per line) and converts
// each line with a translator, like adapter.NewTranslatedStream does for SSE.
// It reads on the caller's goroutine; canceling the request context aborts a
// pending read.
type lineStream struct {
	call    *adapter.Call
	br      *bufio.Reader
	max     int    // longest line accepted
	line    []byte // the current line, reused
	t       adapter.Translator
	pending [][]byte // chunks yielded but not yet returned
	done    bool     // the upstream ended properly; return pending, then EOF
	err     error    // returned after pending
}

func newLineStream(call *adapter.Call, t adapter.Translator, max int) *lineStream {
	return &lineStream{call: call, br: bufio.NewReader(call.Resp.Body), max: max, t: t}
}

func (s *lineStream) Next() ([]byte, error) {
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

// read handles one upstream line (or the end of the upstream stream).
func (s *lineStream) read() {
	line, err := s.readLine()
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
	s.call.Kick()
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return
	}
	chunks, done, err := s.t.Event(sse.Event{Data: line})
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

// readLine returns the next line, without reading more than max bytes for
// it. A last line without a newline is still a line. An oversized line is
// sse.ErrEventTooLarge, which the plumbing reports as
// upstream_response_too_large.
func (s *lineStream) readLine() ([]byte, error) {
	s.line = s.line[:0]
	for {
		frag, err := s.br.ReadSlice('\n')
		if len(s.line)+len(frag) > s.max {
			return nil, sse.ErrEventTooLarge
		}
		s.line = append(s.line, frag...)
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF && len(s.line) > 0:
			return s.line, nil // the next call returns io.EOF
		case err != nil:
			return nil, err
		}
		return s.line, nil
	}
}

// streamError keeps a translator's *Error (an in-band upstream error) unless
// the request was canceled meanwhile.
func (s *lineStream) streamError(err error) error {
	var ae *adapter.Error
	if s.call.Ctx.Err() == nil && errors.As(err, &ae) {
		return ae
	}
	return s.call.StreamError(err)
}

// Buffered counts only converted chunks: a buffered line may yield none.
func (s *lineStream) Buffered() bool { return len(s.pending) > 0 }

func (s *lineStream) Usage() adapter.Usage { return s.t.Usage() }

func (s *lineStream) Close() error { return s.call.Close() }

var _ adapter.Stream = (*lineStream)(nil)
