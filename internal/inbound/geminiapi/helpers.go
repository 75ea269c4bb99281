package geminiapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/inbound"
	"aigateway/internal/openai"
)

// ParseCount implements inbound.Counter for :countTokens.
func (Dialect) ParseCount(body []byte, r *http.Request) (inbound.Request, error) {
	model, _, ok := SplitPath(r.URL.Path)
	if !ok {
		return nil, badRequest("the URL must name a model: /v1beta/models/{model}:countTokens")
	}
	return ParseCountTokens(body, model)
}

// CountAnswer implements inbound.Counter: {"totalTokens":N}.
func (Dialect) CountAnswer(n int64) []byte {
	b := append(make([]byte, 0, 32), `{"totalTokens":`...)
	b = strconv.AppendInt(b, n, 10)
	return append(b, '}')
}

// imageTokens is what Gemini counts for one image (or video frame, or other
// media part) of up to 384 pixels a side; larger images count more tiles.
const imageTokens = 258

// EstimateInputTokens implements inbound.Estimator: the input tokens of
// the request, estimated for a countTokens request to a deployment that
// cannot count (one that is not Gemini): one token per 4 bytes of text,
// function call arguments, function responses and function declarations
// (adapter.EstimateTokens), plus 258 tokens per media part, Gemini's count
// for an image. It is an estimate in the same terms as the gateway's
// other estimates, not a tokenizer: within some tens of percent for English
// text and code.
func (r *request) EstimateInputTokens() int64 {
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

// ListModels implements inbound.Lister: GET /v1beta/models lists every
// model the gateway serves. The ids stand in for display names; the limits
// are the entries' context_window and max_output_tokens, when set.
func (Dialect) ListModels(models []inbound.Model, _ time.Time) []byte {
	infos := make([]ModelInfo, len(models))
	for i, m := range models {
		infos[i] = modelInfo(m)
	}
	return AppendModels(nil, infos)
}

// ModelObject implements inbound.Lister: GET /v1beta/models/{model}.
func (Dialect) ModelObject(m inbound.Model, _ time.Time) []byte {
	return AppendModel(nil, modelInfo(m))
}

func modelInfo(m inbound.Model) ModelInfo {
	return ModelInfo{ID: m.ID, InputTokenLimit: m.ContextWindow, OutputTokenLimit: m.MaxOutputTokens}
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

// ModelNotFound is the error for GET /v1beta/models/{model} (or any method)
// naming a model the gateway does not serve, in Google's words.
func ModelNotFound(model string) *inbound.Error {
	return &inbound.Error{Status: http.StatusNotFound, Type: "not_found_error",
		Message: "models/" + model + " is not found for API version v1beta, or is not supported for generateContent."}
}

var (
	_ inbound.Counter   = Dialect{}
	_ inbound.Lister    = Dialect{}
	_ inbound.Estimator = (*request)(nil)
)
