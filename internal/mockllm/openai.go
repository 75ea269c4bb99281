package mockllm

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"

	"aigateway/internal/openai"
)

// OpenAI wire format: /v1/chat/completions, /v1/completions, /v1/embeddings,
// /v1/models. See PROTOCOLS.md sections 1 and 2.

func openaiRoute(path string) (route, bool) {
	switch path {
	case "/v1/chat/completions":
		return openaiRouteTo(http.MethodPost, (*call).openaiChat), true
	case "/v1/completions":
		return openaiRouteTo(http.MethodPost, (*call).openaiCompletion), true
	case "/v1/embeddings":
		return openaiRouteTo(http.MethodPost, (*call).openaiEmbeddings), true
	case "/v1/responses":
		return openaiRouteTo(http.MethodPost, (*call).openaiResponses), true
	case "/v1/models":
		return openaiRouteTo(http.MethodGet, (*call).openaiModels), true
	}
	if id, ok := strings.CutPrefix(path, "/v1/models/"); ok && id != "" {
		return openaiRouteTo(http.MethodGet, (*call).openaiModel), true
	}
	return route{}, false
}

func openaiRouteTo(method string, serve handler) route {
	return route{method: method, serve: serve, fail: writeOpenAIError, auth: checkOpenAIKey}
}

