package openaicompat

import (
	"bytes"
	"crypto/sha256"
	"unsafe"

	"github.com/tidwall/gjson"

	"aigateway/internal/openai"
	"aigateway/internal/toolcallid"
)

// stripSignatures returns body with the Gemini thought signature part
// (package toolcallid) removed from every tool call id of the conversation:
// messages[].tool_calls[].id and messages[].tool_call_id. A conversation
// carries such ids when it moves here from a Gemini model (a fallback, or
// the client's choice); the part means nothing to this upstream, and OpenAI
// rejects tool call ids longer than 40 characters.
//
// A body without the separator, which is nearly every body, is returned as
// it is after one scan, without allocating. Otherwise only those ids are
// replaced in a copy; text that merely mentions the separator is kept. body
// is never modified: it is replayed on retries. An id whose separator is
// written with \u escapes is not seen by the scan and goes as it is.
func stripSignatures(body []byte) []byte {
	if !bytes.Contains(body, []byte(toolcallid.Separator)) {
		return body
	}
	return rewriteToolCallIDs(body, false)
}

// shortenToolCallIDs is stripSignatures for an upstream that takes only
// Mistral's tool call ids, exactly 9 letters and digits: every other id of
// the conversation (Anthropic's toolu_..., OpenAI's call_..., the
// gateway's own) is replaced by 9 characters of its SHA-256, the same for
// the call and its result. Ids the upstream made itself already fit and
// stay, so its calls come back to it as it named them.
func shortenToolCallIDs(body []byte) []byte {
	if !bytes.Contains(body, []byte(`"tool_call`)) {
		return body
	}
	return rewriteToolCallIDs(body, true)
}

// alnum9 reports whether id is 9 ASCII letters and digits.
func alnum9(id string) bool {
	if len(id) != 9 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// shortID derives a 9-character id from id.
func shortID(id string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	sum := sha256.Sum256([]byte(id))
	var b [9]byte
	for i := range b {
		b[i] = alphabet[int(sum[i])%len(alphabet)]
	}
	return string(b[:])
}

// idEdit replaces the JSON string body[start:end] with base.
type idEdit struct {
	start, end int
	base       string
}

// rewriteToolCallIDs does the work of stripSignatures (short false) and
// shortenToolCallIDs (short true). Peek has already validated the body
// (bounded depth, one "messages"), so gjson may walk it.
func rewriteToolCallIDs(body []byte, short bool) []byte {
	start := bytes.IndexByte(body, '{')
	if start < 0 {
		return body
	}
	// Aliasing the body avoids copying it; it is not modified meanwhile.
	doc := gjson.Result{Type: gjson.JSON, Raw: unsafe.String(&body[start], len(body)-start), Index: start}
	var edits []idEdit
	doc.ForEach(func(key, msgs gjson.Result) bool {
		if key.Str != "messages" {
			return true
		}
		if !msgs.IsArray() {
			return false
		}
		msgs.ForEach(func(_, m gjson.Result) bool {
			m.ForEach(func(key, v gjson.Result) bool {
				switch key.Str {
				case "tool_call_id":
					edits = addIDEdit(edits, v, short)
				case "tool_calls":
					v.ForEach(func(_, call gjson.Result) bool {
						call.ForEach(func(key, v gjson.Result) bool {
							if key.Str == "id" {
								edits = addIDEdit(edits, v, short)
							}
							return true
						})
						return true
					})
				}
				return true
			})
			return true
		})
		return false
	})
	if len(edits) == 0 {
		return body
	}
	out := make([]byte, 0, len(body))
	prev := 0
	for _, e := range edits { // in body order: ForEach walks forward
		out = append(out, body[prev:e.start]...)
		out = openai.AppendString(out, e.base)
		prev = e.end
	}
	return append(out, body[prev:]...)
}

// addIDEdit records the replacement of v, a tool call id, when it carries a
// signature part or, with short, when it is not 9 letters and digits.
func addIDEdit(edits []idEdit, v gjson.Result, short bool) []idEdit {
	if v.Type != gjson.String {
		return edits
	}
	base := toolcallid.Base(v.Str)
	if short && !alnum9(base) {
		base = shortID(base)
	} else if len(base) == len(v.Str) {
		return edits
	}
	return append(edits, idEdit{start: v.Index, end: v.Index + len(v.Raw), base: base})
}
