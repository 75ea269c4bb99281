package redact

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"

	"aigateway/internal/openai"
)

// redactJSON redacts a valid JSON document value by value, so that the
// result stays valid JSON: a string that holds a secret in any form, its
// escapes undone, is re-encoded with the secret replaced; a number or
// literal that holds one becomes the string "[redacted]". Values without a
// secret are copied byte for byte. A secret that spans values (it would
// have to contain JSON syntax) replaces the whole document.
func (r *Redactor) redactJSON(b []byte, depth int) ([]byte, bool) {
	var out []byte
	last := 0
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '"':
			end := stringEnd(b, i)
			if text, ok := r.redactString(b[i+1:end-1], depth); ok {
				out = append(out, b[last:i]...)
				out = openai.AppendString(out, string(text))
				last = end
			}
			i = end
		case isSyntax(c):
			i++
		default: // a number, true, false or null
			j := i + 1
			for j < len(b) && !isSyntax(b[j]) && b[j] != '"' {
				j++
			}
			if r.found(b[i:j]) {
				out = append(out, b[last:i]...)
				out = append(out, quotedReplacement...)
				last = j
			}
			i = j
		}
	}
	changed := out != nil
	if changed {
		b = append(out, b[last:]...)
	}
	if r.found(b) {
		return []byte(quotedReplacement), true
	}
	return b, changed
}

// redactString redacts the contents of a JSON string (between its quotes)
// and returns the new text, unescaped, when it held a secret.
func (r *Redactor) redactString(lit []byte, depth int) ([]byte, bool) {
	text, escaped := unescape(lit)
	if !escaped && !r.found(lit) {
		return nil, false
	}
	return r.redact(text, depth+1)
}

// stringEnd returns the index just past the JSON string that starts at
// b[start] (a quote). b is valid JSON, so the string is closed.
func stringEnd(b []byte, start int) int {
	for i := start + 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// isSyntax reports whether c is JSON punctuation or white space.
func isSyntax(c byte) bool {
	switch c {
	case '{', '}', '[', ']', ',', ':', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

// unescape undoes the JSON escapes in b: \" \\ \/ \b \f \n \r \t and
// \uXXXX (any hex case; a surrogate pair is one character, a lone
// surrogate becomes U+FFFD, as encoding/json decodes them). Anything else,
// an unknown escape included, is kept as it is, so that it also reads text
// that is not JSON. ok reports whether any escape was undone; when not, b
// is returned as it is.
func unescape(b []byte) (out []byte, ok bool) {
	i := bytes.IndexByte(b, '\\')
	if i < 0 {
		return b, false
	}
	out = append(make([]byte, 0, len(b)), b[:i]...)
	undone := false
	for i < len(b) {
		c := b[i]
		if c != '\\' || i+1 == len(b) {
			out = append(out, c)
			i++
			continue
		}
		if e, ok := simpleEscape(b[i+1]); ok {
			out = append(out, e)
			i += 2
			undone = true
			continue
		}
		r1, ok := hex4(b, i)
		if !ok {
			out = append(out, c, b[i+1]) // not a JSON escape; leave it
			i += 2
			continue
		}
		i += 6
		undone = true
		if utf16.IsSurrogate(r1) {
			r2, ok := hex4(b, i)
			if pair := utf16.DecodeRune(r1, r2); ok && pair != utf8.RuneError {
				r1 = pair
				i += 6
			} else {
				r1 = utf8.RuneError
			}
		}
		out = utf8.AppendRune(out, r1)
	}
	if !undone {
		return b, false
	}
	return out, true
}

// simpleEscape returns the character a one-letter JSON escape stands for.
func simpleEscape(c byte) (byte, bool) {
	switch c {
	case '"', '\\', '/':
		return c, true
	case 'b':
		return '\b', true
	case 'f':
		return '\f', true
	case 'n':
		return '\n', true
	case 'r':
		return '\r', true
	case 't':
		return '\t', true
	}
	return 0, false
}

// hex4 reads the \uXXXX escape at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
		return 0, false
	}
	var r rune
	for _, c := range b[i+2 : i+6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
