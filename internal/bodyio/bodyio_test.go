package bodyio

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"
)

// chunkReader hands out data in chunks whose sizes cycle through sizes (0
// is a read that returns nothing, never twice in a row), and can return the
// last bytes together with io.EOF, as io.Reader allows.
type chunkReader struct {
	data     []byte
	sizes    []int
	next     int
	eofEarly bool
	read     int  // bytes handed out
	wasEmpty bool // the last read returned nothing
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	size := len(r.data)
	if len(r.sizes) > 0 {
		size = r.sizes[r.next%len(r.sizes)]
		r.next++
	}
	if size == 0 && r.wasEmpty {
		size = 1
	}
	r.wasEmpty = size == 0
	n := copy(p, r.data[:min(size, len(r.data))])
	r.data = r.data[n:]
	r.read += n
	if r.eofEarly && len(r.data) == 0 {
		return n, io.EOF
	}
	return n, nil
}

// TestClaimedLengthReservesLittle is the incident: a peer that claims
// 32 MiB and sends one byte must not cost 32 MiB.
func TestClaimedLengthReservesLittle(t *testing.T) {
	const claimed = 32 << 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	buf, err := ReadAll(&chunkReader{data: []byte("x")}, claimed, claimed)
	runtime.ReadMemStats(&after)
	if err != nil || string(buf) != "x" {
		t.Fatalf("ReadAll = %q, %v", buf, err)
	}
	if cap(buf) > maxFirstBuffer {
		t.Errorf("cap = %d after one byte of a claimed %d, want at most %d", cap(buf), claimed, maxFirstBuffer)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 2*maxFirstBuffer {
		t.Errorf("ReadAll allocated %d bytes for one byte of a claimed %d", got, claimed)
	}
}

func TestReadAll(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 10<<20/16) // 10 MiB
	cases := []struct {
		name          string
		body          []byte
		contentLength int64
		limit         int64
		sizes         []int
		wantErr       bool
		wantCap       int // 0: not checked
	}{
		{"small body, exact buffer", []byte(`{"a":1}`), 7, 100, nil, false, 8},
		{"empty body", nil, 0, 100, nil, false, 1},
		{"unknown length", []byte("hello"), -1, 100, []int{2}, false, 100 + 1},
		{"unknown length, large limit", []byte("hello"), -1, 1 << 20, nil, false, unknownLengthBuffer},
		{"honest large body ends in a buffer of its size", big, int64(len(big)), 64 << 20, []int{32 << 10, 1, 0, 7000}, false, len(big) + 1},
		{"large body without a length", big, -1, 64 << 20, []int{64 << 10}, false, 0},
		{"body longer than claimed", big, 100, 64 << 20, []int{4096}, false, 0},
		{"at the limit", []byte("12345"), -1, 5, []int{1}, false, 6},
		{"over the limit", []byte("123456"), -1, 5, []int{1}, true, 0},
		{"over the limit, claimed under it", []byte("123456"), 3, 5, nil, true, 0},
		{"claimed over the limit", []byte("1"), 6, 5, nil, true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &chunkReader{data: tc.body, sizes: tc.sizes}
			buf, err := ReadAll(r, tc.contentLength, tc.limit)
			if tc.wantErr {
				var tooBig *TooLargeError
				if !errors.As(err, &tooBig) || tooBig.Limit != tc.limit {
					t.Fatalf("err = %v, want TooLargeError{%d}", err, tc.limit)
				}
				if r.read > int(tc.limit)+1 {
					t.Errorf("read %d bytes for a limit of %d", r.read, tc.limit)
				}
				return
			}
			if err != nil || !bytes.Equal(buf, tc.body) {
				t.Fatalf("ReadAll = %d bytes, %v; want the %d bytes sent", len(buf), err, len(tc.body))
			}
			if tc.wantCap != 0 && cap(buf) != tc.wantCap {
				t.Errorf("cap = %d, want %d", cap(buf), tc.wantCap)
			}
		})
	}
}

func TestReadAllPassesReadErrors(t *testing.T) {
	want := errors.New("connection reset")
	_, err := ReadAll(io.MultiReader(bytes.NewReader([]byte("ab")), &errReader{want}), 10, 100)
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
}

type errReader struct{ err error }

func (r *errReader) Read([]byte) (int, error) { return 0, r.err }

// FuzzReadAll: whatever the chunking, claimed length and limit, ReadAll
// returns exactly the bytes sent or TooLargeError, never reads more than one
// byte past the limit, and holds at most twice the bytes received (or the
// first buffer).
func FuzzReadAll(f *testing.F) {
	f.Add([]byte(`{"model":"m"}`), []byte{3, 0, 200}, uint16(1), int64(0), int64(1000), false)
	f.Add([]byte("x"), []byte{}, uint16(0), int64(32<<20), int64(32<<20), false)
	f.Add([]byte("abcdef"), []byte{1}, uint16(5000), int64(-1), int64(1<<20), true)
	f.Add([]byte("abcdef"), []byte{255, 7}, uint16(300), int64(-2), int64(100), true)
	f.Fuzz(func(t *testing.T, unit, chunks []byte, repeat uint16, claimDelta, limit int64, eofEarly bool) {
		// Up to 2 MB: past the 64 KiB first buffer, and quick to fuzz.
		body := bytes.Repeat(unit, min(int(repeat)+1, (2<<20)/max(len(unit), 1)))
		if limit < 0 {
			limit = -limit
		}
		limit %= 8 << 20
		var contentLength int64 = -1 // claimDelta -1: unknown length
		if claimDelta != -1 {
			contentLength = max(0, int64(len(body))+claimDelta%(64<<20))
		}
		sizes := make([]int, len(chunks))
		for i, c := range chunks {
			sizes[i] = int(c) * int(c) // 0 to 65025: empty reads, single bytes and big chunks
		}
		r := &chunkReader{data: body, sizes: sizes, eofEarly: eofEarly}
		buf, err := ReadAll(r, contentLength, limit)
		if int64(len(body)) > limit || contentLength > limit {
			var tooBig *TooLargeError
			if !errors.As(err, &tooBig) {
				t.Fatalf("%d bytes (claimed %d) with limit %d: err = %v, want TooLargeError", len(body), contentLength, limit, err)
			}
			if int64(r.read) > limit+1 {
				t.Fatalf("read %d bytes with limit %d", r.read, limit)
			}
			return
		}
		if err != nil || !bytes.Equal(buf, body) {
			t.Fatalf("ReadAll = %d bytes, %v; want the %d bytes sent", len(buf), err, len(body))
		}
		if bound := max(firstSize(contentLength, limit), 2*len(buf)); cap(buf) > bound {
			t.Fatalf("cap %d for %d bytes (claimed %d, limit %d), want at most %d", cap(buf), len(buf), contentLength, limit, bound)
		}
	})
}
