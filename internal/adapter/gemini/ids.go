package gemini

import (
	"encoding/json"
	"hash/fnv"
	"strconv"
	"strings"
)

// responseID returns the chat completion id for a Gemini responseId. When
// Gemini sent none, the id is derived from fallback (the response body, or
// the first stream event) so that it is still deterministic.
func responseID(geminiID string, fallback []byte) string {
	return "chatcmpl-" + idToken(geminiID, fallback)
}

// idToken is geminiID reduced to [A-Za-z0-9_-] (so minted tool call ids are
// also valid Anthropic tool_use ids), or a hash of fallback when it is empty.
func idToken(geminiID string, fallback []byte) string {
	if geminiID == "" {
		h := fnv.New64a()
		h.Write(fallback) //nolint:errcheck // hash writes never fail
		return strconv.FormatUint(h.Sum64(), 36)
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			return r
		}
		return '_'
	}, geminiID)
}

// toolCallID returns the OpenAI id of the n-th function call (counting from
// 0) of candidate c: Gemini's own id when it sent one, else a minted one.
// Minted ids never reach Gemini: on the next request, calls are matched to
// results through the OpenAI ids, and only Gemini's own ids are sent back.
func toolCallID(geminiID, token string, c, n int) string {
	if geminiID != "" {
		return geminiID
	}
	return "call_" + token + "_" + strconv.Itoa(c) + "_" + strconv.Itoa(n)
}

// googleExtra is the provider data kept on an OpenAI tool call across turns,
// under extra_content.google. ThoughtSignature is the name Gemini's own
// OpenAI-compatible endpoint uses; FunctionCallID records that the call had a
// Gemini id (which must be echoed in the functionCall and functionResponse),
// since an OpenAI id alone does not tell a Gemini id from any other.
type googleExtra struct {
	ThoughtSignature string `json:"thought_signature,omitempty"`
	FunctionCallID   string `json:"function_call_id,omitempty"`
}

// extraContent returns the extra_content for a tool call, or nil when there
// is nothing to keep.
func extraContent(signature, geminiID string) json.RawMessage {
	if signature == "" && geminiID == "" {
		return nil
	}
	b, err := json.Marshal(struct {
		Google googleExtra `json:"google"`
	}{googleExtra{ThoughtSignature: signature, FunctionCallID: geminiID}})
	if err != nil { // two strings always encode
		return nil
	}
	return b
}

// parseExtraContent reads extra_content.google. Anything malformed is
// ignored: it is opaque provider data that a client may have mangled, and
// without it the request is still valid (older Gemini models do not need
// signatures; newer ones answer with their own clear 400).
func parseExtraContent(raw json.RawMessage) googleExtra {
	var v struct {
		Google struct {
			ThoughtSignature any `json:"thought_signature"`
			FunctionCallID   any `json:"function_call_id"`
		} `json:"google"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil {
		return googleExtra{}
	}
	sig, _ := v.Google.ThoughtSignature.(string)
	id, _ := v.Google.FunctionCallID.(string)
	return googleExtra{ThoughtSignature: sig, FunctionCallID: id}
}
