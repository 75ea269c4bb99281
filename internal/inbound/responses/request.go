package responses

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/inbound"
	"aigateway/internal/jsonlimit"
	"aigateway/internal/openai"
)

// request is one parsed Responses request. Fields are read with gjson from
// the body as received; nothing is decoded into structs.
type request struct {
	d    *Dialect
	ctx  context.Context // the client request's, for the Store (see save)
	body []byte
	root gjson.Result

	model  string
	stream bool
	store  bool // store is true or absent

	// prevID is previous_response_id; prev is its stored conversation
	// (a JSON array), nil when prevID is empty or unknown.
	prevID string
	prev   []byte

	// tools says, by the function name the upstream sees, where each
	// function came from: a custom tool (its calls become
	// custom_tool_call items) or a function inside a namespace tool.
	tools map[string]toolOrigin

	// id and created name the response; items get ids derived from id.
	id      string
	created int64
	// echo is the tail of every response object: the request parameters
	// the SDKs read back, built once.
	echo []byte
}

// parse reads body. Only a body that is not a JSON object, or lacks a
// model, is refused; the rest is mapped or dropped by Chat.
func (d *Dialect) parse(ctx context.Context, body []byte) (*request, error) {
	if err := jsonlimit.Validate(body); err != nil {
		return nil, &inbound.Error{Status: http.StatusBadRequest, Type: openai.TypeInvalidRequest, Code: "invalid_json",
			Message: "the request body is not valid JSON: " + err.Error()}
	}
	root := gjson.ParseBytes(body)
	if !root.IsObject() {
		return nil, &inbound.Error{Status: http.StatusBadRequest, Type: openai.TypeInvalidRequest, Code: "invalid_json",
			Message: "the request body must be a JSON object"}
	}
	q := &request{d: d, ctx: ctx, body: body, root: root, store: true}
	m := root.Get("model")
	if m.Type != gjson.String || m.Str == "" {
		return nil, &inbound.Error{Status: http.StatusBadRequest, Type: openai.TypeInvalidRequest, Param: "model", Code: "missing_required_parameter",
			Message: "you must provide a model parameter"}
	}
	q.model = m.Str
	q.stream = root.Get("stream").Type == gjson.True
	q.store = root.Get("store").Type != gjson.False
	if p := root.Get("previous_response_id"); p.Type == gjson.String && p.Str != "" {
		q.prevID = p.Str
		// Looked up even with store: false: the client may continue a
		// stored response without storing the new one.
		s, ok, err := d.store.Get(ctx, p.Str)
		if err != nil {
			// Not "not found": the conversation may well be there once the
			// store is back, and a 503 is what SDKs retry.
			slog.Warn("responses: reading the store failed", "previous_response_id", p.Str, "err", err)
			return nil, &inbound.Error{Status: http.StatusServiceUnavailable, Type: openai.TypeUnavailable, Param: "previous_response_id",
				Code: "store_unavailable", Message: "The stored responses cannot be read right now, so previous_response_id '" + p.Str + "' cannot be continued; try again."}
		}
		if ok {
			q.prev = s.Conversation
		}
	}
	if in := root.Get("input"); !in.Exists() || in.Type == gjson.Null {
		if q.prevID == "" && root.Get("instructions").Str == "" {
			return nil, &inbound.Error{Status: http.StatusBadRequest, Type: openai.TypeInvalidRequest, Param: "input", Code: "missing_required_parameter",
				Message: "you must provide an input"}
		}
	}
	for _, k := range [...]string{"temperature", "top_p"} {
		// Copied to the Chat body as they are: a value the gateway could
		// not send is the client's error, as OpenAI's.
		if v := root.Get(k); v.Type == gjson.Number {
			if err := openai.CheckNumber(k, k, v); err != nil {
				return nil, &inbound.Error{Status: http.StatusBadRequest, Type: err.Type, Code: err.Code, Param: err.Param, Message: err.Message}
			}
		}
	}
	q.tools = toolOrigins(root.Get("tools"))
	q.id = "resp_" + d.newID()
	q.created = d.now().Unix()
	q.echo = appendEcho(nil, root, q.store)
	return q, nil
}

