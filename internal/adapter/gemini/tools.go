package gemini

import (
	"fmt"
	"net/http"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
)

// convertTools converts tools, tool_choice and parallel_tool_calls. The
// parameter schemas spend from budget.
func convertTools(req *openai.ChatRequest, budget *schemaBudget) ([]tool, *toolConfig, error) {
	choice, oerr := openai.ParseToolChoice(req.ToolChoice)
	if oerr != nil {
		return nil, nil, &adapter.Error{Status: http.StatusBadRequest, Err: *oerr}
	}
	if len(req.Tools) == 0 {
		switch choice.Mode {
		case "required", "function":
			return nil, nil, badParam("tool_choice", "invalid_value", "tool_choice %q requires tools", choice.Mode)
		}
		return nil, nil, nil // "auto"/"none" without tools ask for nothing
	}
	decls := make([]functionDeclaration, 0, len(req.Tools))
	names := make(map[string]bool, len(req.Tools))
	for i := range req.Tools {
		d, err := declaration(&req.Tools[i], i, budget)
		if err != nil {
			return nil, nil, err
		}
		names[d.Name] = true
		decls = append(decls, d)
	}
	var cfg *toolConfig
	switch choice.Mode {
	case "auto":
		cfg = &toolConfig{functionCallingConfig{Mode: "AUTO"}}
	case "none":
		cfg = &toolConfig{functionCallingConfig{Mode: "NONE"}}
	case "required":
		cfg = &toolConfig{functionCallingConfig{Mode: "ANY"}}
	case "function":
		if !names[choice.Name] {
			return nil, nil, badParam("tool_choice", "invalid_value", "tool_choice names function %q, which is not in tools", choice.Name)
		}
		cfg = &toolConfig{functionCallingConfig{Mode: "ANY", AllowedFunctionNames: []string{choice.Name}}}
	}
	// Gemini cannot be told to make at most one call per turn, and the
	// converters cannot enforce it on the reply either (dropping calls the
	// model made would lose work). So a client that relies on it gets a 400,
	// unless no tool can be called anyway.
	if req.ParallelToolCalls != nil && !*req.ParallelToolCalls && choice.Mode != "none" {
		return nil, nil, badParam("parallel_tool_calls", adapter.CodeUnsupportedParameter,
			"parallel_tool_calls: false is not supported for Gemini models, which may call several tools in one turn; omit it or set it to true")
	}
	return []tool{{FunctionDeclarations: decls}}, cfg, nil
}

// declaration converts tools[i] into a function declaration.
func declaration(t *openai.Tool, i int, budget *schemaBudget) (functionDeclaration, error) {
	param := fmt.Sprintf("tools[%d]", i)
	if t.Type != "function" {
		return functionDeclaration{}, badParam(param+".type", adapter.CodeUnsupportedParameter,
			"%s.type: %q tools are not supported for Gemini models; only function tools are", param, t.Type)
	}
	f := &t.Function
	if f.Name == "" {
		return functionDeclaration{}, badParam(param+".function.name", "missing_required_parameter", "%s.function.name is required", param)
	}
	d := functionDeclaration{Name: f.Name, Description: f.Description}
	if len(f.Parameters) == 0 || string(f.Parameters) == "null" {
		return d, nil // a function without arguments: Gemini wants parameters unset
	}
	schema, err := prepareSchema(f.Parameters, true, budget)
	if err != nil {
		return functionDeclaration{}, schemaError(param+".function.parameters", fmt.Sprintf("function %q", f.Name), err)
	}
	d.ParametersJSONSchema = schema
	return d, nil
}
