// Package jsonlimit validates JSON in one iterative pass with a bound on
// nesting depth.
//
// It exists because recursive validators fail on hostile input: a 6 MB body
// of "[" made gjson.ValidBytes recurse until Go's stack limit ("fatal error:
// stack overflow", which no recover catches), and 5 MB took the process to
// 1 GB. Validate keeps one bit per open container, so its memory does not
// grow with the input and no input can make it recurse. Once a document has
// passed Validate, the recursive readers that the gateway uses on it (gjson's
// Get and ForEach, encoding/json) are bounded by MaxDepth too.
package jsonlimit

import "fmt"

// MaxDepth is the deepest nesting of objects and arrays that Validate
// accepts; the outermost container is level 1. serde_json uses the same
// default. Real chat bodies stay far below it: an agent's tool schema nests
// 20 to 40 levels and sits about 5 levels into the request, and provider
// answers nest less. encoding/json's own limit (10000) bounds only its
// recursion, not what a gateway should pass on.
const MaxDepth = 128

// Error is why Validate rejected its input.
type Error struct {
	// Offset is the byte offset where the input went wrong: the container
	// that opens one level too many, the unexpected byte, or the length of
	// the input when it ended early.
	Offset int
	// TooDeep reports that the input nests deeper than MaxDepth. The input
	// before Offset was valid; what follows was not looked at.
	TooDeep bool
	// EOF reports that the input ended inside a value.
	EOF bool
	// Char is the unexpected byte (unset when TooDeep or EOF).
	Char byte
	// Context says what was expected, as encoding/json words it: "looking
	// for beginning of value", "in string literal", ...
	Context string
}

func (e *Error) Error() string {
	switch {
	case e.TooDeep:
		return fmt.Sprintf("JSON nested deeper than %d levels at byte %d", MaxDepth, e.Offset)
	case e.EOF:
		return fmt.Sprintf("unexpected end of JSON input at byte %d", e.Offset)
	}
	return fmt.Sprintf("invalid character %s %s at byte %d", quoteChar(e.Char), e.Context, e.Offset)
}

// Validate reports whether data is one JSON value, with optional whitespace
// around it, nested at most MaxDepth levels. It is exactly as strict as
// encoding/json.Valid: control characters in strings and malformed escapes
// and numbers are errors; invalid UTF-8 in strings is accepted (a decoder
// replaces it with U+FFFD). The error is a *Error.
func Validate(data []byte) error {
	// open has one bit per open container: set for an array, clear for an
	// object.
	var open [MaxDepth / 64]uint64
	depth := 0
	i := skipSpace(data, 0)
	for {
		// A value starts at i.
		if i >= len(data) {
			return eof(data)
		}
		switch c := data[i]; c {
		case '{', '[':
			if depth == MaxDepth {
				return &Error{Offset: i, TooDeep: true}
			}
			bit := uint64(1) << (depth & 63)
			if c == '[' {
				open[depth>>6] |= bit
			} else {
				open[depth>>6] &^= bit
			}
			depth++
			i = skipSpace(data, i+1)
			if i < len(data) && data[i] == c+2 { // ']' is '['+2, '}' is '{'+2
				i++
				depth--
				break // an empty container is a complete value
			}
			if c == '{' {
				var err error
				if i, err = key(data, i); err != nil {
					return err
				}
			}
			continue // the first element or member value
		case '"':
			var err error
			if i, err = scanString(data, i+1); err != nil {
				return err
			}
		case 't':
			if err := literal(data, i, "true"); err != nil {
				return err
			}
			i += 4
		case 'f':
			if err := literal(data, i, "false"); err != nil {
				return err
			}
			i += 5
		case 'n':
			if err := literal(data, i, "null"); err != nil {
				return err
			}
			i += 4
		default:
			if c != '-' && (c < '0' || c > '9') {
				return syntax(i, c, "looking for beginning of value")
			}
			var err error
			if i, err = scanNumber(data, i); err != nil {
				return err
			}
		}
		// A value ended at i: close containers until one has a next element.
		for {
			i = skipSpace(data, i)
			if depth == 0 {
				if i < len(data) {
					return syntax(i, data[i], "after top-level value")
				}
				return nil
			}
			if i >= len(data) {
				return eof(data)
			}
			inArray := open[(depth-1)>>6]&(1<<((depth-1)&63)) != 0
			c := data[i]
			if c == ',' {
				i = skipSpace(data, i+1)
				if !inArray {
					var err error
					if i, err = key(data, i); err != nil {
						return err
					}
				}
				break
			}
			if inArray && c == ']' || !inArray && c == '}' {
				i++
				depth--
				continue
			}
			if inArray {
				return syntax(i, c, "after array element")
			}
			return syntax(i, c, "after object key:value pair")
		}
	}
}

