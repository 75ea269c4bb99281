package sse

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// ev is an Event copied out of the Reader's buffers.
type ev struct{ Name, Data string }

type readerCase struct {
	name string
	in   string
	max  int // maxEventSize; 0 for the default
	want []ev
	err  error // error that ends the stream; nil means io.EOF
}

var (
	long100K = strings.Repeat("x", 100_000)
	long70K  = strings.Repeat("y", 70_000)
	ten      = "0123456789"
)

var readerCases = []readerCase{
	{name: "single", in: "data: hello\n\n", want: []ev{{"", "hello"}}},
	{name: "multiple", in: "data: a\n\ndata: b\n\nevent: x\ndata: c\n\n", want: []ev{{"", "a"}, {"", "b"}, {"x", "c"}}},
	{name: "multi-line data", in: "data: a\ndata: b\ndata: c\n\n", want: []ev{{"", "a\nb\nc"}}},
	{name: "multi-line empty lines", in: "data:\ndata\ndata: \n\n", want: []ev{{"", "\n\n"}}},
	{name: "multi-line interleaved", in: "data: a\nevent: e\n: c\nid: 1\ndata:b\n\n", want: []ev{{"e", "a\nb"}}},
	{name: "event name resets", in: "event: foo\ndata: 1\n\ndata: 2\n\n", want: []ev{{"foo", "1"}, {"", "2"}}},
	{name: "event name last wins", in: "event: a\nevent: b\ndata: 1\n\nevent: a\nevent:\ndata: 2\n\n", want: []ev{{"b", "1"}, {"", "2"}}},
	{name: "event name after data", in: "data: 1\nevent: late\n\n", want: []ev{{"late", "1"}}},
	{name: "event without data dropped", in: "event: foo\n\ndata: 1\n\n", want: []ev{{"", "1"}}},
	{name: "only non-data fields dropped", in: "id: 1\nretry: 100\n\nfoo: bar\n\n", want: nil},
	{name: "comments", in: ": ping\n\n: keep-alive\ndata: x\n: mid\ndata: y\n\n:\n\n", want: []ev{{"", "x\ny"}}},
	{name: "data without colon", in: "data\n\n", want: []ev{{"", ""}}},
	{name: "data without space", in: "data:x\n\n", want: []ev{{"", "x"}}},
	{name: "only one space removed", in: "data:  x\n\nevent:  n\ndata:\tt\n\n", want: []ev{{"", " x"}, {" n", "\tt"}}},
	{name: "colon in value", in: "event: a:b\ndata: {\"k\":\"v\"}\n\n", want: []ev{{"a:b", `{"k":"v"}`}}},
	{name: "field names exact", in: "Data: x\n\ndata : x\n\n data: x\n\ndatas: x\n\nevent\ndata: y\n\n", want: []ev{{"", "y"}}},
	{name: "unknown fields ignored", in: "id: 1\nretry: 100\nfoo: bar\ndata: x\n\n", want: []ev{{"", "x"}}},
	{name: "empty data", in: "data: \n\ndata:\n\n", want: []ev{{"", ""}, {"", ""}}},
	{name: "CRLF", in: "event: e\r\ndata: a\r\ndata: b\r\n\r\ndata: c\r\n\r\n", want: []ev{{"e", "a\nb"}, {"", "c"}}},
	{name: "lone CR", in: "event: e\rdata: a\rdata: b\r\rdata: c\r\r", want: []ev{{"e", "a\nb"}, {"", "c"}}},
	{name: "mixed endings", in: "data: a\r\ndata: b\rdata: c\n\r\ndata: d\n\revent: e\r\ndata: f\r\r\n\n", want: []ev{{"", "a\nb\nc"}, {"", "d"}, {"e", "f"}}},
	{name: "CR CR LF", in: "data: a\r\r\ndata: b\n\n", want: []ev{{"", "a"}, {"", "b"}}},
	{name: "many blank lines", in: "\n\n\r\n\rdata: a\n\n\n\n\r\r\n", want: []ev{{"", "a"}}},
	{name: "BOM", in: "\xEF\xBB\xBFdata: a\n\n", want: []ev{{"", "a"}}},
	{name: "BOM then CRLF", in: "\xEF\xBB\xBF\r\ndata: a\r\n\r\n", want: []ev{{"", "a"}}},
	{name: "BOM only once", in: "\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\ndata: b\n\n", want: []ev{{"", "b"}}},
	{name: "BOM not at start", in: "data: a\n\n\xEF\xBB\xBFdata: b\n\n", want: []ev{{"", "a"}}},
	{name: "BOM alone", in: "\xEF\xBB\xBF", want: nil},
	{name: "partial BOM", in: "\xEF\xBB", want: nil},
	{name: "partial BOM then data", in: "\xEFdata: x\n\ndata: y\n\n", want: []ev{{"", "y"}}},
	{name: "trailing event at EOF", in: "data: a\n\ndata: b", want: []ev{{"", "a"}, {"", "b"}}},
	{name: "trailing event with LF", in: "event: x\ndata: b\n", want: []ev{{"x", "b"}}},
	{name: "trailing event with CR", in: "data: b\r", want: []ev{{"", "b"}}},
	{name: "trailing multi-line", in: "data: a\ndata: b", want: []ev{{"", "a\nb"}}},
	{name: "trailing data without colon", in: "data", want: []ev{{"", ""}}},
	{name: "trailing event name only", in: "data: a\n\nevent: x", want: []ev{{"", "a"}}},
	{name: "trailing comment", in: "data: a\n\n: bye", want: []ev{{"", "a"}}},
	{name: "empty input", in: "", want: nil},
	{name: "blank lines only", in: "\n\n\r\n\r", want: nil},
	{name: "DONE", in: "data: {\"a\":1}\n\ndata: [DONE]\n\n", want: []ev{{"", `{"a":1}`}, {"", "[DONE]"}}},
	{name: "binary and UTF-8", in: "data: h\u00e9llo \x00\xff\n\n", want: []ev{{"", "h\u00e9llo \x00\xff"}}},
	{name: "long event", in: "data: a\n\nevent: big\ndata: " + long100K + "\n\ndata: b\n\n", want: []ev{{"", "a"}, {"big", long100K}, {"", "b"}}},
	{name: "long multi-line event", in: "data: " + long70K + "\r\ndata: " + long70K + "\r\n\r\n", want: []ev{{"", long70K + "\n" + long70K}}},
	{name: "long comment", in: ": " + long100K + "\ndata: a\n\n", want: []ev{{"", "a"}}},
	{
		name: "above max", max: 64,
		in:   "data: short\n\ndata: " + strings.Repeat("x", 100) + "\n\ndata: after\n\n",
		want: []ev{{"", "short"}}, err: ErrEventTooLarge,
	},
	{
		name: "above max multi-line", max: 64,
		in:   strings.Repeat("data: 0123456789\n", 5) + "\ndata: after\n\n",
		want: nil, err: ErrEventTooLarge,
	},
	{
		name: "above max comments count", max: 64,
		in:   ": " + strings.Repeat("c", 70) + "\ndata: x\n\n",
		want: nil, err: ErrEventTooLarge,
	},
	{
		name: "above max without line end", max: 64,
		in:   "data: " + strings.Repeat("x", 1000),
		want: nil, err: ErrEventTooLarge,
	},
	{name: "at max", max: len("data: " + ten + "\n"), in: "data: " + ten + "\n\ndata: " + ten + "\r\r\n", want: []ev{{"", ten}, {"", ten}}},
	{name: "at max plus one", max: len("data: "+ten+"\n") - 1, in: "data: " + ten + "\n\n", err: ErrEventTooLarge},
	{name: "at max after split CRLF", max: len("data: " + ten + "\n"), in: "data: a\r\n\r\ndata: " + ten + "\n\n", want: []ev{{"", "a"}, {"", ten}}},
	{name: "at max at EOF", max: len("data: " + ten), in: "data: " + ten, want: []ev{{"", ten}}},
	{name: "at max plus one at EOF", max: len("data: "+ten) - 1, in: "data: " + ten, err: ErrEventTooLarge},
	{name: "at max with blank lines and comments between", max: 13, in: "data: 123456\n\n: 345678901\n\ndata: 123456\n\n", want: []ev{{"", "123456"}, {"", "123456"}}},
}

