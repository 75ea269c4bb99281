// Package bodyio reads HTTP bodies into memory with a size limit. Memory
// follows the bytes that arrive, never the length a peer claims.
package bodyio

import (
	"fmt"
	"io"
	"math"
)

// TooLargeError reports a body over the limit.
type TooLargeError struct{ Limit int64 }

func (e *TooLargeError) Error() string { return fmt.Sprintf("body larger than %d bytes", e.Limit) }

const (
	// maxFirstBuffer bounds the buffer reserved from a Content-Length before
	// any byte arrived. Reserving the claimed length let 300 connections
	// that each claimed 32 MiB and sent one byte take the gateway past
	// 10 GB; now each costs at most this much until its bytes arrive. 64 KiB
	// holds nearly every chat request and response whole, so they are still
	// read into one allocation of the right size.
	maxFirstBuffer = 64 << 10
	// unknownLengthBuffer is the first buffer for a body without a
	// Content-Length (chunked): a typical chat response fits.
	unknownLengthBuffer = 8 << 10
)

// ReadAll reads r to the end. contentLength (-1 when unknown) sizes the
// first buffer, up to 64 KiB; beyond that the buffer doubles as bytes
// arrive, never past the claimed length while the body keeps to it, so an
// honest large body costs about twice its size in copying and a lying one
// costs what it sent. More than limit bytes fail with *TooLargeError.
func ReadAll(r io.Reader, contentLength, limit int64) ([]byte, error) {
	if contentLength > limit {
		return nil, &TooLargeError{Limit: limit}
	}
	buf := make([]byte, 0, firstSize(contentLength, limit))
	for {
		if len(buf) == cap(buf) {
			buf = grow(buf, contentLength, limit)
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, &TooLargeError{Limit: limit}
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// firstSize is the capacity to start with: the claimed length plus one
// byte (to see EOF without growing), at most maxFirstBuffer, and never more
// than limit+1 (one byte past the limit is enough to detect it).
func firstSize(contentLength, limit int64) int {
	size := int64(unknownLengthBuffer)
	if contentLength >= 0 {
		size = min(contentLength+1, maxFirstBuffer)
	}
	return int(min(size, capLimit(limit)))
}

// grow returns buf (full) with twice the capacity, clipped to the claimed
// length (+1) while the body has not passed it, and to limit+1.
func grow(buf []byte, contentLength, limit int64) []byte {
	size := 2 * int64(cap(buf))
	if size == 0 {
		size = unknownLengthBuffer
	}
	if claimed := contentLength + 1; contentLength >= 0 && int64(cap(buf)) < claimed {
		size = min(size, claimed)
	}
	size = min(size, capLimit(limit))
	next := make([]byte, len(buf), size)
	copy(next, buf)
	return next
}

// capLimit is the largest capacity ReadAll needs for limit: one byte past
// it shows that the body is too large.
func capLimit(limit int64) int64 {
	switch {
	case limit < 0:
		return 1
	case limit == math.MaxInt64:
		return limit
	}
	return limit + 1
}
