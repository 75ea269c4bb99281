package template

import (
	"aigateway/internal/adapter"
	"aigateway/internal/openai"
)

// values checks that the template can honour req, and returns what its
// placeholders stand for. Fields that would change the answer and that no
// placeholder carries are rejected, not dropped.
func (a *Adapter) values(req *openai.ChatRequest) (*values, error) {
	if err := a.checkFields(req); err != nil {
		return nil, err
	}
	v := &values{model: a.model, stop: req.Stop, user: req.User, temperature: req.Temperature, maxTokens: req.MaxOutputTokens()}
	if v.temperature == nil {
		v.temperature = a.temperature
	}
	if v.maxTokens == nil && a.maxTokens != nil {
		n := int64(*a.maxTokens)
		v.maxTokens = &n
	}
	turns, err := adapter.TextOnly{ID: a.up.ID, Kind: "template"}.Turns(req.Messages)
	if err != nil {
		return nil, err
	}
	if a.tmpl.uses&(1<<phPrompt) != 0 {
		v.prompt = adapter.PlainPrompt(turns)
	}
	if a.tmpl.uses&(1<<phMessages) != 0 {
		v.messages = messagesJSON(turns)
	}
	return v, nil
}

// checkFields rejects the request fields a template cannot honour.
func (a *Adapter) checkFields(req *openai.ChatRequest) error {
	if len(req.Stop) > 0 && a.tmpl.uses&(1<<phStop) == 0 {
		return adapter.BadRequest("stop", "unsupported_parameter", "model %q (template) cannot honour stop: its template has no {{stop}} placeholder", a.up.ID)
	}
	return adapter.TextOnly{ID: a.up.ID, Kind: "template"}.Check(req, adapter.TextLimits{Stop: true})
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
