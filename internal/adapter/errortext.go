package adapter

import (
	"bytes"
	"strconv"

	"github.com/tidwall/gjson"

	"aigateway/internal/jsonlimit"
)

// ErrorText finds a message in an error body that is not in the OpenAI
// shape: {"error":"..."} (Ollama, vLLM), {"message":"..."} or {"detail":"..."} (FastAPI), or the
// start of the body as text. The body must be redacted already (as
// ReadErrorBody returns it): the start of the body is cut at 300 bytes,
// and a key cut in two is no longer recognised by redaction. A body nested
// too deep for jsonlimit is shown as text: gjson's readers recurse, and its
// validator overflowed the stack on a few megabytes of "[".
func ErrorText(body []byte) string {
	if jsonlimit.Validate(body) == nil {
		for _, path := range [...]string{"error", "message", "detail", "error.message"} {
			if v := gjson.GetBytes(body, path); v.Type == gjson.String && v.Str != "" {
				return v.Str
			}
		}
	}
	text := string(bytes.TrimSpace(body))
	if text == "" {
		return "(empty body)"
	}
	const max = 300
	if len(text) > max {
		text = text[:max] + "..."
	}
	return strconv.Quote(text)
}
