package responses

import (
	"encoding/base64"
	"strings"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/inbound"
	"aigateway/internal/openai"
)

// The encrypted_content of a reasoning item the gateway made from an
// upstream's reasoning_content (DeepSeek, vLLM, Ollama and other
// OpenAI-compatible servers that reason in the open):
//
//	"aigw1:" + base64url(JSON {"d": deployment label, "p": "chat", "t": reasoning text})
//
// It is not encrypted: the text is the client's own conversation and the
// summary carries it in the clear anyway. It only says who made it, so
// that the reasoning goes back (as reasoning_content) to the deployment
// that made it and to no other, and it lets a stateless client (store:
// false, as Codex) replay reasoning without any lookup by item id.
const blobPrefix = "aigw1:"

// mintReasoning returns the encrypted_content for reasoning text from the
// deployment t.
func mintReasoning(t inbound.Target, text string) string {
	j := make([]byte, 0, len(text)+len(t.Deployment)+32)
	j = append(j, `{"d":`...)
	j = openai.AppendString(j, t.Deployment)
	j = append(j, `,"p":`...)
	j = openai.AppendString(j, t.Upstream.String())
	j = append(j, `,"t":`...)
	j = openai.AppendString(j, text)
	j = append(j, '}')
	return blobPrefix + base64.RawURLEncoding.EncodeToString(j)
}

// replayReasoning returns the reasoning text to send back to the
// deployment t, or "" when the item was not made by t (another deployment's
// blob, OpenAI's own encrypted reasoning, anything unreadable): such
// reasoning is dropped, since no other upstream can use it.
func replayReasoning(t inbound.Target, encrypted string) string {
	if t.Upstream != adapter.ProtocolChat || !strings.HasPrefix(encrypted, blobPrefix) {
		return ""
	}
	j, err := base64.RawURLEncoding.DecodeString(encrypted[len(blobPrefix):])
	if err != nil || !gjson.ValidBytes(j) {
		return ""
	}
	r := gjson.ParseBytes(j)
	if r.Get("p").Str != adapter.ProtocolChat.String() || r.Get("d").Str != t.Deployment {
		return ""
	}
	return r.Get("t").Str
}