// writeOpenAIError writes {"error":{"message","type","param","code"}}; param
// and code are null when empty.
func writeOpenAIError(w http.ResponseWriter, status int, e apiError) {
	if e.Type == "" {
		switch {
		case status == http.StatusTooManyRequests:
			e.Type = "requests"
		case status >= 500:
			e.Type = "server_error"
		default:
			e.Type = "invalid_request_error"
		}
	}
	if e.Code == "" && status == http.StatusTooManyRequests {
		e.Code = "rate_limit_exceeded"
	}
	oe := openai.Error{Message: e.Message, Type: e.Type, Param: e.Param, Code: e.Code}
	b := append(oe.AppendJSON(make([]byte, 0, 96+len(e.Message))), '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (c *call) badRequest(msg, param string) error {
	c.fail(c.w, http.StatusBadRequest, apiError{Type: "invalid_request_error", Message: msg, Param: param})
	return nil
}

// decode unmarshals the body into v, answering 400 if it cannot.
func (c *call) decode(v any) bool {
	err := json.Unmarshal(c.body, v)
	if err == nil {
		return true
	}
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) || len(c.body) == 0 {
		_ = c.badRequest("We could not parse the JSON body of your request. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.", "")
	} else {
		_ = c.badRequest("Invalid request body: "+err.Error(), "")
	}
	return false
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type chatRequest struct {
	Model         string         `json:"model"`
	Messages      []chatMessage  `json:"messages"`
	Stream        bool           `json:"stream"`
	StreamOptions *streamOptions `json:"stream_options"`
	Mock          *Directive     `json:"mock"`
}

type chatMessage struct {
	Content json.RawMessage `json:"content"`
}

// chatPromptTokens counts the words of the messages' text content.
func chatPromptTokens(msgs []chatMessage) int {
	n := 0
	for _, m := range msgs {
		switch {
		case len(m.Content) == 0:
		case m.Content[0] == '"':
			var s string
			if json.Unmarshal(m.Content, &s) == nil {
				n += countWords(s)
			}
		case m.Content[0] == '[':
			var parts []struct {
				Text string `json:"text"`
			}
			if json.Unmarshal(m.Content, &parts) == nil {
				for _, p := range parts {
					n += countWords(p.Text)
				}
			}
		}
	}
	return n
}

func countWords(s string) int {
	n := 0
	in := false
	for i := 0; i < len(s); i++ {
		sp := isSpace(s[i])
		if !sp && !in {
			n++
		}
		in = !sp
	}
	return n
}

// openaiHead holds the fields shared by every object of one response.
type openaiHead struct {
	id      string
	object  string
	created int64
	model   string
}

// appendHead appends `{"id":…,"object":…,"created":…,"model":…,"choices":[`.
func (h *openaiHead) appendHead(dst []byte) []byte {
	dst = append(dst, `{"id":`...)
	dst = openai.AppendString(dst, h.id)
	dst = append(dst, `,"object":`...)
	dst = openai.AppendString(dst, h.object)
	dst = append(dst, `,"created":`...)
	dst = appendInt(dst, h.created)
	dst = append(dst, `,"model":`...)
	dst = openai.AppendString(dst, h.model)
	return append(dst, `,"choices":[`...)
}

func appendUsage(dst []byte, prompt, completion int) []byte {
	dst = append(dst, `{"prompt_tokens":`...)
	dst = appendInt(dst, int64(prompt))
	dst = append(dst, `,"completion_tokens":`...)
	dst = appendInt(dst, int64(completion))
	dst = append(dst, `,"total_tokens":`...)
	dst = appendInt(dst, int64(prompt+completion))
	return append(dst, '}')
}

func (c *call) openaiChat() error {
	var req chatRequest
	if !c.decode(&req) {
		return nil
	}
	if req.Model == "" {
		return c.badRequest("you must provide a model parameter", "model")
	}
	if len(req.Messages) == 0 {
		return c.badRequest("[] is too short - 'messages'", "messages")
	}
	d, ok := c.directive(req.Mock)
	if !ok {
		return nil
	}
	if done, err := c.start(d, req.Stream); done {
		return err
	}
	rp := c.s.plan(d, chatPromptTokens(req.Messages), true)
	h := openaiHead{id: "chatcmpl-mock-" + strconv.FormatInt(c.seq, 10), created: c.s.opts.Now().Unix(), model: req.Model}
	if req.Stream {
		h.object = "chat.completion.chunk"
		return c.openaiChatStream(d, &rp, &h, req.StreamOptions != nil && req.StreamOptions.IncludeUsage)
	}
	h.object = "chat.completion"
	return c.openaiChatWhole(d, &rp, &h)
}

func (c *call) openaiChatWhole(d *Directive, rp *reply, h *openaiHead) error {
	if err := c.generate(d, rp); err != nil {
		return err
	}
	bp := c.s.getBuf()
	defer c.s.putBuf(bp)
	b := h.appendHead((*bp)[:0])
	b = append(b, `{"index":0,"message":{"role":"assistant","content":`...)
	b = rp.appendText(b)
	b = append(b, `,"refusal":null`...)
	if d.Reasoning != "" {
		b = append(b, `,"reasoning_content":`...)
		b = openai.AppendString(b, d.Reasoning)
	}
	if len(rp.calls) > 0 {
		b = append(b, `,"tool_calls":[`...)
		for i, tc := range rp.calls {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"id":`...)
			b = openai.AppendString(b, tc.id)
			b = append(b, `,"type":"function","function":{"name":`...)
			b = openai.AppendString(b, tc.name)
			b = append(b, `,"arguments":`...)
			b = openai.AppendString(b, tc.args)
			b = append(b, "}}"...)
		}
		b = append(b, ']')
	}
	b = append(b, `},"logprobs":null,"finish_reason":`...)
	b = openai.AppendString(b, rp.finish)
	b = append(b, `}],"usage":`...)
	b = appendUsage(b, rp.promptTokens, rp.completionTokens)
	b = append(b, "}\n"...)
	*bp = b
	return c.writeWhole(d, "application/json", b)
}

// generate paces a non-streamed reply: the chunk delays and ChunkHook of
// every body chunk happen before the body is sent.
func (c *call) generate(d *Directive, rp *reply) error {
	return c.pace(d, rp.bodyChunks())
}

// pace runs the pacing of n body chunks of a non-streamed reply.
func (c *call) pace(d *Directive, n int) error {
	p := c.pacer(d, false)
	defer p.stop()
	for range n {
		if err := p.next(); err != nil {
			return err
		}
	}
	return nil
}

const (
	chunkTail    = `,"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n"
	sseDone      = "data: [DONE]\n\n"
	sseDataTag   = "data: "
	sseKeepAlive = ": keep-alive\n\n" // what OpenAI-compatible servers send while they think
)

func (c *call) openaiChatStream(d *Directive, rp *reply, h *openaiHead, includeUsage bool) error {
	p := c.pacer(d, true)
	defer p.stop()
	bp := c.s.getBuf()
	defer c.s.putBuf(bp)
	// b always starts with the event head ("data: {...,"choices":[");
	// each event truncates it to hl and appends the rest, so the buffer
	// grows once and is reused.
	b := h.appendHead(append((*bp)[:0], sseDataTag...))
	hl := len(b)
	defer func() { *bp = b[:0] }()

	sw, err := c.startSSE()
	if err != nil {
		return err
	}
	if err := p.begin(sw, []byte(sseKeepAlive)); err != nil {
		return err
	}
	b = append(b[:hl], `{"index":0,"delta":{"role":"assistant","content":""}`...)
	b = append(b, chunkTail...)
	if err := sw.send(b); err != nil {
		return err
	}
	for _, word := range reasoningWords(d.Reasoning) {
		b = append(b[:hl], `{"index":0,"delta":{"reasoning_content":`...)
		b = openai.AppendString(b, word)
		b = append(b, '}')
		b = append(b, chunkTail...)
		if err := sw.send(b); err != nil {
			return err
		}
	}
	for i := range rp.numPieces() {
		if err := p.next(); err != nil {
			return err
		}
		b = append(b[:hl], `{"index":0,"delta":{"content":`...)
		b = rp.appendPiece(b, i)
		b = append(b, '}')
		b = append(b, chunkTail...)
		if err := sw.send(b); err != nil {
			return err
		}
	}
	for i, tc := range rp.calls {
		if err := p.next(); err != nil {
			return err
		}
		b = append(b[:hl], `{"index":0,"delta":{"tool_calls":[{"index":`...)
		b = appendInt(b, int64(i))
		b = append(b, `,"id":`...)
		b = openai.AppendString(b, tc.id)
		b = append(b, `,"type":"function","function":{"name":`...)
		b = openai.AppendString(b, tc.name)
		b = append(b, `,"arguments":""}}]}`...)
		b = append(b, chunkTail...)
		if err := sw.send(b); err != nil {
			return err
		}
		for _, frag := range tc.frags {
			if err := p.next(); err != nil {
				return err
			}
			b = append(b[:hl], `{"index":0,"delta":{"tool_calls":[{"index":`...)
			b = appendInt(b, int64(i))
			b = append(b, `,"function":{"arguments":`...)
			b = openai.AppendString(b, frag)
			b = append(b, "}}]}"...)
			b = append(b, chunkTail...)
			if err := sw.send(b); err != nil {
				return err
			}
		}
	}
	if err := p.end(); err != nil {
		return err
	}
	b = append(b[:hl], `{"index":0,"delta":{},"logprobs":null,"finish_reason":`...)
	b = openai.AppendString(b, rp.finish)
	b = append(b, "}],\"usage\":null}\n\n"...)
	if err := sw.send(b); err != nil {
		return err
	}
	if includeUsage {
		b = append(b[:hl], `],"usage":`...)
		b = appendUsage(b, rp.promptTokens, rp.completionTokens)
		b = append(b, "}\n\n"...)
		if err := sw.send(b); err != nil {
			return err
		}
	}
	b = append(b[:0], sseDone...)
	return sw.send(b)
}

type completionRequest struct {
	Model         string          `json:"model"`
	Prompt        json.RawMessage `json:"prompt"`
	Stream        bool            `json:"stream"`
	StreamOptions *streamOptions  `json:"stream_options"`
	Mock          *Directive      `json:"mock"`
}

func (c *call) openaiCompletion() error {
	var req completionRequest
	if !c.decode(&req) {
		return nil
	}
	if req.Model == "" {
		return c.badRequest("you must provide a model parameter", "model")
	}
	prompt := 0
	if len(req.Prompt) > 0 && string(req.Prompt) != "null" {
		inputs, err := parseInputs(req.Prompt)
		if err != nil {
			return c.badRequest("Invalid 'prompt': "+err.Error(), "prompt")
		}
		prompt = inputTokens(inputs)
	}
	d, ok := c.directive(req.Mock)
	if !ok {
		return nil
	}
	if done, err := c.start(d, req.Stream); done {
		return err
	}
	rp := c.s.plan(d, prompt, false)
	h := openaiHead{id: "cmpl-mock-" + strconv.FormatInt(c.seq, 10), object: "text_completion", created: c.s.opts.Now().Unix(), model: req.Model}
	if req.Stream {
		return c.openaiCompletionStream(d, &rp, &h, req.StreamOptions != nil && req.StreamOptions.IncludeUsage)
	}
	if err := c.generate(d, &rp); err != nil {
		return err
	}
	bp := c.s.getBuf()
	defer c.s.putBuf(bp)
	b := h.appendHead((*bp)[:0])
	b = append(b, `{"text":`...)
	b = rp.appendText(b)
	b = append(b, `,"index":0,"logprobs":null,"finish_reason":`...)
	b = openai.AppendString(b, rp.finish)
	b = append(b, `}],"usage":`...)
	b = appendUsage(b, rp.promptTokens, rp.completionTokens)
	b = append(b, "}\n"...)
	*bp = b
	return c.writeWhole(d, "application/json", b)
}

func (c *call) openaiCompletionStream(d *Directive, rp *reply, h *openaiHead, includeUsage bool) error {
	p := c.pacer(d, true)
	defer p.stop()
	bp := c.s.getBuf()
	defer c.s.putBuf(bp)
	// b always starts with the event head ("data: {...,"choices":[");
	// each event truncates it to hl and appends the rest, so the buffer
	// grows once and is reused.
	b := h.appendHead(append((*bp)[:0], sseDataTag...))
	hl := len(b)
	defer func() { *bp = b[:0] }()

	sw, err := c.startSSE()
	if err != nil {
		return err
	}
	if err := p.begin(sw, []byte(sseKeepAlive)); err != nil {
		return err
	}
	for i := range rp.numPieces() {
		if err := p.next(); err != nil {
			return err
		}
		b = append(b[:hl], `{"text":`...)
		b = rp.appendPiece(b, i)
		b = append(b, `,"index":0`...)
		b = append(b, chunkTail...)
		if err := sw.send(b); err != nil {
			return err
		}
	}
	if err := p.end(); err != nil {
		return err
	}
	b = append(b[:hl], `{"text":"","index":0,"logprobs":null,"finish_reason":`...)
	b = openai.AppendString(b, rp.finish)
	b = append(b, "}],\"usage\":null}\n\n"...)
	if err := sw.send(b); err != nil {
		return err
	}
	if includeUsage {
		b = append(b[:hl], `],"usage":`...)
		b = appendUsage(b, rp.promptTokens, rp.completionTokens)
		b = append(b, "}\n\n"...)
		if err := sw.send(b); err != nil {
			return err
		}
	}
	b = append(b[:0], sseDone...)
	return sw.send(b)
}

// promptInput is one element of an "input" or "prompt" union: a string or
// a token array.
type promptInput struct {
	text   string
	tokens []int
	isTok  bool
}

// parseInputs decodes string | []string | []int | [][]int.
func parseInputs(raw json.RawMessage) ([]promptInput, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, errors.New("missing input")
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return []promptInput{{text: s}}, nil
	case '[':
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return nil, err
		}
		if len(elems) == 0 {
			return nil, errors.New("input must not be empty")
		}
		first := bytes.TrimSpace(elems[0])
		switch {
		case len(first) > 0 && first[0] == '"':
			var ss []string
			if err := json.Unmarshal(raw, &ss); err != nil {
				return nil, errors.New("input must be a string, an array of strings, an array of integers or an array of integer arrays")
			}
			out := make([]promptInput, len(ss))
			for i, s := range ss {
				out[i] = promptInput{text: s}
			}
			return out, nil
		case len(first) > 0 && first[0] == '[':
			var tt [][]int
			if err := json.Unmarshal(raw, &tt); err != nil {
				return nil, errors.New("input must be a string, an array of strings, an array of integers or an array of integer arrays")
			}
			out := make([]promptInput, len(tt))
			for i, t := range tt {
				out[i] = promptInput{tokens: t, isTok: true}
			}
			return out, nil
		default:
			var t []int
			if err := json.Unmarshal(raw, &t); err != nil {
				return nil, errors.New("input must be a string, an array of strings, an array of integers or an array of integer arrays")
			}
			return []promptInput{{tokens: t, isTok: true}}, nil
		}
	}
	return nil, errors.New("input must be a string, an array of strings, an array of integers or an array of integer arrays")
}

