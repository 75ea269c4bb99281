package messages

import (
	"strconv"
	"time"

	"aigateway/internal/inbound"
	"aigateway/internal/openai"
)

// CountTokensBody returns the answer of /v1/messages/count_tokens:
// {"input_tokens":n}.
func CountTokensBody(n int64) []byte {
	b := append([]byte(nil), `{"input_tokens":`...)
	b = strconv.AppendInt(b, n, 10)
	return append(b, '}')
}

// ListModels implements inbound.Lister: GET /v1/models in the Anthropic
// format, for clients that send anthropic-version (Claude Code validates
// its model against it): {"data":[{"type":"model","id","display_name",
// "created_at"}],"has_more":false,"first_id","last_id"}. The display name
// is the id: the gateway's ids are what users configure.
func (Dialect) ListModels(models []inbound.Model, created time.Time) []byte {
	b := append([]byte(nil), `{"data":[`...)
	for i := range models {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendModel(b, &models[i], created)
	}
	b = append(b, `],"has_more":false,"first_id":`...)
	if len(models) == 0 {
		return append(b, `null,"last_id":null}`...)
	}
	b = openai.AppendString(b, models[0].ID)
	b = append(b, `,"last_id":`...)
	b = openai.AppendString(b, models[len(models)-1].ID)
	return append(b, '}')
}

// ModelObject implements inbound.Lister: GET /v1/models/{id}.
func (Dialect) ModelObject(m inbound.Model, created time.Time) []byte {
	return appendModel(nil, &m, created)
}

// appendModel writes one model. max_input_tokens (the entry's
// context_window) is what Claude Code sizes its context by; without it,
// it assumes a window of its own and says so.
func appendModel(b []byte, m *inbound.Model, created time.Time) []byte {
	b = append(b, `{"type":"model","id":`...)
	b = openai.AppendString(b, m.ID)
	b = append(b, `,"display_name":`...)
	b = openai.AppendString(b, m.ID)
	b = append(b, `,"created_at":"`...)
	b = created.UTC().AppendFormat(b, time.RFC3339)
	b = append(b, '"')
	if m.ContextWindow > 0 {
		b = append(b, `,"max_input_tokens":`...)
		b = strconv.AppendInt(b, m.ContextWindow, 10)
	}
	if m.MaxOutputTokens > 0 {
		b = append(b, `,"max_tokens":`...)
		b = strconv.AppendInt(b, m.MaxOutputTokens, 10)
	}
	return append(b, '}')
}
