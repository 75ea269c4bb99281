package mockllm

import (
	"encoding/json"

	"strconv"

	"aigateway/internal/openai"
)

// OpenAI Responses API: POST /v1/responses, stream or not, with text,
// function_call and (for a tool the request declares as "custom")
// custom_tool_call items. See PROTOCOLS.md section 3. The body chunks are
// those of chat completions: the text deltas, then per tool call its
// output_item.added and its argument (or input) deltas.

type responsesRequest struct {
	Model  string          `json:"model"`
	Input  json.RawMessage `json:"input"`
	Stream bool            `json:"stream"`
	Tools  []struct {
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"tools"`
	Mock *Directive `json:"mock"`
}

// responsesPromptTokens counts the words of the input's text.
func responsesPromptTokens(raw json.RawMessage) int {
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		_ = json.Unmarshal(raw, &s)
		return countWords(s)
	}
	var items []struct {
		Content json.RawMessage `json:"content"`
		Output  json.RawMessage `json:"output"`
	}
	_ = json.Unmarshal(raw, &items)
	msgs := make([]chatMessage, 0, 2*len(items))
	for _, it := range items {
		msgs = append(msgs, chatMessage{Content: it.Content}, chatMessage{Content: it.Output})
	}
	return chatPromptTokens(msgs)
}

func (c *call) openaiResponses() error {
	var req responsesRequest
	if !c.decode(&req) {
		return nil
	}
	if req.Model == "" {
		return c.badRequest("you must provide a model parameter", "model")
	}
	if len(req.Input) == 0 || (req.Input[0] != '"' && req.Input[0] != '[') {
		return c.badRequest("Missing required parameter: 'input'.", "input")
	}
	d, ok := c.directive(req.Mock)
	if !ok {
		return nil
	}
	if done, err := c.start(d, req.Stream); done {
		return err
	}
	rp := c.s.plan(d, responsesPromptTokens(req.Input), true)
	custom := map[string]bool{}
	for _, t := range req.Tools {
		if t.Type == "custom" {
			custom[t.Name] = true
		}
	}
	r := respWriter{id: "resp_mock_" + strconv.FormatInt(c.seq, 10), created: c.s.opts.Now().Unix(), model: req.Model, rp: &rp, custom: custom}
	if req.Stream {
		return c.openaiResponsesStream(d, &r)
	}
	if err := c.generate(d, &rp); err != nil {
		return err
	}
	bp := c.s.getBuf()
	defer c.s.putBuf(bp)
	b := r.appendResponse((*bp)[:0], "completed", true)
	b = append(b, '\n')
	*bp = b
	return c.writeWhole(d, "application/json", b)
}

// respWriter writes the objects of one Responses answer.
type respWriter struct {
	id      string
	created int64
	model   string
	rp      *reply
	custom  map[string]bool
	seq     int
}

func (r *respWriter) msgID() string { return "msg_mock_" + r.id[len("resp_mock_"):] }

func (r *respWriter) callID(i int) string { return "fc_mock_" + strconv.Itoa(i) }

// appendMessage appends the message item with the whole text, or empty.
func (r *respWriter) appendMessage(dst []byte, done bool) []byte {
	dst = append(dst, `{"type":"message","id":`...)
	dst = openai.AppendString(dst, r.msgID())
	if !done {
		return append(dst, `,"status":"in_progress","role":"assistant","content":[]}`...)
	}
	dst = append(dst, `,"status":"completed","role":"assistant","content":[{"type":"output_text","annotations":[],"logprobs":[],"text":`...)
	dst = r.appendAllText(dst)
	return append(dst, "}]}"...)
}

func (r *respWriter) appendAllText(dst []byte) []byte {
	if !r.rp.hasText {
		return append(dst, `""`...)
	}
	return r.rp.appendText(dst)
}

// appendCall appends tool call i as a function_call or custom_tool_call.
func (r *respWriter) appendCall(dst []byte, i int, done bool) []byte {
	tc := r.rp.calls[i]
	status, args := "in_progress", ""
	if done {
		status, args = "completed", tc.args
	}
	if r.custom[tc.name] {
		dst = append(dst, `{"type":"custom_tool_call","id":`...)
		dst = openai.AppendString(dst, r.callID(i))
		dst = append(dst, `,"status":"`+status+`","call_id":`...)
		dst = openai.AppendString(dst, tc.id)
		dst = append(dst, `,"name":`...)
		dst = openai.AppendString(dst, tc.name)
		dst = append(dst, `,"input":`...)
		dst = openai.AppendString(dst, args)
		return append(dst, '}')
	}
	dst = append(dst, `{"type":"function_call","id":`...)
	dst = openai.AppendString(dst, r.callID(i))
	dst = append(dst, `,"status":"`+status+`","call_id":`...)
	dst = openai.AppendString(dst, tc.id)
	dst = append(dst, `,"name":`...)
	dst = openai.AppendString(dst, tc.name)
	dst = append(dst, `,"arguments":`...)
	dst = openai.AppendString(dst, args)
	return append(dst, '}')
}

// appendResponse appends the response object; output false leaves the
// output empty and the usage null (response.created).
func (r *respWriter) appendResponse(dst []byte, status string, output bool) []byte {
	dst = append(dst, `{"id":`...)
	dst = openai.AppendString(dst, r.id)
	dst = append(dst, `,"object":"response","created_at":`...)
	dst = appendInt(dst, r.created)
	dst = append(dst, `,"status":"`+status+`","error":null,"incomplete_details":`...)
	if output && r.rp.finish == "length" {
		dst = append(dst, `{"reason":"max_output_tokens"}`...)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"model":`...)
	dst = openai.AppendString(dst, r.model)
	dst = append(dst, `,"output":[`...)
	if output {
		n := 0
		if r.rp.hasText {
			dst = r.appendMessage(dst, true)
			n++
		}
		for i := range r.rp.calls {
			if n > 0 {
				dst = append(dst, ',')
			}
			dst = r.appendCall(dst, i, true)
			n++
		}
	}
	dst = append(dst, `],"parallel_tool_calls":true,"tool_choice":"auto","tools":[],"usage":`...)
	if output {
		dst = append(dst, `{"input_tokens":`...)
		dst = appendInt(dst, int64(r.rp.promptTokens))
		dst = append(dst, `,"input_tokens_details":{"cached_tokens":0},"output_tokens":`...)
		dst = appendInt(dst, int64(r.rp.completionTokens))
		dst = append(dst, `,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":`...)
		dst = appendInt(dst, int64(r.rp.promptTokens+r.rp.completionTokens))
		dst = append(dst, '}')
	} else {
		dst = append(dst, "null"...)
	}
	return append(dst, '}')
}

// event appends one named event whose data is {"type":name,
// "sequence_number":n, <fields>}, fields written by f.
func (r *respWriter) event(dst []byte, name string, f func([]byte) []byte) []byte {
	dst = append(dst, "event: "+name+"\ndata: {\"type\":\""+name+"\",\"sequence_number\":"...)
	dst = appendInt(dst, int64(r.seq))
	r.seq++
	dst = f(dst)
	return append(dst, "}\n\n"...)
}

func (c *call) openaiResponsesStream(d *Directive, r *respWriter) error {
	p := c.pacer(d, true)
	defer p.stop()
	bp := c.s.getBuf()
	defer c.s.putBuf(bp)
	b := (*bp)[:0]
	defer func() { *bp = b[:0] }()
	sw, err := c.startSSE()
	if err != nil {
		return err
	}
	if err := p.begin(sw, []byte(sseKeepAlive)); err != nil {
		return err
	}
	send := func() error { err := sw.send(b); b = b[:0]; return err }
	for _, name := range [...]string{"response.created", "response.in_progress"} {
		b = r.event(b, name, func(dst []byte) []byte {
			return r.appendResponse(append(dst, `,"response":`...), "in_progress", false)
		})
	}
	if err := send(); err != nil {
		return err
	}
	out := 0
	item := func(dst []byte, ev string, idx int, f func([]byte) []byte) []byte {
		return r.event(dst, ev, func(dst []byte) []byte {
			dst = append(dst, `,"output_index":`...)
			dst = appendInt(dst, int64(idx))
			return f(dst)
		})
	}
	ref := func(dst []byte, id string) []byte {
		dst = append(dst, `,"item_id":`...)
		return openai.AppendString(dst, id)
	}
	if r.rp.hasText {
		b = item(b, "response.output_item.added", out, func(dst []byte) []byte {
			return r.appendMessage(append(dst, `,"item":`...), false)
		})
		b = item(b, "response.content_part.added", out, func(dst []byte) []byte {
			return append(ref(dst, r.msgID()), `,"content_index":0,"part":{"type":"output_text","annotations":[],"logprobs":[],"text":""}`...)
		})
		for i := range r.rp.numPieces() {
			if err := send(); err != nil {
				return err
			}
			if err := p.next(); err != nil {
				return err
			}
			b = item(b, "response.output_text.delta", out, func(dst []byte) []byte {
				dst = append(ref(dst, r.msgID()), `,"content_index":0,"logprobs":[],"delta":`...)
				return r.rp.appendPiece(dst, i)
			})
		}
		b = item(b, "response.output_text.done", out, func(dst []byte) []byte {
			return r.appendAllText(append(ref(dst, r.msgID()), `,"content_index":0,"logprobs":[],"text":`...))
		})
		b = item(b, "response.content_part.done", out, func(dst []byte) []byte {
			dst = append(ref(dst, r.msgID()), `,"content_index":0,"part":{"type":"output_text","annotations":[],"logprobs":[],"text":`...)
			return append(r.appendAllText(dst), '}')
		})
		b = item(b, "response.output_item.done", out, func(dst []byte) []byte {
			return r.appendMessage(append(dst, `,"item":`...), true)
		})
		out++
	}
	for i, tc := range r.rp.calls {
		if err := send(); err != nil {
			return err
		}
		if err := p.next(); err != nil {
			return err
		}
		b = item(b, "response.output_item.added", out, func(dst []byte) []byte {
			return r.appendCall(append(dst, `,"item":`...), i, false)
		})
		delta, done, field := "response.function_call_arguments.delta", "response.function_call_arguments.done", "arguments"
		if r.custom[tc.name] {
			delta, done, field = "response.custom_tool_call_input.delta", "response.custom_tool_call_input.done", "input"
		}
		for _, frag := range tc.frags {
			if err := send(); err != nil {
				return err
			}
			if err := p.next(); err != nil {
				return err
			}
			b = item(b, delta, out, func(dst []byte) []byte {
				return openai.AppendString(append(ref(dst, r.callID(i)), `,"delta":`...), frag)
			})
		}
		b = item(b, done, out, func(dst []byte) []byte {
			dst = ref(dst, r.callID(i))
			if field == "arguments" {
				dst = append(dst, `,"name":`...)
				dst = openai.AppendString(dst, tc.name)
			}
			return openai.AppendString(append(dst, `,"`+field+`":`...), tc.args)
		})
		b = item(b, "response.output_item.done", out, func(dst []byte) []byte {
			return r.appendCall(append(dst, `,"item":`...), i, true)
		})
		out++
	}
	if err := send(); err != nil {
		return err
	}
	if err := p.end(); err != nil {
		return err
	}
	name, status := "response.completed", "completed"
	if r.rp.finish == "length" {
		name, status = "response.incomplete", "incomplete"
	}
	b = r.event(b, name, func(dst []byte) []byte {
		return r.appendResponse(append(dst, `,"response":`...), status, true)
	})
	return send()
}
