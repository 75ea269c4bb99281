package anthropic

import (
	"strings"
	"testing"
)

func anthropicError(typ, msg string) string {
	return `{"type":"error","error":{"type":"` + typ + `","message":"` + msg + `"},"request_id":"req_011"}`
}

func TestConvertError(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		body       string
		wantStatus int
		wantType   string
		wantMsg    string // substring
	}{
		{"400", 400, anthropicError("invalid_request_error", "messages: text content blocks must be non-empty"), 400, "invalid_request_error", "messages: text content blocks must be non-empty"},
		{"401", 401, anthropicError("authentication_error", "invalid x-api-key"), 401, "authentication_error", "invalid x-api-key"},
		{"403", 403, anthropicError("permission_error", "Your API key does not have permission"), 403, "permission_error", "does not have permission"},
		{"404", 404, anthropicError("not_found_error", "model: claude-nope"), 404, "not_found_error", "model: claude-nope"},
		{"429", 429, anthropicError("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"), 429, "rate_limit_error", "per-minute rate limit"},
		{"500", 500, anthropicError("api_error", "Internal server error"), 500, "api_error", "Internal server error"},
		{"529 becomes 503", 529, string(readTestdata(t, "anthropic-error-529.json")), 503, "overloaded_error", "Overloaded"},
		{"non-JSON body", 502, "<html><body>Bad Gateway</body></html>", 502, "upstream_error", `HTTP 502: "<html><body>Bad Gateway</body></html>"`},
		{"non-JSON 529", 529, "overloaded", 503, "service_unavailable_error", "overloaded"},
		{"empty body", 401, "", 401, "invalid_request_error", "(empty body)"},
		{"JSON without an error object", 400, `{"message":"nope"}`, 400, "invalid_request_error", `{\"message\":\"nope\"}`},
		{"long body is cut", 500, strings.Repeat("x", 5000), 500, "upstream_error", `xxx"...`},
		{"success status is never passed on", 200, anthropicError("api_error", "odd"), 502, "api_error", "odd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := ConvertError(tc.status, []byte(tc.body))
			if e.Status != tc.wantStatus || e.Err.Type != tc.wantType || !strings.Contains(e.Err.Message, tc.wantMsg) {
				t.Errorf("ConvertError = %d %q %q, want %d %q containing %q", e.Status, e.Err.Type, e.Err.Message, tc.wantStatus, tc.wantType, tc.wantMsg)
			}
			if e.Err.Param != "" || e.Err.Code != "" {
				t.Errorf("param %q code %q, want both null", e.Err.Param, e.Err.Code)
			}
			if len(e.Body) != 0 {
				t.Errorf("Body is set (%s): an Anthropic body must not reach an OpenAI client as is", e.Body)
			}
			if len(e.Err.Message) > 300 {
				t.Errorf("message is %d bytes long", len(e.Err.Message))
			}
			if e.Cause == nil {
				t.Error("no Cause for the log")
			}
		})
	}
}
