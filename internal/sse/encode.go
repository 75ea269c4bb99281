package sse

import (
	"bytes"
	"slices"
)

// Done is the data of the event that terminates an OpenAI stream ("data: [DONE]").
var Done = []byte("[DONE]")

// IsDone reports whether data is exactly OpenAI's stream terminator, [DONE].
func IsDone(data []byte) bool {
	return string(data) == "[DONE]"
}

// AppendEvent appends one encoded event to dst and returns the extended buffer: an
// "event: <name>\n" line when name is not empty, then one "data: <line>\n" line per line of data,
// then a blank line, so the event ends with "\n\n".
//
// data is split on "\n"; "\r\n" and a lone "\r" also split it, because SSE cannot carry a raw CR
// (a reader would end the line there anyway), so such data reads back with "\n" in their place.
// name cannot carry line breaks either: its CR and LF bytes are dropped. Empty data still gives
// one (empty) data line, so the event is not dropped by readers.
func AppendEvent(dst, name, data []byte) []byte {
	dst = slices.Grow(dst, len(name)+len(data)+16)
	if len(name) > 0 {
		dst = append(dst, "event: "...)
		for _, c := range name {
			if c != '\r' && c != '\n' {
				dst = append(dst, c)
			}
		}
		dst = append(dst, '\n')
	}
	for {
		i := indexLineBreak(data)
		if i < 0 {
			break
		}
		dst = append(dst, "data: "...)
		dst = append(dst, data[:i]...)
		dst = append(dst, '\n')
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	dst = append(dst, "data: "...)
	dst = append(dst, data...)
	return append(dst, '\n', '\n')
}

// AppendComment appends one comment line to dst, followed by a blank line: ": <text>\n\n", or
// ":\n\n" for an empty text. A comment is one line: CR and LF bytes in text are dropped, so that
// no text can end the comment and start an event.
func AppendComment(dst, text []byte) []byte {
	dst = slices.Grow(dst, len(text)+4)
	dst = append(dst, ':')
	if len(text) > 0 {
		dst = append(dst, ' ')
		for len(text) > 0 {
			i := indexLineBreak(text)
			if i < 0 {
				dst = append(dst, text...)
				break
			}
			dst = append(dst, text[:i]...)
			text = text[i+1:]
		}
	}
	return append(dst, '\n', '\n')
}

// indexLineBreak returns the index of the first '\n' or '\r' in b, or -1.
func indexLineBreak(b []byte) int {
	i := bytes.IndexByte(b, '\n')
	head := b
	if i >= 0 {
		head = b[:i]
	}
	if j := bytes.IndexByte(head, '\r'); j >= 0 {
		return j
	}
	return i
}
