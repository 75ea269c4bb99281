// Package openai holds the client-facing wire pieces of the OpenAI API that every
// handler shares: the error envelope and the request fields the gateway peeks at.
package openai

import (
	"net/http"
	"strconv"
)

// Error types, as the OpenAI API spells them. SDKs pick their exception class by
// HTTP status, so the type is informational, but clients do log it.
const (
	TypeInvalidRequest = "invalid_request_error"
	TypeNotFound       = "not_found_error"
	TypeServer         = "server_error"
	TypeUpstream       = "upstream_error"
	TypeUnavailable    = "service_unavailable_error"
	TypeTimeout        = "timeout_error"
)

// Error is the body of an OpenAI error response: {"error": Error}.
// All four keys are always present; Param and Code are null when empty.
type Error struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	Param   string `json:"param"`
	Code    string `json:"code"`
}

// AppendJSON appends {"error":{...}} to dst. It is hand-written so that
// Param and Code become null when empty without pointer fields.
func (e *Error) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"error":{"message":`...)
	dst = AppendString(dst, e.Message)
	dst = append(dst, `,"type":`...)
	dst = AppendString(dst, e.Type)
	dst = append(dst, `,"param":`...)
	dst = appendNullable(dst, e.Param)
	dst = append(dst, `,"code":`...)
	dst = appendNullable(dst, e.Code)
	return append(dst, "}}"...)
}

// WriteError writes e as a JSON error response with the given status.
func WriteError(w http.ResponseWriter, status int, e *Error) {
	body := e.AppendJSON(make([]byte, 0, 128+len(e.Message)))
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body) //nolint:errcheck // the client is gone if this fails; nothing to do.
}

func appendNullable(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, "null"...)
	}
	return AppendString(dst, s)
}
