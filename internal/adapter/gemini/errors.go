package gemini

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
)

// ConvertError turns a Google error response into an *adapter.Error with an
// OpenAI error body and the status an OpenAI SDK understands (PROTOCOLS.md
// 6.8): Gemini reports a bad API key as 400 INVALID_ARGUMENT with reason
// API_KEY_INVALID, which becomes 401 so that SDKs raise their
// authentication error; every other status is kept (403, 404, 429, 500,
// 503, 504, ...). A status below 400 (an error inside a 200 body or a
// stream) takes the error's own code, else 502. A RetryInfo detail becomes
// Retry-After.
func ConvertError(status int, body []byte) *adapter.Error {
	ae := parseAPIError(body)
	if status < 400 {
		status = http.StatusBadGateway
		if ae != nil && ae.Code >= 400 && ae.Code <= 599 {
			status = ae.Code
		}
	}
	var d errorDetails
	if ae != nil {
		d = parseDetails(ae.Details)
	}
	code := ""
	if ae != nil {
		code = strings.ToLower(ae.Status)
	}
	if status == http.StatusBadRequest && isKeyError(ae, &d) {
		status, code = http.StatusUnauthorized, "invalid_api_key"
	}
	msg := fmt.Sprintf("Gemini returned HTTP %d", status)
	if ae != nil && ae.Message != "" {
		msg = ae.Message
	}
	e := &adapter.Error{
		Status: status,
		Err:    openai.Error{Message: msg, Type: errorType(status), Code: code},
		Cause:  fmt.Errorf("gemini: HTTP %d: %s", status, snippet(body)),
	}
	if d.retryAfter > 0 {
		e.Header = http.Header{"Retry-After": {strconv.FormatInt(d.retryAfter, 10)}}
	}
	return e
}

// inBandError is ConvertError for an error inside a 200 response or a
// stream event. Its Cause names the error rather than quoting the body as
// ConvertError does: the body came on the success path, which is not
// redacted, and a quote cut at 512 bytes could end with part of a key that
// redaction of the finished error would no longer recognise.
func inBandError(code int, body []byte) *adapter.Error {
	e := ConvertError(code, body)
	e.Cause = fmt.Errorf("gemini: in-band error %d %q", code, e.Err.Code)
	return e
}

// parseAPIError reads {"error": {...}}, also wrapped in an array as Gemini
// sends it outside SSE. It returns nil when body is not a Google error.
func parseAPIError(body []byte) *apiError {
	body = bytes.TrimSpace(body)
	var v struct {
		Error *apiError `json:"error"`
	}
	if len(body) > 0 && body[0] == '[' {
		var arr []json.RawMessage
		if adapter.DecodeJSON(body, &arr) != nil || len(arr) == 0 {
			return nil
		}
		body = arr[0]
	}
	if adapter.DecodeJSON(body, &v) != nil {
		return nil
	}
	return v.Error
}

// errorDetails is what ConvertError uses from error.details.
type errorDetails struct {
	reasons    []string // ErrorInfo reasons, e.g. API_KEY_INVALID
	retryAfter int64    // seconds, from RetryInfo.retryDelay
}

func parseDetails(details []json.RawMessage) errorDetails {
	var d errorDetails
	for _, raw := range details {
		var v struct {
			Type       string `json:"@type"`
			Reason     string `json:"reason"`
			RetryDelay string `json:"retryDelay"`
		}
		if json.Unmarshal(raw, &v) != nil {
			continue
		}
		if v.Reason != "" {
			d.reasons = append(d.reasons, v.Reason)
		}
		if dur, err := time.ParseDuration(v.RetryDelay); err == nil && dur > 0 {
			d.retryAfter = int64(math.Ceil(dur.Seconds()))
		}
	}
	return d
}

// isKeyError reports whether a 400 is about the API key: reason
// API_KEY_INVALID, or an INVALID_ARGUMENT whose message is about the key
// (older responses carry no ErrorInfo).
func isKeyError(ae *apiError, d *errorDetails) bool {
	if ae == nil {
		return false
	}
	for _, r := range d.reasons {
		if r == "API_KEY_INVALID" {
			return true
		}
	}
	return ae.Status == "INVALID_ARGUMENT" && strings.Contains(strings.ToLower(ae.Message), "api key")
}

// errorType is the OpenAI error type for a status.
func errorType(status int) string {
	switch {
	case status == http.StatusNotFound:
		return openai.TypeNotFound
	case status == http.StatusServiceUnavailable:
		return openai.TypeUnavailable
	case status == http.StatusGatewayTimeout:
		return openai.TypeTimeout
	case status >= 500:
		return openai.TypeServer
	}
	return openai.TypeInvalidRequest
}

// snippet is the start of an upstream body, for the log.
func snippet(body []byte) string {
	const n = 512
	if len(body) > n {
		return string(body[:n]) + "..."
	}
	return string(body)
}
