package messages

import (
	"encoding/base64"
	"strings"
)

// Tool call ids cross two rule sets. Anthropic clients send and expect
// tool_use ids that match ^[a-zA-Z0-9_-]+$ and, by convention, start with
// "toolu_" (a gateway leaking "call_..." ids broke Anthropic SDK clients,
// PROTOCOLS.md 6.7). Upstreams mint their own ids ("call_...", Gemini's
// "<id>__thought__<signature>" of package toolcallid, "functions.Read:1")
// and must get them back unchanged on the next turn.
//
// clientID maps an upstream id to a client id, and upstreamID inverts it,
// without state, so that any replica continues any conversation:
//   - an id that already starts with "toolu_" and uses only valid bytes,
//     and does not start with one of the two prefixes below, is kept (an
//     Anthropic id that a compatible upstream echoes, or one that reaches
//     an OpenAI upstream after a fallback and comes back);
//   - any other id of valid bytes becomes "toolu_gw_" + id: a Gemini
//     signed id stays readable and keeps its signature;
//   - an id with other bytes becomes "toolu_gw64_" + its URL-safe base64.
//
// Both maps are injective: the prefixes differ at their eighth byte, and
// an upstream id that itself starts with one of them takes the "toolu_gw_"
// branch, which the inverse strips exactly once.
const (
	plainPrefix  = "toolu_gw_"
	base64Prefix = "toolu_gw64_"
)

// clientID returns the Anthropic tool_use id for an upstream tool call id.
func clientID(id string) string {
	if !validID(id) {
		return base64Prefix + base64.RawURLEncoding.EncodeToString([]byte(id))
	}
	if strings.HasPrefix(id, "toolu_") && !strings.HasPrefix(id, plainPrefix) && !strings.HasPrefix(id, base64Prefix) {
		return id
	}
	return plainPrefix + id
}

// upstreamID returns the upstream's id for a tool_use id a client sends
// back. Ids the gateway did not mint are passed on as they are: both the
// tool_use and its tool_result go through this function, so they still
// match.
func upstreamID(id string) string {
	if rest, ok := strings.CutPrefix(id, base64Prefix); ok {
		if raw, err := base64.RawURLEncoding.DecodeString(rest); err == nil && len(raw) > 0 {
			return string(raw)
		}
		return id
	}
	if rest, ok := strings.CutPrefix(id, plainPrefix); ok && rest != "" {
		return rest
	}
	return id
}

// validID reports whether id is a valid Anthropic tool_use id.
func validID(id string) bool {
	if id == "" {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