func (q *request) Model() string { return q.model }

func (q *request) Stream() bool { return q.stream }

// Native implements inbound.Request. A previous_response_id the gateway
// stored is expanded into the input, since the upstream cannot know it; an
// id the gateway does not know is the upstream's own and passes through.
func (q *request) Native() *adapter.NativeRequest {
	body := q.body
	if q.prev != nil {
		body = q.expandedBody()
	}
	n := &adapter.NativeRequest{Protocol: adapter.ProtocolResponses, Op: adapter.NativeGenerate, Stream: q.stream, Body: body}
	root := q.root
	if q.prev != nil {
		root = gjson.ParseBytes(body)
	}
	if m := root.Get("model"); m.Index > 0 {
		n.ModelStart, n.ModelEnd = m.Index, m.Index+len(m.Raw)
	}
	if mt := root.Get("max_output_tokens"); mt.Index > 0 && mt.Type == gjson.Number {
		n.MaxTokensStart, n.MaxTokensEnd = mt.Index, mt.Index+len(mt.Raw)
		n.MaxTokens = mt.Int()
	}
	return n
}

// expandedBody is the body with the stored conversation put before its
// input and previous_response_id removed.
func (q *request) expandedBody() []byte {
	out := make([]byte, 0, len(q.body)+len(q.prev)+64)
	out = append(out, '{')
	first := true
	q.root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "previous_response_id", "input":
			return true
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = append(out, k.Raw...)
		out = append(out, ':')
		out = append(out, v.Raw...)
		return true
	})
	if !first {
		out = append(out, ',')
	}
	out = append(out, `"input":`...)
	out = q.appendConversationInput(out)
	return append(out, '}')
}

// appendConversationInput appends the input items of this request with the
// stored conversation first, as one JSON array: what a later
// previous_response_id continues from, with the output items added.
func (q *request) appendConversationInput(dst []byte) []byte {
	dst = append(dst, '[')
	n := 0
	if q.prev != nil {
		dst, n = appendArrayItems(dst, q.prev, n)
	}
	in := q.root.Get("input")
	switch {
	case in.Type == gjson.String:
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"type":"message","role":"user","content":[{"type":"input_text","text":`...)
		dst = openai.AppendString(dst, in.Str)
		dst = append(dst, "}]}"...)
	case in.IsArray():
		dst, _ = appendArrayItems(dst, []byte(in.Raw), n)
	}
	return append(dst, ']')
}

// appendArrayItems appends the elements of the JSON array arr, comma
// separated and after a comma when n elements precede them, and returns
// the new count.
func appendArrayItems(dst, arr []byte, n int) ([]byte, int) {
	gjson.ParseBytes(arr).ForEach(func(_, v gjson.Result) bool {
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, v.Raw...)
		n++
		return true
	})
	return dst, n
}

// prevNotFound is OpenAI's answer to an unknown previous_response_id.
func prevNotFound(id string) *inbound.Error {
	return &inbound.Error{Status: http.StatusBadRequest, Type: openai.TypeInvalidRequest, Param: "previous_response_id",
		Code: "previous_response_not_found", Message: "Previous response with id '" + id + "' not found."}
}

// save stores the response when the client let it be stored. It runs
// before the answer's last bytes are written, so that a follow-up sent
// the moment the client has the answer finds it. It uses the client
// request's context: the store may be remote, and nobody waits for a
// save after the client left. A failure is logged: the answer itself is
// fine.
func (q *request) save(response, output []byte) {
	if !q.store {
		return
	}
	conv := q.appendConversationInput(make([]byte, 0, len(q.prev)+len(q.body)+len(output)+16))
	if len(output) > 0 {
		conv = conv[:len(conv)-1] // reopen the array
		if len(conv) > 1 {
			conv = append(conv, ',')
		}
		conv = append(conv, output...)
		conv = append(conv, ']')
	}
	if err := q.d.store.Put(q.ctx, q.id, Stored{Response: response, Conversation: conv}); err != nil {
		slog.Warn("responses: storing the response failed; previous_response_id will not find it", "response_id", q.id, "err", err)
	}
}

var _ inbound.Request = (*request)(nil)
