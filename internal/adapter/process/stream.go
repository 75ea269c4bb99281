package process

import (
	"io"
	"time"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
)

// stream is a streamed answer, read on the caller's goroutine: each read of
// the program's output becomes one content chunk.
type stream struct {
	a            *Adapter
	p            *proc
	out          *output
	cw           openai.ChunkWriter
	includeUsage bool
	promptTokens int64

	roleSent   bool
	pending    string // text read and not yet sent
	ended      bool   // the output is over; finish and err are set
	finish     string
	err        error
	finishSent bool
	usageSent  bool
	sent       int // bytes of text sent
}

// openStream reads until the program wrote some text or ended, so that a
// program failing before any output is an HTTP error, not a stream event;
// but for at most Options.StartWithin, after which the stream starts with
// the program still silent (loading, thinking).
func (a *Adapter) openStream(p *proc, j *job, cw openai.ChunkWriter, includeUsage bool) (*adapter.Response, error) {
	s := &stream{a: a, p: p, out: a.newOutput(p), cw: cw, includeUsage: includeUsage, promptTokens: j.promptTokens}
	s.fillWithin(a.o.StartWithin)
	if s.pending == "" && s.err != nil {
		return nil, s.err
	}
	return &adapter.Response{Stream: s}, nil
}

// fill reads until there is text to send or the output ended.
func (s *stream) fill() {
	for s.pending == "" && !s.ended {
		s.read()
	}
}

// fillWithin is fill that gives up after d (zero: never). It bounds the
// reads with a deadline on the pipe rather than a goroutine, so that
// standard output stays read on the request's goroutine only.
func (s *stream) fillWithin(d time.Duration) {
	if d <= 0 || s.p.stdout.SetReadDeadline(time.Now().Add(d)) != nil {
		s.fill()
		return
	}
	for s.pending == "" && !s.ended && !s.out.expired {
		s.read()
	}
	s.p.stdout.SetReadDeadline(time.Time{}) //nolint:errcheck // a closed pipe has no deadline to clear
}

// read reads once.
func (s *stream) read() {
	s.pending, s.ended = s.out.read()
	if s.ended {
		s.finish, s.err = s.a.outcome(s.p, s.out)
	}
}

// Next returns the role chunk, a content chunk per read, then the finish
// chunk and the usage chunk (when asked for), then io.EOF. A failure after
// output began is returned as an *adapter.Error after the text read so far.
func (s *stream) Next() (adapter.Chunk, error) {
	if !s.roleSent {
		s.roleSent = true
		return adapter.Chunk{Data: s.cw.Role()}, nil
	}
	s.fill()
	if s.pending != "" {
		t := s.pending
		s.pending = ""
		s.sent += len(t)
		return adapter.Chunk{Data: s.cw.Content(t)}, nil
	}
	if s.err != nil {
		return adapter.Chunk{}, s.err
	}
	if !s.finishSent {
		s.finishSent = true
		return adapter.Chunk{Data: s.cw.Finish(s.finish)}, nil
	}
	if s.includeUsage && !s.usageSent {
		s.usageSent = true
		return adapter.Chunk{Data: s.cw.Usage(usage(s.promptTokens, s.sent))}, nil
	}
	return adapter.Chunk{}, io.EOF
}

// Buffered is false: every chunk is worth a flush, and the next one waits
// on the program.
func (s *stream) Buffered() bool { return false }

// Usage is the estimate for the text sent so far.
func (s *stream) Usage() adapter.Usage { return adapterUsage(usage(s.promptTokens, s.sent)) }

// Close stops a program that is still running and waits for it to exit.
func (s *stream) Close() error {
	if !s.ended {
		s.p.abort(abortDropped)
		s.ended = true
		s.finish, s.err = s.a.outcome(s.p, s.out)
	}
	return nil
}

var _ adapter.Stream = (*stream)(nil)
