package template

import (
	"strconv"
	"unicode/utf8"
)

// values are what the placeholders of one request stand for. A nil pointer,
// an empty stop list or an empty user means the value is absent.
type values struct {
	model       string
	prompt      string
	messages    []byte // a JSON array
	maxTokens   *int64
	temperature *float64
	stop        []string
	user        string
}

// present reports whether ph has a value in this request.
func (v *values) present(ph placeholder) bool {
	switch ph {
	case phMaxTokens:
		return v.maxTokens != nil
	case phTemperature:
		return v.temperature != nil
	case phStop:
		return len(v.stop) > 0
	case phUser:
		return v.user != ""
	}
	return true
}

// appendJSON appends ph's value as a JSON value. The caller checked present.
func (v *values) appendJSON(dst []byte, ph placeholder) []byte {
	switch ph {
	case phModel:
		return appendString(dst, v.model)
	case phPrompt:
		return appendString(dst, v.prompt)
	case phMessages:
		return append(dst, v.messages...)
	case phMaxTokens:
		return strconv.AppendInt(dst, *v.maxTokens, 10)
	case phTemperature:
		return strconv.AppendFloat(dst, *v.temperature, 'g', -1, 64)
	case phStop:
		dst = append(dst, '[')
		for i, s := range v.stop {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, s)
		}
		return append(dst, ']')
	case phUser:
		return appendString(dst, v.user)
	}
	return append(dst, "null"...)
}

// text returns ph's value as text to interpolate into a longer string:
// strings as they are, numbers as written in JSON, arrays as JSON, and an
// absent value as "".
func (v *values) text(ph placeholder) string {
	if !v.present(ph) {
		return ""
	}
	switch ph {
	case phModel:
		return v.model
	case phPrompt:
		return v.prompt
	case phUser:
		return v.user
	}
	return string(v.appendJSON(nil, ph))
}

// render appends n rendered with v. A string that is exactly one absent
// placeholder is left out together with its key or array slot.
func render(dst []byte, n *node, v *values) []byte {
	switch n.kind {
	case kindLiteral:
		return append(dst, n.raw...)
	case kindValue:
		return v.appendJSON(dst, n.ph)
	case kindText:
		dst = append(dst, '"')
		for _, seg := range n.text {
			if seg.ph == phNone {
				dst = appendEscaped(dst, seg.lit)
			} else {
				dst = appendEscaped(dst, v.text(seg.ph))
			}
		}
		return append(dst, '"')
	case kindObject:
		dst = append(dst, '{')
		first := true
		for i, kid := range n.kids {
			if kid.kind == kindValue && !v.present(kid.ph) {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(dst, n.ekey[i]...)
			dst = render(dst, kid, v)
		}
		return append(dst, '}')
	}
	dst = append(dst, '[')
	first := true
	for _, kid := range n.kids {
		if kid.kind == kindValue && !v.present(kid.ph) {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = render(dst, kid, v)
	}
	return append(dst, ']')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Unlike encoding/json it leaves
// <, > and & alone (the body is not HTML); invalid UTF-8 becomes U+FFFD so
// the output is always valid JSON.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendEscaped(dst, s)
	return append(dst, '"')
}

// appendEscaped appends s escaped for the inside of a JSON string.
func appendEscaped(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but end lines in JavaScript.
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}
