package geminiapi

import (
	"net/http"
	"strconv"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/inbound"
	"aigateway/internal/openai"
)

// ContentTypeJSON is the Content-Type of Gemini's JSON answers, the JSON
// array stream (streamGenerateContent without alt=sse) included.
const ContentTypeJSON = contentType

// The JSON array framing of streamGenerateContent without alt=sse, as Google
// serves it: "[" and the first element, then ",\r\n" before each further
// element, and "]" at the end. Each element is one GenerateContentResponse
// (the Data of a stream chunk) and is written as soon as it is made.

// ArrayStart opens the array.
func ArrayStart() []byte { return []byte("[") }

// ArrayElement appends one element to dst: data, preceded by the
// separator unless it is the first element.
func ArrayElement(dst []byte, first bool, data []byte) []byte {
	if !first {
		dst = append(dst, ",\r\n"...)
	}
	return append(dst, data...)
}

// ArrayEnd closes the array.
func ArrayEnd() []byte { return []byte("]") }

// ArrayKeepAlive is what to write inside the array to keep a silent
// connection alive: whitespace, which JSON allows before and after every
// element and separator, so a client that parses the array whole or
// element by element skips it.
func ArrayKeepAlive() []byte { return []byte("\r\n") }

// CountTokensBody is the countTokens answer, {"totalTokens":N}.
func CountTokensBody(n int64) []byte {
	b := append(make([]byte, 0, 32), `{"totalTokens":`...)
	b = strconv.AppendInt(b, n, 10)
	return append(b, '}')
}

// imageTokens is what Gemini counts for one image (or video frame, or other
// media part) of up to 384 pixels a side; larger images count more tiles.
const imageTokens = 258

// EstimateTokens estimates the input tokens of a request parsed by this
// package, for a countTokens request to a deployment that cannot count
// (one that is neither Gemini nor Anthropic): one token per 4 bytes of text,
// function call arguments, function responses and function declarations
// (adapter.EstimateTokens), plus 258 tokens per media part, Gemini's count
// for an image. It is an estimate in the same terms as the gateway's
// other estimates, not a tokenizer: within some tens of percent for English
// text and code. Any other Request counts 0.
func EstimateTokens(req inbound.Request) int64 {
	r, ok := req.(*request)
	if !ok {
		return 0
	}
	bytes, media := 0, 0
	part := func(p gjson.Result) {
		switch {
		case p.Get("text").Exists():
			bytes += len(p.Get("text").Raw)
		case p.Get("functionCall").Exists():
			bytes += len(p.Get("functionCall").Raw)
		case p.Get("functionResponse").Exists():
			bytes += len(p.Get("functionResponse").Raw)
		case p.Get("inlineData").Exists(), p.Get("fileData").Exists():
			media++
		default:
			bytes += len(p.Raw)
		}
	}
	each := func(parts gjson.Result) {
		parts.ForEach(func(_, p gjson.Result) bool { part(p); return true })
	}
	each(r.gen.Get("systemInstruction.parts"))
	r.gen.Get("contents").ForEach(func(_, c gjson.Result) bool {
		each(c.Get("parts"))
		return true
	})
	r.gen.Get("tools").ForEach(func(_, t gjson.Result) bool {
		bytes += len(t.Raw)
		return true
	})
	if bytes == 0 && media == 0 {
		return 0
	}
	return adapter.EstimateTokens(bytes) + int64(media)*imageTokens
}

// ModelInfo is one model of the /v1beta/models list.
type ModelInfo struct {
	ID          string // the gateway's model id; the name is "models/<ID>"
	DisplayName string // empty: the ID
	// InputTokenLimit and OutputTokenLimit are the model's limits, when
	// known (0: left out).
	InputTokenLimit, OutputTokenLimit int64
}

// supportedMethods is what every model of the gateway serves through this
// API, whatever its adapter.
const supportedMethods = `["generateContent","streamGenerateContent","countTokens"]`

// AppendModel appends one Model as go-genai's Model reads it (name,
// displayName, supportedGenerationMethods as supportedActions, limits).
func AppendModel(dst []byte, m ModelInfo) []byte {
	dst = append(dst, `{"name":`...)
	dst = openai.AppendString(dst, "models/"+m.ID)
	dst = append(dst, `,"displayName":`...)
	name := m.DisplayName
	if name == "" {
		name = m.ID
	}
	dst = openai.AppendString(dst, name)
	if m.InputTokenLimit > 0 {
		dst = append(dst, `,"inputTokenLimit":`...)
		dst = strconv.AppendInt(dst, m.InputTokenLimit, 10)
	}
	if m.OutputTokenLimit > 0 {
		dst = append(dst, `,"outputTokenLimit":`...)
		dst = strconv.AppendInt(dst, m.OutputTokenLimit, 10)
	}
	dst = append(dst, `,"supportedGenerationMethods":`...)
	dst = append(dst, supportedMethods...)
	return append(dst, '}')
}

// AppendModels appends the /v1beta/models answer, {"models":[...]}, all in
// one page (no nextPageToken).
func AppendModels(dst []byte, models []ModelInfo) []byte {
	dst = append(dst, `{"models":[`...)
	for i := range models {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendModel(dst, models[i])
	}
	return append(dst, "]}"...)
}

// WriteJSON writes a JSON answer with Google's Content-Type and status 200.
func WriteJSON(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body) //nolint:errcheck // the client is gone if this fails
}

// ModelNotFound is the error for GET /v1beta/models/{model} (or any method)
// naming a model the gateway does not serve, in Google's words.
func ModelNotFound(model string) *inbound.Error {
	return &inbound.Error{Status: http.StatusNotFound, Type: "not_found_error",
		Message: "models/" + model + " is not found for API version v1beta, or is not supported for generateContent."}
}
