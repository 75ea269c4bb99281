// Package process is the "process" adapter: it serves chat completions from a
// local command-line program (llama.cpp's llama-cli and the like), started
// once per request, whose standard output is the answer.
//
// # Command
//
// Command is the program and its arguments. It is never run through a shell.
// Inside any argument after the program, these placeholders are replaced
// (an argument may hold text around them, as in "--prompt={prompt}"):
//
//	{prompt}       the messages rendered as one prompt (see below)
//	{model}        Options.Model (default: the model id)
//	{max_tokens}   the client's max_completion_tokens, else max_tokens, else
//	               Options.MaxTokens, else 512
//	{temperature}  the client's temperature, else Options.Temperature, else
//	               0.8, written plainly (0.7, never 7e-01)
//	{top_p}        the client's top_p, else 1
//	{seed}         the client's seed, else a random integer in [0, 2^31)
//	{presence_penalty}, {frequency_penalty}
//	               the client's penalty, else 0
//
// top_p 1 and penalties 0 are the OpenAI defaults, which change nothing; a
// request without a seed asks for unseeded sampling, hence a random one.
// When no argument holds {prompt}, the prompt is written to the program's
// standard input, which is then closed; otherwise standard input is empty.
// Prefer standard input for long conversations: Linux limits one argument to
// 128 KiB. A bare program name is looked up in the gateway's PATH; a
// relative path with a slash ("./bin/llama-cli") is relative to Workdir.
// The program runs in Workdir with the gateway's environment plus Env.
//
// A value that begins an argument ("{prompt}", "{prompt}!") is read by
// most programs as an option when it starts with "-": a prompt
// "--log-file=notes.txt" would make the program write a file. Such a
// request is refused with a 400 before the program starts, unless the
// command has a literal "--" argument before it (the POSIX end of options)
// or the placeholder has text before it ("--prompt={prompt}"). The chatml,
// llama3 and gemma formats begin with their own markup, so only plain
// prompts and templates can start with "-". Validate refuses a {model}
// that starts with "-" in such a place. A negative seed or penalty there is
// refused the same way.
//
// # Prompt formats
//
// PromptFormat renders the messages ("developer" counts as "system"):
//
//	plain   (default) the system text as "System: <text>", then each message
//	        as "User: <text>" or "Assistant: <text>", separated by blank
//	        lines, ending with "Assistant:". One lone user message is just
//	        its text.
//	chatml  "<|im_start|>{role}\n{text}<|im_end|>\n" per message, then
//	        "<|im_start|>assistant\n" (Qwen, many fine-tunes).
//	llama3  "<|begin_of_text|>", then per message
//	        "<|start_header_id|>{role}<|end_header_id|>\n\n{text}<|eot_id|>"
//	        with the text trimmed, then the assistant header
//	        "<|start_header_id|>assistant<|end_header_id|>\n\n".
//	gemma   "<bos>", then "<start_of_turn>user\n{text}<end_of_turn>\n" and
//	        "<start_of_turn>model\n{text}<end_of_turn>\n" per turn with the
//	        text trimmed, the system text plus a blank line put before the
//	        first turn's text, then "<start_of_turn>model\n".
//
// PromptTemplate, when set, replaces PromptFormat: a Go text/template
// executed with a PromptData value, with the function "trim"
// (strings.TrimSpace), for example
//
//	{{range .Messages}}<|{{.Role}}|>{{.Content}}</s>{{end}}<|assistant|>
//
// # What is rejected (HTTP 400)
//
// A program gets text only, so a request it cannot answer faithfully is
// refused instead of being changed silently: endpoints other than
// /v1/chat/completions, a sampling parameter whose placeholder the command
// lacks, stop, and what adapter.TextOnly refuses for every text-only
// upstream (tools, n > 1, logprobs, logit_bias, response_format other than
// "text", fields that are no OpenAI parameter, ...); content parts other
// than text, tool and function messages and assistant messages with tool
// calls. With DropParams the parameters (not the message content) are
// dropped instead and their names logged at debug level.
//
// # Running
//
// The program and everything it starts share a new process group. The group
// gets SIGTERM, then SIGKILL after KillGrace, when the run exceeds Timeout,
// the client goes away, the output exceeds MaxOutputBytes, or the gateway
// shuts down (Close); and SIGKILL as soon as the program itself exits, so
// nothing it left behind lingers. Processes that leave the group (setsid,
// daemons) are not tracked.
//
// At most MaxConcurrency programs run at once; up to QueueSize further
// requests wait, at most QueueTimeout each. Across a reload the limit holds
// for the programs of the old and the new adapter together (see Slots). A slot is free as soon as its
// program has exited, even while a slow client still reads the output. A full queue or a longer wait is
// a 429 with Retry-After (the queue timeout in seconds) and code
// "queue_full" or "queue_timeout".
//
// # Answers
//
// Standard output is the answer text. Invalid UTF-8 bytes become U+FFFD,
// each. Output beyond MaxOutputBytes is cut (at a character boundary) with
// finish_reason "length"; otherwise finish_reason is "stop". Streamed, every
// read of the program's output is sent as one chunk at once. Usage is an
// estimate, one token per 4 bytes, rounded up: prompt_tokens for the
// rendered prompt, completion_tokens for the answer text.
//
// Errors: a program that cannot start is a 502 "process_start_failed"; a
// non-zero exit is a 502 "process_failed" with the last 5 lines of its
// standard error (Secrets replaced by "[redacted]"); a run over Timeout is a
// 504 "process_timeout"; requests during shutdown get a 503
// "shutting_down". A streamed request that fails before the program wrote
// anything gets these as HTTP errors; after output began, as the stream's
// last event.
package process

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"text/template"
	"time"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
	"aigateway/internal/redact"
)

