package messages

import (
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

// ListModels implements inbound.Lister: GET /v1/models in the Anthropic
// format, for clients that send anthropic-version (Claude Code validates
// its model against it): {"data":[{"type":"model","id","display_name",
// "created_at"}],"has_more":false,"first_id","last_id"}. The display name
// is the id: the gateway's ids are what users configure.
func (Dialect) ListModels(ids []string, created time.Time) []byte {
	b := append([]byte(nil), `{"data":[`...)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendModel(b, id, created)
	}
	b = append(b, `],"has_more":false,"first_id":`...)
	if len(ids) == 0 {
		return append(b, `null,"last_id":null}`...)
	}
	b = openai.AppendString(b, ids[0])
	b = append(b, `,"last_id":`...)
	b = openai.AppendString(b, ids[len(ids)-1])
	return append(b, '}')
}

// ModelObject implements inbound.Lister: GET /v1/models/{id}.
func (Dialect) ModelObject(id string, created time.Time) []byte {
	return appendModel(nil, id, created)
}

func appendModel(b []byte, id string, created time.Time) []byte {
	b = append(b, `{"type":"model","id":`...)
	b = openai.AppendString(b, id)
	b = append(b, `,"display_name":`...)
	b = openai.AppendString(b, id)
	b = append(b, `,"created_at":"`...)
	b = created.UTC().AppendFormat(b, time.RFC3339)
	return append(b, `"}`...)
}
