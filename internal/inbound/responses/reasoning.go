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
// upstream's reasoning: reasoning_content from OpenAI-compatible servers
// that reason in the open (DeepSeek, vLLM, Ollama), and from the Anthropic
// and Gemini adapters (README "Reasoning"):
//
//	"aigw1:" + base64url(JSON {"d": deployment label, "p": protocol, "t": reasoning text, "s": signature})
//
// "s" is the upstream's reasoning_signature (Anthropic's thinking
// signatures), absent when there is none. It is not encrypted: the text is
// the client's own conversation and the summary carries it in the clear
// anyway; Anthropic's signature is what protects the thinking. It only
// says who made it, so that the reasoning goes back (as reasoning_content,
// with its signature) to the deployment that made it and to no other, and
// it lets a stateless client (store: false, as Codex) replay reasoning
// without any lookup by item id.
const blobPrefix = "aigw1:"

// mintReasoning returns the encrypted_content for reasoning text and its
// upstream signature (may be empty) from the deployment t.
func mintReasoning(t inbound.Target, text, signature string) string {
	j := make([]byte, 0, len(text)+len(signature)+len(t.Deployment)+40)
	j = append(j, `{"d":`...)
	j = openai.AppendString(j, t.Deployment)
	j = append(j, `,"p":`...)
	j = openai.AppendString(j, t.Upstream.String())
	j = append(j, `,"t":`...)
	j = openai.AppendString(j, text)
	if signature != "" {
		j = append(j, `,"s":`...)
		j = openai.AppendString(j, signature)
	}
	j = append(j, '}')
	return blobPrefix + base64.RawURLEncoding.EncodeToString(j)
}

// replayReasoning returns the reasoning text and signature to send back to
// the deployment t, or "" twice when the item was not made by t (another
// deployment's blob, OpenAI's own encrypted reasoning, anything
// unreadable): such reasoning is dropped, since no other upstream can use
// it. Only OpenAI-compatible and Anthropic deployments take reasoning
// back; Gemini's thoughts are summaries that it does not want replayed
// (its thought signatures ride on the tool calls).
func replayReasoning(t inbound.Target, encrypted string) (text, signature string) {
	if (t.Upstream != adapter.ProtocolChat && t.Upstream != adapter.ProtocolMessages) || !strings.HasPrefix(encrypted, blobPrefix) {
		return "", ""
	}
	j, err := base64.RawURLEncoding.DecodeString(encrypted[len(blobPrefix):])
	if err != nil || !gjson.ValidBytes(j) {
		return "", ""
	}
	r := gjson.ParseBytes(j)
	if r.Get("p").Str != t.Upstream.String() || r.Get("d").Str != t.Deployment {
		return "", ""
	}
	return r.Get("t").Str, r.Get("s").Str
}
