package template

import (
	"bytes"
	"fmt"
	"io"
	"net/http"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/jsonlimit"
	"aigateway/internal/openai"
	"aigateway/internal/redact"
	"aigateway/internal/sse"
)

// translator turns the upstream's stream events (SSE data payloads or JSONL
// lines) into OpenAI chunks. It is created per request.
type translator struct {
	cw           openai.ChunkWriter
	id           string           // model id, for error messages
	redactor     *redact.Redactor // for event data quoted in an error
	cfg          StreamConfig
	finishPath   string
	includeUsage bool

	started            bool // the role chunk was sent
	finish             string
	prompt, completion int64
	// promptSeen and completionSeen say whether the upstream reported the
	// count; until it does, the count is estimated from sentBytes (the
	// request body) and textBytes (the text sent so far).
	promptSeen, completionSeen bool
	sentBytes, textBytes       int
}

func newTranslator(a *Adapter, cw openai.ChunkWriter, includeUsage bool, sentBytes int) *translator {
	return &translator{cw: cw, id: a.up.ID, redactor: a.up.Redactor, cfg: *a.stream, finishPath: a.resp.FinishReason,
		includeUsage: includeUsage, finish: "stop", sentBytes: sentBytes}
}

// Event handles one SSE data payload or JSONL line. Any event the upstream
// sends, one without text included, shows it at work.
func (t *translator) Event(ev sse.Event) (adapter.Output, error) {
	chunks, done, err := t.event(ev)
	return adapter.Output{Chunks: chunks, Done: done, Alive: true}, err
}

func (t *translator) event(ev sse.Event) ([][]byte, bool, error) {
	data := bytes.TrimSpace(ev.Data)
	jsonl := t.cfg.Format == "jsonl"
	if !jsonl && t.cfg.Done != "" && string(data) == t.cfg.Done {
		return t.end(nil), true, nil
	}
	if len(data) == 0 {
		return nil, false, nil
	}
	if err := jsonlimit.Validate(data); err != nil {
		if adapter.TooDeep(err) {
			return nil, false, t.streamErr("upstream_invalid_response", "%s", adapter.TooDeepMessage())
		}
		return nil, false, t.streamErr("upstream_invalid_response", "the upstream sent a stream event that is not JSON: %s", t.errorText(data))
	}
	text := gjson.GetBytes(data, t.cfg.Text)
	if text.Type != gjson.String {
		if e := gjson.GetBytes(data, "error"); e.Exists() && e.Type != gjson.Null {
			return nil, false, t.streamErr("upstream_error", "the upstream reported an error in the stream: %s", t.errorText(data))
		}
	}
	if n, ok := tokens(data, t.cfg.PromptTokens); ok {
		t.prompt, t.promptSeen = n, true
	}
	if n, ok := tokens(data, t.cfg.CompletionTokens); ok {
		t.completion, t.completionSeen = n, true
	}
	if r, ok := finishOf(data, t.finishPath); ok {
		t.finish = r
	}
	var chunks [][]byte
	if text.Type == gjson.String && text.Str != "" {
		chunks = append(t.start(chunks), t.cw.Content(text.Str))
		t.textBytes += len(text.Str)
	}
	if jsonl && t.cfg.Done != "" && gjson.GetBytes(data, t.cfg.Done).Bool() {
		return t.end(chunks), true, nil
	}
	return chunks, false, nil
}

// End is called at EOF: a proper end unless a done marker was expected.
func (t *translator) End() ([][]byte, error) {
	if t.cfg.Done != "" {
		return nil, io.EOF // the stream plumbing reports it as stream_incomplete
	}
	return t.end(nil), nil
}

// Usage is the upstream's counts where it reported them, estimates where
// it did not.
func (t *translator) Usage() adapter.Usage {
	u := adapter.Usage{PromptTokens: t.prompt, CompletionTokens: t.completion}
	if !t.promptSeen {
		u.PromptTokens, u.Estimated = adapter.EstimateTokens(t.sentBytes), true
	}
	if !t.completionSeen {
		u.CompletionTokens, u.Estimated = adapter.EstimateTokens(t.textBytes), true
	}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	return u
}

// start prepends the role chunk once.
func (t *translator) start(chunks [][]byte) [][]byte {
	if t.started {
		return chunks
	}
	t.started = true
	return append(chunks, t.cw.Role())
}

// end appends the last chunks: finish, then usage when asked for.
func (t *translator) end(chunks [][]byte) [][]byte {
	chunks = append(t.start(chunks), t.cw.Finish(t.finish))
	if t.includeUsage {
		u := t.Usage()
		chunks = append(chunks, t.cw.Usage(*openaiUsage(u.PromptTokens, u.CompletionTokens)))
	}
	return chunks
}

// errorText is adapter.ErrorText of event data, redacted first: ErrorText
// may cut the text short, and a key cut in two is no longer recognised.
func (t *translator) errorText(data []byte) string {
	return adapter.ErrorText(t.redactor.Bytes(data))
}

func (t *translator) streamErr(code, format string, args ...any) *adapter.Error {
	return &adapter.Error{Status: http.StatusBadGateway, Err: openai.Error{Type: openai.TypeUpstream, Code: code,
		Message: fmt.Sprintf("model %q: ", t.id) + fmt.Sprintf(format, args...)}}
}

// syntheticStream serves a client stream from a non-stream answer. All its
// chunks are at hand, so it never blocks.
type syntheticStream struct {
	chunks [][]byte
	usage  adapter.Usage
}

func newSyntheticStream(cw openai.ChunkWriter, ans *answer, includeUsage bool) *syntheticStream {
	s := &syntheticStream{chunks: [][]byte{cw.Role()}, usage: ans.usage()}
	if ans.text != "" {
		s.chunks = append(s.chunks, cw.Content(ans.text))
	}
	s.chunks = append(s.chunks, cw.Finish(ans.finish))
	if includeUsage {
		s.chunks = append(s.chunks, cw.Usage(*openaiUsage(ans.prompt, ans.completion)))
	}
	return s
}

func (s *syntheticStream) Next() (adapter.Chunk, error) {
	if len(s.chunks) == 0 {
		return adapter.Chunk{}, io.EOF
	}
	c := s.chunks[0]
	s.chunks = s.chunks[1:]
	return adapter.Chunk{Data: c}, nil
}

func (s *syntheticStream) Buffered() bool       { return len(s.chunks) > 0 }
func (s *syntheticStream) Usage() adapter.Usage { return s.usage }
func (s *syntheticStream) Close() error         { return nil }

var (
	_ adapter.Translator = (*translator)(nil)
	_ adapter.Stream     = (*syntheticStream)(nil)
)
