package geminiapi

import (
	"net/http"
	"strconv"

	"aigateway/internal/adapter"
	"aigateway/internal/inbound"
	"aigateway/internal/openai"
)

// contentType is what Google serves JSON with.
const contentType = "application/json; charset=UTF-8"

// Status is Google's canonical status name for an HTTP status, as the
// Google SDKs read it from error.status.
func Status(code int) string {
	switch code {
	case http.StatusBadRequest:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusConflict:
		return "ABORTED"
	case http.StatusRequestEntityTooLarge:
		return "INVALID_ARGUMENT"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case 499:
		return "CANCELLED"
	case http.StatusNotImplemented:
		return "UNIMPLEMENTED"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	case http.StatusGatewayTimeout:
		return "DEADLINE_EXCEEDED"
	}
	if code >= 500 {
		return "INTERNAL"
	}
	if code >= 400 {
		return "FAILED_PRECONDITION"
	}
	return "UNKNOWN"
}

// AppendError appends a Google error body,
// {"error":{"code":<status>,"message":"…","status":"INVALID_ARGUMENT"}}.
func AppendError(dst []byte, e *inbound.Error) []byte {
	status := e.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	dst = append(dst, `{"error":{"code":`...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, `,"message":`...)
	dst = openai.AppendString(dst, e.Message)
	dst = append(dst, `,"status":`...)
	dst = openai.AppendString(dst, Status(status))
	return append(dst, "}}"...)
}

// WriteError implements inbound.Dialect.
func (Dialect) WriteError(w http.ResponseWriter, e *inbound.Error) {
	b := append(AppendError(make([]byte, 0, 96+len(e.Message)), e), '\n')
	status := e.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b) //nolint:errcheck // the client is gone if this fails
}

// StreamError implements inbound.Dialect: Google reports an error in a
// started stream as one more element holding {"error": {...}}, which the
// Google SDKs raise as an APIError (go-genai's iterateResponseStream reads
// any data event with an "error" key that way).
func (Dialect) StreamError(e *inbound.Error) []adapter.Chunk {
	return []adapter.Chunk{{Data: AppendError(nil, e)}}
}
