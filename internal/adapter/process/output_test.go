package process

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"aigateway/internal/redact"
)

// readOutput reads r to its end through an output and returns the texts.
func readOutput(t *testing.T, r io.Reader, limit int) (texts []string, o *output) {
	t.Helper()
	cuts := 0
	o = newOutput(r, limit, func() { cuts++ })
	for i := 0; ; i++ {
		text, end := o.read()
		if !utf8.ValidString(text) {
			t.Errorf("read %d: invalid UTF-8 %q", i, text)
		}
		texts = append(texts, text)
		if end {
			break
		}
	}
	if o.cut != (cuts == 1) || cuts > 1 {
		t.Errorf("cut %v but onCut called %d times", o.cut, cuts)
	}
	return texts, o
}

func TestOutputOneByteAtATime(t *testing.T) {
	in := "héllo 世界 🌍 \xff\xfe ok \xed\xa0\x80 \xe4\xb8 end\xf0\x9f"
	want := "héllo 世界 🌍 \uFFFD\uFFFD ok \uFFFD\uFFFD\uFFFD \uFFFD\uFFFD end\uFFFD\uFFFD"
	texts, o := readOutput(t, iotest.OneByteReader(strings.NewReader(in)), 1<<20)
	if got := strings.Join(texts, ""); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if o.cut || o.err != io.EOF {
		t.Errorf("cut %v err %v", o.cut, o.err)
	}
	// Read one byte at a time, each valid character comes out whole with
	// its last byte, and nothing before.
	got := map[string]int{}
	for _, x := range texts {
		got[x]++
	}
	for _, c := range []string{"é", "世", "界", "🌍"} {
		if got[c] != 1 {
			t.Errorf("%q came out %d times as one read's text, want once", c, got[c])
		}
	}
}

func TestOutputLimit(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		limit int
		want  string
		cut   bool
	}{
		{"exactly the limit is not cut", "abcd", 4, "abcd", false},
		{"one more byte is cut", "abcde", 4, "abcd", true},
		{"a character split by the limit is dropped", "ab€", 4, "ab", true},
		{"a character ending at the limit stays", "a€b", 4, "a€", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(tt.in), iotest.OneByteReader(strings.NewReader(tt.in))} {
				texts, o := readOutput(t, r, tt.limit)
				if got := strings.Join(texts, ""); got != tt.want || o.cut != tt.cut {
					t.Errorf("got %q cut %v, want %q cut %v", got, o.cut, tt.want, tt.cut)
				}
			}
		})
	}
}

func TestOutputReadError(t *testing.T) {
	texts, o := readOutput(t, iotest.TimeoutReader(strings.NewReader("ab")), 100)
	if strings.Join(texts, "") != "ab" || o.err != iotest.ErrTimeout {
		t.Errorf("got %q, %v", texts, o.err)
	}
}

func TestIncompleteTail(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"", 0}, {"a", 0}, {"é", 0}, {"a\xc3", 1}, {"\xe4\xb8", 2}, {"\xf0\x9f\x8c", 3}, {"🌍", 0},
		{"\xff", 0}, {"\x80", 0}, {"a\x80\x80\x80", 0}, {"\xed\xa0", 0}, {"\xe4(", 0},
	}
	for _, tt := range tests {
		if got := incompleteTail([]byte(tt.in)); got != tt.want {
			t.Errorf("incompleteTail(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestRingTail(t *testing.T) {
	r := ring{max: 128}
	for i := 0; i < 40; i++ {
		r.Write([]byte("line with secret-xyz in it\n"))
	}
	r.Write([]byte("progress 10%\rprogress 50%\rprogress 99%\r\n\n  last line  \n"))
	got := r.tail(3, redact.New("secret-xyz", ""))
	want := "line with [redacted] in it\nprogress 99%\nlast line"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if len(r.buf) > 2*r.max {
		t.Errorf("ring holds %d bytes, more than %d", len(r.buf), 2*r.max)
	}

	// A secret cut by the start of the ring is not shown in part.
	r = ring{max: 16}
	r.Write([]byte("xx TOPSECRET1234 yy\nok\n"))
	if got := r.tail(5, redact.New("TOPSECRET1234")); got != "ok" {
		t.Errorf("got %q, want ok", got)
	}

	long := ring{max: 4096}
	long.Write(bytes.Repeat([]byte("é"), 1000))
	if got := long.tail(1, nil); len(got) > maxLine+3 || !utf8.ValidString(got) || !strings.HasSuffix(got, "...") {
		t.Errorf("long line: %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
}