func inputTokens(inputs []promptInput) int {
	n := 0
	for _, in := range inputs {
		if in.isTok {
			n += len(in.tokens)
		} else {
			n += countWords(in.text)
		}
	}
	return n
}

type embeddingsRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	Dimensions     int             `json:"dimensions"`
	EncodingFormat string          `json:"encoding_format"`
	Mock           *Directive      `json:"mock"`
}

// maxDimensions bounds the "dimensions" an embeddings request may ask for.
const maxDimensions = 16384

func (c *call) openaiEmbeddings() error {
	var req embeddingsRequest
	if !c.decode(&req) {
		return nil
	}
	if req.Model == "" {
		return c.badRequest("you must provide a model parameter", "model")
	}
	inputs, err := parseInputs(req.Input)
	if err != nil {
		return c.badRequest("Invalid 'input': "+err.Error(), "input")
	}
	for _, in := range inputs {
		if (!in.isTok && in.text == "") || (in.isTok && len(in.tokens) == 0) {
			return c.badRequest("Invalid 'input': empty inputs are not allowed", "input")
		}
	}
	dims := req.Dimensions
	switch {
	case dims == 0:
		dims = 8
	case dims < 1 || dims > maxDimensions:
		return c.badRequest("Invalid 'dimensions': must be between 1 and "+strconv.Itoa(maxDimensions), "dimensions")
	}
	b64 := false
	switch req.EncodingFormat {
	case "", "float":
	case "base64":
		b64 = true
	default:
		return c.badRequest("Invalid 'encoding_format': must be 'float' or 'base64'", "encoding_format")
	}
	d, ok := c.directive(req.Mock)
	if !ok {
		return nil
	}
	if done, err := c.start(d, false); done {
		return err
	}
	prompt := inputTokens(inputs)
	if d.PromptTokens != nil {
		prompt = *d.PromptTokens
	}

	vec := make([]float32, dims)
	var raw []byte
	b := make([]byte, 0, 64+len(inputs)*(48+dims*12))
	b = append(b, `{"object":"list","data":[`...)
	for i, in := range inputs {
		if i > 0 {
			b = append(b, ',')
		}
		embedVector(vec, in)
		b = append(b, `{"object":"embedding","index":`...)
		b = appendInt(b, int64(i))
		b = append(b, `,"embedding":`...)
		if b64 {
			raw = raw[:0]
			for _, f := range vec {
				raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(f))
			}
			b = append(b, '"')
			b = base64.StdEncoding.AppendEncode(b, raw)
			b = append(b, '"')
		} else {
			b = appendVector(b, vec)
		}
		b = append(b, '}')
	}
	b = append(b, `],"model":`...)
	b = openai.AppendString(b, req.Model)
	b = append(b, `,"usage":{"prompt_tokens":`...)
	b = appendInt(b, int64(prompt))
	b = append(b, `,"total_tokens":`...)
	b = appendInt(b, int64(prompt))
	b = append(b, "}}\n"...)
	return c.writeWhole(d, "application/json", b)
}

