package anthropic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
)

// DefaultMaxTokens is the max_tokens sent when neither the client nor the
// model's configuration gives one: the Messages API requires the field, and
// 4096 is what one-api picks (PROTOCOLS.md 6.1).
const DefaultMaxTokens = 4096

// RequestOptions configure ConvertRequest.
type RequestOptions struct {
	// Model is the upstream model name. Empty means the client's model.
	Model string
	// DefaultMaxTokens is used when the client sent neither max_tokens nor
	// max_completion_tokens. Zero or less means the DefaultMaxTokens constant.
	DefaultMaxTokens int64
	// Params refuses, or with Params.Drop drops, the parameters the
	// Messages API has no equivalent for. Nil refuses them.
	Params *adapter.Unsupported
}

// ConvertRequest turns an OpenAI chat request into an Anthropic Messages
// request body (JSON), with "stream" set as req.Stream. Errors are
// *adapter.Error (400, param named).
func ConvertRequest(req *openai.ChatRequest, o RequestOptions) ([]byte, error) {
	out, e := convertRequest(req, o)
	if e != nil {
		return nil, e
	}
	return encodeRequest(out)
}

func encodeRequest(out *request) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Prompts are full of <, > and &; escaping them is valid but bloats the body.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("anthropic: encoding the request: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func convertRequest(req *openai.ChatRequest, o RequestOptions) (*request, *adapter.Error) {
	if e := checkUnsupported(req, o.Params); e != nil {
		return nil, e
	}
	out := &request{Model: o.Model, Stream: req.Stream}
	if out.Model == "" {
		out.Model = req.Model
	}
	var e *adapter.Error
	if out.MaxTokens, e = maxTokens(req, o.DefaultMaxTokens); e != nil {
		return nil, e
	}
	if out.System, out.Messages, e = convertMessages(req.Messages); e != nil {
		return nil, e
	}
	if out.Tools, e = convertTools(req.Tools); e != nil {
		return nil, e
	}
	if out.ToolChoice, e = convertToolChoice(req, len(out.Tools) > 0); e != nil {
		return nil, e
	}
	out.Temperature, out.TopP = req.Temperature, req.TopP
	if e = convertThinking(req, out); e != nil {
		return nil, e
	}
	if t := out.Temperature; t != nil && (*t < 0 || *t > 1) {
		// Rescaling 0..2 onto 0..1 would change what the client asked for
		// without telling it; clamping too. PROTOCOLS.md 6.1 [rec].
		return nil, invalid("temperature", "invalid_value",
			"temperature must be between 0 and 1 for this model (Anthropic's range), got %g", *t)
	}
	if len(req.Stop) > 0 {
		out.StopSequences = req.Stop
	}
	if id := userID(req); id != "" {
		out.Metadata = &metadata{UserID: id}
	}
	if out.OutputConfig, e = convertResponseFormat(req.ResponseFormat); e != nil {
		return nil, e
	}
	return out, nil
}

// maxTokens picks max_completion_tokens, else max_tokens, else the default.
func maxTokens(req *openai.ChatRequest, def int64) (int64, *adapter.Error) {
	if def <= 0 {
		def = DefaultMaxTokens
	}
	n := req.MaxOutputTokens()
	if n == nil {
		return def, nil
	}
	if *n < 1 {
		param := "max_tokens"
		if req.MaxCompletionTokens != nil {
			param = "max_completion_tokens"
		}
		return 0, invalid(param, "invalid_value", "%s must be at least 1, got %d", param, *n)
	}
	return *n, nil
}

// userID prefers safety_identifier, which the OpenAI spec introduced to
// replace user.
func userID(req *openai.ChatRequest) string {
	if req.SafetyIdentifier != "" {
		return req.SafetyIdentifier
	}
	return req.User
}

// checkUnsupported rejects the parameters that change the answer and that
// the Messages API has no equivalent for, or with u.Drop drops them (none
// of them is read by the conversion). Values that change nothing (n=1,
// zero penalties, logprobs:false, an empty logit_bias) pass.
func checkUnsupported(req *openai.ChatRequest, u *adapter.Unsupported) *adapter.Error {
	for _, p := range [...]struct {
		param, why string
		sent       bool
	}{
		{"n", "it returns one choice per request; send n=1 or leave it out", req.N != nil && *req.N != 1},
		{"seed", "sampling cannot be seeded", req.Seed != nil},
		{"logprobs", "log probabilities are not returned", req.Logprobs != nil && *req.Logprobs},
		{"top_logprobs", "log probabilities are not returned", req.TopLogprobs != nil && *req.TopLogprobs != 0},
		{"logit_bias", "token biases cannot be set", hasLogitBias(req.LogitBias)},
		{"presence_penalty", "there is no presence penalty", req.PresencePenalty != nil && *req.PresencePenalty != 0},
		{"frequency_penalty", "there is no frequency penalty", req.FrequencyPenalty != nil && *req.FrequencyPenalty != 0},
	} {
		if !p.sent {
			continue
		}
		if e := u.Refuse(p.param, "%s is not supported by this model (Anthropic Messages API): %s", p.param, p.why); e != nil {
			return e
		}
	}
	return nil
}

func hasLogitBias(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s != "" && s != "null" && s != "{}"
}

// convertResponseFormat maps json_schema to output_config.format. json_object
// is rejected: Anthropic has no "any JSON object" mode, and faking it with a
// prompt would not be the guarantee the client asked for.
func convertResponseFormat(rf *openai.ResponseFormat) (*outputConfig, *adapter.Error) {
	if rf == nil {
		return nil, nil
	}
	switch rf.Type {
	case "", "text":
		return nil, nil
	case "json_schema":
		if rf.JSONSchema == nil || !isJSONObject(rf.JSONSchema.Schema) {
			return nil, invalid("response_format.json_schema.schema", "invalid_value",
				"response_format.json_schema.schema must be a JSON schema object for this model")
		}
		return &outputConfig{Format: &outputFormat{Type: "json_schema", Schema: rf.JSONSchema.Schema}}, nil
	case "json_object":
		return nil, invalid("response_format", adapter.CodeUnsupportedParameter,
			`response_format {"type":"json_object"} is not supported by this model; use {"type":"json_schema",...} with a schema`)
	}
	return nil, invalid("response_format.type", adapter.CodeUnsupportedParameter, "response_format type %q is not supported by this model", rf.Type)
}

// isJSONObject reports whether raw is a JSON object (raw comes from a decoded
// request, so it is valid JSON when non-empty).
func isJSONObject(raw json.RawMessage) bool {
	s := bytes.TrimSpace(raw)
	return len(s) > 0 && s[0] == '{'
}

// invalid returns a 400 invalid_request_error naming param.
func invalid(param, code, format string, args ...any) *adapter.Error {
	e := adapter.Errorf(http.StatusBadRequest, openai.TypeInvalidRequest, code, format, args...)
	e.Err.Param = param
	return e
}