// Defaults for the zero values of Options.
const (
	DefaultTimeout        = 60 * time.Second
	DefaultMaxConcurrency = 1
	DefaultQueueSize      = 16
	DefaultQueueTimeout   = 30 * time.Second
	DefaultMaxOutputBytes = 1 << 20 // 1 MiB
	DefaultKillGrace      = 2 * time.Second
	DefaultMaxTokens      = 512
	DefaultTemperature    = 0.8
)

// Options configure an Adapter.
type Options struct {
	// ID is the model id clients use: the "model" of the responses, and the
	// name in error messages.
	ID string
	// Command is the program and its arguments (argv), never run through a
	// shell. Arguments may hold the placeholders {prompt}, {model},
	// {max_tokens}, {temperature}, {top_p}, {seed}, {presence_penalty} and
	// {frequency_penalty}; the program may not.
	Command []string
	// Model is the value of {model}. Empty means ID.
	Model string
	// Workdir is the program's working directory, and the base of a
	// relative program path with a slash. Empty means the gateway's.
	Workdir string
	// Env holds extra "KEY=value" pairs added to the gateway's environment
	// (values already resolved); they win over the gateway's own.
	Env []string
	// Secrets are values replaced by "[redacted]", in every form (see
	// package redact), in standard error text shown to clients and logs
	// (the resolved ENV: values).
	Secrets []string
	// PromptFormat is "" or "plain" (the default), "chatml", "llama3" or
	// "gemma".
	PromptFormat string
	// PromptTemplate is a Go text/template executed with a PromptData; when
	// set, it overrides PromptFormat.
	PromptTemplate string
	// Temperature is {temperature} when the client sent none. Nil means 0.8.
	Temperature *float64
	// MaxTokens is {max_tokens} when the client sent none. Nil means 512.
	MaxTokens *int
	// Timeout bounds the whole run of the program, from its start (the time
	// spent queued does not count). Zero means 60s.
	Timeout time.Duration
	// MaxConcurrency is how many programs may run at once. Zero means 1.
	MaxConcurrency int
	// QueueSize is how many requests may wait for a free slot beyond
	// MaxConcurrency. Zero means 16; negative means none may wait.
	QueueSize int
	// QueueTimeout is the longest a request waits in the queue. Zero means
	// 30s.
	QueueTimeout time.Duration
	// MaxOutputBytes caps the program's output; beyond it the output is cut
	// and finish_reason is "length". Zero means 1 MiB.
	MaxOutputBytes int
	// KillGrace is the time between SIGTERM and SIGKILL. Zero means 2s.
	KillGrace time.Duration
	// Slots, when set, are shared with the adapter this one replaces on a
	// reload, whose programs may still run: the registry passes them on so
	// that MaxConcurrency bounds both adapters' programs together. The
	// adapter does not apply its MaxConcurrency and QueueSize to shared
	// slots until ApplyLimits, so that building an adapter for a reload
	// that then fails changes nothing. Nil means slots of its own, with its
	// limits applied.
	Slots *Slots
	// DropParams drops the request parameters the command cannot carry,
	// instead of refusing the request (see adapter.Unsupported), and logs
	// their names at debug level to Logger (nil means slog.Default()).
	DropParams bool
	Logger     *slog.Logger
	// StartWithin bounds how long a streamed answer waits for the
	// program's first output before the stream starts without it, so that
	// the client gets the response headers and keep-alive comments while a
	// program loads its weights for a minute. A program that fails before
	// that is still an HTTP error (which the gateway may retry elsewhere);
	// after it, a failure is an error event in the stream. Zero means wait
	// for the first output however long it takes.
	StartWithin time.Duration
}

