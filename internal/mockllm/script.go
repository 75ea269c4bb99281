package mockllm

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"aigateway/internal/openai"
)

// Directive scripts one response. It is the JSON object of the X-Mock
// request header or, when that header is absent, the "mock" object of the
// request body; every field is optional and the zero value means a normal
// reply.
type Directive struct {
	// Status, if ≥ 400, makes the reply an error with this HTTP status.
	// With ErrorBody set and Status 0, the status is 500.
	Status int `json:"status,omitempty"`
	// ErrorBody is sent verbatim instead of the protocol's error object
	// (Content-Type application/json if it is valid JSON, else text/plain).
	// It may be used with a Status below 400 to send a malformed success.
	ErrorBody string `json:"error_body,omitempty"`
	// ErrorType and ErrorMessage fill the error object. Empty means a
	// default derived from the status.
	ErrorType    string `json:"error_type,omitempty"`
	ErrorMessage string `json:"error_message,omitempty"`
	// RetryAfter is sent as the Retry-After header of error responses.
	RetryAfter string `json:"retry_after,omitempty"`

	// DelayMS waits this long before sending headers.
	DelayMS int `json:"delay_ms,omitempty"`
	// Chunks is the number of content chunks (default Options.Chunks).
	Chunks int `json:"chunks,omitempty"`
	// ChunkDelayMS waits this long before each body chunk (default
	// Options.ChunkDelay); a non-stream reply waits the sum before its body.
	ChunkDelayMS int `json:"chunk_delay_ms,omitempty"`
	// Content replaces the default text; it is split into Chunks chunks at
	// word boundaries, or evenly by characters if it has fewer words.
	Content *string `json:"content,omitempty"`
	// ToolCalls makes the reply call these tools (ids call_mock_<i>,
	// finish_reason "tool_calls"); content is null unless Content is set.
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// FinishReason overrides the finish reason ("stop" or "tool_calls").
	// Anthropic maps stop, tool_calls and length to end_turn, tool_use and
	// max_tokens; Gemini maps stop and tool_calls to STOP and length to
	// MAX_TOKENS; other values are sent as they are.
	FinishReason string `json:"finish_reason,omitempty"`
	// PromptTokens and CompletionTokens override the usage counts.
	PromptTokens     *int `json:"prompt_tokens,omitempty"`
	CompletionTokens *int `json:"completion_tokens,omitempty"`

	// CutAfter aborts the connection after this many body chunks (no
	// finish chunk, no [DONE]); values past the end cut just before the
	// finish chunk. A non-stream reply sends half its body, then aborts.
	CutAfter *int `json:"cut_after,omitempty"`
	// Hang blocks until the client goes away and never answers.
	Hang bool `json:"hang,omitempty"`
	// HangAfterChunks implies Hang; a stream then hangs after the role
	// chunk and this many body chunks instead of before the headers.
	HangAfterChunks *int `json:"hang_after_chunks,omitempty"`

	// PingEveryMS makes a stream send keep-alives while it waits: one
	// every this many milliseconds during each chunk delay, and the
	// PingsBeforeFirst ones. OpenAI streams send an SSE comment
	// (": keep-alive"), Anthropic ones an "event: ping", Gemini ones
	// (alt=sse only) an SSE comment. Zero means 100 when PingsBeforeFirst
	// is set, else no keep-alives.
	PingEveryMS int `json:"ping_every_ms,omitempty"`
	// PingsBeforeFirst is how many keep-alives a stream sends after its
	// headers and before its first event: the first at once, then one
	// every PingEveryMS; the first event follows PingEveryMS after the
	// last. Like a reasoning model that pings while it thinks.
	PingsBeforeFirst int `json:"pings_before_first,omitempty"`

	// StreamError (Anthropic only) is the error type of an in-band
	// "event: error" sent after HTTP 200, e.g. "overloaded_error"; the
	// stream then ends without message_stop. A non-streamed request gets it
	// as an HTTP error with the status of that type (overloaded_error: 529).
	StreamError string `json:"stream_error,omitempty"`
	// StreamErrorAfter is the number of body chunks sent before the
	// StreamError event. Nil means 1; values past the end send it just
	// before message_delta.
	StreamErrorAfter *int `json:"stream_error_after,omitempty"`

	// ThoughtSignature (Gemini only) is set as the "thoughtSignature" of
	// the first functionCall part, as Gemini does with parallel calls; use
	// ToolCall.ThoughtSignature to sign other calls. Empty means none, or a
	// signature of the mock's own for a Gemini 3 model (see the package
	// doc).
	ThoughtSignature string `json:"thought_signature,omitempty"`
	// ThoughtsTokens (Gemini only) is sent as usageMetadata.thoughtsTokenCount
	// and added to totalTokenCount. Nil means the field is absent.
	ThoughtsTokens *int `json:"thoughts_tokens,omitempty"`

	// --- inbound Messages API tests (issue 11) ---

	// Reasoning is the model's reasoning, sent before the content. OpenAI:
	// as "reasoning_content", as DeepSeek, vLLM and other OpenAI-compatible
	// servers send it: in a stream, one delta per word (its words keep
	// their trailing spaces), before the content deltas; in a whole reply,
	// on the message. Anthropic: as a leading thinking block with the
	// signature ReasoningSignature (a stream sends it as one thinking_delta
	// and one signature_delta). Gemini: as a leading part with thought:
	// true (in a stream, its own first event).
	Reasoning string `json:"reasoning,omitempty"`

	// --- reasoning through the Chat IR (issue 11) ---

	// ReasoningSignature (Anthropic only) is the signature of the thinking
	// block Reasoning makes. Empty means "mock-signature-" and the
	// request's sequence number.
	ReasoningSignature string `json:"reasoning_signature,omitempty"`
}