// feeds are the ways the tests deliver an input to the Reader. All must give identical results.
var feeds = []struct {
	name string
	new  func([]byte) io.Reader
}{
	{"whole", func(b []byte) io.Reader { return bytes.NewReader(b) }},
	{"onebyte", func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) }},
	{"half", func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) }},
	{"dataerr", func(b []byte) io.Reader { return iotest.DataErrReader(bytes.NewReader(b)) }},
	{"random1", func(b []byte) io.Reader { return newRandReader(b, 1, 7) }},
	{"random2", func(b []byte) io.Reader { return newRandReader(b, 2, 64) }},
	{"random3", func(b []byte) io.Reader { return newRandReader(b, 3, 5000) }},
	{"random4", func(b []byte) io.Reader { return newRandReader(b, 4, 3) }},
}

// randReader returns pieces of random size (1..maxPiece), and sometimes (0, nil).
type randReader struct {
	data     []byte
	rng      *rand.Rand
	maxPiece int
}

func newRandReader(b []byte, seed uint64, maxPiece int) *randReader {
	return &randReader{data: b, rng: rand.New(rand.NewPCG(seed, 42)), maxPiece: maxPiece}
}

func (r *randReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	if r.rng.IntN(10) == 0 {
		return 0, nil
	}
	n := copy(p, r.data[:min(len(r.data), 1+r.rng.IntN(r.maxPiece))])
	r.data = r.data[n:]
	return n, nil
}

// countingReader counts the calls to Read.
type countingReader struct {
	r     io.Reader
	reads int
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.reads++
	return c.r.Read(p)
}

// readAll reads all events from src. When checkBuffered is set it calls Buffered before every
// Next and checks that it is true exactly when Next then returns an event without reading.
func readAll(t testing.TB, src io.Reader, maxSize int, checkBuffered bool) ([]ev, error) {
	t.Helper()
	return readAllMode(t, src, maxSize, checkBuffered, false)
}

// commentName is the Name under which readAllMode and refParseMode list a comment: no event
// name can hold a line break.
const commentName = "\n"

