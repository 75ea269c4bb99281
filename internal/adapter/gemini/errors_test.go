package gemini

import (
	"net/http"
	"testing"

	"aigateway/internal/openai"
)

func TestConvertError(t *testing.T) {
	const keyInvalid = `{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT",
		"details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]}}`
	tests := []struct {
		name       string
		status     int
		body       string
		wantStatus int
		wantType   string
		wantCode   string
		wantMsg    string
		retryAfter string
	}{
		{"API_KEY_INVALID is 401", 400, keyInvalid, 401, openai.TypeInvalidRequest, "invalid_api_key", "API key not valid. Please pass a valid API key.", ""},
		{"key message without ErrorInfo is 401", 400, `{"error":{"code":400,"message":"API key expired. Please renew the API key.","status":"INVALID_ARGUMENT"}}`,
			401, openai.TypeInvalidRequest, "invalid_api_key", "API key expired. Please renew the API key.", ""},
		{"key error wrapped in an array", 400, `[` + keyInvalid + `]`, 401, openai.TypeInvalidRequest, "invalid_api_key", "API key not valid. Please pass a valid API key.", ""},
		{"other 400 stays 400", 400, string(mustRead("gemini-error-400.json")), 400, openai.TypeInvalidRequest, "invalid_argument",
			"Invalid JSON payload received. Unknown name \"additionalProperties\" at 'tools[0].function_declarations[0].parameters': Cannot find field.", ""},
		{"FAILED_PRECONDITION stays 400", 400, `{"error":{"code":400,"message":"User location is not supported for the API use.","status":"FAILED_PRECONDITION"}}`,
			400, openai.TypeInvalidRequest, "failed_precondition", "User location is not supported for the API use.", ""},
		{"403", 403, `{"error":{"code":403,"message":"Permission denied.","status":"PERMISSION_DENIED"}}`, 403, openai.TypeInvalidRequest, "permission_denied", "Permission denied.", ""},
		{"404", 404, `{"error":{"code":404,"message":"models/nope is not found","status":"NOT_FOUND"}}`, 404, openai.TypeNotFound, "not_found", "models/nope is not found", ""},
		{"429 with RetryInfo", 429, `{"error":{"code":429,"message":"Quota exceeded.","status":"RESOURCE_EXHAUSTED",
			"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"12.5s"}]}}`, 429, openai.TypeInvalidRequest, "resource_exhausted", "Quota exceeded.", "13"},
		{"500", 500, `{"error":{"code":500,"message":"Internal error.","status":"INTERNAL"}}`, 500, openai.TypeServer, "internal", "Internal error.", ""},
		{"503", 503, `{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}`, 503, openai.TypeUnavailable, "unavailable", "The model is overloaded.", ""},
		{"504", 504, `{"error":{"code":504,"message":"Deadline exceeded.","status":"DEADLINE_EXCEEDED"}}`, 504, openai.TypeTimeout, "deadline_exceeded", "Deadline exceeded.", ""},
		{"body that is not JSON", 502, `<html>Bad Gateway</html>`, 502, openai.TypeServer, "", "Gemini returned HTTP 502", ""},
		{"error in a 200 body takes its code", 200, `{"error":{"code":429,"message":"q","status":"RESOURCE_EXHAUSTED"}}`, 429, openai.TypeInvalidRequest, "resource_exhausted", "q", ""},
		{"error in a 200 body without code", 200, `{"error":{"message":"?"}}`, 502, openai.TypeServer, "", "?", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ConvertError(tt.status, []byte(tt.body))
			if e.Status != tt.wantStatus || e.Err.Type != tt.wantType || e.Err.Code != tt.wantCode || e.Err.Message != tt.wantMsg {
				t.Errorf("got %d %q %q %q, want %d %q %q %q", e.Status, e.Err.Type, e.Err.Code, e.Err.Message,
					tt.wantStatus, tt.wantType, tt.wantCode, tt.wantMsg)
			}
			if got := e.Header.Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tt.retryAfter)
			}
			if e.Cause == nil {
				t.Error("no Cause for the log")
			}
			// The client body must have the OpenAI shape.
			body := decodeJSON(t, e.Err.AppendJSON(nil)).(map[string]any)["error"].(map[string]any)
			for _, k := range []string{"message", "type", "param", "code"} {
				if _, ok := body[k]; !ok {
					t.Errorf("error body lacks %q", k)
				}
			}
		})
	}
	if e := ConvertError(http.StatusTooManyRequests, nil); e.Status != 429 {
		t.Errorf("empty body: status %d", e.Status)
	}
}
