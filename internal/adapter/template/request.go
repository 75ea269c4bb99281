package template

import (
	"aigateway/internal/adapter"
	"aigateway/internal/openai"
)

// values checks that the template can honour req, and returns what its
// placeholders stand for. body is the request as sent; uses are the
// placeholders of the body template that will be sent. Fields that would
// change the answer and that no placeholder carries are refused, or with
// drop_params dropped into u.
func (a *Adapter) values(req *openai.ChatRequest, body []byte, uses uint, u *adapter.Unsupported) (*values, error) {
	if err := a.text.Check(req, body, carried(uses), u); err != nil {
		return nil, err
	}
	v := &values{model: a.model, stop: req.Stop, user: req.User, temperature: req.Temperature, maxTokens: req.MaxOutputTokens(),
		topP: req.TopP, seed: req.Seed, presence: req.PresencePenalty, frequency: req.FrequencyPenalty}
	if v.temperature == nil {
		v.temperature = a.temperature
	}
	if v.maxTokens == nil && a.maxTokens != nil {
		n := int64(*a.maxTokens)
		v.maxTokens = &n
	}
	turns, err := a.text.Turns(req.Messages)
	if err != nil {
		return nil, err
	}
	if uses&(1<<phPrompt) != 0 {
		v.prompt = adapter.PlainPrompt(turns)
	}
	if uses&(1<<phMessages) != 0 {
		v.messages = messagesJSON(turns)
	}
	return v, nil
}

// textOnly is the template adapter's check of requests: every sampling
// parameter has a placeholder.
func textOnly(id string) adapter.TextOnly {
	return adapter.TextOnly{ID: id, Kind: "template", Placeholder: "{{%s}}", Where: "template",
		Known: adapter.TextParams{Temperature: true, TopP: true, MaxTokens: true, Stop: true, Seed: true, PresencePenalty: true, FrequencyPenalty: true}}
}

// carried lists the sampling parameters whose placeholders are in uses.
func carried(uses uint) adapter.TextParams {
	has := func(ph placeholder) bool { return uses&(1<<ph) != 0 }
	return adapter.TextParams{Temperature: has(phTemperature), TopP: has(phTopP), MaxTokens: has(phMaxTokens), Stop: has(phStop),
		Seed: has(phSeed), PresencePenalty: has(phPresencePenalty), FrequencyPenalty: has(phFrequencyPenalty)}
}

// messagesJSON renders the turns as an OpenAI messages array with string
// content: [{"role":"user","content":"..."}], "name" kept when given.
func messagesJSON(turns []adapter.TextTurn) []byte {
	b := []byte{'['}
	for i, t := range turns {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"role":`...)
		b = openai.AppendString(b, t.Role)
		b = append(b, `,"content":`...)
		b = openai.AppendString(b, t.Text)
		if t.Name != "" {
			b = append(b, `,"name":`...)
			b = openai.AppendString(b, t.Name)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}
