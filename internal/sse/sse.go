// Package sse reads and writes Server-Sent Events (text/event-stream) streams as the gateway
// relays them. Parsing follows the framing rules of PROTOCOLS.md section 7:
//
//   - a leading UTF-8 BOM is stripped;
//   - lines end with "\n", "\r\n" or a lone "\r" (a "\r\n" split across two reads is one line end);
//   - a blank line ends an event, and an event without data lines is dropped;
//   - lines starting with ":" are comments;
//   - the field name is what precedes the first ":", one leading space is removed from the value,
//     and a line without ":" is a field name with an empty value;
//   - "data" values are joined with "\n", "event" names the current event only, and all other
//     fields ("id", "retry", unknown ones) are ignored;
//   - a last event that is not followed by a blank line before EOF is still returned.
//
// Comments are dropped unless ReturnComments was called: a relay then gets each comment line
// between events (": keep-alive", ": OPENROUTER PROCESSING") as an Event of its own, so that it
// can pass the upstream's signs of life on. Data events are the same either way.
//
// Reader is allocation free per event in steady state: events with one data line alias its
// buffer, and only events with several data lines are joined into a reusable scratch buffer.
package sse

import (
	"bytes"
	"errors"
	"io"
	"math"
)

// DefaultMaxEventSize is the event size limit used when NewReader is given 0: 32 MiB, the cap
// openai-go gives its scanner.
const DefaultMaxEventSize = 32 << 20

// initialBufSize is the size of the Reader's first buffer. It grows (doubling) only when an event
// does not fit.
const initialBufSize = 4096

// maxEmptyReads is how many (0, nil) results of Read in a row make the Reader give up with
// io.ErrNoProgress, as bufio does.
const maxEmptyReads = 100

// ErrEventTooLarge is returned by Reader.Next when an event is larger than the Reader's limit.
// It is sticky: every later call returns it too.
var ErrEventTooLarge = errors.New("sse: event too large")

var errInvalidRead = errors.New("sse: reader returned invalid count from Read")

// Event is one dispatched event. Name and Data alias the Reader's buffer (or a scratch buffer)
// and are valid only until the next call to Next. Buffered does not invalidate them.
type Event struct {
	Name []byte // value of the event: field; nil when none (or when its value is empty)
	Data []byte // data lines joined by "\n"; for a comment, its text
	// Comment marks a comment line (only with ReturnComments). Data is then the text after the
	// ":", without one leading space, and Name is nil.
	Comment bool
}

// Reader reads events from an SSE byte stream. It is not safe for concurrent use.
//
// The buffer holds buf[r:w] unconsumed. Lines are parsed incrementally from pos; all positions
// are indices into buf and are shifted when the unread part is slid to the front.
type Reader struct {
	src io.Reader
	max int // event size limit in bytes
	buf []byte

	r   int // start of the current event; everything before it is consumed
	w   int // end of buffered data
	pos int // start of the next line to parse

	// Scan progress within the line starting at pos, so that a long line that arrives in many
	// reads is scanned once: buf[pos:scanned] holds no '\r', and buf[pos:nl] holds no '\n'
	// where either nl == w or buf[nl] == '\n'. Both are stale (ignored) when below pos.
	scanned int
	nl      int

	skipLF  bool // the last line ended with a '\r' that was the last buffered byte
	bomDone bool // the leading BOM (if any) has been stripped

	// The event being parsed, from r.
	nameStart, nameEnd int // value of the last event: field
	dataStart, dataEnd int // value of the first data: field
	ndata              int // number of data: fields
	ready              bool
	end                int  // when ready: end of the event's lines (blank line or EOF)
	comment            bool // when ready: the "event" is the comment line buf[dataStart:dataEnd]

	comments bool // return comment lines (ReturnComments)

	err   error // error returned by src (io.EOF included); src is not read again once set
	fatal error // returned by every later call to Next

	scratch []byte // data of events with several data lines
}

// NewReader returns a Reader reading from r. maxEventSize limits the raw size of one event: the
// bytes of its lines, line endings included, up to its terminating blank line (or EOF). An event
// larger than that makes Next return ErrEventTooLarge. Zero or a negative value means
// DefaultMaxEventSize.
func NewReader(r io.Reader, maxEventSize int) *Reader {
	if maxEventSize <= 0 {
		maxEventSize = DefaultMaxEventSize
	}
	return &Reader{src: r, max: maxEventSize}
}

