package process

import (
	"fmt"
	"net/http"
	"strings"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
)

// job is one run of the program, ready to start.
type job struct {
	argv         []string // the arguments after the program
	prompt       string
	stdin        bool  // the prompt goes to standard input
	promptTokens int64 // estimated
}

// job checks req and renders the prompt and the arguments.
func (a *Adapter) job(req *openai.ChatRequest) (*job, error) {
	text := adapter.TextOnly{ID: a.o.ID, Kind: "process"}
	if err := text.Check(req, adapter.TextLimits{Strict: true}); err != nil {
		return nil, err
	}
	turns, err := text.Turns(req.Messages)
	if err != nil {
		return nil, err
	}
	msgs := make([]PromptMessage, len(turns))
	for i, t := range turns {
		msgs[i] = PromptMessage{Role: t.Role, Content: t.Text, Name: t.Name}
	}
	prompt, err := a.prompt(msgs)
	if err != nil {
		return nil, err
	}
	v := &values{prompt: prompt, model: a.o.Model, maxTokens: DefaultMaxTokens, temperature: DefaultTemperature}
	if a.o.MaxTokens != nil {
		v.maxTokens = int64(*a.o.MaxTokens)
	}
	if n := req.MaxOutputTokens(); n != nil {
		v.maxTokens = *n
	}
	if a.o.Temperature != nil {
		v.temperature = *a.o.Temperature
	}
	if req.Temperature != nil {
		v.temperature = *req.Temperature
	}
	if v.temperature == 0 {
		v.temperature = 0 // -0 would be written "-0", which reads as an option
	}
	if a.promptArg && strings.IndexByte(prompt, 0) >= 0 {
		return nil, adapter.BadRequest("messages", "invalid_value", "model %q (process) passes the prompt as a command-line argument, which cannot hold a NUL character", a.o.ID)
	}
	j := &job{prompt: prompt, stdin: !a.promptArg, promptTokens: estimateTokens(len(prompt)), argv: make([]string, len(a.args))}
	for i, ar := range a.args {
		s := ar.render(v)
		if ar.leading != phNone && s != "" && s[0] == '-' {
			return nil, a.optionLike(ar.leading, s)
		}
		j.argv[i] = s
	}
	return j, nil
}

// optionLike is the 400 for a value that would reach the program as an
// option: it begins an argument (see cmdArg.leading) and starts with "-".
func (a *Adapter) optionLike(ph placeholder, value string) error {
	const avoid = `; the operator can avoid this by putting "--" before the argument in the command, writing it as --opt={%s}`
	switch ph {
	case phPrompt:
		return adapter.BadRequest("messages", "invalid_value", "model %q (process): the prompt starts with \"-\" and would reach the program as a command-line option"+avoid+", or sending the prompt on standard input (no {prompt} in the command)", a.o.ID, "prompt")
	case phMaxTokens:
		return adapter.BadRequest("max_tokens", "invalid_value", "model %q (process): max_tokens %s would reach the program as a command-line option"+avoid, a.o.ID, value, "max_tokens")
	case phTemperature:
		return adapter.BadRequest("temperature", "invalid_value", "model %q (process): temperature %s would reach the program as a command-line option"+avoid, a.o.ID, value, "temperature")
	}
	// Validate refuses a configured model that starts with "-"; this is
	// {model} run together with another placeholder.
	return adapter.BadRequest("model", "invalid_value", "model %q (process): an argument of its command would start with \"-\" and reach the program as a command-line option"+avoid, a.o.ID, "model")
}

// prompt renders the messages with the template or the format.
func (a *Adapter) prompt(msgs []PromptMessage) (string, error) {
	d := newPromptData(msgs, a.o.Model)
	if a.tmpl == nil {
		return formats[a.o.PromptFormat](d), nil
	}
	var b strings.Builder
	if err := a.tmpl.Execute(&b, d); err != nil {
		return "", &adapter.Error{Status: http.StatusInternalServerError, Cause: err, Err: openai.Error{
			Type: openai.TypeServer, Code: "prompt_template_failed",
			Message: fmt.Sprintf("model %q: the configured prompt_template failed on this request: %v", a.o.ID, err)}}
	}
	return b.String(), nil
}

// estimateTokens estimates a token count from a byte count: one token per
// 4 bytes, rounded up, which is close for English text.
func estimateTokens(n int) int64 { return int64(n+3) / 4 }