// ToolCall is a tool call the mock replies with.
type ToolCall struct {
	Name string `json:"name"`
	// Arguments is the JSON-encoded arguments string. When decoding, a JSON
	// object is accepted too and used as its compact encoding. Anthropic
	// and Gemini send it as an object: empty means {}, and text that is not
	// JSON is sent as a JSON string (a malformed reply on purpose).
	Arguments string `json:"arguments"`
	// ThoughtSignature (Gemini only) is this call's "thoughtSignature".
	ThoughtSignature string `json:"thought_signature,omitempty"`
}

// UnmarshalJSON accepts "arguments" as a string or as a JSON value.
func (tc *ToolCall) UnmarshalJSON(b []byte) error {
	var raw struct {
		Name             string          `json:"name"`
		Arguments        json.RawMessage `json:"arguments"`
		ThoughtSignature string          `json:"thought_signature"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	tc.Name = raw.Name
	tc.ThoughtSignature = raw.ThoughtSignature
	tc.Arguments = ""
	switch {
	case len(raw.Arguments) == 0 || string(raw.Arguments) == "null":
	case raw.Arguments[0] == '"':
		return json.Unmarshal(raw.Arguments, &tc.Arguments)
	default:
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw.Arguments); err != nil {
			return err
		}
		tc.Arguments = buf.String()
	}
	return nil
}

// mockHeader carries a directive as JSON. It wins over the body's "mock"
// object because the gateway drops unknown body fields when it converts a
// request to another protocol, but can be configured to send headers.
const mockHeader = "X-Mock"

// directive returns the request's directive: the X-Mock header if present,
// else body (nil meaning none). ok is false if the header is not a JSON
// object; a 400 has then been written.
func (c *call) directive(body *Directive) (d *Directive, ok bool) {
	h := c.r.Header.Get(mockHeader)
	if h == "" {
		if body == nil {
			return &Directive{}, true
		}
		return body, true
	}
	d = &Directive{}
	if err := json.Unmarshal([]byte(h), d); err != nil {
		c.fail(c.w, http.StatusBadRequest, apiError{Message: "mockllm: invalid " + mockHeader + " header: " + err.Error()})
		return nil, false
	}
	return d, true
}

func ms(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	return time.Duration(n) * time.Millisecond
}

// start runs the directive steps that come before the first response byte:
// Options.Script, delay_ms, hang, and a scripted error. done reports that
// the request is finished (err is then the handler's result).
func (c *call) start(d *Directive, stream bool) (done bool, err error) {
	if c.s.opts.Script != nil {
		c.s.opts.Script(c.seq, c.r, d)
	}
	ctx := c.r.Context()
	if err := sleep(ctx, ms(d.DelayMS)); err != nil {
		return true, err
	}
	if d.Hang || d.HangAfterChunks != nil {
		if !stream || d.HangAfterChunks == nil {
			<-ctx.Done()
			return true, errCanceled
		}
	}
	if d.Status >= 400 || d.ErrorBody != "" {
		c.scriptedError(d)
		return true, nil
	}
	return false, nil
}

func (c *call) scriptedError(d *Directive) {
	status := d.Status
	if status < 200 || status > 599 {
		status = http.StatusInternalServerError
	}
	h := c.w.Header()
	if d.RetryAfter != "" && status >= 400 {
		h.Set("Retry-After", d.RetryAfter)
	}
	if d.ErrorBody != "" {
		ct := "text/plain; charset=utf-8"
		if json.Valid([]byte(d.ErrorBody)) {
			ct = "application/json"
		}
		h.Set("Content-Type", ct)
		h.Set("Content-Length", strconv.Itoa(len(d.ErrorBody)))
		c.w.WriteHeader(status)
		_, _ = io.WriteString(c.w, d.ErrorBody)
		return
	}
	msg := d.ErrorMessage
	if msg == "" {
		msg = "mockllm: scripted error (HTTP " + strconv.Itoa(status) + ")"
	}
	c.fail(c.w, status, apiError{Type: d.ErrorType, Message: msg})
}

// writeWhole writes a complete non-streamed response. With cut_after set it
// declares the full length, sends half the body and aborts the connection.
func (c *call) writeWhole(d *Directive, contentType string, body []byte) error {
	h := c.w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.w.WriteHeader(http.StatusOK)
	if d.CutAfter != nil {
		_, _ = c.w.Write(body[:len(body)/2])
		_ = http.NewResponseController(c.w).Flush()
		panic(http.ErrAbortHandler)
	}
	if _, err := c.w.Write(body); err != nil {
		return errCanceled
	}
	return nil
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return errCanceled
	}
}

// reply is a protocol-neutral plan of a response.
type reply struct {
	// words > 0 means the default text ExpectedText(words), one word per
	// chunk; otherwise pieces holds the content chunks.
	words   int
	pieces  []string
	text    string
	hasText bool // false: content is null (a tool-call-only reply)
	calls   []plannedCall
	finish  string

	promptTokens, completionTokens int
}

type plannedCall struct {
	id, name, args string
	sig            string // Gemini thoughtSignature
	frags          []string
}

// plan builds the reply for d. tools says whether the protocol supports
// tool calls; promptTokens is the protocol's count of the prompt.
func (s *Server) plan(d *Directive, promptTokens int, tools bool) reply {
	n := d.Chunks
	if n <= 0 {
		n = s.opts.Chunks
	}
	rp := reply{finish: "stop", hasText: true, promptTokens: max(promptTokens, 1)}
	withCalls := tools && len(d.ToolCalls) > 0
	switch {
	case d.Content != nil:
		rp.text = *d.Content
		rp.pieces = splitText(rp.text, n)
	case withCalls:
		rp.hasText = false
	default:
		rp.words = n
	}
	if withCalls {
		rp.finish = "tool_calls"
		rp.calls = make([]plannedCall, len(d.ToolCalls))
		for i, tc := range d.ToolCalls {
			rp.calls[i] = plannedCall{
				id:    "call_mock_" + strconv.Itoa(i),
				name:  tc.Name,
				args:  tc.Arguments,
				sig:   tc.ThoughtSignature,
				frags: splitEven(tc.Arguments, 3),
			}
		}
	}
	if d.FinishReason != "" {
		rp.finish = d.FinishReason
	}
	rp.completionTokens = rp.bodyChunks()
	if d.PromptTokens != nil {
		rp.promptTokens = *d.PromptTokens
	}
	if d.CompletionTokens != nil {
		rp.completionTokens = *d.CompletionTokens
	}
	return rp
}

func (rp *reply) numPieces() int {
	if rp.words > 0 {
		return rp.words
	}
	return len(rp.pieces)
}

// bodyChunks counts the stream events between the role and finish chunks.
func (rp *reply) bodyChunks() int {
	n := rp.numPieces()
	for _, c := range rp.calls {
		n += 1 + len(c.frags)
	}
	return n
}

// appendPiece appends content chunk i as a JSON string.
func (rp *reply) appendPiece(dst []byte, i int) []byte {
	if rp.words > 0 {
		dst = append(dst, `"w`...)
		dst = strconv.AppendInt(dst, int64(i), 10)
		return append(dst, ` "`...)
	}
	return openai.AppendString(dst, rp.pieces[i])
}