// appendVector appends vec as a JSON array of numbers.
func appendVector(dst []byte, vec []float32) []byte {
	dst = append(dst, '[')
	for j, f := range vec {
		if j > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendFloat(dst, float64(f), 'g', -1, 32)
	}
	return append(dst, ']')
}

// embedVector fills vec with a unit vector derived only from the input, so
// equal inputs get equal embeddings.
func embedVector(vec []float32, in promptInput) {
	const offset, prime = 14695981039346656037, 1099511628211
	seed := uint64(offset)
	if in.isTok {
		seed ^= 't'
		for _, t := range in.tokens {
			for k := range 8 {
				seed = (seed ^ uint64(byte(uint64(t)>>(8*k)))) * prime
			}
		}
	} else {
		for i := 0; i < len(in.text); i++ {
			seed = (seed ^ uint64(in.text[i])) * prime
		}
	}
	var sum float64
	for i := range vec {
		// splitmix64
		seed += 0x9e3779b97f4a7c15
		z := seed
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		v := float64(z>>11)/(1<<53)*2 - 1
		vec[i] = float32(v)
		sum += v * v
	}
	if sum == 0 {
		return
	}
	norm := 1 / math.Sqrt(sum)
	for i := range vec {
		vec[i] = float32(float64(vec[i]) * norm)
	}
}

