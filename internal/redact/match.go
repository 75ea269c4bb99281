package redact

import (
	"bytes"
	"slices"
)

// found reports whether b holds a form of a secret.
func (r *Redactor) found(b []byte) bool {
	for _, p := range r.patterns {
		if bytes.Contains(b, p.bytes) {
			return true
		}
	}
	return false
}

// span is a part of the text to replace: [start, end).
type span struct{ start, end int }

// replaceForms replaces every form of every secret in b. All matches are
// found in the original text first and merged, so that two secrets that
// overlap are both removed whole. A replacement that forms a secret anew
// with its neighbours (only possible for a secret that looks like part of
// "[redacted]") is replaced again; if that does not settle, the whole text
// goes.
func (r *Redactor) replaceForms(b []byte) ([]byte, bool) {
	changed := false
	for range 3 {
		spans := r.matches(b)
		if len(spans) == 0 {
			return b, changed
		}
		b, changed = replace(b, spans), true
	}
	if r.found(b) {
		return []byte(Replacement), true
	}
	return b, changed
}

// matches returns where the forms occur in b, sorted and merged.
func (r *Redactor) matches(b []byte) []span {
	var spans []span
	for _, p := range r.patterns {
		text := p.bytes
		first := len(spans)
		for off := 0; off < len(b); {
			i := bytes.Index(b[off:], text)
			if i < 0 {
				break
			}
			s := span{off + i, off + i + len(text)}
			next := s.start + 1 // overlapping occurrences: "aaaa" in "aaaaa"
			if p.base64 {
				s = widen(b, s)
				next = s.end // the rest of the word is replaced already
			}
			if n := len(spans); n > first && s.start <= spans[n-1].end {
				spans[n-1].end = max(spans[n-1].end, s.end)
			} else {
				spans = append(spans, s)
			}
			off = next
		}
	}
	if len(spans) == 0 {
		return nil
	}
	slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
	merged := spans[:1]
	for _, s := range spans[1:] {
		if last := &merged[len(merged)-1]; s.start <= last.end {
			last.end = max(last.end, s.end)
		} else {
			merged = append(merged, s)
		}
	}
	return merged
}

// widen extends a base64 match over the word it is part of, and its
// padding: the characters at its edges hold bits of the secret too.
func widen(b []byte, s span) span {
	for s.start > 0 && isBase64(b[s.start-1]) {
		s.start--
	}
	for s.end < len(b) && isBase64(b[s.end]) {
		s.end++
	}
	for s.end < len(b) && b[s.end] == '=' {
		s.end++
	}
	return s
}

// replace returns b with each span replaced by Replacement.
func replace(b []byte, spans []span) []byte {
	out := make([]byte, 0, len(b)+len(spans)*len(Replacement))
	last := 0
	for _, s := range spans {
		out = append(out, b[last:s.start]...)
		out = append(out, Replacement...)
		last = s.end
	}
	return append(out, b[last:]...)
}
