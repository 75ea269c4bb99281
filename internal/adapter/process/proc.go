package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
)

// abortReason is why a run was stopped before it ended by itself.
type abortReason uint8

const (
	notAborted    abortReason = iota
	abortTimeout              // Options.Timeout elapsed
	abortCanceled             // the request's context ended: the client left
	abortClosed               // Adapter.Close
	abortLimit                // the output reached MaxOutputBytes
	abortDropped              // the stream was closed before its end
)

// proc is one running program. The request's goroutine owns it: it reads
// standard output and calls finish. Helper goroutines (the waiter, the
// standard error reader, the standard input writer, timer and context
// callbacks) all end before finish returns.
type proc struct {
	a      *Adapter
	ctx    context.Context
	cmd    *exec.Cmd
	pgid   int
	stdout *os.File // read end; closed by abort to unblock a read at once
	errR   *os.File // standard error, read into stderr
	inW    *os.File // standard input when the prompt goes there, else nil
	grace  time.Duration

	stderr  ring // written by the stderr goroutine, read after helpers.Wait
	helpers sync.WaitGroup

	exited  chan struct{} // closed once the program was reaped, its group killed and its slot freed
	waitErr error         // the program's exit, set before exited is closed

	stopCtx   func() bool // stops the context callback
	ctxDone   chan struct{}
	timer     *time.Timer // Options.Timeout
	timerDone chan struct{}

	mu        sync.Mutex
	reason    abortReason
	finished  bool
	reaped    bool        // the group was killed for good; its id may be reused, so signal it no more
	killTimer *time.Timer // SIGKILL after KillGrace
	killDone  chan struct{}

	cleaned bool // finish ran (owner only)
}

// start starts the program of job j in its own process group.
func (a *Adapter) start(ctx context.Context, j *job) (*proc, error) {
	if err := ctx.Err(); err != nil { // the client left while queued
		return nil, fmt.Errorf("model %q: before starting the program: %w", a.o.ID, context.Cause(ctx))
	}
	var files []*os.File // every pipe end, for the error paths
	pipe := func() (r, w *os.File, err error) {
		r, w, err = os.Pipe()
		files = append(files, r, w)
		return r, w, err
	}
	closeAll := func() {
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
	}
	outR, outW, err1 := pipe()
	errR, errW, err2 := pipe()
	var inR, inW *os.File
	var err3 error
	if j.stdin {
		inR, inW, err3 = pipe()
	}
	if err := errors.Join(err1, err2, err3); err != nil {
		closeAll()
		return nil, a.startFailed(err)
	}
	cmd := exec.Command(a.program, j.argv...)
	cmd.Dir = a.o.Workdir
	cmd.Env = append(os.Environ(), a.o.Env...)
	if tp := adapter.TraceParent(ctx); tp != "" { // the attempt's span, when tracing is on
		cmd.Env = append(cmd.Env, "TRACEPARENT="+tp)
	}
	// Setpgid puts the program and everything it starts in a group of their
	// own, which can be signalled as a whole: killing only the program
	// would leave its children running and holding the output pipe open.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdout, cmd.Stderr = outW, errW
	if inR != nil { // a nil Stdin is /dev/null: empty and closed
		cmd.Stdin = inR
	}
	if err := cmd.Start(); err != nil {
		closeAll()
		return nil, a.startFailed(err)
	}
	// The child holds its own copies; ours would keep the pipes open.
	outW.Close()
	errW.Close()
	if inR != nil {
		inR.Close()
	}
	p := &proc{a: a, ctx: ctx, cmd: cmd, pgid: cmd.Process.Pid, stdout: outR, errR: errR, inW: inW,
		grace: a.o.KillGrace, exited: make(chan struct{}), ctxDone: make(chan struct{}),
		timerDone: make(chan struct{}), killDone: make(chan struct{})}
	p.stderr.max = stderrKeep
	p.helpers.Add(1)
	go p.readStderr()
	if inW != nil {
		p.helpers.Add(1)
		go p.writeStdin(j.prompt)
	}
	go p.wait()
	p.timer = time.AfterFunc(a.o.Timeout, func() {
		defer close(p.timerDone)
		p.abort(abortTimeout)
	})
	p.stopCtx = context.AfterFunc(ctx, func() {
		defer close(p.ctxDone)
		p.abort(abortCanceled)
	})
	if !a.track(p) {
		p.abort(abortClosed)
	}
	return p, nil
}