// readAllMode is readAll with ReturnComments when comments is set; comments are listed as
// ev{commentName, text}.
func readAllMode(t testing.TB, src io.Reader, maxSize int, checkBuffered, comments bool) ([]ev, error) {
	t.Helper()
	cr := &countingReader{r: src}
	rd := NewReader(cr, maxSize)
	if comments {
		rd.ReturnComments()
	}
	var got []ev
	for {
		var buffered bool
		if checkBuffered {
			buffered = rd.Buffered()
			if b2 := rd.Buffered(); b2 != buffered {
				t.Fatalf("Buffered() = %v then %v", buffered, b2)
			}
		}
		before := cr.reads
		e, err := rd.Next()
		if checkBuffered {
			read := cr.reads != before
			if buffered && read {
				t.Fatalf("event %d: Buffered() was true but Next read from the source", len(got))
			}
			if !buffered && !read && err == nil {
				t.Fatalf("event %d: Buffered() was false but Next returned an event without reading", len(got))
			}
		}
		if err != nil {
			if e.Name != nil || e.Data != nil {
				t.Errorf("Next returned a non-zero Event with error %v", err)
			}
			if _, err2 := rd.Next(); err2 != err {
				t.Errorf("error not sticky: %v then %v", err, err2)
			}
			if checkBuffered && rd.Buffered() {
				t.Errorf("Buffered() true after error %v", err)
			}
			return got, err
		}
		if e.Name != nil && len(e.Name) == 0 {
			t.Errorf("event %d: empty non-nil Name", len(got))
		}
		if e.Data == nil {
			t.Errorf("event %d: nil Data", len(got))
		}
		if e.Comment {
			if !comments || e.Name != nil {
				t.Fatalf("event %d: unexpected comment %q (name %q)", len(got), e.Data, e.Name)
			}
			got = append(got, ev{commentName, string(e.Data)})
			continue
		}
		got = append(got, ev{string(e.Name), string(e.Data)})
	}
}

func TestReader(t *testing.T) {
	for _, tc := range readerCases {
		t.Run(tc.name, func(t *testing.T) {
			wantErr := tc.err
			if wantErr == nil {
				wantErr = io.EOF
			}
			if tc.max == 0 {
				// The reference parser knows no size limit; check it agrees with the table.
				if diff := cmp.Diff(tc.want, refParse([]byte(tc.in))); diff != "" {
					t.Errorf("refParse mismatch (-want +got):\n%s", short(diff))
				}
			}
			for _, f := range feeds {
				for _, cb := range []bool{false, true} {
					got, err := readAll(t, f.new([]byte(tc.in)), tc.max, cb)
					if !errors.Is(err, wantErr) {
						t.Errorf("%s buffered=%v: error %v, want %v", f.name, cb, err, wantErr)
					}
					if diff := cmp.Diff(tc.want, got); diff != "" {
						t.Errorf("%s buffered=%v: events mismatch (-want +got):\n%s", f.name, cb, short(diff))
					}
					// Returning comments changes nothing about the data events.
					got, err = readAllMode(t, f.new([]byte(tc.in)), tc.max, cb, true)
					if !errors.Is(err, wantErr) {
						t.Errorf("%s buffered=%v comments: error %v, want %v", f.name, cb, err, wantErr)
					}
					if diff := cmp.Diff(tc.want, withoutComments(got)); diff != "" {
						t.Errorf("%s buffered=%v comments: data events mismatch (-want +got):\n%s", f.name, cb, short(diff))
					}
				}
			}
		})
	}
}

// commentCases are read with ReturnComments; comments are listed as ev{commentName, text}.
var commentCases = []readerCase{
	{name: "keep-alive", in: ": keep-alive\n\n", want: []ev{{commentName, "keep-alive"}}},
	{name: "between events", in: "data: a\n\n: OPENROUTER PROCESSING\n\ndata: b\n\n", want: []ev{{"", "a"}, {commentName, "OPENROUTER PROCESSING"}, {"", "b"}}},
	{name: "before the data of an event", in: ": c\ndata: a\n\n", want: []ev{{commentName, "c"}, {"", "a"}}},
	{name: "several in a row", in: ":a\n: b\n:  c\n:\n\n", want: []ev{{commentName, "a"}, {commentName, "b"}, {commentName, " c"}, {commentName, ""}}},
	{name: "inside an event dropped", in: "data: a\n: mid\ndata: b\n\n", want: []ev{{"", "a\nb"}}},
	{name: "after an event name dropped", in: "event: e\n: mid\ndata: b\n\n", want: []ev{{"e", "b"}}},
	{name: "after an id dropped", in: "id: 1\n: mid\ndata: b\n\n", want: []ev{{"", "b"}}},
	{name: "after a dropped event", in: "event: e\n\n: c\n\n", want: []ev{{commentName, "c"}}},
	{name: "CRLF and CR", in: ": a\r\n: b\r: c\r\n\r\ndata: x\r\r", want: []ev{{commentName, "a"}, {commentName, "b"}, {commentName, "c"}, {"", "x"}}},
	{name: "after BOM", in: "\xEF\xBB\xBF: hi\n\n", want: []ev{{commentName, "hi"}}},
	{name: "at EOF", in: "data: a\n\n: bye", want: []ev{{"", "a"}, {commentName, "bye"}}},
	{name: "colon in text", in: ": a: b\n\n", want: []ev{{commentName, "a: b"}}},
	{name: "above max", max: 16, in: ": " + strings.Repeat("c", 20) + "\n\ndata: x\n\n", err: ErrEventTooLarge},
	{name: "comments do not count toward the next event", max: 10, in: ": 12345678\ndata: 12\n\n", want: []ev{{commentName, "12345678"}, {"", "12"}}},
}

func TestReaderComments(t *testing.T) {
	for _, tc := range commentCases {
		t.Run(tc.name, func(t *testing.T) {
			wantErr := tc.err
			if wantErr == nil {
				wantErr = io.EOF
			}
			if tc.max == 0 {
				if diff := cmp.Diff(tc.want, refParseMode([]byte(tc.in), true)); diff != "" {
					t.Errorf("refParseMode mismatch (-want +got):\n%s", short(diff))
				}
			}
			for _, f := range feeds {
				for _, cb := range []bool{false, true} {
					got, err := readAllMode(t, f.new([]byte(tc.in)), tc.max, cb, true)
					if !errors.Is(err, wantErr) {
						t.Errorf("%s buffered=%v: error %v, want %v", f.name, cb, err, wantErr)
					}
					if diff := cmp.Diff(tc.want, got); diff != "" {
						t.Errorf("%s buffered=%v: events mismatch (-want +got):\n%s", f.name, cb, short(diff))
					}
				}
			}
		})
	}
}

