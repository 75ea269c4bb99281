// Package bodyio reads HTTP bodies into memory with a size limit, sized up
// front from the Content-Length when there is one.
package bodyio

import (
	"fmt"
	"io"
)

// TooLargeError reports a body over the limit.
type TooLargeError struct{ Limit int64 }

func (e *TooLargeError) Error() string { return fmt.Sprintf("body larger than %d bytes", e.Limit) }

// ReadAll reads r to the end. contentLength (-1 when unknown) sizes the
// buffer; more than limit bytes fail with *TooLargeError.
func ReadAll(r io.Reader, contentLength, limit int64) ([]byte, error) {
	if contentLength > limit {
		return nil, &TooLargeError{Limit: limit}
	}
	size := int64(4096)
	if contentLength >= 0 {
		size = contentLength + 1 // +1: room to see EOF without growing
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
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
