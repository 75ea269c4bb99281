package geminiapi

import (
	"math"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/inbound"
	"aigateway/internal/openai"
)

// checkedNumbers are the generationConfig fields appendGenerationConfig
// copies as they are, with their Chat Completions names.
var checkedNumbers = [...][2]string{
	{"temperature", "temperature"}, {"topP", "top_p"}, {"seed", "seed"},
	{"presencePenalty", "presence_penalty"}, {"frequencyPenalty", "frequency_penalty"},
	{"logprobs", "top_logprobs"}, {"candidateCount", "n"},
}

// checkGenerationConfig refuses a number appendGenerationConfig would copy
// that no Chat Completions body may hold (a temperature of 9, a fractional
// seed), as Gemini refuses an invalid argument.
func checkGenerationConfig(gc gjson.Result) *inbound.Error {
	if !gc.IsObject() {
		return nil
	}
	for _, f := range checkedNumbers {
		v := gc.Get(f[0])
		if v.Type != gjson.Number || f[1] == "n" && v.Int() <= 1 {
			continue
		}
		if err := openai.CheckNumber(f[1], "generationConfig."+f[0], v); err != nil {
			return badRequest(err.Message)
		}
	}
	return nil
}

// appendGenerationConfig appends the Chat parameters of generationConfig.
// topK has no Chat field: it is sent to deployments whose adapter converts
// the body (Anthropic, Gemini, templates; they ignore what they cannot map)
// and dropped for OpenAI-compatible ones, which reject unknown parameters.
// maxOutputTokens is lowered to the entry's max_output_tokens. Dropped:
// responseModalities, speechConfig, mediaResolution, imageConfig,
// routingConfig, enableEnhancedCivicAnswers (Gemini-only features), and
// responseLogprobs for deployments other than OpenAI-compatible ones.
func appendGenerationConfig(b []byte, gc gjson.Result, t inbound.Target) []byte {
	if !gc.IsObject() {
		return b
	}
	num := func(from, to string) {
		if v := gc.Get(from); v.Type == gjson.Number {
			b = append(b, ',', '"')
			b = append(b, to...)
			b = append(b, '"', ':')
			b = append(b, v.Raw...)
		}
	}
	num("temperature", "temperature")
	num("topP", "top_p")
	if t.Upstream != adapter.ProtocolChat {
		num("topK", "top_k")
	}
	if mt := gc.Get("maxOutputTokens"); mt.Type == gjson.Number {
		n := mt.Int()
		if t.MaxOutputTokens > 0 && n > t.MaxOutputTokens {
			n = t.MaxOutputTokens
		}
		// Beyond what any model writes (1e400 reads as MaxInt64): the most
		// a Chat Completions body may ask. Below 1: the upstream's default.
		if n = min(n, math.MaxInt32); n > 0 {
			b = append(b, `,"max_tokens":`...)
			b = strconv.AppendInt(b, n, 10)
		}
	}
	if ss := gc.Get("stopSequences"); ss.IsArray() && len(ss.Array()) > 0 {
		b = append(b, `,"stop":`...)
		b = append(b, compactJSON(ss.Raw)...)
	}
	if cc := gc.Get("candidateCount"); cc.Type == gjson.Number && cc.Int() > 1 {
		b = append(b, `,"n":`...)
		b = append(b, cc.Raw...)
	}
	num("seed", "seed")
	num("presencePenalty", "presence_penalty")
	num("frequencyPenalty", "frequency_penalty")
	if t.Upstream == adapter.ProtocolChat && gc.Get("responseLogprobs").Bool() {
		b = append(b, `,"logprobs":true`...)
		num("logprobs", "top_logprobs")
	}
	b = appendResponseFormat(b, gc)
	effort := ""
	switch t.Upstream {
	case adapter.ProtocolChat:
		effort = reasoningEffort(gc.Get("thinkingConfig"))
	case adapter.ProtocolMessages:
		effort = anthropicEffort(gc.Get("thinkingConfig"))
	}
	if effort != "" {
		b = append(b, `,"reasoning_effort":`...)
		b = openai.AppendString(b, effort)
	}
	return b
}

// anthropicEffort maps thinkingConfig to reasoning_effort for an Anthropic
// deployment, whose models think only when asked: as reasoningEffort, but
// a budget of 0 leaves thinking off (Anthropic's default), and
// includeThoughts without a level or budget (what Gemini CLI sends) asks
// for medium effort, so that the client gets the thoughts it asked for.
func anthropicEffort(tc gjson.Result) string {
	if b := tc.Get("thinkingBudget"); b.Type == gjson.Number && b.Int() == 0 {
		return ""
	}
	if e := reasoningEffort(tc); e != "" {
		return e
	}
	if tc.Get("includeThoughts").Bool() {
		return "medium"
	}
	return ""
}

// appendResponseFormat maps responseMimeType application/json to
// response_format: json_schema with responseJsonSchema (as it is) or
// responseSchema (converted from Gemini's OpenAPI subset), else
// json_object. Other MIME types (text/x.enum) have no Chat counterpart.
func appendResponseFormat(b []byte, gc gjson.Result) []byte {
	if !strings.EqualFold(gc.Get("responseMimeType").String(), "application/json") {
		return b
	}
	js, s := gc.Get("responseJsonSchema"), gc.Get("responseSchema")
	if !js.Exists() {
		js = gc.Get("_responseJsonSchema") // the JS SDK's spelling
	}
	switch {
	case js.IsObject():
		b = append(b, `,"response_format":{"type":"json_schema","json_schema":{"name":"response","schema":`...)
		b = append(b, compactJSON(js.Raw)...)
		return append(b, "}}"...)
	case s.IsObject():
		b = append(b, `,"response_format":{"type":"json_schema","json_schema":{"name":"response","schema":`...)
		b = appendSchema(b, s, 0)
		return append(b, "}}"...)
	}
	return append(b, `,"response_format":{"type":"json_object"}`...)
}

// reasoningEffort maps thinkingConfig to reasoning_effort for an
// OpenAI-compatible deployment. thinkingLevel (Gemini 3: MINIMAL, LOW,
// MEDIUM, HIGH) maps to the effort of the same name. thinkingBudget maps by
// the budgets Gemini's own OpenAI-compatible endpoint documents for the
// efforts (low 1K, medium 8K, high 24K tokens): 0 (thinking off) is
// "minimal", the least that OpenAI reasoning models accept, up to 1024
// "low", up to 8192 "medium", above "high". A budget of -1 (the model
// decides) and includeThoughts alone (what Gemini CLI sends) ask for no
// particular effort and map to none, so that a model that does not reason
// is not sent a parameter it rejects.
func reasoningEffort(tc gjson.Result) string {
	if !tc.IsObject() {
		return ""
	}
	switch level := strings.ToLower(tc.Get("thinkingLevel").String()); level {
	case "minimal", "low", "medium", "high":
		return level
	}
	budget := tc.Get("thinkingBudget")
	if budget.Type != gjson.Number {
		return ""
	}
	switch n := budget.Int(); {
	case n < 0:
		return ""
	case n == 0:
		return "minimal"
	case n <= 1024:
		return "low"
	case n <= 8192:
		return "medium"
	}
	return "high"
}