func short(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "..."
	}
	return s
}

// withoutComments returns the data events of evs.
func withoutComments(evs []ev) []ev {
	var out []ev
	for _, e := range evs {
		if e.Name != commentName {
			out = append(out, e)
		}
	}
	return out
}

// refParse is a deliberately simple reference parser over the whole input: split into lines,
// then apply the field rules.
func refParse(in []byte) []ev { return refParseMode(in, false) }

// refParseMode is refParse that, with comments set, also lists each comment line that comes
// before any other line of an event, as ev{commentName, text}.
func refParseMode(in []byte, comments bool) []ev {
	s := strings.TrimPrefix(string(in), "\uFEFF")
	var lines []string
	for len(s) > 0 {
		i := strings.IndexAny(s, "\r\n")
		if i < 0 {
			lines = append(lines, s)
			break
		}
		lines = append(lines, s[:i])
		if strings.HasPrefix(s[i:], "\r\n") {
			s = s[i+2:]
		} else {
			s = s[i+1:]
		}
	}
	var (
		evs     []ev
		name    string
		data    []string
		hasData bool
		pending bool // a line of the current event was read
	)
	dispatch := func() {
		if hasData {
			evs = append(evs, ev{name, strings.Join(data, "\n")})
		}
		name, data, hasData, pending = "", nil, false, false
	}
	for _, l := range lines {
		switch {
		case l == "":
			dispatch()
			continue
		case l[0] == ':':
			if comments && !pending {
				evs = append(evs, ev{commentName, strings.TrimPrefix(l[1:], " ")})
			}
			continue
		}
		pending = true
		f, v, found := strings.Cut(l, ":")
		if found {
			v = strings.TrimPrefix(v, " ")
		}
		switch f {
		case "data":
			data = append(data, v)
			hasData = true
		case "event":
			name = v
		}
	}
	dispatch() // an unterminated last event is returned
	return evs
}

var errBoom = errors.New("boom")