// ReturnComments makes Next return each comment line that comes between two events (where no
// field of the next event has been read yet) as an Event with Comment set. A comment inside an
// event, after one of its fields, is still dropped: the event it belongs to is on its way.
// Call it before the first Next.
func (r *Reader) ReturnComments() { r.comments = true }

// Next returns the next event. It returns io.EOF at a clean end of input (after the last event
// was returned). A read error from the underlying reader is returned as is, after the complete
// events that were already buffered have been returned; an unterminated event is then
// discarded. Errors are sticky.
func (r *Reader) Next() (Event, error) {
	for {
		if r.ready || (r.fatal == nil && r.scan()) {
			return r.take(), nil
		}
		switch {
		case r.fatal != nil:
			return Event{}, r.fatal
		case r.err == io.EOF:
			r.finish() // sets ready or fatal
		case r.err != nil:
			r.fatal = r.err
		case r.w-r.r > r.max:
			r.fatal = ErrEventTooLarge
		default:
			r.fill()
		}
	}
}

// Buffered reports whether a complete event is already buffered, so that Next would return it
// without reading from the underlying reader. It never reads, and it does not change what Next
// returns nor invalidate the last Event. After the underlying reader reached EOF, an event that
// ends at EOF counts as complete.
func (r *Reader) Buffered() bool {
	if r.ready {
		return true
	}
	if r.fatal != nil {
		return false
	}
	if r.scan() {
		return true
	}
	if r.err == io.EOF {
		return r.finish()
	}
	return false
}

// scan parses the complete lines buffered from pos and reports whether an event is ready. It
// stops at the first blank line that ends an event with data. It never reads.
func (r *Reader) scan() bool {
	if !r.bomDone && !r.stripBOM() {
		return false
	}
	buf, w := r.buf, r.w
	for {
		pos := r.pos
		if r.skipLF {
			// The previous line ended with a '\r' at the end of the data then buffered: a '\n'
			// now following it belongs to that line ending.
			if pos == w {
				return false
			}
			r.skipLF = false
			if buf[pos] == '\n' {
				if r.r == pos {
					r.r++
				}
				pos++
				r.pos = pos
			}
		}

		nl := r.nl
		if nl < pos {
			nl = pos
		}
		if nl < w && buf[nl] != '\n' {
			if i := bytes.IndexByte(buf[nl:w], '\n'); i >= 0 {
				nl += i
			} else {
				nl = w
			}
		}
		r.nl = nl

		from := max(r.scanned, pos)
		var end, next int
		if i := bytes.IndexByte(buf[from:nl], '\r'); i >= 0 {
			end = from + i
			next = end + 1
			if next == w {
				r.skipLF = true
			} else if buf[next] == '\n' {
				next++
			}
		} else if nl < w {
			end, next = nl, nl+1
		} else {
			r.scanned = w // incomplete line
			return false
		}
		r.pos, r.scanned = next, next

		if end == pos { // blank line
			if r.ndata > 0 {
				r.end = pos
				r.ready = true
				return true
			}
			r.r = next // drop an event without data
			r.nameStart, r.nameEnd = 0, 0
			continue
		}
		if r.field(pos, end) {
			return true
		}
	}
}

// field parses the non-empty line buf[start:end]. It reports whether the line is a comment to
// return, which is then ready.
func (r *Reader) field(start, end int) bool {
	line := r.buf[start:end]
	if line[0] == ':' {
		// A comment before any field of an event is returned on its own when asked for. It
		// must start the unconsumed part of the buffer (start == r.r): consuming it then
		// leaves no field of a pending event behind.
		if !r.comments || start != r.r {
			return false
		}
		vs := start + 1
		if vs < end && r.buf[vs] == ' ' {
			vs++
		}
		r.dataStart, r.dataEnd, r.end = vs, end, end
		r.comment, r.ready = true, true
		return true
	}
	name, vs := line, end
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		name = line[:i]
		vs = start + i + 1
		if vs < end && r.buf[vs] == ' ' {
			vs++
		}
	}
	switch string(name) {
	case "data":
		if r.ndata == 0 {
			r.dataStart, r.dataEnd = vs, end
		}
		r.ndata++
	case "event":
		r.nameStart, r.nameEnd = vs, end
	}
	return false
}

