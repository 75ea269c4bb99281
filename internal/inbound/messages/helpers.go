package messages

import (
	"net/http"
	"strconv"
	"time"

	"aigateway/internal/openai"
)

// CountTokensBody returns the answer of /v1/messages/count_tokens:
// {"input_tokens":n}.
func CountTokensBody(n int64) []byte {
	b := append([]byte(nil), `{"input_tokens":`...)
	b = strconv.AppendInt(b, n, 10)
	return append(b, '}')
}

// Model is one entry of the Anthropic-format model list.
type Model struct {
	ID          string
	DisplayName string // the ID when empty
	Created     time.Time
}

// ModelsBody returns GET /v1/models in the Anthropic format, for clients
// that send anthropic-version (Claude Code validates its model against it):
// {"data":[{"type":"model","id","display_name","created_at"}],
// "has_more":false,"first_id","last_id"}.
func ModelsBody(models []Model) []byte {
	b := append([]byte(nil), `{"data":[`...)
	for i, m := range models {
		if i > 0 {
			b = append(b, ',')
		}
		name := m.DisplayName
		if name == "" {
			name = m.ID
		}
		b = append(b, `{"type":"model","id":`...)
		b = openai.AppendString(b, m.ID)
		b = append(b, `,"display_name":`...)
		b = openai.AppendString(b, name)
		b = append(b, `,"created_at":"`...)
		b = m.Created.UTC().AppendFormat(b, time.RFC3339)
		b = append(b, `"}`...)
	}
	b = append(b, `],"has_more":false,"first_id":`...)
	if len(models) == 0 {
		b = append(b, `null,"last_id":null}`...)
		return b
	}
	b = openai.AppendString(b, models[0].ID)
	b = append(b, `,"last_id":`...)
	b = openai.AppendString(b, models[len(models)-1].ID)
	return append(b, '}')
}

// WriteModels writes ModelsBody(models) as a 200 response.
func WriteModels(w http.ResponseWriter, models []Model) {
	body := ModelsBody(models)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body) //nolint:errcheck // the client went away; nothing to do
}

// WriteCountTokens writes CountTokensBody(n) as a 200 response.
func WriteCountTokens(w http.ResponseWriter, n int64) {
	body := CountTokensBody(n)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body) //nolint:errcheck // the client went away; nothing to do
}