func TestReadErrorMidEvent(t *testing.T) {
	for _, tail := range []string{"", "data: c", "data: c\ndata: d\n", "event: x\ndata: c\r", "\xEF"} {
		t.Run(fmt.Sprintf("%q", tail), func(t *testing.T) {
			pr, pw := io.Pipe()
			go func() {
				// Each Write is delivered in one or more reads, so the events are buffered
				// together with the start of the next one when the error comes.
				pw.Write([]byte("data: a\n\nevent: e\ndata: b\n\n" + tail))
				pw.CloseWithError(errBoom)
			}()
			got, err := readAll(t, pr, 0, true)
			if !errors.Is(err, errBoom) {
				t.Errorf("error %v, want %v", err, errBoom)
			}
			if diff := cmp.Diff([]ev{{"", "a"}, {"e", "b"}}, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadErrorWithData(t *testing.T) {
	// The error comes with the last data (TimeoutReader: the second read fails).
	src := iotest.TimeoutReader(bytes.NewReader([]byte("data: a\n\ndata: b\n\ndata: c")))
	got, err := readAll(t, src, 0, false)
	if !errors.Is(err, iotest.ErrTimeout) {
		t.Errorf("error %v, want %v", err, iotest.ErrTimeout)
	}
	if diff := cmp.Diff([]ev{{"", "a"}, {"", "b"}}, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}

	// A read returning data and an error at once.
	got, err = readAll(t, &chunkReader{chunks: []string{"data: a\n\ndata: b\n\ndata: c"}, lastErr: errBoom}, 0, true)
	if !errors.Is(err, errBoom) {
		t.Errorf("error %v, want %v", err, errBoom)
	}
	if diff := cmp.Diff([]ev{{"", "a"}, {"", "b"}}, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestPipeCleanClose(t *testing.T) {
	pr, pw := io.Pipe()
	go func() {
		for _, s := range []string{"data: a\r", "\n\r", "\ndata: b\n", "\ndata: c"} {
			pw.Write([]byte(s))
		}
		pw.Close()
	}()
	got, err := readAll(t, pr, 0, true)
	if err != io.EOF {
		t.Errorf("error %v, want io.EOF", err)
	}
	if diff := cmp.Diff([]ev{{"", "a"}, {"", "b"}, {"", "c"}}, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestNoProgress(t *testing.T) {
	rd := NewReader(&chunkReader{chunks: []string{"data: a\n\ndata: b"}, emptyAfter: true}, 0)
	if e, err := rd.Next(); err != nil || string(e.Data) != "a" {
		t.Fatalf("Next = %q, %v", e.Data, err)
	}
	if _, err := rd.Next(); err != io.ErrNoProgress {
		t.Fatalf("error %v, want io.ErrNoProgress", err)
	}
}

// chunkReader returns its chunks one per Read (a chunk longer than the read is split), then
// io.EOF. With lastErr, the last chunk comes with that error. With emptyAfter, it returns (0,
// nil) forever after the chunks.
type chunkReader struct {
	chunks     []string
	lastErr    error
	emptyAfter bool
	reads      int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	c.reads++
	if len(c.chunks) == 0 {
		if c.emptyAfter {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	c.chunks[0] = c.chunks[0][n:]
	if c.chunks[0] == "" {
		c.chunks = c.chunks[1:]
		if len(c.chunks) == 0 && c.lastErr != nil {
			return n, c.lastErr
		}
	}
	return n, nil
}

func TestBuffered(t *testing.T) {
	type step struct {
		op    string // "buffered", "next"
		want  string // Data for "next" ("EOF" for io.EOF); "true"/"false" for "buffered"
		reads int    // reads done by the source after the step
	}
	tests := []struct {
		name    string
		chunks  []string
		lastErr error
		steps   []step
	}{
		{
			name:   "events in one read",
			chunks: []string{"data: a\n\ndata: b\n\ndata: c", "\n\n"},
			steps: []step{
				{"buffered", "false", 0},
				{"next", "a", 1},
				{"buffered", "true", 1},
				{"buffered", "true", 1},
				{"next", "b", 1},
				{"buffered", "false", 1},
				{"next", "c", 2},
				{"buffered", "false", 2},
				{"next", "EOF", 3},
				{"buffered", "false", 3},
			},
		},
		{
			name:   "CRLF split across reads",
			chunks: []string{"data: x\n\ndata: a\r", "\ndata: b\n\n"},
			steps: []step{
				{"next", "x", 1},
				{"buffered", "false", 1},
				{"next", "a\nb", 2},
			},
		},
		{
			name:   "blank CR at end of read is a complete event",
			chunks: []string{"data: x\n\ndata: a\r\r", "\ndata: b\r\n\r\n"},
			steps: []step{
				{"next", "x", 1},
				{"buffered", "true", 1},
				{"next", "a", 1},
				{"buffered", "false", 1},
				{"next", "b", 2},
			},
		},
		{
			name:   "blank LF at end of read",
			chunks: []string{"data: x\n\ndata: a\n\n"},
			steps: []step{
				{"next", "x", 1},
				{"buffered", "true", 1},
				{"next", "a", 1},
			},
		},
		{
			name:   "incomplete: no blank line yet",
			chunks: []string{"data: x\n\ndata: a\n", "\n"},
			steps: []step{
				{"next", "x", 1},
				{"buffered", "false", 1},
				{"next", "a", 2},
			},
		},
		{
			name:   "comment and empty events are not events",
			chunks: []string{"data: x\n\n: ping\n\nevent: e\n\nid: 3\n\n"},
			steps: []step{
				{"next", "x", 1},
				{"buffered", "false", 1},
				{"next", "EOF", 2},
			},
		},
		{
			name:   "trailing event before EOF is known",
			chunks: []string{"data: x\n\ndata: a"},
			steps: []step{
				{"next", "x", 1},
				{"buffered", "false", 1},
				{"next", "a", 2},
				{"buffered", "false", 2},
				{"next", "EOF", 2},
			},
		},
		{
			name:    "trailing event after EOF is known",
			chunks:  []string{"data: x\n\ndata: a"},
			lastErr: io.EOF,
			steps: []step{
				{"next", "x", 1},
				{"buffered", "true", 1},
				{"next", "a", 1},
				{"buffered", "false", 1},
				{"next", "EOF", 1},
			},
		},
		{
			name:    "complete events before a read error",
			chunks:  []string{"data: x\n\ndata: a\n\ndata: partial"},
			lastErr: errBoom,
			steps: []step{
				{"next", "x", 1},
				{"buffered", "true", 1},
				{"next", "a", 1},
				{"buffered", "false", 1},
				{"next", "boom", 1},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &chunkReader{chunks: append([]string(nil), tt.chunks...), lastErr: tt.lastErr}
			rd := NewReader(src, 0)
			for i, s := range tt.steps {
				var got string
				switch s.op {
				case "buffered":
					got = fmt.Sprint(rd.Buffered())
				case "next":
					e, err := rd.Next()
					switch {
					case err == io.EOF:
						got = "EOF"
					case err != nil:
						got = err.Error()
					default:
						got = string(e.Data)
					}
				}
				if got != s.want || src.reads != s.reads {
					t.Fatalf("step %d %s: got %q after %d reads, want %q after %d reads", i, s.op, got, src.reads, s.want, s.reads)
				}
			}
		})
	}
}

// TestBufferedKeepsEvent checks that Buffered does not clobber the last returned Event, even
// when it parses a following multi-line event.
func TestBufferedKeepsEvent(t *testing.T) {
	rd := NewReader(strings.NewReader("event: one\ndata: a\ndata: b\n\nevent: two\ndata: c\ndata: d\n\n"), 0)
	e, err := rd.Next()
	if err != nil {
		t.Fatal(err)
	}
	if !rd.Buffered() {
		t.Fatal("Buffered() = false, want true")
	}
	if string(e.Name) != "one" || string(e.Data) != "a\nb" {
		t.Fatalf("after Buffered, event = %q %q, want one a\\nb", e.Name, e.Data)
	}
	e, err = rd.Next()
	if err != nil || string(e.Name) != "two" || string(e.Data) != "c\nd" {
		t.Fatalf("second event = %q %q %v", e.Name, e.Data, err)
	}
}

// TestEventCapacity checks that appending to a returned slice cannot overwrite the buffer.
func TestEventCapacity(t *testing.T) {
	rd := NewReader(strings.NewReader("event: e\ndata: a\n\ndata: b\n\n"), 0)
	e, err := rd.Next()
	if err != nil {
		t.Fatal(err)
	}
	if cap(e.Name) != len(e.Name) || cap(e.Data) != len(e.Data) {
		t.Errorf("cap(Name)=%d len=%d, cap(Data)=%d len=%d", cap(e.Name), len(e.Name), cap(e.Data), len(e.Data))
	}
	_ = append(e.Data, "XXXXXXXXXXXX"...)
	if e, err = rd.Next(); err != nil || string(e.Data) != "b" {
		t.Errorf("second event %q %v", e.Data, err)
	}
}

func TestDone(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{{"[DONE]", true}, {"[DONE] ", false}, {" [DONE]", false}, {"[done]", false}, {"", false}, {`"[DONE]"`, false}} {
		if got := IsDone([]byte(tc.in)); got != tc.want {
			t.Errorf("IsDone(%q) = %v", tc.in, got)
		}
	}
	if string(Done) != "[DONE]" {
		t.Errorf("Done = %q", Done)
	}
}

// streamFiles are the example streams copied from the shared reference material (protocols/*.sse and
// clients/stub-replies/*.sse), with their number of events and of [DONE] events.
var streamFiles = map[string]struct{ events, done int }{
	"protocols/anthropic-stream-error.sse":                       {4, 0},
	"protocols/anthropic-stream-tooluse.sse":                     {16, 0},
	"protocols/gemini-stream-toolcalls.sse":                      {4, 0},
	"protocols/openai-chat-stream-toolcalls.sse":                 {11, 1},
	"protocols/openai-responses-stream-functioncalls.sse":        {19, 0},
	"protocols/translated-anthropic-to-openai.sse":               {11, 1},
	"protocols/translated-gemini-to-openai.sse":                  {6, 1},
	"stub-replies/anthropic-messages-text-with-thinking.sse":     {12, 0},
	"stub-replies/anthropic-messages-tool_use-with-thinking.sse": {12, 0},
	"stub-replies/chat-completions-text.sse":                     {6, 1},
	"stub-replies/chat-completions-tool_calls.sse":               {6, 1},
	"stub-replies/gemini-streamGenerateContent-functionCall.sse": {1, 0},
	"stub-replies/gemini-streamGenerateContent-text.sse":         {2, 0},
	"stub-replies/responses-function_call-with-reasoning.sse":    {14, 0},
	"stub-replies/responses-text-with-reasoning.sse":             {16, 0},
}

func TestExampleStreams(t *testing.T) {
	files, err := filepath.Glob("testdata/*/*.sse")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(streamFiles) {
		t.Errorf("found %d files in testdata, want %d", len(files), len(streamFiles))
	}
	for name, want := range streamFiles {
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			ref := refParse(in)
			for _, f := range feeds {
				got, err := readAll(t, f.new(in), 0, f.name == "onebyte")
				if err != io.EOF {
					t.Errorf("%s: error %v", f.name, err)
				}
				if diff := cmp.Diff(ref, got); diff != "" {
					t.Errorf("%s: differs from refParse (-ref +got):\n%s", f.name, short(diff))
				}
			}
			got, _ := readAll(t, bytes.NewReader(in), 0, false)
			if len(got) != want.events {
				t.Errorf("%d events, want %d", len(got), want.events)
			}
			done := 0
			for i, e := range got {
				if IsDone([]byte(e.Data)) {
					done++
					if i != len(got)-1 {
						t.Errorf("event %d: [DONE] is not the last event", i)
					}
					continue
				}
				if !json.Valid([]byte(e.Data)) {
					t.Errorf("event %d: data is not valid JSON: %q", i, e.Data)
				}
				var typ struct{ Type string }
				if e.Name != "" && json.Unmarshal([]byte(e.Data), &typ) == nil && typ.Type != e.Name {
					t.Errorf("event %d: event name %q but data type %q", i, e.Name, typ.Type)
				}
			}
			if done != want.done {
				t.Errorf("%d [DONE] events, want %d", done, want.done)
			}
			// Re-encoding the events gives a stream that reads back the same.
			var enc []byte
			for _, e := range got {
				var name []byte
				if e.Name != "" {
					name = []byte(e.Name)
				}
				enc = AppendEvent(enc, name, []byte(e.Data))
			}
			again, err := readAll(t, iotest.OneByteReader(bytes.NewReader(enc)), 0, true)
			if err != io.EOF {
				t.Errorf("re-encoded: error %v", err)
			}
			if diff := cmp.Diff(got, again); diff != "" {
				t.Errorf("re-encoded stream differs (-orig +again):\n%s", short(diff))
			}
		})
	}
}

func TestAppendEvent(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       string
	}{
		{"", "x", "data: x\n\n"},
		{"", "", "data: \n\n"},
		{"e", "a\nb", "event: e\ndata: a\ndata: b\n\n"},
		{"message_start", `{"type":"message_start"}`, "event: message_start\ndata: {\"type\":\"message_start\"}\n\n"},
		{"", "a\n", "data: a\ndata: \n\n"},
		{"", "a\r\nb\rc", "data: a\ndata: b\ndata: c\n\n"},
		{"e\r\nf", "x", "event: ef\ndata: x\n\n"},
	} {
		var name []byte
		if tc.name != "" {
			name = []byte(tc.name)
		}
		prefix := []byte("prefix:")
		got := AppendEvent(prefix, name, []byte(tc.data))
		if string(got) != "prefix:"+tc.want {
			t.Errorf("AppendEvent(%q, %q) = %q, want %q", tc.name, tc.data, got, "prefix:"+tc.want)
		}
	}
}

func TestAppendComment(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"", ":\n\n"},
		{"keep-alive", ": keep-alive\n\n"},
		{" x", ":  x\n\n"},
		{"a\r\ndata: injected", ": adata: injected\n\n"},
		{"a\rb\nc", ": abc\n\n"},
	} {
		got := AppendComment([]byte("prefix:"), []byte(tc.text))
		if string(got) != "prefix:"+tc.want {
			t.Errorf("AppendComment(%q) = %q, want %q", tc.text, got, "prefix:"+tc.want)
		}
	}
}

func TestAppendEventRoundTrip(t *testing.T) {
	want := []ev{
		{"", ""},
		{"", "x"},
		{"message_start", `{"type":"message_start","message":{"id":"msg_1"}}`},
		{"", "a\nb"},
		{"", "\n"},
		{"", "\n\n"},
		{"", "a\n"},
		{"", "\na"},
		{"e", "  two leading spaces"},
		{" spaced name ", " x "},
		{"", ":starts with colon"},
		{"", "data: looks like a field\n\nand a blank line"},
		{"ping", "{}"},
		{"", "[DONE]"},
		{"big", long100K + "\n" + long70K},
		{"", "h\u00e9llo \x00\xff"},
	}
	var enc []byte
	for _, e := range want {
		var name []byte
		if e.Name != "" {
			name = []byte(e.Name)
		}
		enc = AppendEvent(enc, name, []byte(e.Data))
	}
	for _, f := range feeds {
		got, err := readAll(t, f.new(enc), 0, true)
		if err != io.EOF {
			t.Errorf("%s: error %v", f.name, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: round trip (-want +got):\n%s", f.name, short(diff))
		}
	}
}

// loopReader delivers the events of a stream one per Read, forever.
type loopReader struct {
	chunks [][]byte
	i      int
}

func newLoopReader(stream []byte) *loopReader {
	var chunks [][]byte
	for len(stream) > 0 {
		i := bytes.Index(stream, []byte("\n\n"))
		chunks = append(chunks, stream[:i+2])
		stream = stream[i+2:]
	}
	return &loopReader{chunks: chunks}
}

func (l *loopReader) Read(p []byte) (int, error) {
	c := l.chunks[l.i%len(l.chunks)]
	l.i++
	return copy(p, c), nil
}

// openAIStream is a realistic 20-chunk Chat Completions stream followed by [DONE].
func openAIStream() []byte {
	const head = `{"id":"chatcmpl-AbC123","object":"chat.completion.chunk","created":1755000000,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_abc123","choices":[{"index":0,"delta":`
	var b []byte
	for i := range 20 {
		var chunk string
		switch i {
		case 0:
			chunk = head + `{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}`
		case 19:
			chunk = head + `{},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":25,"completion_tokens":18,"total_tokens":43}}`
		default:
			chunk = head + fmt.Sprintf(`{"content":" word%d"},"logprobs":null,"finish_reason":null}],"usage":null}`, i)
		}
		b = AppendEvent(b, nil, []byte(chunk))
	}
	return AppendEvent(b, nil, Done)
}

func TestNoAllocsSteadyState(t *testing.T) {
	multi := []byte("event: e\ndata: {\"a\":\ndata: 1}\n\n: ping\n\n")
	pings := append([]byte(": keep-alive\n\n"), openAIStream()...)
	for name, stream := range map[string][]byte{"openai": openAIStream(), "multi-line": multi, "comments": pings} {
		rd := NewReader(newLoopReader(stream), 0)
		if name == "comments" {
			rd.ReturnComments()
		}
		for range 100 { // warm up the buffers
			if _, err := rd.Next(); err != nil {
				t.Fatal(err)
			}
		}
		allocs := testing.AllocsPerRun(1000, func() {
			rd.Buffered()
			if _, err := rd.Next(); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocs per event, want 0", name, allocs)
		}
	}
	dst := make([]byte, 0, 1024)
	data := []byte(`{"a":1}`)
	name := []byte("content_block_delta")
	if allocs := testing.AllocsPerRun(1000, func() { dst = AppendEvent(dst[:0], name, data) }); allocs != 0 {
		t.Errorf("AppendEvent: %v allocs, want 0", allocs)
	}
}

func TestBufferGrowth(t *testing.T) {
	// Small events keep the initial buffer; a long event grows it, by doubling, up to the limit.
	rd := NewReader(strings.NewReader(strings.Repeat("data: 0123456789\n\n", 10_000)), 0)
	for {
		if _, err := rd.Next(); err != nil {
			break
		}
	}
	if len(rd.buf) != initialBufSize {
		t.Errorf("buffer grew to %d for small events", len(rd.buf))
	}
	rd = NewReader(strings.NewReader("data: "+long100K+"\n\n"), 150_000)
	if _, err := rd.Next(); err != nil {
		t.Fatal(err)
	}
	if len(rd.buf) != 128<<10 {
		t.Errorf("buffer size %d after a 100 KB event, want %d", len(rd.buf), 128<<10)
	}
	rd = NewReader(strings.NewReader("data: "+long100K+"\n\n"), 0)
	rd.max = 50_000 // smaller than the doubling would give
	if _, err := rd.Next(); err != ErrEventTooLarge {
		t.Fatalf("error %v, want ErrEventTooLarge", err)
	}
	if len(rd.buf) != 50_001 {
		t.Errorf("buffer size %d, want max+1", len(rd.buf))
	}
}

// TestLongLineInSmallReads checks that a long line arriving in many small
// reads comes out whole. BenchmarkLongLine shows that it is scanned once, not
// again from its start after every read.
func TestLongLineInSmallReads(t *testing.T) {
	for _, end := range []string{"\n\n", "\r\r"} {
		line := "data: " + strings.Repeat("x", 256<<10) + end
		rd := NewReader(newRandReader([]byte(line+line), 1, 16), 0)
		for range 2 {
			if e, err := rd.Next(); err != nil || len(e.Data) != 256<<10 {
				t.Fatalf("%q: Next: %d bytes, %v", end, len(e.Data), err)
			}
		}
	}
}

// BenchmarkLongLine reads a 4 MiB event in pieces of 1 to 16 bytes; a
// reader that rescans the line after every read takes minutes here instead
// of milliseconds.
func BenchmarkLongLine(b *testing.B) {
	line := []byte("data: " + strings.Repeat("x", 4<<20) + "\n\n")
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		rd := NewReader(newRandReader(line, 1, 16), 0)
		if e, err := rd.Next(); err != nil || len(e.Data) != 4<<20 {
			b.Fatalf("Next: %d bytes, %v", len(e.Data), err)
		}
	}
}

func FuzzReader(f *testing.F) {
	for _, tc := range slices.Concat(readerCases, commentCases) {
		if tc.max == 0 && len(tc.in) < 1000 {
			f.Add([]byte(tc.in))
		}
	}
	files, _ := filepath.Glob("testdata/*/*.sse")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		want := refParse(in)
		got, err := readAll(t, iotest.OneByteReader(bytes.NewReader(in)), 0, true)
		if err != io.EOF {
			t.Fatalf("onebyte: error %v", err)
		}
		if !slices.Equal(want, got) {
			t.Fatalf("onebyte: differs from refParse (-ref +got):\n%s", cmp.Diff(want, got))
		}
		got, err = readAll(t, newRandReader(in, uint64(len(in)), 16), 0, false)
		if err != io.EOF {
			t.Fatalf("random: error %v", err)
		}
		if !slices.Equal(want, got) {
			t.Fatalf("random: differs from refParse (-ref +got):\n%s", cmp.Diff(want, got))
		}
		want = refParseMode(in, true)
		got, err = readAllMode(t, newRandReader(in, uint64(len(in))+1, 16), 0, true, true)
		if err != io.EOF {
			t.Fatalf("comments: error %v", err)
		}
		if !slices.Equal(want, got) {
			t.Fatalf("comments: differs from refParseMode (-ref +got):\n%s", cmp.Diff(want, got))
		}
	})
}

func FuzzAppendEvent(f *testing.F) {
	f.Add([]byte(""), []byte(""))
	f.Add([]byte("e"), []byte("a\nb"))
	f.Add([]byte("x\r\ny"), []byte("a\r\nb\rc\n"))
	f.Fuzz(func(t *testing.T, name, data []byte) {
		enc := AppendEvent(nil, name, data)
		if !bytes.HasSuffix(enc, []byte("\n\n")) {
			t.Fatalf("encoding %q does not end with a blank line", enc)
		}
		wantName := strings.NewReplacer("\r", "", "\n", "").Replace(string(name))
		wantData := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(string(data))
		want := []ev{{wantName, wantData}}
		if diff := cmp.Diff(want, refParse(enc)); diff != "" {
			t.Fatalf("refParse(%q) (-want +got):\n%s", enc, diff)
		}
		got, err := readAll(t, iotest.OneByteReader(bytes.NewReader(enc)), 0, true)
		if err != io.EOF {
			t.Fatalf("error %v", err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("read back %q (-want +got):\n%s", enc, diff)
		}
		// The data as a comment is one comment line, whatever it holds.
		enc = AppendComment(nil, data)
		want = []ev{{commentName, strings.NewReplacer("\r", "", "\n", "").Replace(string(data))}}
		got, err = readAllMode(t, bytes.NewReader(enc), 0, true, true)
		if err != io.EOF {
			t.Fatalf("comment: error %v", err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("comment read back %q (-want +got):\n%s", enc, diff)
		}
	})
}

func BenchmarkReader(b *testing.B) {
	stream := openAIStream()
	const events = 21
	b.Run("steady", func(b *testing.B) {
		// One Reader, upstream delivering one event per Read; an op is one whole stream.
		rd := NewReader(newLoopReader(stream), 0)
		b.SetBytes(int64(len(stream)))
		b.ReportAllocs()
		for b.Loop() {
			for range events {
				if _, err := rd.Next(); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*events), "ns/event")
	})
	b.Run("steady+Buffered", func(b *testing.B) {
		// As the gateway uses it: Next, then Buffered to decide whether to flush.
		rd := NewReader(newLoopReader(stream), 0)
		b.SetBytes(int64(len(stream)))
		b.ReportAllocs()
		for b.Loop() {
			for range events {
				if _, err := rd.Next(); err != nil {
					b.Fatal(err)
				}
				rd.Buffered()
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*events), "ns/event")
	})
	b.Run("new-per-stream", func(b *testing.B) {
		// A new Reader per stream, the whole stream in one read.
		src := bytes.NewReader(stream)
		b.SetBytes(int64(len(stream)))
		b.ReportAllocs()
		for b.Loop() {
			src.Reset(stream)
			rd := NewReader(src, 0)
			n := 0
			for {
				if _, err := rd.Next(); err != nil {
					break
				}
				n++
			}
			if n != events {
				b.Fatalf("%d events", n)
			}
		}
	})
}

func BenchmarkAppendEvent(b *testing.B) {
	data := []byte(`{"id":"chatcmpl-AbC123","object":"chat.completion.chunk","created":1755000000,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_abc123","choices":[{"index":0,"delta":{"content":" word"},"logprobs":null,"finish_reason":null}],"usage":null}`)
	b.Run("data", func(b *testing.B) {
		dst := make([]byte, 0, 1024)
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			dst = AppendEvent(dst[:0], nil, data)
		}
	})
	b.Run("name+data", func(b *testing.B) {
		dst := make([]byte, 0, 1024)
		name := []byte("content_block_delta")
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			dst = AppendEvent(dst[:0], name, data)
		}
	})
}
