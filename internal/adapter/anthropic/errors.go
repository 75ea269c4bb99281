package anthropic

import (
	"bytes"

	"fmt"
	"net/http"
	"strconv"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
)

// statusOverloaded is Anthropic's non-standard "overloaded" status.
const statusOverloaded = 529

// ConvertError turns an Anthropic error response (status + body) into an
// *adapter.Error with an OpenAI error body and a status an OpenAI SDK
// understands (PROTOCOLS.md 6.8): 529 becomes 503, OpenAI's overloaded
// status, because some HTTP stacks do not know 529; every other error status
// is kept, since SDKs pick the exception class by status. The error type and
// message are passed through; Anthropic has no error code, so code is null.
func ConvertError(status int, body []byte) *adapter.Error {
	switch {
	case status == statusOverloaded:
		status = http.StatusServiceUnavailable
	case status < 400 || status > 599: // not an error status: never show it as success
		status = http.StatusBadGateway
	}
	var eb errorBody
	if adapter.DecodeJSON(body, &eb) == nil && eb.Error != nil && eb.Error.Message != "" {
		typ := eb.Error.Type
		if typ == "" {
			typ = typeForStatus(status)
		}
		return &adapter.Error{Status: status, Err: openai.Error{Message: eb.Error.Message, Type: typ},
			Cause: fmt.Errorf("anthropic answered HTTP %d %s (request_id %q)", status, eb.Error.Type, eb.RequestID)}
	}
	return &adapter.Error{Status: status,
		Err:   openai.Error{Message: fmt.Sprintf("the upstream answered HTTP %d: %s", status, bodyText(body)), Type: typeForStatus(status)},
		Cause: fmt.Errorf("anthropic answered HTTP %d without an error body", status)}
}

// streamError is the error for an in-band error event (or a 200 body of
// type error). The status is what the same error has when not streamed; it
// only matters if nothing was sent to the client yet.
func streamError(ae *apiError) *adapter.Error {
	msg := ae.Message
	if msg == "" {
		msg = "the upstream reported an error: " + ae.Type
	}
	typ := ae.Type
	if typ == "" {
		typ = openai.TypeUpstream
	}
	return &adapter.Error{Status: statusForType(ae.Type), Err: openai.Error{Message: msg, Type: typ},
		Cause: fmt.Errorf("anthropic stream error %s: %s", ae.Type, ae.Message)}
}

// statusForType is the HTTP status Anthropic uses for an error type
// (PROTOCOLS.md 4.6), with 529 already turned into 503.
func statusForType(typ string) int {
	switch typ {
	case "invalid_request_error":
		return http.StatusBadRequest
	case "authentication_error":
		return http.StatusUnauthorized
	case "billing_error":
		return http.StatusPaymentRequired
	case "permission_error":
		return http.StatusForbidden
	case "not_found_error":
		return http.StatusNotFound
	case "request_too_large":
		return http.StatusRequestEntityTooLarge
	case "rate_limit_error":
		return http.StatusTooManyRequests
	case "api_error":
		return http.StatusInternalServerError
	case "timeout_error":
		return http.StatusGatewayTimeout
	case "overloaded_error":
		return http.StatusServiceUnavailable
	}
	return http.StatusBadGateway
}

// typeForStatus names an error that came without a type.
func typeForStatus(status int) string {
	switch {
	case status == http.StatusNotFound:
		return openai.TypeNotFound
	case status == http.StatusServiceUnavailable:
		return openai.TypeUnavailable
	case status == http.StatusGatewayTimeout:
		return openai.TypeTimeout
	case status < 500:
		return openai.TypeInvalidRequest
	}
	return openai.TypeUpstream
}

// bodyText quotes the start of a body that is not an Anthropic error, such
// as a proxy's HTML page, so the client sees something to report.
func bodyText(body []byte) string {
	text := bytes.TrimSpace(body)
	if len(text) == 0 {
		return "(empty body)"
	}
	const max = 200
	if len(text) > max {
		return strconv.Quote(string(text[:max])) + "..."
	}
	return strconv.Quote(string(text))
}
