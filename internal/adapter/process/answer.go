package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"syscall"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
)

// newOutput returns the reader of p's standard output.
func (a *Adapter) newOutput(p *proc) *output {
	return newOutput(p.stdout, a.o.MaxOutputBytes, func() { p.abort(abortLimit) })
}

// complete serves a non-stream request: the whole output as one
// chat.completion.
func (a *Adapter) complete(p *proc, j *job, cw openai.ChunkWriter) (*adapter.Response, error) {
	out := a.newOutput(p)
	var text []byte
	for {
		t, end := out.read()
		text = append(text, t...)
		if end {
			break
		}
	}
	finish, err := a.outcome(p, out)
	if err != nil {
		return nil, err
	}
	s := string(text)
	u := usage(j.promptTokens, len(s))
	c := openai.ChatCompletion{ID: cw.ID, Object: "chat.completion", Created: cw.Created, Model: cw.Model,
		Choices: []openai.Choice{{Message: openai.ResponseMessage{Role: "assistant", Content: &s}, FinishReason: finish}},
		Usage:   &u}
	body, merr := json.Marshal(c)
	if merr != nil { // the openai types always encode
		panic(fmt.Sprintf("process: encoding a completion: %v", merr))
	}
	return &adapter.Response{Body: body, Usage: adapterUsage(u)}, nil
}

// outcome finishes the run once its output ended and says how it went:
// the finish reason, or the error for the client.
func (a *Adapter) outcome(p *proc, out *output) (finish string, err error) {
	switch p.finish() {
	case abortLimit:
		return "length", nil
	case abortCanceled:
		return "", fmt.Errorf("model %q: running the program: %w", a.o.ID, context.Cause(p.ctx))
	case abortClosed:
		return "", shuttingDown(a.o.ID)
	case abortTimeout:
		return "", &adapter.Error{Status: http.StatusGatewayTimeout, Cause: p.waitErr, Fault: adapter.FaultBroken, Err: openai.Error{
			Type: openai.TypeTimeout, Code: "process_timeout",
			Message: fmt.Sprintf("model %q: the program did not finish within %s", a.o.ID, a.o.Timeout)}}
	case abortDropped:
		return "", errors.New("the stream was closed before its end")
	}
	if p.waitErr == nil && out.err == io.EOF {
		return "stop", nil
	}
	// The message states how the program ended and quotes its standard
	// error once; an exit status as the cause would only say again what
	// exitText said.
	msg := fmt.Sprintf("model %q: the program %s", a.o.ID, exitText(p.waitErr))
	cause := p.waitErr
	if _, exited := errors.AsType[*exec.ExitError](cause); exited {
		cause = nil
	}
	if p.waitErr == nil { // it exited well, but its output could not be read
		msg = fmt.Sprintf("model %q: reading the program's output failed", a.o.ID)
		cause = out.err
	}
	if tail := p.stderr.tail(stderrLines, a.redactor); tail != "" {
		msg += "; its standard error ends with:\n" + tail
	} else {
		msg += "; its standard error was empty"
	}
	return "", &adapter.Error{Status: http.StatusBadGateway, Cause: cause, Fault: adapter.FaultBroken, Err: openai.Error{
		Type: openai.TypeUpstream, Code: "process_failed", Message: msg}}
}

// exitText says how the program ended: "exited with status 3", "was killed
// by signal segmentation fault".
func exitText(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "was killed by signal " + ws.Signal().String()
		}
		return fmt.Sprintf("exited with status %d", ee.ExitCode())
	}
	return "failed: " + err.Error()
}

func usage(promptTokens int64, completionBytes int) openai.Usage {
	c := adapter.EstimateTokens(completionBytes)
	return openai.Usage{PromptTokens: promptTokens, CompletionTokens: c, TotalTokens: promptTokens + c}
}

func adapterUsage(u openai.Usage) adapter.Usage {
	return adapter.Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, TotalTokens: u.TotalTokens, Estimated: true}
}
