package responses

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/tidwall/gjson"

	"aigateway/internal/inbound"
	"aigateway/internal/openai"
)

// appendEcho appends the request parameters a response object repeats
// (the fields openai-go's Response marks required, and those Codex and the
// SDKs read back), each as the client sent it or with the API's default.
func appendEcho(dst []byte, root gjson.Result, store bool) []byte {
	field := func(name, def string, ok func(gjson.Result) bool) {
		dst = append(dst, `,"`...)
		dst = append(dst, name...)
		dst = append(dst, `":`...)
		if v := root.Get(name); v.Exists() && v.Type != gjson.Null && ok(v) {
			dst = append(dst, v.Raw...)
		} else {
			dst = append(dst, def...)
		}
	}
	isString := func(v gjson.Result) bool { return v.Type == gjson.String }
	isNumber := func(v gjson.Result) bool { return v.Type == gjson.Number }
	isObject := func(v gjson.Result) bool { return v.IsObject() }
	isBool := func(v gjson.Result) bool { return v.Type == gjson.True || v.Type == gjson.False }
	field("instructions", "null", isString)
	field("max_output_tokens", "null", isNumber)
	field("metadata", "{}", isObject)
	field("parallel_tool_calls", "true", isBool)
	field("previous_response_id", "null", isString)
	field("reasoning", `{"effort":null,"summary":null}`, isObject)
	dst = append(dst, `,"store":`...)
	dst = strconv.AppendBool(dst, store)
	field("temperature", "1", isNumber)
	field("text", `{"format":{"type":"text"}}`, isObject)
	field("tool_choice", `"auto"`, func(v gjson.Result) bool { return v.Type == gjson.String || v.IsObject() })
	field("tools", "[]", func(v gjson.Result) bool { return v.IsArray() })
	field("top_p", "1", isNumber)
	dst = append(dst, `,"truncation":"disabled"`...)
	field("user", "null", isString)
	return compact(dst)
}

// compact removes the insignificant white space a client's pretty-printed
// body brings into the echo: a line break would split an SSE event's data
// into several lines, which some stream readers do not join.
func compact(b []byte) []byte {
	if bytes.IndexByte(b, '\n') < 0 && bytes.IndexByte(b, '\r') < 0 {
		return b
	}
	var out bytes.Buffer
	out.Grow(len(b))
	// The echo is a sequence of ,"key":value members; wrapped in braces it
	// is an object, which json.Compact takes.
	if err := json.Compact(&out, append(append([]byte{'{'}, b[1:]...), '}')); err != nil {
		return b
	}
	c := out.Bytes()
	c[0] = ','
	return c[:len(c)-1]
}

// usage is a response's token usage in Responses terms.
type usage struct {
	known                            bool
	input, cached, output, reasoning int64
	total                            int64
}

// usageOf reads a Chat usage object.
func usageOf(u gjson.Result) usage {
	if !u.IsObject() {
		return usage{}
	}
	r := usage{known: true,
		input:     u.Get("prompt_tokens").Int(),
		cached:    u.Get("prompt_tokens_details.cached_tokens").Int(),
		output:    u.Get("completion_tokens").Int(),
		reasoning: u.Get("completion_tokens_details.reasoning_tokens").Int(),
		total:     u.Get("total_tokens").Int(),
	}
	if r.total == 0 {
		r.total = r.input + r.output
	}
	return r
}

func (u usage) appendJSON(dst []byte) []byte {
	if !u.known {
		return append(dst, "null"...)
	}
	dst = append(dst, `{"input_tokens":`...)
	dst = strconv.AppendInt(dst, u.input, 10)
	dst = append(dst, `,"input_tokens_details":{"cached_tokens":`...)
	dst = strconv.AppendInt(dst, u.cached, 10)
	dst = append(dst, `},"output_tokens":`...)
	dst = strconv.AppendInt(dst, u.output, 10)
	dst = append(dst, `,"output_tokens_details":{"reasoning_tokens":`...)
	dst = strconv.AppendInt(dst, u.reasoning, 10)
	dst = append(dst, `},"total_tokens":`...)
	dst = strconv.AppendInt(dst, u.total, 10)
	return append(dst, '}')
}

// outcome is how a response ended.
type outcome struct {
	status     string // in_progress, completed, incomplete, failed
	incomplete string // incomplete_details.reason
	err        *inbound.Error
}

// outcomeOf maps a Chat finish_reason.
func outcomeOf(finish string) outcome {
	switch finish {
	case "length":
		return outcome{status: "incomplete", incomplete: "max_output_tokens"}
	case "content_filter":
		return outcome{status: "incomplete", incomplete: "content_filter"}
	}
	return outcome{status: "completed"}
}

// header is what names a response object.
type header struct {
	id      string
	created int64
	model   string
	echo    []byte
}

func (q *request) header() header {
	return header{id: q.id, created: q.created, model: q.model, echo: q.echo}
}

// appendObject appends a response object. output holds the items, comma
// separated, without brackets.
func (h *header) appendObject(dst []byte, o outcome, output []byte, u usage) []byte {
	dst = append(dst, `{"id":`...)
	dst = openai.AppendString(dst, h.id)
	dst = append(dst, `,"object":"response","created_at":`...)
	dst = strconv.AppendInt(dst, h.created, 10)
	dst = append(dst, `,"status":"`...)
	dst = append(dst, o.status...)
	dst = append(dst, `","background":false,"error":`...)
	if o.err != nil {
		dst = append(dst, `{"code":`...)
		dst = openai.AppendString(dst, failureCode(o.err))
		dst = append(dst, `,"message":`...)
		dst = openai.AppendString(dst, o.err.Message)
		dst = append(dst, '}')
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"incomplete_details":`...)
	if o.incomplete != "" {
		dst = append(dst, `{"reason":"`...)
		dst = append(dst, o.incomplete...)
		dst = append(dst, `"}`...)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"model":`...)
	dst = openai.AppendString(dst, h.model)
	dst = append(dst, `,"output":[`...)
	dst = append(dst, output...)
	dst = append(dst, `],"usage":`...)
	dst = u.appendJSON(dst)
	dst = append(dst, h.echo...)
	return append(dst, '}')
}

// failureCode is the error.code of a failed response, from the codes
// Codex acts on: rate_limit_exceeded is retried after the delay the
// message names, server_is_overloaded and server_error are retried,
// invalid_prompt and context_length_exceeded end the turn.
func failureCode(e *inbound.Error) string {
	switch e.Code {
	case "context_length_exceeded", "rate_limit_exceeded", "insufficient_quota", "invalid_prompt", "server_is_overloaded":
		return e.Code
	}
	switch {
	case e.Status == http.StatusTooManyRequests:
		return "rate_limit_exceeded"
	case e.Status == http.StatusServiceUnavailable || e.Status == 529:
		return "server_is_overloaded"
	case e.Status >= 500 || e.Status == 0:
		return "server_error"
	}
	return "invalid_prompt"
}

// appendFailed appends a response.failed event's data.
func (h *header) appendFailed(dst []byte, seq int64, e *inbound.Error, output []byte, u usage) []byte {
	dst = append(dst, `{"type":"response.failed","sequence_number":`...)
	dst = strconv.AppendInt(dst, seq, 10)
	dst = append(dst, `,"response":`...)
	dst = h.appendObject(dst, outcome{status: "failed", err: e}, output, u)
	return append(dst, '}')
}
