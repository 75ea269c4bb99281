package process

import (
	"errors"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"aigateway/internal/redact"
)

// readSize is the most one read of standard output takes; each read is
// one stream chunk.
const readSize = 16 << 10

// output reads the program's standard output on the request's goroutine,
// as text that never ends inside a UTF-8 character.
type output struct {
	r     io.Reader
	limit int // MaxOutputBytes
	onCut func()
	n     int    // bytes read so far
	buf   []byte // read buffer
	held  []byte // an incomplete character at the end of the last read
	cut   bool   // the output went beyond limit and was cut
	done  bool
	err   error // how reading ended: io.EOF, or the error of a closed pipe
	// expired reports that the last read ended at a read deadline the
	// caller set: no text yet, but the output goes on.
	expired bool
}

func newOutput(r io.Reader, limit int, onCut func()) *output {
	return &output{r: r, limit: limit, onCut: onCut, buf: make([]byte, readSize)}
}

// read reads once and returns the text that is complete, possibly "". end
// reports that the output is over: the program closed it, the limit was
// reached (cut is set and onCut was called), or reading failed (err).
func (o *output) read() (text string, end bool) {
	if o.done {
		return "", true
	}
	// One byte more than the limit allows tells that the program had more.
	b := o.buf[:min(len(o.buf), o.limit-o.n+1)]
	n, err := o.r.Read(b)
	if o.expired = errors.Is(err, os.ErrDeadlineExceeded); o.expired {
		err = nil
	}
	if o.n+n > o.limit {
		n, o.cut = o.limit-o.n, true
		o.onCut()
	}
	o.n += n
	data := append(o.held, b[:n]...)
	o.held = nil
	switch {
	case o.cut:
		// The limit split a character; it is not invalid, just incomplete.
		data = data[:len(data)-incompleteTail(data)]
		o.done = true
	case err != nil:
		o.done, o.err = true, err // an incomplete character at the end is invalid
	default:
		if k := incompleteTail(data); k > 0 {
			o.held = append([]byte(nil), data[len(data)-k:]...)
			data = data[:len(data)-k]
		}
	}
	return validText(data), o.done
}

// incompleteTail returns the length of an incomplete but so far valid
// UTF-8 sequence at the end of p: the start of a character whose other
// bytes a later read will bring.
func incompleteTail(p []byte) int {
	for i := 1; i < utf8.UTFMax && i <= len(p); i++ {
		if utf8.RuneStart(p[len(p)-i]) {
			if utf8.FullRune(p[len(p)-i:]) {
				return 0
			}
			return i
		}
	}
	return 0
}

// validText returns p as a string with each invalid byte replaced by
// U+FFFD, as a JSON encoder would do anyway, but visibly and consistently.
func validText(p []byte) string {
	if utf8.Valid(p) {
		return string(p)
	}
	var b strings.Builder
	b.Grow(len(p) + 8)
	for len(p) > 0 {
		r, size := utf8.DecodeRune(p)
		if r == utf8.RuneError && size == 1 {
			b.WriteString("\uFFFD")
		} else {
			b.Write(p[:size])
		}
		p = p[size:]
	}
	return b.String()
}

// stderrKeep is how much of the end of standard error is kept for messages.
const stderrKeep = 16 << 10

// stderrLines is how many of its last lines an error message shows.
const stderrLines = 5

// ring keeps the last max bytes written to it.
type ring struct {
	max       int
	buf       []byte
	truncated bool // bytes before buf were dropped
}

func (r *ring) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) > r.max {
		p, r.truncated = p[len(p)-r.max:], true
	}
	if len(r.buf)+len(p) > 2*r.max { // amortize the copy
		keep := r.max - len(p)
		r.buf = append(r.buf[:0], r.buf[len(r.buf)-keep:]...)
		r.truncated = true
	}
	r.buf = append(r.buf, p...)
	return n, nil
}

// tail returns the last lines of what was written, non-empty ones, with
// secrets replaced by "[redacted]" in every form (before lines are cut
// short, so that no part of a key is left), as valid UTF-8, each line at
// most maxLine bytes.
func (r *ring) tail(lines int, redactor *redact.Redactor) string {
	data := r.buf
	if len(data) > r.max {
		data, r.truncated = data[len(data)-r.max:], true
	}
	text := string(data)
	if r.truncated { // the first line is partial; a secret in it could be too
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			text = text[i+1:]
		} else {
			text = ""
		}
	}
	text = redactor.String(text)
	var out []string
	all := strings.Split(text, "\n")
	for i := len(all) - 1; i >= 0 && len(out) < lines; i-- {
		// A carriage return redraws a progress line; keep what was last drawn.
		line := all[i]
		if j := strings.LastIndexByte(strings.TrimRight(line, "\r"), '\r'); j >= 0 {
			line = line[j+1:]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		out = append(out, shorten(validText([]byte(line)), maxLine))
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return strings.Join(out, "\n")
}

// maxLine bounds one line of standard error in a message.
const maxLine = 400

// shorten cuts s to at most n bytes at a character boundary.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "..."
}