// stripBOM strips a leading BOM. It reports false when too few bytes are buffered to decide.
func (r *Reader) stripBOM() bool {
	const bom = "\xEF\xBB\xBF"
	b := r.buf[r.r:r.w]
	if len(b) < len(bom) && r.err == nil && string(b) == bom[:len(b)] {
		return false
	}
	if len(b) >= len(bom) && string(b[:len(bom)]) == bom {
		r.r += len(bom)
		r.pos, r.scanned, r.nl = r.r, r.r, r.r
	}
	r.bomDone = true
	return true
}

// finish ends the input after src returned io.EOF and scan found no complete event: the
// unterminated last line and event are complete. It reports whether an event is ready, and
// sets fatal to what Next returns after it.
func (r *Reader) finish() bool {
	r.fatal = io.EOF
	if r.w-r.r > r.max {
		r.fatal = ErrEventTooLarge
		return false
	}
	if r.pos < r.w {
		comment := r.field(r.pos, r.w)
		r.pos, r.scanned = r.w, r.w
		if comment {
			return true
		}
	}
	if r.ndata == 0 {
		return false
	}
	r.end = r.w
	r.ready = true
	return true
}

// take returns the ready event and consumes it.
func (r *Reader) take() Event {
	var ev Event
	if r.comment {
		ev = Event{Data: r.buf[r.dataStart:r.dataEnd:r.dataEnd], Comment: true}
		r.r = r.pos
		r.comment, r.ready = false, false
		return ev
	}
	if r.nameEnd > r.nameStart {
		ev.Name = r.buf[r.nameStart:r.nameEnd:r.nameEnd]
	}
	if r.ndata == 1 {
		ev.Data = r.buf[r.dataStart:r.dataEnd:r.dataEnd]
	} else {
		ev.Data = r.join(r.buf[r.r:r.end])
	}
	r.r = r.pos
	r.nameStart, r.nameEnd, r.ndata, r.ready = 0, 0, 0, false
	return ev
}

// join returns the data fields of the event whose lines are b, joined with "\n", in the scratch
// buffer. It is only used for events with several data lines, so it re-parses their lines rather
// than keeping a list of them while scanning.
func (r *Reader) join(b []byte) []byte {
	s := r.scratch[:0]
	first := true
	for len(b) > 0 {
		line := b
		b = nil
		if i := bytes.IndexAny(line, "\r\n"); i >= 0 {
			b = line[i+1:]
			if line[i] == '\r' && len(b) > 0 && b[0] == '\n' {
				b = b[1:]
			}
			line = line[:i]
		}
		if len(line) < 4 || string(line[:4]) != "data" || (len(line) > 4 && line[4] != ':') {
			continue
		}
		v := line[4:]
		if len(v) > 0 {
			v = v[1:] // the ':'
			if len(v) > 0 && v[0] == ' ' {
				v = v[1:]
			}
		}
		if !first {
			s = append(s, '\n')
		}
		first = false
		s = append(s, v...)
	}
	r.scratch = s
	return s[:len(s):len(s)]
}

// fill slides the unconsumed data to the front of the buffer, grows the buffer if it is full, and
// reads once from src (retrying reads that return nothing).
func (r *Reader) fill() {
	if d := r.r; d > 0 {
		r.w = copy(r.buf, r.buf[d:r.w])
		r.r = 0
		r.pos -= d
		r.scanned -= d
		r.nl -= d
		r.nameStart -= d
		r.nameEnd -= d
		r.dataStart -= d
		r.dataEnd -= d
	}
	if r.w == len(r.buf) {
		// Next checked w-r <= max, so a buffer of max+1 bytes always has room here.
		limit := r.max
		if limit < math.MaxInt {
			limit++
		}
		n := min(max(2*len(r.buf), initialBufSize), limit)
		nb := make([]byte, n)
		copy(nb, r.buf[:r.w])
		r.buf = nb
	}
	for range maxEmptyReads {
		n, err := r.src.Read(r.buf[r.w:])
		if n < 0 || n > len(r.buf)-r.w {
			panic(errInvalidRead)
		}
		r.w += n
		if err != nil {
			r.err = err
			return
		}
		if n > 0 {
			return
		}
	}
	r.err = io.ErrNoProgress
}