// appendText appends the whole content as a JSON string, or null.
func (rp *reply) appendText(dst []byte) []byte {
	switch {
	case !rp.hasText:
		return append(dst, "null"...)
	case rp.words > 0:
		dst = append(dst, '"')
		for i := range rp.words {
			dst = append(dst, 'w')
			dst = strconv.AppendInt(dst, int64(i), 10)
			dst = append(dst, ' ')
		}
		return append(dst, '"')
	default:
		return openai.AppendString(dst, rp.text)
	}
}

// ExpectedText is the default reply text for a given number of chunks:
// "w0 w1 … w<chunks-1> ", one word (with its trailing space) per chunk.
func ExpectedText(chunks int) string {
	var b strings.Builder
	for i := range chunks {
		b.WriteByte('w')
		b.WriteString(strconv.Itoa(i))
		b.WriteByte(' ')
	}
	return b.String()
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// splitText splits s into n chunks at word starts, spreading the words
// evenly. With fewer words than n it splits evenly by runes instead, into
// at most one chunk per rune. Empty s gives no chunks.
func splitText(s string, n int) []string {
	if s == "" || n <= 0 {
		return nil
	}
	// starts holds the byte offsets where a word other than the first
	// begins; leading whitespace stays with the first word.
	var starts []int
	seen := false
	for i := 0; i < len(s); i++ {
		if !isSpace(s[i]) {
			if seen && isSpace(s[i-1]) {
				starts = append(starts, i)
			}
			seen = true
		}
	}
	words := len(starts) + 1
	if words < n {
		return splitEven(s, n)
	}
	out := make([]string, 0, n)
	prev := 0
	for j := 1; j < n; j++ {
		cut := starts[j*words/n-1] // chunk j starts at word j*words/n
		out = append(out, s[prev:cut])
		prev = cut
	}
	return append(out, s[prev:])
}

// splitEven splits s into min(n, runes) pieces of nearly equal rune counts.
func splitEven(s string, n int) []string {
	runes := utf8.RuneCountInString(s)
	n = min(n, runes)
	if n <= 0 {
		return nil
	}
	out := make([]string, 0, n)
	prev, k, j := 0, 0, 1
	for i := range s {
		if j < n && k == j*runes/n {
			out = append(out, s[prev:i])
			prev = i
			j++
		}
		k++
	}
	return append(out, s[prev:])
}

// pacer runs the timing of a stream: delays and ChunkHook before each body
// chunk, and the cut_after / hang_after_chunks gates. It is per request.
type pacer struct {
	ctx       context.Context
	hook      func(context.Context, int)
	delay     time.Duration
	timer     *time.Timer
	cutAfter  int // -1: off
	hangAfter int // -1: off
	i         int // body chunks released so far

	// Keep-alives (ping_every_ms, pings_before_first), sent through sw once
	// begin has set it.
	sw         *sseWriter
	ping       []byte
	pingEvery  time.Duration
	pingsFirst int
}

func (c *call) pacer(d *Directive, stream bool) *pacer {
	p := &pacer{ctx: c.r.Context(), hook: c.s.opts.ChunkHook, delay: c.s.opts.ChunkDelay, cutAfter: -1, hangAfter: -1}
	if d.ChunkDelayMS > 0 {
		p.delay = ms(d.ChunkDelayMS)
	}
	if stream {
		p.pingEvery, p.pingsFirst = ms(d.PingEveryMS), max(d.PingsBeforeFirst, 0)
		if p.pingEvery == 0 && p.pingsFirst > 0 {
			p.pingEvery = 100 * time.Millisecond
		}
	}
	if stream && d.CutAfter != nil {
		p.cutAfter = max(*d.CutAfter, 0)
	}
	if stream && d.HangAfterChunks != nil {
		p.hangAfter = max(*d.HangAfterChunks, 0)
	}
	return p
}

// begin is called once the stream's headers went out: it sends the
// keep-alives due before the first event. ping is the protocol's
// keep-alive event; nil means the stream cannot carry one.
func (p *pacer) begin(sw *sseWriter, ping []byte) error {
	if ping == nil || p.pingEvery <= 0 {
		return nil
	}
	p.sw, p.ping = sw, ping
	for range p.pingsFirst {
		if err := sw.send(ping); err != nil {
			return err
		}
		if err := p.sleep(p.pingEvery); err != nil {
			return err
		}
	}
	return nil
}

// wait waits d, sending a keep-alive every pingEvery meanwhile (when begin
// enabled them).
func (p *pacer) wait(d time.Duration) error {
	for p.sw != nil && d > p.pingEvery {
		if err := p.sleep(p.pingEvery); err != nil {
			return err
		}
		d -= p.pingEvery
		if err := p.sw.send(p.ping); err != nil {
			return err
		}
	}
	return p.sleep(d)
}

// sleep waits d or until the request ends.
func (p *pacer) sleep(d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if p.timer == nil {
		p.timer = time.NewTimer(d)
	} else {
		p.timer.Reset(d)
	}
	select {
	case <-p.timer.C:
		return nil
	case <-p.ctx.Done():
		return errCanceled
	}
}

// next is called before each body chunk is written.
func (p *pacer) next() error {
	if err := p.gate(p.cutAfter == p.i, p.hangAfter == p.i); err != nil {
		return err
	}
	if err := p.wait(p.delay); err != nil {
		return err
	}
	if p.hook != nil {
		p.hook(p.ctx, p.i)
	}
	p.i++
	if p.ctx.Err() != nil {
		return errCanceled
	}
	return nil
}

// end is called after the last body chunk, before the finish chunk.
func (p *pacer) end() error {
	p.stop()
	return p.gate(p.cutAfter >= p.i, p.hangAfter >= p.i)
}

func (p *pacer) gate(cut, hang bool) error {
	if cut {
		p.stop()
		// Everything so far has been flushed; the client sees the stream
		// stop without a terminator and the connection close.
		panic(http.ErrAbortHandler)
	}
	if hang {
		p.stop()
		<-p.ctx.Done()
		return errCanceled
	}
	return nil
}

func (p *pacer) stop() {
	if p.timer != nil {
		p.timer.Stop()
	}
}
