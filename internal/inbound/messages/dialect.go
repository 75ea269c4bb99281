// Package messages is the inbound Anthropic Messages API (POST /v1/messages
// and /v1/messages/count_tokens, PROTOCOLS.md section 4): it parses a
// client's request, converts it to OpenAI Chat Completions for a deployment
// that does not speak Messages, and converts the answer back (JSON, stream
// events and errors), following the mapping of PROTOCOLS.md 6.3, 6.7 and
// 6.8. A deployment that speaks Messages (the Anthropic adapter) gets the
// request as it came, through Native.
//
// What a target cannot take is dropped, never refused: Claude Code answers
// a 400 by retrying at once with features stripped.
package messages

import (
	"net/http"
	"unsafe"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/inbound"
	"aigateway/internal/jsonlimit"
	"aigateway/internal/openai"
)

// Dialect is the Anthropic Messages dialect. The zero value is ready to use.
type Dialect struct{}

var (
	_ inbound.Dialect = Dialect{}
	_ inbound.Counter = Dialect{}
	_ inbound.Lister  = Dialect{}
)

// Protocol implements inbound.Dialect.
func (Dialect) Protocol() adapter.Protocol { return adapter.ProtocolMessages }

// StreamEnd implements inbound.Dialect: a Messages stream ends with
// message_stop, which End writes; nothing follows it.
func (Dialect) StreamEnd() []byte { return nil }

// Parse implements inbound.Dialect. It checks only what every answer needs:
// a JSON object of bounded depth with a string "model" and a non-empty
// "messages" array. Everything else is read when converting.
func (Dialect) Parse(body []byte, r *http.Request) (inbound.Request, error) {
	return parseRequest(body, r, false)
}

// ParseCount implements inbound.Counter: a count_tokens request, which has
// the fields of a Messages request without max_tokens.
func (Dialect) ParseCount(body []byte, r *http.Request) (inbound.Request, error) {
	return parseRequest(body, r, true)
}

// CountAnswer implements inbound.Counter.
func (Dialect) CountAnswer(n int64) []byte { return CountTokensBody(n) }

func parseRequest(body []byte, r *http.Request, count bool) (inbound.Request, error) {
	if err := jsonlimit.Validate(body); err != nil {
		return nil, badRequest("the request body is not valid JSON: " + err.Error())
	}
	start := 0
	for start < len(body) && (body[start] == ' ' || body[start] == '\t' || body[start] == '\n' || body[start] == '\r') {
		start++
	}
	if start == len(body) || body[start] != '{' {
		return nil, badRequest("the request body must be a JSON object")
	}
	// gjson reads a string; aliasing the body avoids a copy. The body is
	// never modified (later attempts send it again).
	doc := gjson.Result{Type: gjson.JSON, Raw: unsafe.String(&body[start], len(body)-start), Index: start}
	req := &Request{body: body, doc: doc, count: count}
	var msgs gjson.Result
	var rangeErr *openai.Error
	doc.ForEach(func(key, value gjson.Result) bool {
		switch key.Str {
		case "model":
			if value.Type == gjson.String {
				req.model = value.Str
				req.modelStart, req.modelEnd = value.Index, value.Index+len(value.Raw)
			}
		case "max_tokens":
			if value.Type == gjson.Number {
				req.maxTokens = value.Int()
				req.maxStart, req.maxEnd = value.Index, value.Index+len(value.Raw)
			}
		case "stream":
			req.stream = value.Type == gjson.True
		case "messages":
			msgs = value
		case "temperature", "top_p":
			// Copied to the Chat body as they are: a value the gateway
			// could not send is the client's error, as Anthropic's.
			if value.Type == gjson.Number && rangeErr == nil {
				rangeErr = openai.CheckNumber(key.Str, key.Str, value)
			}
		}
		return true
	})
	if rangeErr != nil {
		return nil, &inbound.Error{Status: http.StatusBadRequest, Type: openai.TypeInvalidRequest, Param: rangeErr.Param, Message: rangeErr.Message}
	}
	if req.model == "" {
		return nil, &inbound.Error{Status: http.StatusBadRequest, Type: openai.TypeInvalidRequest, Param: "model",
			Message: `model: a string "model" is required`}
	}
	if !msgs.IsArray() || !msgs.Get("0").Exists() {
		return nil, &inbound.Error{Status: http.StatusBadRequest, Type: openai.TypeInvalidRequest, Param: "messages",
			Message: "messages: at least one message is required"}
	}
	if req.count {
		req.stream = false
	}
	if r != nil {
		req.header = forwardedHeaders(r.Header)
	}
	return req, nil
}

// forwardedHeaders copies the headers of the Messages protocol that an
// Anthropic upstream may need. Credentials are never among them.
func forwardedHeaders(h http.Header) http.Header {
	out := http.Header{}
	for _, k := range [...]string{"Anthropic-Version", "Anthropic-Beta"} {
		if v := h.Values(k); len(v) > 0 {
			out[k] = append([]string(nil), v...)
		}
	}
	return out
}

func badRequest(msg string) *inbound.Error {
	return &inbound.Error{Status: http.StatusBadRequest, Type: openai.TypeInvalidRequest, Message: msg}
}
