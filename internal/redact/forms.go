package redact

import (
	"encoding/base64"
	"net/url"
)

// urlForms returns s as url.QueryEscape and url.PathEscape write it, each
// with upper- and lower-case hex. Most keys need no escaping, and then all
// four are s itself (New keeps each text once).
func urlForms(s string) []string {
	q, p := url.QueryEscape(s), url.PathEscape(s)
	return []string{q, lowerHex(q), p, lowerHex(p)}
}

// lowerHex lowers the hex digits of the %XX escapes in s.
func lowerHex(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = lower(b[i+1]), lower(b[i+2])
			i += 2
		}
	}
	return string(b)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// base64Forms returns the characters that encode s in the standard and the
// URL alphabet, at each of the three byte alignments s can have inside a
// longer encoded blob. At alignment o the blob holds o bytes before s
// (modulo 3); only the characters whose six bits all come from s are kept,
// so the form is the same whatever surrounds s, and whether or not the
// blob is padded.
func base64Forms(s string) []string {
	var forms []string
	for _, enc := range [...]*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		for o := range 3 {
			buf := make([]byte, o+len(s))
			copy(buf[o:], s)
			e := enc.EncodeToString(buf)
			// Character j holds bits [6j, 6j+6); s holds bits [8o, 8(o+len(s))).
			start, end := (8*o+5)/6, 8*(o+len(s))/6
			forms = append(forms, e[start:end])
		}
	}
	return forms
}

// isBase64 reports whether c belongs to either base64 alphabet.
func isBase64(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '+' || c == '/' || c == '-' || c == '_'
}
