package gemini

import (
	"bytes"
	"fmt"
	"reflect"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
)

// thinkingBudgets maps reasoning_effort to generationConfig.thinkingConfig.
// thinkingBudget, with the budgets Gemini's own OpenAI-compatible endpoint
// documents (low 1K, medium 8K, high 24K tokens; none turns thinking off).
// minimal gets the smallest budget that still thinks. A thinkingBudget works
// on Gemini 2.5 and is still accepted by Gemini 3, whereas thinkingLevel is
// rejected by 2.5. A model that cannot honour a budget (Gemini 2.5 Pro cannot
// turn thinking off) answers with its own 400.
var thinkingBudgets = map[string]int64{
	"none":    0,
	"minimal": 1024,
	"low":     1024,
	"medium":  8192,
	"high":    24576,
}

// reasoningAsked reports whether a chat request asks for the model's
// reasoning: reasoning_effort set to anything but "none". Only then are
// thought summaries asked for and returned as reasoning_content, so that a
// client that did not ask sees no field it does not know.
func reasoningAsked(req *openai.ChatRequest) bool {
	return req.ReasoningEffort != "" && req.ReasoningEffort != "none"
}

// convertGenerationConfig maps the sampling and output parameters. It
// returns nil when the request sets none of them. A response schema spends
// from budget. u refuses or drops logit_bias, which Gemini has no field for.
func convertGenerationConfig(req *openai.ChatRequest, budget *schemaBudget, u *adapter.Unsupported) (*generationConfig, error) {
	if lb := bytes.TrimSpace(req.LogitBias); len(lb) > 0 && !bytes.Equal(lb, []byte("null")) && !bytes.Equal(lb, []byte("{}")) {
		if e := u.Refuse("logit_bias", "logit_bias is not supported for Gemini models"); e != nil {
			return nil, e
		}
	}
	g := generationConfig{
		Temperature:      req.Temperature,
		TopP:             req.TopP,
		CandidateCount:   req.N,
		MaxOutputTokens:  req.MaxOutputTokens(),
		StopSequences:    req.Stop,
		PresencePenalty:  req.PresencePenalty,
		FrequencyPenalty: req.FrequencyPenalty,
		Seed:             req.Seed,
	}
	if err := convertLogprobs(req, &g); err != nil {
		return nil, err
	}
	if err := convertResponseFormat(req.ResponseFormat, &g, budget); err != nil {
		return nil, err
	}
	if req.ReasoningEffort != "" {
		budget, ok := thinkingBudgets[req.ReasoningEffort]
		if !ok {
			return nil, badParam("reasoning_effort", adapter.CodeUnsupportedParameter,
				"reasoning_effort %q is not supported for Gemini models; use none, minimal, low, medium or high", req.ReasoningEffort)
		}
		g.ThinkingConfig = &thinkingConfig{ThinkingBudget: budget, IncludeThoughts: reasoningAsked(req)}
	}
	if reflect.ValueOf(g).IsZero() {
		return nil, nil
	}
	return &g, nil
}

// convertLogprobs maps logprobs / top_logprobs to responseLogprobs /
// logprobs. As with OpenAI, top_logprobs needs logprobs: true.
func convertLogprobs(req *openai.ChatRequest, g *generationConfig) error {
	on := req.Logprobs != nil && *req.Logprobs
	if req.TopLogprobs != nil && !on {
		return badParam("top_logprobs", "invalid_value", "top_logprobs requires logprobs: true")
	}
	if on {
		t := true
		g.ResponseLogprobs = &t
		g.Logprobs = req.TopLogprobs
	}
	return nil
}

// convertResponseFormat maps response_format: json_object to JSON output,
// json_schema to JSON output constrained by the (prepared) schema. The
// schema's name, description and strict flag have no Gemini field; Gemini
// always constrains the output to the schema, which strict:false allows.
func convertResponseFormat(rf *openai.ResponseFormat, g *generationConfig, budget *schemaBudget) error {
	if rf == nil {
		return nil
	}
	switch rf.Type {
	case "", "text":
		return nil
	case "json_object":
		g.ResponseMimeType = "application/json"
		return nil
	case "json_schema":
		g.ResponseMimeType = "application/json"
		if rf.JSONSchema == nil {
			return badParam("response_format.json_schema", "missing_required_parameter", "response_format.json_schema is required when type is json_schema")
		}
		s := rf.JSONSchema.Schema
		if len(s) == 0 || string(s) == "null" {
			return nil // no schema: any JSON
		}
		schema, err := prepareSchema(s, false, budget)
		if err != nil {
			return schemaError("response_format.json_schema.schema", fmt.Sprintf("schema %q", rf.JSONSchema.Name), err)
		}
		g.ResponseJSONSchema = schema
		return nil
	}
	return badParam("response_format.type", "invalid_value",
		"response_format.type %q is not supported; use text, json_object or json_schema", rf.Type)
}