// Adapter serves chat completions from a local program. It is safe for
// concurrent use.
type Adapter struct {
	o         Options  // defaults applied
	program   string   // Command[0], joined to Workdir when relative with a slash
	args      []cmdArg // Command[1:]
	promptArg bool     // some argument holds {prompt}
	tmpl      *template.Template
	lim       *limiter
	redactor  *redact.Redactor // of Secrets, for standard error
	text      adapter.TextOnly
	carried   adapter.TextParams // the sampling parameters the command has placeholders for

	mu      sync.Mutex
	closed  bool
	running map[*proc]struct{}
}

// New validates o (see Validate), applies the defaults and returns an
// Adapter. It does not check that the program exists; see Check.
func New(o Options) (*Adapter, error) {
	if err := Validate(&o); err != nil {
		return nil, err
	}
	a := &Adapter{o: o, running: make(map[*proc]struct{})}
	a.o.Command = append([]string(nil), o.Command...)
	a.o.Env = append([]string(nil), o.Env...)
	a.o.Secrets = append([]string(nil), o.Secrets...)
	a.redactor = redact.New(a.o.Secrets...)
	applyDefaults(&a.o)
	a.program = resolveProgram(a.o.Workdir, a.o.Command[0])
	a.args, _ = parseArgs(a.o.Command[1:], 1) // Validate checked them
	for _, ar := range a.args {
		a.promptArg = a.promptArg || ar.uses(phPrompt)
	}
	a.text, a.carried = textOnly(a.o.ID), carried(a.args)
	if a.o.PromptTemplate != "" {
		a.tmpl, _ = parseTemplate(a.o.PromptTemplate) // Validate checked it
	}
	slots := o.Slots
	if slots == nil {
		slots = NewSlots()
		slots.setLimits(a.o.MaxConcurrency, a.o.QueueSize)
	}
	a.lim = newLimiter(a.o.ID, slots, a.o.QueueTimeout)
	return a, nil
}

// Slots returns the adapter's slots, to hand to its replacement on a
// reload (see Options.Slots).
func (a *Adapter) Slots() *Slots { return a.lim.slots }

