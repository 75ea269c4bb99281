// Package toolcallid reads and writes tool call ids that carry a Gemini
// thought signature: "<id>__thought__<signature>", the signature in
// URL-safe base64 without padding.
//
// Gemini 3 rejects a tool turn whose function call comes back without the
// signature it was made with (400 "Function call is missing a
// thought_signature"). The gateway also returns the signature in the tool
// call's extra_content, but most clients rebuild the assistant message from
// their own types and drop that field (the openai-go SDK's
// ChatCompletionMessage.ToParam, the Vercel AI SDK, LangChain). Every client
// returns the tool call id unchanged, in the assistant message and in the
// tool message that answers it, so the signature rides in the id.
//
// A cache keyed by id would keep ids short, but it is lost on restart and
// not shared between replicas; the id needs no state.
//
// The signature part means nothing to any upstream, and OpenAI rejects tool
// call ids longer than 40 characters, so every adapter removes it (Base)
// before an id leaves the gateway, whatever the provider.
package toolcallid

import (
	"encoding/base64"
	"strings"
)

// Separator ends the id proper and starts the signature. It is the
// separator LiteLLM uses for the same purpose (BerriAI/litellm pull 18374),
// so an id signed by either gateway reads the same in both. Its bytes are
// all in [A-Za-z_], and the signature is written in URL-safe base64, so a
// signed id of a valid Anthropic tool_use id stays valid for Anthropic
// (^[a-zA-Z0-9_-]+$). Provider ids do not contain it: OpenAI's are
// "call_" and 24 letters and digits, Anthropic's "toolu_" and base62,
// others short tokens or UUIDs, none with a double underscore.
const Separator = "__thought__"

// MaxSignature is the longest signature, in base64 characters, that Sign
// puts into an id. Gemini's signatures are opaque encrypted bytes (several
// hundred to a few thousand characters), so compressing them gains nothing;
// Sign avoids a second base64 layer instead, and the id grows by the
// signature's own length plus 11. Each id is sent twice per later request
// (the call and its result) and the conversation keeps every one, so a
// longer signature stays out of the id: the client then still gets it in
// extra_content, and a client that drops that field gets the documented
// "skip the validator" value on the next turn (the reasoning of that one
// step is lost, the request does not fail). A signature is never cut:
// Gemini answers a truncated one with 400.
const MaxSignature = 16 << 10

// Sign returns id with signature appended. It returns id unchanged when
// the signature cannot ride in it: id is empty or already signed, or the
// signature is empty, longer than MaxSignature, or not canonical standard
// base64 (Gemini's JSON always is, being the proto3 mapping of bytes; any
// other value is left to extra_content rather than altered).
func Sign(id, signature string) string {
	if id == "" || signature == "" || len(signature) > MaxSignature || strings.Contains(id, Separator) {
		return id
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(signature)
	if err != nil || base64.StdEncoding.EncodeToString(raw) != signature {
		return id // newlines, which the decoder skips, or any other variant
	}
	b := make([]byte, 0, len(id)+len(Separator)+base64.RawURLEncoding.EncodedLen(len(raw)))
	b = append(b, id...)
	b = append(b, Separator...)
	b = base64.RawURLEncoding.AppendEncode(b, raw)
	signed := string(b)
	if strings.Index(signed, Separator) != len(id) {
		return id // id ends in "__thought_" or the like: Split would cut it short
	}
	return signed
}

// Base returns id without its signature part, or id itself when it has
// none. It does not allocate.
func Base(id string) string {
	if i := strings.Index(id, Separator); i > 0 {
		return id[:i]
	}
	return id
}

// Split returns id without its signature part, and the signature in
// standard base64 (as Gemini takes it). The signature is "" when id has
// none or its part does not decode: a garbled signature would only earn a
// 400 "Corrupted thought signature". The part may also be standard base64,
// as LiteLLM writes it.
func Split(id string) (base, signature string) {
	i := strings.Index(id, Separator)
	if i <= 0 {
		return id, ""
	}
	base, part := id[:i], id[i+len(Separator):]
	if part == "" || strings.ContainsAny(part, "\r\n") {
		return base, ""
	}
	enc := base64.RawURLEncoding
	if strings.ContainsAny(part, "+/=") {
		enc = base64.StdEncoding
		if !strings.HasSuffix(part, "=") && len(part)%4 != 0 {
			enc = base64.RawStdEncoding
		}
	}
	raw, err := enc.Strict().DecodeString(part)
	if err != nil || len(raw) == 0 {
		return base, ""
	}
	return base, base64.StdEncoding.EncodeToString(raw)
}