// wait reaps the program, then kills what is left of its group: a child it
// left behind would otherwise run on and keep standard output open. Then
// it frees the slot: nothing of the run executes any more, and what is
// left of its output waits in the pipe for a client that may be slow to
// read it, or stuck; that must not keep the next request from running.
func (p *proc) wait() {
	err := p.cmd.Wait()
	p.mu.Lock()
	p.kill(syscall.SIGKILL)
	p.reaped = true
	p.mu.Unlock()
	p.waitErr = err
	p.a.lim.release()
	close(p.exited)
}

func (p *proc) readStderr() {
	defer p.helpers.Done()
	io.Copy(&p.stderr, p.errR) //nolint:errcheck // ends at EOF, or when finish gives up on it
}

func (p *proc) writeStdin(prompt string) {
	defer p.helpers.Done()
	io.WriteString(p.inW, prompt) //nolint:errcheck // a program may exit without reading it all
	p.inW.Close()
}

// kill signals the whole process group. ESRCH (all gone) is fine.
func (p *proc) kill(sig syscall.Signal) {
	syscall.Kill(-p.pgid, sig) //nolint:errcheck // see above
}

// abort stops the run: SIGTERM to the group now, SIGKILL after KillGrace,
// and standard output closed so that a blocked read returns at once even
// when a process outside the group holds the pipe. The first reason wins.
func (p *proc) abort(r abortReason) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished || p.reason != notAborted {
		return
	}
	p.reason = r
	p.stdout.Close()
	if p.reaped {
		return
	}
	p.kill(syscall.SIGTERM)
	p.killTimer = time.AfterFunc(p.grace, func() {
		defer close(p.killDone)
		p.mu.Lock()
		defer p.mu.Unlock()
		if !p.reaped {
			p.kill(syscall.SIGKILL)
		}
	})
}

// finish waits for the program to exit (bounded: the timeout, the context
// and Close all abort it), stops the timers and joins the helper
// goroutines. It returns why the run was aborted, if it was. The slot is
// free by then (see wait).
func (p *proc) finish() abortReason {
	if p.cleaned {
		return p.reason
	}
	p.cleaned = true
	<-p.exited
	if !p.stopCtx() {
		<-p.ctxDone
	}
	if !p.timer.Stop() {
		<-p.timerDone
	}
	p.mu.Lock()
	p.finished = true
	kt := p.killTimer
	p.mu.Unlock()
	if kt != nil && !kt.Stop() {
		<-p.killDone
	}
	if p.inW != nil {
		p.inW.Close() // unblocks a write to a pipe that a stray process still holds
	}
	// The group is dead, so standard error is at EOF unless a process that
	// left the group holds it; do not wait for such a one longer than the
	// grace period.
	p.errR.SetReadDeadline(time.Now().Add(p.grace)) //nolint:errcheck // a pipe supports deadlines
	p.helpers.Wait()
	p.errR.Close()
	p.stdout.Close()
	p.a.untrack(p)
	return p.reason
}

// startFailed is the error for a program that could not be started.
func (a *Adapter) startFailed(err error) error {
	reason := err.Error()
	var ee *exec.Error
	var pe *os.PathError
	switch {
	case errors.As(err, &ee) && errors.Is(ee.Err, exec.ErrNotFound):
		reason = fmt.Sprintf("program %q not found in PATH", ee.Name)
	case errors.As(err, &ee):
		reason = fmt.Sprintf("program %q: %v", ee.Name, ee.Err)
	case errors.As(err, &pe):
		reason = pe.Err.Error()
	}
	return &adapter.Error{Status: http.StatusBadGateway, Cause: err, Fault: adapter.FaultBroken, Err: openai.Error{
		Type: openai.TypeUpstream, Code: "process_start_failed",
		Message: fmt.Sprintf("model %q: cannot start the program: %s", a.o.ID, reason)}}
}

// shuttingDown is the error for requests cut short by Close.
func shuttingDown(id string) error {
	return &adapter.Error{Status: http.StatusServiceUnavailable, Fault: adapter.FaultBusy, Err: openai.Error{
		Type: openai.TypeUnavailable, Code: "shutting_down",
		Message: fmt.Sprintf("model %q: the gateway is shutting down", id)}}
}
