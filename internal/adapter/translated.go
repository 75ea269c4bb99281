package adapter

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"time"

	"aigateway/internal/sse"
)

var errEventTooLarge = sse.ErrEventTooLarge

// eventSource yields the upstream's events: SSE events, or JSON lines.
type eventSource interface {
	Next() (sse.Event, error)
}

// translatedStream reads a provider's stream and hands each event to a
// Translator, returning the OpenAI chunks it yields one at a time. It reads
// on the caller's goroutine, like every Stream.
type translatedStream struct {
	call    *Call
	r       eventSource
	t       Translator
	pending [][]byte // chunks yielded but not yet returned
	alive   bool     // a keep-alive comment is due before reading on
	done    bool     // the upstream ended properly; return pending, then EOF
	err     error    // returned after pending

	now         func() time.Time // nil: time.Now (tests set it)
	lastComment time.Time        // when the last keep-alive was returned
}

// commentInterval is the least time between two keep-alive comments of a
// translated stream: an upstream that streams thinking deltas by the
// hundred needs one sign of life a second, not hundreds.
const commentInterval = time.Second

// NewTranslatedStream returns a Stream over call's SSE body, converted by t.
// An upstream event that t finds alive but yields nothing for (a ping, a
// thinking delta, an event type it does not know) and an upstream SSE
// comment both show that the upstream is at work: the stream returns a
// KeepAlive comment for them, at most one a second.
func NewTranslatedStream(call *Call, t Translator) Stream {
	r := sse.NewReader(call.Body(), call.u.MaxResponse())
	r.ReturnComments()
	return &translatedStream{call: call, r: r, t: t}
}

// NewTranslatedLines returns a Stream over call's JSON-lines body (one JSON
// object per line), each line handed to t as the Data of an event. Blank
// lines are skipped; a last line without a newline still counts. A line that
// t finds alive but yields nothing for is a keep-alive, as with
// NewTranslatedStream.
func NewTranslatedLines(call *Call, t Translator) Stream {
	return &translatedStream{call: call, r: &lineReader{br: bufio.NewReader(call.Body()), max: call.u.MaxResponse()}, t: t}
}

// lineReader reads non-blank lines, none longer than max bytes (an oversized
// line is sse.ErrEventTooLarge, reported as upstream_response_too_large).
type lineReader struct {
	br   *bufio.Reader
	max  int
	line []byte // reused
}

func (l *lineReader) Next() (sse.Event, error) {
	for {
		l.line = l.line[:0]
		for {
			frag, err := l.br.ReadSlice('\n')
			if len(l.line)+len(frag) > l.max {
				return sse.Event{}, sse.ErrEventTooLarge
			}
			l.line = append(l.line, frag...)
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if err != nil && (err != io.EOF || len(l.line) == 0) {
				return sse.Event{}, err
			}
			break // a line, maybe the last one without a newline
		}
		if line := bytes.TrimSpace(l.line); len(line) > 0 {
			return sse.Event{Data: line}, nil
		}
	}
}

func (s *translatedStream) Next() (Chunk, error) {
	for len(s.pending) == 0 {
		if s.alive {
			s.alive = false
			return KeepAlive(), nil
		}
		if s.done {
			return Chunk{}, io.EOF
		}
		if s.err != nil {
			return Chunk{}, s.err
		}
		s.read()
	}
	chunk := s.pending[0]
	s.pending = s.pending[1:]
	return Chunk{Data: chunk}, nil
}

// read handles one upstream event (or the end of the upstream stream).
func (s *translatedStream) read() {
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
	if ev.Comment {
		s.keepAlive()
		return
	}
	out, err := s.t.Event(ev)
	s.pending = out.Chunks
	if err != nil {
		s.err = s.streamError(err)
		return
	}
	if out.Done {
		s.done = true
		s.call.Finished()
		return
	}
	if len(out.Chunks) == 0 && out.Alive {
		s.keepAlive()
	}
}

// keepAlive notes an upstream event that yields nothing for the client: a
// comment is due, unless one went out less than commentInterval ago.
func (s *translatedStream) keepAlive() {
	now := time.Now
	if s.now != nil {
		now = s.now
	}
	t := now()
	if !s.lastComment.IsZero() && t.Sub(s.lastComment) < commentInterval {
		return
	}
	s.lastComment, s.alive = t, true
}

// streamError keeps a translator's *Error (an in-band upstream error, or a
// cut-off stream) unless the request was canceled meanwhile. Its message
// and cause are provider text, which may echo a key: they are redacted
// here, the one place every translated stream's errors pass.
func (s *translatedStream) streamError(err error) error {
	if s.call.Ctx.Err() != nil {
		return s.call.StreamError(err)
	}
	var ae *Error
	if errors.As(err, &ae) {
		return s.call.u.RedactError(ae)
	}
	return s.call.StreamError(err)
}

// bufferedSource is an eventSource that can tell, without reading, that a
// whole event is at hand (sse.Reader).
type bufferedSource interface {
	Buffered() bool
}

// Buffered reports whether Next can return without waiting on the upstream.
// Upstream events that arrived together must share one write to the client
// (a flush is a syscall per event otherwise), but a buffered upstream event
// may yield no chunk (a coalesced ping): so Buffered converts the buffered
// events until one yields something to return (a chunk, a keep-alive, the
// end or an error) or none is left. The caller must be done with the last
// chunk Next returned, as the relay is once it wrote it.
func (s *translatedStream) Buffered() bool {
	for len(s.pending) == 0 && !s.alive {
		if s.done || s.err != nil {
			return true // Next returns the end at once
		}
		b, ok := s.r.(bufferedSource)
		if !ok || !b.Buffered() {
			return false
		}
		s.read()
	}
	return true
}

func (s *translatedStream) Usage() Usage { return s.t.Usage() }

func (s *translatedStream) Close() error { return s.call.Close() }