func appendModel(dst []byte, id string) []byte {
	dst = append(dst, `{"id":`...)
	dst = openai.AppendString(dst, id)
	return append(dst, `,"object":"model","created":0,"owned_by":"mockllm"}`...)
}

func appendModelList(dst []byte, ids []string) []byte {
	dst = append(dst, `{"object":"list","data":[`...)
	for i, id := range ids {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendModel(dst, id)
	}
	return append(dst, "]}\n"...)
}

func (c *call) openaiModels() error {
	d, ok := c.directive(nil)
	if !ok {
		return nil
	}
	if done, err := c.start(d, false); done {
		return err
	}
	return c.writeWhole(d, "application/json", c.s.modelList)
}

func (c *call) openaiModel() error {
	d, ok := c.directive(nil)
	if !ok {
		return nil
	}
	if done, err := c.start(d, false); done {
		return err
	}
	id := strings.TrimPrefix(c.r.URL.Path, "/v1/models/")
	for _, m := range c.s.opts.Models {
		if m == id {
			return c.writeWhole(d, "application/json", append(appendModel(nil, m), '\n'))
		}
	}
	c.fail(c.w, http.StatusNotFound, apiError{
		Type:    "invalid_request_error",
		Message: "The model '" + id + "' does not exist",
		Param:   "model",
		Code:    "model_not_found",
	})
	return nil
}

// reasoningWords splits a Reasoning directive into stream deltas: one per
// word, each with the spaces that follow it, so that they join back to the
// text.
func reasoningWords(text string) []string {
	var out []string
	for text != "" {
		i := strings.IndexByte(text, ' ')
		if i < 0 {
			return append(out, text)
		}
		j := i
		for j < len(text) && text[j] == ' ' {
			j++
		}
		out = append(out, text[:j])
		text = text[j:]
	}
	return out
}
