package process

import (
	"io"

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
// program failing before any output is an HTTP error, not a stream event.
func (a *Adapter) openStream(p *proc, j *job, cw openai.ChunkWriter, includeUsage bool) (*adapter.Response, error) {
	s := &stream{a: a, p: p, out: a.newOutput(p), cw: cw, includeUsage: includeUsage, promptTokens: j.promptTokens}
	s.fill()
	if s.pending == "" && s.err != nil {
		return nil, s.err
	}
	return &adapter.Response{Stream: s}, nil
}

// fill reads until there is text to send or the output ended.
func (s *stream) fill() {
	for s.pending == "" && !s.ended {
		s.pending, s.ended = s.out.read()
		if s.ended {
			s.finish, s.err = s.a.outcome(s.p, s.out)
		}
	}
}

// Next returns the role chunk, a content chunk per read, then the finish
// chunk and the usage chunk (when asked for), then io.EOF. A failure after
// output began is returned as an *adapter.Error after the text read so far.
func (s *stream) Next() ([]byte, error) {
	if !s.roleSent {
		s.roleSent = true
		return s.cw.Role(), nil
	}
	s.fill()
	if s.pending != "" {
		t := s.pending
		s.pending = ""
		s.sent += len(t)
		return s.cw.Content(t), nil
	}
	if s.err != nil {
		return nil, s.err
	}
	if !s.finishSent {
		s.finishSent = true
		return s.cw.Finish(s.finish), nil
	}
	if s.includeUsage && !s.usageSent {
		s.usageSent = true
		return s.cw.Usage(usage(s.promptTokens, s.sent)), nil
	}
	return nil, io.EOF
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
