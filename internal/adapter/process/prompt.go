package process

import (
	"io"
	"strings"
	"text/template"

	"aigateway/internal/adapter"
)

// PromptMessage is one message as a PromptTemplate sees it.
type PromptMessage struct {
	Role    string // "system", "user" or "assistant"; "developer" is given as "system"
	Content string // the text
	Name    string // the message's optional name
}

// PromptData is what a PromptTemplate is executed with.
type PromptData struct {
	Messages []PromptMessage // every message, in order
	System   string          // the system messages' text joined by blank lines; "" when none
	Turns    []PromptMessage // the user and assistant messages, in order
	Model    string          // the {model} value
}

// formats are the built-in prompt formats by name.
var formats = map[string]func(*PromptData) string{
	"": plainPrompt, "plain": plainPrompt, "chatml": chatmlPrompt, "llama3": llama3Prompt, "gemma": gemmaPrompt,
}

func newPromptData(msgs []PromptMessage, model string) *PromptData {
	d := &PromptData{Messages: msgs, Model: model}
	var sys []string
	for _, m := range msgs {
		if m.Role == "system" {
			sys = append(sys, m.Content)
		} else {
			d.Turns = append(d.Turns, m)
		}
	}
	d.System = strings.Join(sys, "\n\n")
	return d
}

// plainPrompt is the format of the template adapter's {{prompt}}
// (adapter.PlainPrompt).
func plainPrompt(d *PromptData) string {
	turns := make([]adapter.TextTurn, len(d.Messages))
	for i, m := range d.Messages {
		turns[i] = adapter.TextTurn{Role: m.Role, Name: m.Name, Text: m.Content}
	}
	return adapter.PlainPrompt(turns)
}

// chatmlPrompt is ChatML, as in Qwen's chat template.
func chatmlPrompt(d *PromptData) string {
	var b strings.Builder
	for _, m := range d.Messages {
		b.WriteString("<|im_start|>" + m.Role + "\n")
		b.WriteString(m.Content)
		b.WriteString("<|im_end|>\n")
	}
	b.WriteString("<|im_start|>assistant\n")
	return b.String()
}

// llama3Prompt follows Meta's Llama 3 chat template, which trims each text.
func llama3Prompt(d *PromptData) string {
	var b strings.Builder
	b.WriteString("<|begin_of_text|>")
	for _, m := range d.Messages {
		b.WriteString("<|start_header_id|>" + m.Role + "<|end_header_id|>\n\n")
		b.WriteString(strings.TrimSpace(m.Content))
		b.WriteString("<|eot_id|>")
	}
	b.WriteString("<|start_header_id|>assistant<|end_header_id|>\n\n")
	return b.String()
}

// gemmaPrompt follows Google's Gemma chat template: no system role (the
// system text opens the first turn), "model" for the assistant, trimmed text.
func gemmaPrompt(d *PromptData) string {
	var b strings.Builder
	b.WriteString("<bos>")
	prefix := ""
	if d.System != "" {
		prefix = d.System + "\n\n"
	}
	turns := d.Turns
	if len(turns) == 0 && d.System != "" {
		turns, prefix = []PromptMessage{{Role: "user", Content: d.System}}, ""
	}
	for i, t := range turns {
		role := "user"
		if t.Role == "assistant" {
			role = "model"
		}
		b.WriteString("<start_of_turn>" + role + "\n")
		if i == 0 {
			b.WriteString(prefix)
		}
		b.WriteString(strings.TrimSpace(t.Content))
		b.WriteString("<end_of_turn>\n")
	}
	b.WriteString("<start_of_turn>model\n")
	return b.String()
}

// parseTemplate parses a PromptTemplate and runs it once on a sample
// conversation, so that a misspelt field ({{.Mesages}}) fails at start
// rather than on every request.
func parseTemplate(text string) (*template.Template, error) {
	t, err := template.New("prompt_template").Option("missingkey=error").
		Funcs(template.FuncMap{"trim": strings.TrimSpace}).Parse(text)
	if err != nil {
		return nil, err
	}
	sample := newPromptData([]PromptMessage{
		{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Hi"},
		{Role: "assistant", Content: "Hello."}, {Role: "user", Content: "Bye"},
	}, "model")
	if err := t.Execute(io.Discard, sample); err != nil {
		return nil, err
	}
	return t, nil
}
