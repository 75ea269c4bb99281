package anthropic

import (
	"bytes"
	"encoding/json"
	"fmt"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
)

// emptySchema is the input_schema of a function declared without parameters:
// the Messages API requires one, of type object.
const emptySchema = `{"type":"object","properties":{}}`

// convertTools maps function tools to {name, description, input_schema}. The
// schema is passed on as is: one-api kept only type/properties/required and
// broke every tool that used anything else (PROTOCOLS.md 8).
func convertTools(tools []openai.Tool) ([]tool, *adapter.Error) {
	if len(tools) == 0 {
		return nil, nil
	}
	out := make([]tool, 0, len(tools))
	for i, t := range tools {
		p := fmt.Sprintf("tools[%d]", i)
		if t.Type != "function" {
			return nil, invalid(p+".type", adapter.CodeUnsupportedParameter, "%s.type %q is not supported by this model; only function tools are", p, t.Type)
		}
		if t.Function.Name == "" {
			return nil, invalid(p+".function.name", "missing_required_parameter", "%s.function.name is required", p)
		}
		schema := bytes.TrimSpace(t.Function.Parameters)
		switch {
		case len(schema) == 0, bytes.Equal(schema, []byte("null")), bytes.Equal(schema, []byte("{}")):
			schema = json.RawMessage(emptySchema)
		case schema[0] != '{':
			return nil, invalid(p+".function.parameters", "invalid_type", "%s.function.parameters must be a JSON schema object", p)
		}
		var strict *bool
		if t.Function.Strict != nil && *t.Function.Strict {
			strict = t.Function.Strict
		}
		out = append(out, tool{Name: t.Function.Name, Description: t.Function.Description, InputSchema: schema, Strict: strict})
	}
	return out, nil
}

// convertToolChoice maps tool_choice auto/none/required/function to
// auto/none/any/tool, and parallel_tool_calls:false to
// disable_parallel_tool_use (on auto when no tool_choice was given).
func convertToolChoice(req *openai.ChatRequest, haveTools bool) (*toolChoice, *adapter.Error) {
	tc, perr := openai.ParseToolChoice(req.ToolChoice)
	if perr != nil {
		e := invalid(perr.Param, perr.Code, "%s", perr.Message)
		return nil, e
	}
	if !haveTools {
		// Without tools, "auto" and "none" both mean "answer in text", which
		// is what happens anyway; forcing a call is a contradiction.
		if tc.Mode == "required" || tc.Mode == "function" {
			return nil, invalid("tool_choice", "invalid_value", "tool_choice %q needs tools; the request has none", tc.Mode)
		}
		return nil, nil
	}
	var out toolChoice
	switch tc.Mode {
	case "":
		if req.ParallelToolCalls == nil || *req.ParallelToolCalls {
			return nil, nil
		}
		out.Type = "auto"
	case "auto":
		out.Type = "auto"
	case "none":
		// {type:"none"} has no disable_parallel_tool_use: no call, nothing to limit.
		return &toolChoice{Type: "none"}, nil
	case "required":
		out.Type = "any"
	case "function":
		out.Type, out.Name = "tool", tc.Name
	}
	out.DisableParallelToolUse = req.ParallelToolCalls != nil && !*req.ParallelToolCalls
	return &out, nil
}