// QueueLength is how many requests wait for one of the adapter's program
// slots now (shared with the adapter it replaced on a reload), for the
// metrics.
func (a *Adapter) QueueLength() int {
	_, waiting := a.lim.slots.counts()
	return waiting
}

// ApplyLimits makes the adapter's MaxConcurrency and QueueSize the limits
// of its slots, which it may share with the adapter it replaces. The
// registry calls it once the reload that built the adapter has succeeded.
func (a *Adapter) ApplyLimits() { a.lim.slots.setLimits(a.o.MaxConcurrency, a.o.QueueSize) }

func applyDefaults(o *Options) {
	if o.Model == "" {
		o.Model = o.ID
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxConcurrency == 0 {
		o.MaxConcurrency = DefaultMaxConcurrency
	}
	if o.QueueSize == 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.QueueTimeout == 0 {
		o.QueueTimeout = DefaultQueueTimeout
	}
	if o.MaxOutputBytes == 0 {
		o.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if o.KillGrace == 0 {
		o.KillGrace = DefaultKillGrace
	}
}

// resolveProgram joins a relative program path with a slash to workdir, so
// that Check and the run agree on the file. Bare names are left for PATH.
func resolveProgram(workdir, program string) string {
	if workdir != "" && strings.Contains(program, "/") && !filepath.IsAbs(program) {
		return filepath.Join(workdir, program)
	}
	return program
}

// Send implements adapter.Adapter. It waits for a free slot, starts the
// program and, for a stream, returns once the program wrote its first text
// or ended, so that a program that fails at once is an HTTP error.
func (a *Adapter) Send(ctx context.Context, req *adapter.Request) (*adapter.Response, error) {
	if req.Op != adapter.OpChat {
		return nil, adapter.BadRequest("", "unsupported_endpoint", "model %q (process) does not support /v1%s", a.o.ID, req.Op.Path())
	}
	cr, oerr := openai.DecodeChatRequest(req.Body)
	if oerr != nil {
		return nil, &adapter.Error{Status: http.StatusBadRequest, Err: *oerr}
	}
	params := adapter.Unsupported{Drop: a.o.DropParams}
	if err := a.check(cr, req.Body, &params); err != nil {
		return nil, err
	}
	j, err := a.job(cr)
	if err != nil {
		return nil, err
	}
	params.LogDropped(ctx, a.o.Logger, a.o.ID, req.RequestID)
	if a.isClosed() {
		return nil, shuttingDown(a.o.ID)
	}
	if err := a.lim.acquire(ctx); err != nil {
		return nil, err
	}
	p, err := a.start(ctx, j)
	if err != nil {
		a.lim.release()
		return nil, err
	}
	cw := openai.ChunkWriter{ID: "chatcmpl-" + rand.Text(), Created: time.Now().Unix(), Model: a.o.ID}
	if cr.Stream {
		return a.openStream(p, j, cw, cr.IncludeUsage())
	}
	return a.complete(p, j, cw)
}

// Close is for gateway shutdown: queued requests fail with 503, running
// programs are terminated (SIGTERM, SIGKILL after KillGrace) and Close
// returns once each has exited. Later requests get 503.
func (a *Adapter) Close() error {
	a.mu.Lock()
	a.closed = true
	procs := make([]*proc, 0, len(a.running))
	for p := range a.running {
		procs = append(procs, p)
	}
	a.mu.Unlock()
	a.lim.close()
	for _, p := range procs {
		p.abort(abortClosed)
	}
	for _, p := range procs {
		<-p.exited
	}
	return nil
}

func (a *Adapter) isClosed() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.closed
}

// track registers a running program for Close; false means Close already ran.
func (a *Adapter) track(p *proc) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return false
	}
	a.running[p] = struct{}{}
	return true
}

func (a *Adapter) untrack(p *proc) {
	a.mu.Lock()
	delete(a.running, p)
	a.mu.Unlock()
}

var _ adapter.Adapter = (*Adapter)(nil)
