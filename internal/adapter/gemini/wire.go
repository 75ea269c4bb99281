package gemini

import "encoding/json"

// The types below are the Gemini generateContent wire format (field names as
// go-genai's generateContentParametersToMldev writes them). Only the fields
// this package reads or writes are declared; encoding/json ignores the rest.

// generateContentRequest is the body of models/{model}:generateContent and
// :streamGenerateContent.
type generateContentRequest struct {
	Contents          []content         `json:"contents"`
	SystemInstruction *content          `json:"systemInstruction,omitempty"`
	Tools             []tool            `json:"tools,omitempty"`
	ToolConfig        *toolConfig       `json:"toolConfig,omitempty"`
	GenerationConfig  *generationConfig `json:"generationConfig,omitempty"`
}

// content is one turn. Role is "user" or "model"; systemInstruction has none.
type content struct {
	Role  string `json:"role,omitempty"`
	Parts []part `json:"parts"`
}

// part holds exactly one data field, plus the thoughtSignature that Gemini
// puts next to it.
type part struct {
	Text             string            `json:"text,omitempty"`
	Thought          bool              `json:"thought,omitempty"`
	InlineData       *blob             `json:"inlineData,omitempty"`
	FunctionCall     *functionCall     `json:"functionCall,omitempty"`
	FunctionResponse *functionResponse `json:"functionResponse,omitempty"`
	ThoughtSignature string            `json:"thoughtSignature,omitempty"`

	// FileData is decoded only to be detected in responses: chat
	// completions cannot carry media output.
	FileData json.RawMessage `json:"fileData,omitempty"`
}

// blob is inline base64 data.
type blob struct {
	MimeType string `json:"mimeType"`
	Data     string `json:"data"`
}

// functionCall is a model's call. ID is set by some Gemini versions; when it
// is, the matching functionResponse must carry it.
type functionCall struct {
	ID   string          `json:"id,omitempty"`
	Name string          `json:"name"`
	Args json.RawMessage `json:"args,omitempty"`
}

// functionResponse is a tool result. Response is {"output": ...}: go-genai
// documents "output" as the key for the result.
type functionResponse struct {
	ID       string          `json:"id,omitempty"`
	Name     string          `json:"name"`
	Response json.RawMessage `json:"response"`
}

type tool struct {
	FunctionDeclarations []functionDeclaration `json:"functionDeclarations"`
}

// functionDeclaration carries the parameters as plain JSON Schema
// (parametersJsonSchema), not as the OpenAPI-subset "parameters"; see
// schema.go for why.
type functionDeclaration struct {
	Name                 string          `json:"name"`
	Description          string          `json:"description,omitempty"`
	ParametersJSONSchema json.RawMessage `json:"parametersJsonSchema,omitempty"`
}

type toolConfig struct {
	FunctionCallingConfig functionCallingConfig `json:"functionCallingConfig"`
}

type functionCallingConfig struct {
	Mode                 string   `json:"mode"`
	AllowedFunctionNames []string `json:"allowedFunctionNames,omitempty"`
}

type generationConfig struct {
	Temperature        *float64        `json:"temperature,omitempty"`
	TopP               *float64        `json:"topP,omitempty"`
	CandidateCount     *int64          `json:"candidateCount,omitempty"`
	MaxOutputTokens    *int64          `json:"maxOutputTokens,omitempty"`
	StopSequences      []string        `json:"stopSequences,omitempty"`
	PresencePenalty    *float64        `json:"presencePenalty,omitempty"`
	FrequencyPenalty   *float64        `json:"frequencyPenalty,omitempty"`
	Seed               *int64          `json:"seed,omitempty"`
	ResponseMimeType   string          `json:"responseMimeType,omitempty"`
	ResponseJSONSchema json.RawMessage `json:"responseJsonSchema,omitempty"`
	ResponseLogprobs   *bool           `json:"responseLogprobs,omitempty"`
	Logprobs           *int64          `json:"logprobs,omitempty"`
	ThinkingConfig     *thinkingConfig `json:"thinkingConfig,omitempty"`
}

// thinkingConfig uses thinkingBudget, which Gemini 2.5 requires and Gemini 3
// still accepts (thinkingLevel is Gemini 3 only).
type thinkingConfig struct {
	ThinkingBudget int64 `json:"thinkingBudget"`
	// IncludeThoughts asks for thought summaries (parts with thought:
	// true), sent when the request asked for reasoning.
	IncludeThoughts bool `json:"includeThoughts,omitempty"`
}

// generateContentResponse is one response, or one event of a stream.
type generateContentResponse struct {
	Candidates     []candidate     `json:"candidates"`
	PromptFeedback *promptFeedback `json:"promptFeedback"`
	UsageMetadata  *usageMetadata  `json:"usageMetadata"`
	ModelVersion   string          `json:"modelVersion"`
	ResponseID     string          `json:"responseId"`
	// Error is set when Gemini reports an error in a 200 body or in a stream.
	Error *apiError `json:"error"`
}

type candidate struct {
	Content        *content        `json:"content"`
	FinishReason   string          `json:"finishReason"`
	Index          *int            `json:"index"`
	LogprobsResult *logprobsResult `json:"logprobsResult"`
}

type promptFeedback struct {
	BlockReason string `json:"blockReason"`
}

// usageMetadata counts are pointers: a stream chunk may omit any of them,
// and a missing count must not overwrite a known one.
type usageMetadata struct {
	PromptTokenCount        *int64 `json:"promptTokenCount"`
	CandidatesTokenCount    *int64 `json:"candidatesTokenCount"`
	ThoughtsTokenCount      *int64 `json:"thoughtsTokenCount"`
	CachedContentTokenCount *int64 `json:"cachedContentTokenCount"`
	TotalTokenCount         *int64 `json:"totalTokenCount"`
}

type logprobsResult struct {
	TopCandidates    []topCandidates    `json:"topCandidates"`
	ChosenCandidates []logprobCandidate `json:"chosenCandidates"`
}

type topCandidates struct {
	Candidates []logprobCandidate `json:"candidates"`
}

type logprobCandidate struct {
	Token          string  `json:"token"`
	LogProbability float64 `json:"logProbability"`
}

// apiError is a Google error: {"error": apiError}.
type apiError struct {
	Code    int               `json:"code"`
	Message string            `json:"message"`
	Status  string            `json:"status"`
	Details []json.RawMessage `json:"details"`
}
