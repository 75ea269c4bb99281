package responses

import "unicode/utf8"

// inputScanner decodes, as the fragments of a tool call's JSON arguments
// arrive, the value of their top-level "input" string: what a custom tool
// call streams as response.custom_tool_call_input.delta. Codex applies
// those deltas as the tool's raw input, so they must be the decoded text,
// never JSON (INBOUND-PITFALLS 19). Other keys and values are skipped.
type inputScanner struct {
	state  scanState
	depth  int    // nesting inside a skipped object or array
	key    []byte // the key being read (raw, escapes kept)
	keyEsc bool
	target bool // the string being read is the "input" value
	esc    int  // 0: none; 1: after a backslash; 2..5: reading \u hex digits
	hex    rune
	high   rune // a high surrogate waiting for its low half
	inStr  bool // inside a string within a skipped value
	strEsc bool
}

type scanState uint8

const (
	scanObject     scanState = iota // before the opening brace
	scanKeyOrEnd                    // expecting a key or '}'
	scanKey                         // inside a key
	scanColon                       // after a key
	scanValue                       // expecting a value
	scanString                      // inside a string value
	scanSkip                        // inside a value that is not a string
	scanAfterValue                  // expecting ',' or '}'
	scanDone
)

// write scans frag and appends the decoded input text it completes to dst.
func (s *inputScanner) write(dst, frag []byte) []byte {
	for _, c := range frag {
		switch s.state {
		case scanObject:
			if c == '{' {
				s.state = scanKeyOrEnd
			}
		case scanKeyOrEnd:
			switch c {
			case '"':
				s.state, s.key, s.keyEsc = scanKey, s.key[:0], false
			case '}':
				s.state = scanDone
			}
		case scanKey:
			switch {
			case s.keyEsc:
				s.keyEsc = false
			case c == '\\':
				s.keyEsc = true
			case c == '"':
				s.state = scanColon
				continue
			}
			s.key = append(s.key, c)
		case scanColon:
			if c == ':' {
				s.state = scanValue
			}
		case scanValue:
			switch c {
			case ' ', '\t', '\n', '\r':
			case '"':
				s.state, s.target, s.esc, s.high = scanString, string(s.key) == "input", 0, 0
			case '{', '[':
				s.state, s.depth, s.inStr, s.strEsc = scanSkip, 1, false, false
			default:
				s.state, s.depth = scanSkip, 0
			}
		case scanString:
			dst = s.stringByte(dst, c)
		case scanSkip:
			s.skipByte(c)
		case scanAfterValue:
			switch c {
			case ',':
				s.state = scanKeyOrEnd
			case '}':
				s.state = scanDone
			}
		}
	}
	return dst
}

// stringByte takes one byte of a string value, decoding it when it is the
// input.
func (s *inputScanner) stringByte(dst []byte, c byte) []byte {
	switch {
	case s.esc == 1:
		s.esc = 0
		var r byte
		switch c {
		case 'n':
			r = '\n'
		case 't':
			r = '\t'
		case 'r':
			r = '\r'
		case 'b':
			r = '\b'
		case 'f':
			r = '\f'
		case 'u':
			s.esc, s.hex = 2, 0
			return dst
		default: // '"', '\\', '/'
			r = c
		}
		if s.target {
			dst = s.flushHigh(dst)
			dst = append(dst, r)
		}
	case s.esc >= 2:
		s.hex = s.hex<<4 | hexValue(c)
		if s.esc++; s.esc < 6 {
			return dst
		}
		s.esc = 0
		if s.target {
			dst = s.rune(dst, s.hex)
		}
	case c == '\\':
		s.esc = 1
	case c == '"':
		if s.target {
			dst = s.flushHigh(dst)
		}
		s.state = scanAfterValue
	default:
		if s.target {
			dst = s.flushHigh(dst)
			dst = append(dst, c)
		}
	}
	return dst
}

// rune appends a \u escape's code point, pairing surrogates.
func (s *inputScanner) rune(dst []byte, r rune) []byte {
	switch {
	case s.high != 0 && r >= 0xDC00 && r <= 0xDFFF:
		r = 0x10000 + (s.high-0xD800)<<10 + (r - 0xDC00)
		s.high = 0
	case r >= 0xD800 && r <= 0xDBFF:
		dst = s.flushHigh(dst)
		s.high = r
		return dst
	default:
		dst = s.flushHigh(dst)
	}
	return utf8.AppendRune(dst, r) // a lone low surrogate becomes U+FFFD
}

// flushHigh replaces a high surrogate that got no low half.
func (s *inputScanner) flushHigh(dst []byte) []byte {
	if s.high == 0 {
		return dst
	}
	s.high = 0
	return utf8.AppendRune(dst, utf8.RuneError)
}

func (s *inputScanner) skipByte(c byte) {
	if s.depth == 0 { // a number, true, false or null
		switch c {
		case ',':
			s.state = scanKeyOrEnd
		case '}':
			s.state = scanDone
		}
		return
	}
	switch {
	case s.inStr && s.strEsc:
		s.strEsc = false
	case s.inStr && c == '\\':
		s.strEsc = true
	case c == '"':
		s.inStr = !s.inStr
	case s.inStr:
	case c == '{' || c == '[':
		s.depth++
	case c == '}' || c == ']':
		if s.depth--; s.depth == 0 {
			s.state = scanAfterValue
		}
	}
}

func hexValue(c byte) rune {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0')
	case 'a' <= c && c <= 'f':
		return rune(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return rune(c-'A') + 10
	}
	return 0
}

// completeUTF8 returns the length of the longest prefix of b that does not
// end inside a UTF-8 sequence: a delta must not split a character.
func completeUTF8(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if utf8.FullRune(b[i:]) {
				return len(b)
			}
			return i
		}
	}
	return len(b)
}
