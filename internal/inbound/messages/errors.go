package messages

import (
	"net/http"
	"strconv"

	"aigateway/internal/adapter"
	"aigateway/internal/inbound"
	"aigateway/internal/openai"
)

// statusOverloaded is Anthropic's status for overloaded_error, which the
// Anthropic SDKs retry.
const statusOverloaded = 529

// errorType is the Anthropic error type for an HTTP status (PROTOCOLS.md
// 4.6), and the status to send: the gateway's and an OpenAI upstream's 503
// is Anthropic's 529 overloaded_error (PROTOCOLS.md 6.8).
func errorType(status int) (string, int) {
	switch status {
	case http.StatusBadRequest:
		return "invalid_request_error", status
	case http.StatusUnauthorized:
		return "authentication_error", status
	case http.StatusPaymentRequired:
		return "billing_error", status
	case http.StatusForbidden:
		return "permission_error", status
	case http.StatusNotFound:
		return "not_found_error", status
	case http.StatusConflict:
		return "conflict_error", status
	case http.StatusRequestEntityTooLarge:
		return "request_too_large", status
	case http.StatusTooManyRequests:
		return "rate_limit_error", status
	case http.StatusServiceUnavailable, statusOverloaded:
		return "overloaded_error", statusOverloaded
	case http.StatusGatewayTimeout:
		return "timeout_error", status
	}
	if status >= 400 && status < 500 {
		return "invalid_request_error", status
	}
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	return "api_error", status
}

// appendError appends {"type":"error","error":{"type","message"}} with
// request_id when known.
func appendError(dst []byte, typ, msg, requestID string) []byte {
	dst = append(dst, `{"type":"error","error":{"type":`...)
	dst = openai.AppendString(dst, typ)
	dst = append(dst, `,"message":`...)
	dst = openai.AppendString(dst, msg)
	dst = append(dst, '}')
	if requestID != "" {
		dst = append(dst, `,"request_id":`...)
		dst = openai.AppendString(dst, requestID)
	}
	return append(dst, '}')
}

// ErrorBody returns the Anthropic error body for e and the status to send
// it with.
func ErrorBody(e *inbound.Error, requestID string) ([]byte, int) {
	typ, status := errorType(e.Status)
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return appendError(nil, typ, msg, requestID), status
}

// WriteError implements inbound.Dialect. The request id is the gateway's
// X-Request-Id response header when the handler set one; it is also sent
// as request-id, the header the Anthropic SDKs show in their errors.
func (Dialect) WriteError(w http.ResponseWriter, e *inbound.Error) {
	id := w.Header().Get("X-Request-Id")
	body, status := ErrorBody(e, id)
	h := w.Header()
	if id != "" && h.Get("Request-Id") == "" {
		h.Set("Request-Id", id)
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body) //nolint:errcheck // the client went away; nothing to do
}

var eventError = []byte("error")

// StreamError implements inbound.Dialect: one "event: error" whose data is
// the error body (PROTOCOLS.md 4.5).
func (Dialect) StreamError(e *inbound.Error) []adapter.Chunk {
	body, _ := ErrorBody(e, "")
	return []adapter.Chunk{{Event: eventError, Data: body}}
}
