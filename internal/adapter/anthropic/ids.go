package anthropic

import (
	"fmt"
	"hash/fnv"
	"strings"

	"aigateway/internal/toolcallid"
)

// sanitizeID makes a tool call id acceptable to the Messages API, which takes
// only ^[a-zA-Z0-9_-]+$ (PROTOCOLS.md 4.2). Ids from other providers, such as
// "functions.Read:1", would be rejected. A valid id is kept as is, so that
// Anthropic's own toolu_ ids survive the round trip unchanged. Otherwise each
// bad byte becomes "_" and a hash of the original id is appended, so that two
// ids differing only in bad characters ("a.b", "a:b") stay distinct.
//
// The thought signature a Gemini model's id may carry (package toolcallid)
// is removed first: it means nothing to Anthropic, and a conversation
// reaches Claude with such ids when it moves here from Gemini, by the
// client's choice or by a fallback.
//
// The same function is used for tool_use.id and tool_result.tool_use_id, so
// the pair still matches after rewriting.
func sanitizeID(id string) string {
	id = toolcallid.Base(id)
	valid := true
	for i := 0; i < len(id); i++ {
		if !idByte(id[i]) {
			valid = false
			break
		}
	}
	if valid {
		return id
	}
	var b strings.Builder
	b.Grow(len(id) + 9)
	for i := 0; i < len(id); i++ {
		if c := id[i]; idByte(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('_')
		}
	}
	h := fnv.New32a()
	h.Write([]byte(id)) //nolint:errcheck // hash writes never fail
	fmt.Fprintf(&b, "_%08x", h.Sum32())
	return b.String()
}

func idByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}
