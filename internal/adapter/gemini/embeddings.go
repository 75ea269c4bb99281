package gemini

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"aigateway/internal/adapter"
)

// embeddingsRequest is an OpenAI /v1/embeddings body; user is ignored
// (abuse tracking, no Gemini field, no effect on the vectors).
type embeddingsRequest struct {
	Input          json.RawMessage `json:"input"`
	EncodingFormat *string         `json:"encoding_format"`
	Dimensions     *int64          `json:"dimensions"`
}

type batchEmbedRequest struct {
	Requests []embedContentRequest `json:"requests"`
}

type embedContentRequest struct {
	Model                string  `json:"model"`
	Content              content `json:"content"`
	OutputDimensionality *int64  `json:"outputDimensionality,omitempty"`
}

// ConvertEmbeddingsRequest returns the batchEmbedContents body for the
// upstream model (each request's model is "models/<model>"), one request per
// input in order. input may be a string or an array of strings; token-id
// arrays are a 400 (Gemini takes text only). dimensions becomes
// outputDimensionality. base64Output reports encoding_format "base64", for
// ConvertEmbeddingsResponse.
func ConvertEmbeddingsRequest(body []byte, model string) (upstream []byte, base64Output bool, err error) {
	var req embeddingsRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, false, badParam("", "invalid_value", "invalid request: %v", err)
	}
	inputs, err := embeddingInputs(req.Input)
	if err != nil {
		return nil, false, err
	}
	if f := req.EncodingFormat; f != nil && *f != "float" && *f != "base64" {
		return nil, false, badParam("encoding_format", "invalid_value", "encoding_format must be float or base64, got %q", *f)
	}
	if req.Dimensions != nil && *req.Dimensions < 1 {
		return nil, false, badParam("dimensions", "invalid_value", "dimensions must be at least 1")
	}
	if !strings.HasPrefix(model, "models/") {
		model = "models/" + model
	}
	out := batchEmbedRequest{Requests: make([]embedContentRequest, len(inputs))}
	for i, text := range inputs {
		out.Requests[i] = embedContentRequest{
			Model:                model,
			Content:              content{Parts: []part{{Text: text}}},
			OutputDimensionality: req.Dimensions,
		}
	}
	b, err := json.Marshal(&out)
	if err != nil {
		return nil, false, fmt.Errorf("gemini: encoding the embeddings request: %w", err)
	}
	return b, req.EncodingFormat != nil && *req.EncodingFormat == "base64", nil
}

// embeddingInputs reads input: a string or a non-empty array of strings. As
// with OpenAI, no input may be empty.
func embeddingInputs(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, badParam("input", "missing_required_parameter", "input is required")
	}
	var inputs []string
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, badParam("input", "invalid_value", "input: %v", err)
		}
		inputs = []string{s}
	} else if err := json.Unmarshal(raw, &inputs); err != nil {
		if isTokenArray(raw) {
			return nil, badParam("input", adapter.CodeUnsupportedParameter, "input: token arrays are not supported for Gemini models; send text")
		}
		return nil, badParam("input", "invalid_value", "input must be a string or an array of strings")
	}
	if len(inputs) == 0 {
		return nil, badParam("input", "invalid_value", "input must not be empty")
	}
	for i, s := range inputs {
		if s == "" {
			return nil, badParam(fmt.Sprintf("input[%d]", i), "invalid_value", "input[%d] must not be empty", i)
		}
	}
	return inputs, nil
}

// isTokenArray reports whether raw is an array of token ids or of arrays of
// them.
func isTokenArray(raw json.RawMessage) bool {
	var flat []int64
	if json.Unmarshal(raw, &flat) == nil {
		return true
	}
	var nested [][]int64
	return json.Unmarshal(raw, &nested) == nil
}

type batchEmbedResponse struct {
	Embeddings []struct {
		Values []json.Number `json:"values"`
	} `json:"embeddings"`
	UsageMetadata *struct {
		PromptTokenCount *int64 `json:"promptTokenCount"`
		TotalTokenCount  *int64 `json:"totalTokenCount"`
	} `json:"usageMetadata"`
}

type embeddingsList struct {
	Object string           `json:"object"`
	Data   []embeddingEntry `json:"data"`
	Model  string           `json:"model"`
	Usage  embeddingsUsage  `json:"usage"`
}

type embeddingEntry struct {
	Object    string `json:"object"`
	Index     int    `json:"index"`
	Embedding any    `json:"embedding"` // []json.Number, or a base64 string
}

type embeddingsUsage struct {
	PromptTokens int64 `json:"prompt_tokens"`
	TotalTokens  int64 `json:"total_tokens"`
}

// ConvertEmbeddingsResponse turns a batchEmbedContents response into the
// OpenAI embeddings list: index is the input position, model is
// clientModel, and usage is 0 unless Gemini reports counts. Float vectors
// keep Gemini's number text; base64Output encodes each vector as
// little-endian float32, as OpenAI does.
func ConvertEmbeddingsResponse(body []byte, clientModel string, base64Output bool) ([]byte, adapter.Usage, error) {
	if ae := parseAPIError(body); ae != nil {
		return nil, adapter.Usage{}, ConvertError(ae.Code, body)
	}
	var r batchEmbedResponse
	if err := adapter.DecodeJSON(body, &r); err != nil {
		return nil, adapter.Usage{}, badUpstream(err, "Gemini returned an embeddings response that is not valid")
	}
	out := embeddingsList{Object: "list", Data: make([]embeddingEntry, len(r.Embeddings)), Model: clientModel}
	for i, e := range r.Embeddings {
		values := e.Values
		if values == nil {
			values = []json.Number{}
		}
		entry := embeddingEntry{Object: "embedding", Index: i, Embedding: values}
		if base64Output {
			s, err := base64Floats(values)
			if err != nil {
				return nil, adapter.Usage{}, badUpstream(err, "Gemini returned an embedding value that is not a number")
			}
			entry.Embedding = s
		}
		out.Data[i] = entry
	}
	if m := r.UsageMetadata; m != nil {
		if m.PromptTokenCount != nil {
			out.Usage.PromptTokens = *m.PromptTokenCount
		}
		out.Usage.TotalTokens = out.Usage.PromptTokens
		if m.TotalTokenCount != nil {
			out.Usage.TotalTokens = *m.TotalTokenCount
		}
	}
	b, err := json.Marshal(&out)
	if err != nil {
		return nil, adapter.Usage{}, fmt.Errorf("gemini: encoding the embeddings response: %w", err)
	}
	return b, adapter.Usage{PromptTokens: out.Usage.PromptTokens, TotalTokens: out.Usage.TotalTokens}, nil
}

// base64Floats encodes values as little-endian float32, base64.
func base64Floats(values []json.Number) (string, error) {
	buf := make([]byte, 4*len(values))
	for i, v := range values {
		f, err := v.Float64()
		if err != nil {
			return "", err
		}
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(float32(f)))
	}
	return base64.StdEncoding.EncodeToString(buf), nil
}
