package anthropic

import (
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"aigateway/internal/jsonlimit"
)

// fastEvent reads the events that make up nearly all of a stream
// (content_block_delta, content_block_stop, message_delta, message_stop,
// ping) in one gjson pass instead of encoding/json, which costs several
// times as much. It yields exactly what the full decode would, or ok false
// for anything where the two could differ: other event types, keys that
// encoding/json would match in another case or that repeat, values of a
// type the full decode rejects or reads differently (an index that is not
// a plain integer, a count that is not a non-negative integer). The full
// decode then judges the event.
func fastEvent(data []byte) (e streamEvent, ok bool) {
	if jsonlimit.Validate(data) != nil {
		return e, false
	}
	r := gjson.ParseBytes(data)
	if !r.IsObject() {
		return e, false
	}
	ok = true
	var seen uint8
	r.ForEach(func(k, v gjson.Result) bool {
		f := fieldOf(k, topFields[:])
		switch {
		case f < 0:
			return true // a key the struct does not have
		case f >= len(topFields) || seen&(1<<f) != 0:
			ok = false // another case, or a repeat
			return false
		}
		seen |= 1 << f
		switch topFields[f] {
		case "type":
			e.Type, ok = stringValue(v)
		case "index":
			ok = v.Type == gjson.Number && plainInt(v.Raw)
			e.Index = int(v.Int())
		case "delta":
			e.Delta, ok = fastDeltaObject(v)
		case "usage":
			e.Usage, ok = fastUsage(v)
		default: // message, content_block, error: for the full decode
			ok = false
		}
		return ok
	})
	if !ok {
		return e, false
	}
	switch e.Type {
	case "content_block_delta", "content_block_stop", "message_delta", "message_stop", "ping":
		return e, true
	}
	return e, false
}

var (
	topFields   = [...]string{"type", "message", "index", "content_block", "delta", "usage", "error"}
	deltaFields = [...]string{"type", "text", "partial_json", "thinking", "signature", "stop_reason"}
	usageFields = [...]string{"input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"}
)

// fieldOf returns the position of key k in fields, -1 when encoding/json
// would not match it to any of them, or len(fields) when it would match one
// in another case (or might: a key that is not ASCII, which encoding/json
// folds by Unicode rules).
func fieldOf(k gjson.Result, fields []string) int {
	name := k.Str
	for i := 0; i < len(name); i++ {
		if name[i] >= 0x80 {
			return len(fields)
		}
	}
	for i, f := range fields {
		if name == f {
			return i
		}
	}
	for _, f := range fields {
		if strings.EqualFold(name, f) {
			return len(fields)
		}
	}
	return -1
}

// stringValue reads a string field: null leaves it empty, as in
// encoding/json; any other type fails the full decode. Invalid UTF-8,
// which encoding/json replaces and gjson keeps, is left to the full decode.
func stringValue(v gjson.Result) (string, bool) {
	switch v.Type {
	case gjson.String:
		return v.Str, utf8.ValidString(v.Str)
	case gjson.Null:
		return "", true
	}
	return "", false
}

// fastDeltaObject reads the delta of a content_block_delta or
// message_delta; null is no delta.
func fastDeltaObject(v gjson.Result) (*streamDelta, bool) {
	if v.Type == gjson.Null {
		return nil, true
	}
	if !v.IsObject() {
		return nil, false
	}
	d, ok := &streamDelta{}, true
	var seen uint8
	v.ForEach(func(k, v gjson.Result) bool {
		f := fieldOf(k, deltaFields[:])
		switch {
		case f < 0:
			return true
		case f >= len(deltaFields) || seen&(1<<f) != 0:
			ok = false
			return false
		}
		seen |= 1 << f
		switch deltaFields[f] {
		case "type":
			d.Type, ok = stringValue(v)
		case "text":
			d.Text, ok = stringValue(v)
		case "partial_json":
			d.PartialJSON, ok = stringValue(v)
		case "thinking":
			d.Thinking, ok = stringValue(v)
		case "signature":
			d.Signature, ok = stringValue(v)
		case "stop_reason":
			switch v.Type {
			case gjson.String:
				s := v.Str
				d.StopReason, ok = &s, utf8.ValidString(s)
			case gjson.Null:
			default:
				ok = false
			}
		}
		return ok
	})
	return d, ok
}

// fastUsage reads a usage object; null is none.
func fastUsage(v gjson.Result) (*usage, bool) {
	if v.Type == gjson.Null {
		return nil, true
	}
	if !v.IsObject() {
		return nil, false
	}
	u, ok := &usage{}, true
	var seen uint8
	v.ForEach(func(k, v gjson.Result) bool {
		f := fieldOf(k, usageFields[:])
		switch {
		case f < 0:
			return true
		case f >= len(usageFields) || seen&(1<<f) != 0:
			ok = false
			return false
		}
		seen |= 1 << f
		var n *int64
		switch v.Type {
		case gjson.Null:
		case gjson.Number:
			if !plainInt(v.Raw) {
				ok = false
				return false
			}
			x := v.Int()
			n = &x
		default:
			ok = false
			return false
		}
		switch usageFields[f] {
		case "input_tokens":
			u.InputTokens = n
		case "output_tokens":
			u.OutputTokens = n
		case "cache_creation_input_tokens":
			u.CacheCreationInputTokens = n
		case "cache_read_input_tokens":
			u.CacheReadInputTokens = n
		}
		return true
	})
	return u, ok
}
