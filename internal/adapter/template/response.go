package template

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/jsonlimit"
	"aigateway/internal/openai"
)

// answer is what a non-stream upstream response said.
type answer struct {
	text               string
	finish             string
	prompt, completion int64
	estimated          bool // some count is the gateway's estimate
}

// invalidResponse is a 502 for a 2xx upstream answer the template cannot read.
func (a *Adapter) invalidResponse(format string, args ...any) *adapter.Error {
	return &adapter.Error{Status: http.StatusBadGateway, Err: openai.Error{
		Type: openai.TypeUpstream, Code: "upstream_invalid_response",
		Message: fmt.Sprintf("model %q: ", a.up.ID) + fmt.Sprintf(format, args...)}}
}

// answer reads a 2xx non-stream response with the configured paths. A
// token count the upstream does not report (no path configured, or none at
// it) is estimated like a process model's: prompt_tokens from the size of
// the request body sent (sentBytes), completion_tokens from the answer
// text.
func (a *Adapter) answer(body []byte, sentBytes int) (*answer, error) {
	// Validate with a depth limit before gjson reads the paths: its readers
	// recurse, and its own validator overflowed the stack on deep input.
	if err := jsonlimit.Validate(body); err != nil {
		if adapter.TooDeep(err) {
			return nil, a.invalidResponse("%s", adapter.TooDeepMessage())
		}
		return nil, a.invalidResponse("the upstream response is not JSON")
	}
	text := gjson.GetBytes(body, a.resp.Text)
	if text.Type != gjson.String {
		return nil, a.invalidResponse("the upstream response has no text at %s", a.resp.Text)
	}
	ans := &answer{text: text.Str, finish: "stop"}
	var promptOK, completionOK bool
	if ans.prompt, promptOK = tokens(body, a.resp.PromptTokens); !promptOK {
		ans.prompt = adapter.EstimateTokens(sentBytes)
	}
	if ans.completion, completionOK = tokens(body, a.resp.CompletionTokens); !completionOK {
		ans.completion = adapter.EstimateTokens(len(ans.text))
	}
	ans.estimated = !promptOK || !completionOK
	if r, ok := finishOf(body, a.resp.FinishReason); ok {
		ans.finish = r
	}
	return ans, nil
}

// chatCompletion encodes the answer as an OpenAI chat.completion.
func (ans *answer) chatCompletion(cw openai.ChunkWriter) []byte {
	c := openai.ChatCompletion{ID: cw.ID, Object: "chat.completion", Created: cw.Created, Model: cw.Model,
		Choices: []openai.Choice{{Message: openai.ResponseMessage{Role: "assistant", Content: &ans.text}, FinishReason: ans.finish}},
		Usage:   openaiUsage(ans.prompt, ans.completion)}
	b, err := json.Marshal(c)
	if err != nil { // the openai types always encode
		panic(fmt.Sprintf("template: encoding a completion: %v", err))
	}
	return b
}

func (ans *answer) usage() adapter.Usage {
	return adapter.Usage{PromptTokens: ans.prompt, CompletionTokens: ans.completion, TotalTokens: ans.prompt + ans.completion,
		Estimated: ans.estimated}
}

func openaiUsage(prompt, completion int64) *openai.Usage {
	return &openai.Usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion}
}

// tokens reads a token count at path; a missing path, or a value that is
// not a number, is not found.
func tokens(doc []byte, path string) (int64, bool) {
	if path == "" {
		return 0, false
	}
	v := gjson.GetBytes(doc, path)
	if v.Type != gjson.Number {
		return 0, false
	}
	return v.Int(), true
}

// finishOf reads the finish reason at path and maps it loosely: upstreams
// spell "ran out of tokens" as length, max_tokens, MAX_TOKENS,
// max_new_tokens, ...; everything else is a normal stop.
func finishOf(doc []byte, path string) (string, bool) {
	if path == "" {
		return "", false
	}
	v := gjson.GetBytes(doc, path)
	if v.Type != gjson.String || v.Str == "" {
		return "", false
	}
	s := strings.ToLower(v.Str)
	if strings.Contains(s, "length") || strings.Contains(s, "max") {
		return "length", true
	}
	return "stop", true
}
