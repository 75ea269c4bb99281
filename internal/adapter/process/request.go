package process

import (
	"fmt"
	"math/rand/v2"
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

// textOnly is the process adapter's check of requests: the sampling
// parameters it has placeholders for, stop excluded (a program gets no
// stop sequences).
func textOnly(id string) adapter.TextOnly {
	return adapter.TextOnly{ID: id, Kind: "process", Placeholder: "{%s}", Where: "command",
		Known: adapter.TextParams{Temperature: true, TopP: true, MaxTokens: true, Seed: true, PresencePenalty: true, FrequencyPenalty: true}}
}

// carried lists the sampling parameters whose placeholders the command
// holds.
func carried(args []cmdArg) adapter.TextParams {
	has := func(ph placeholder) bool {
		for _, ar := range args {
			if ar.uses(ph) {
				return true
			}
		}
		return false
	}
	return adapter.TextParams{Temperature: has(phTemperature), TopP: has(phTopP), MaxTokens: has(phMaxTokens),
		Seed: has(phSeed), PresencePenalty: has(phPresencePenalty), FrequencyPenalty: has(phFrequencyPenalty)}
}

// check refuses the request parameters the command cannot carry, or with
// drop_params drops them into u. body is the request as sent.
func (a *Adapter) check(req *openai.ChatRequest, body []byte, u *adapter.Unsupported) error {
	// A value out of range first: it is wrong whatever the command.
	if n := req.MaxOutputTokens(); n != nil && *n < 1 {
		param := "max_tokens"
		if req.MaxCompletionTokens != nil {
			param = "max_completion_tokens"
		}
		return adapter.BadRequest(param, "invalid_value", "%s must be at least 1, got %d", param, *n)
	}
	return a.text.Check(req, body, a.carried, u)
}

// job renders the prompt and the arguments of a request that passed check.
func (a *Adapter) job(req *openai.ChatRequest) (*job, error) {
	turns, err := a.text.Turns(req.Messages)
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
	v := a.values(req, prompt)
	if a.promptArg && strings.IndexByte(prompt, 0) >= 0 {
		return nil, adapter.BadRequest("messages", "invalid_value", "model %q (process) passes the prompt as a command-line argument, which cannot hold a NUL character", a.o.ID)
	}
	j := &job{prompt: prompt, stdin: !a.promptArg, promptTokens: adapter.EstimateTokens(len(prompt)), argv: make([]string, len(a.args))}
	for i, ar := range a.args {
		s := ar.render(v)
		if ar.leading != phNone && s != "" && s[0] == '-' {
			return nil, a.optionLike(ar.leading, s)
		}
		j.argv[i] = s
	}
	return j, nil
}

// values returns what the placeholders stand for: the client's values,
// else the configured defaults, else the package's (for top_p and the
// penalties the OpenAI defaults, 1 and 0, which change nothing; for seed a
// random one, since a request without a seed asks for unseeded sampling).
func (a *Adapter) values(req *openai.ChatRequest, prompt string) *values {
	v := &values{prompt: prompt, model: a.o.Model, maxTokens: DefaultMaxTokens, temperature: DefaultTemperature, topP: 1}
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
	if req.TopP != nil {
		v.topP = *req.TopP
	}
	if req.PresencePenalty != nil {
		v.presence = *req.PresencePenalty
	}
	if req.FrequencyPenalty != nil {
		v.frequency = *req.FrequencyPenalty
	}
	switch {
	case req.Seed != nil:
		v.seed = *req.Seed
	case a.carried.Seed:
		v.seed = rand.Int64N(1 << 31) // what a 32-bit seed option takes
	}
	return v
}

// optionLike is the 400 for a value that would reach the program as an
// option: it begins an argument (see cmdArg.leading) and starts with "-".
func (a *Adapter) optionLike(ph placeholder, value string) error {
	const avoid = `; the operator can avoid this by putting "--" before the argument in the command, writing it as --opt={%s}`
	switch ph {
	case phPrompt:
		return adapter.BadRequest("messages", "invalid_value", "model %q (process): the prompt starts with \"-\" and would reach the program as a command-line option"+avoid+", or sending the prompt on standard input (no {prompt} in the command)", a.o.ID, "prompt")
	case phModel:
		// Validate refuses a configured model that starts with "-"; this is
		// {model} run together with another placeholder.
		return adapter.BadRequest("model", "invalid_value", "model %q (process): an argument of its command would start with \"-\" and reach the program as a command-line option"+avoid, a.o.ID, "model")
	}
	// A number: negative values of seed and the penalties, or a value
	// rendered together with {model}.
	p := ph.param()
	return adapter.BadRequest(p, "invalid_value", "model %q (process): %s %s would reach the program as a command-line option"+avoid, a.o.ID, p, value, p)
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