// key reads an object key and its colon at i, and returns the offset of the
// member's value.
func key(data []byte, i int) (int, error) {
	if i >= len(data) {
		return 0, eof(data)
	}
	if data[i] != '"' {
		return 0, syntax(i, data[i], "looking for beginning of object key string")
	}
	i, err := scanString(data, i+1)
	if err != nil {
		return 0, err
	}
	i = skipSpace(data, i)
	if i >= len(data) {
		return 0, eof(data)
	}
	if data[i] != ':' {
		return 0, syntax(i, data[i], "after object key")
	}
	return skipSpace(data, i+1), nil
}

// scanString reads the rest of a string whose opening quote is before i and
// returns the offset after its closing quote.
func scanString(data []byte, i int) (int, error) {
	for {
		for i < len(data) && stopsString[data[i]] == 0 {
			i++
		}
		if i >= len(data) {
			return 0, eof(data)
		}
		switch c := data[i]; {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			n, err := escape(data, i+1)
			if err != nil {
				return 0, err
			}
			i = n
		case c < 0x20:
			return 0, syntax(i, c, "in string literal")
		default:
			i++
		}
	}
}

// escape checks the escape sequence after a backslash at i-1 and returns
// the offset after it.
func escape(data []byte, i int) (int, error) {
	if i >= len(data) {
		return 0, eof(data)
	}
	switch c := data[i]; c {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return i + 1, nil
	case 'u':
		for j := i + 1; j < i+5; j++ {
			if j >= len(data) {
				return 0, eof(data)
			}
			if !isHex(data[j]) {
				return 0, syntax(j, data[j], "in \\u hexadecimal character escape")
			}
		}
		return i + 5, nil
	default:
		return 0, syntax(i, c, "in string escape code")
	}
}

// scanNumber checks the number at i (which starts with '-' or a digit) and
// returns the offset after it. What follows is the caller's business, so
// "01" fails there, as in encoding/json.
func scanNumber(data []byte, i int) (int, error) {
	if data[i] == '-' {
		i++
	}
	if i >= len(data) {
		return 0, eof(data)
	}
	switch c := data[i]; {
	case c == '0':
		i++
	case '1' <= c && c <= '9':
		i = digits(data, i+1)
	default:
		return 0, syntax(i, c, "in numeric literal")
	}
	if i < len(data) && data[i] == '.' {
		var err error
		if i, err = someDigits(data, i+1, "after decimal point in numeric literal"); err != nil {
			return 0, err
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		var err error
		if i, err = someDigits(data, i, "in exponent of numeric literal"); err != nil {
			return 0, err
		}
	}
	return i, nil
}

// someDigits requires at least one digit at i.
func someDigits(data []byte, i int, context string) (int, error) {
	if i >= len(data) {
		return 0, eof(data)
	}
	if c := data[i]; c < '0' || c > '9' {
		return 0, syntax(i, c, context)
	}
	return digits(data, i+1), nil
}

func digits(data []byte, i int) int {
	for i < len(data) && '0' <= data[i] && data[i] <= '9' {
		i++
	}
	return i
}

// literal checks that word (true, false or null) is at i.
func literal(data []byte, i int, word string) error {
	for j := 1; j < len(word); j++ {
		if i+j >= len(data) {
			return eof(data)
		}
		if data[i+j] != word[j] {
			return syntax(i+j, data[i+j], "in literal "+word+" (expecting "+quoteChar(word[j])+")")
		}
	}
	return nil
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// eof and syntax build the errors. They are not inlined so that the error
// paths do not bloat the loops that never take them.
//
//go:noinline
func eof(data []byte) error { return &Error{Offset: len(data), EOF: true} }

//go:noinline
func syntax(i int, c byte, context string) error {
	return &Error{Offset: i, Char: c, Context: context}
}

// quoteChar formats c as encoding/json does in its messages.
func quoteChar(c byte) string {
	switch c {
	case '\'':
		return `'\''`
	case '"':
		return `'"'`
	}
	s := fmt.Sprintf("%q", string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}

// stopsString[c] is 1 for the bytes that end a run of plain string bytes:
// control characters (00-1f), '"' (22) and '\\' (5c). A lookup beats three
// comparisons on the hot path; a constant string cannot be modified.
const stopsString = "" +
	"\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01" + // 00-0f
	"\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01" + // 10-1f
	"\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" + // 20-2f
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" + // 30-3f
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" + // 40-4f
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00" + // 50-5f
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" + // 60-6f
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" + // 70-7f
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" + // 80-8f
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" + // 90-9f
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" + // a0-af
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" + // b0-bf
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" + // c0-cf
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" + // d0-df
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" + // e0-ef
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" // f0-ff
