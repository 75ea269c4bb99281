package openaicompat

import (
	"bytes"
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
	return rewriteToolCallIDs(body)
}

// idEdit replaces the JSON string body[start:end] with base.
type idEdit struct {
	start, end int
	base       string
}

// rewriteToolCallIDs does stripSignatures' work on a body that contains the
// separator. Peek has already validated the body (bounded depth, one
// "messages"), so gjson may walk it.
func rewriteToolCallIDs(body []byte) []byte {
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
					edits = addIDEdit(edits, v)
				case "tool_calls":
					v.ForEach(func(_, call gjson.Result) bool {
						call.ForEach(func(key, v gjson.Result) bool {
							if key.Str == "id" {
								edits = addIDEdit(edits, v)
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
// signature part.
func addIDEdit(edits []idEdit, v gjson.Result) []idEdit {
	if v.Type != gjson.String {
		return edits
	}
	base := toolcallid.Base(v.Str)
	if len(base) == len(v.Str) {
		return edits
	}
	return append(edits, idEdit{start: v.Index, end: v.Index + len(v.Raw), base: base})
}
