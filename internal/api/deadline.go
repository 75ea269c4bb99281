package api

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"
)

// DefaultWriteTimeout is the default bound on one write of a response to
// the client.
const DefaultWriteTimeout = 60 * time.Second

// writeDeadline bounds the writes of one response. Without it, a write to
// a client that stopped reading blocks until TCP gives up, minutes or
// never, and holds the upstream connection or the local program meanwhile.
//
// Moving a connection's deadline costs a timer update, so extend moves it
// only when it was set more than refresh ago: a write may then fail after
// timeout minus refresh at the earliest, and after timeout at the latest.
// The deadline stays until net/http has written the end of the response
// after the handler returned; net/http then clears it for the next request
// on the connection.
//
// While the upstream is silent the deadline may pass unnoticed: over
// HTTP/1 it fails only writes, and extend runs before each. (An HTTP/2
// server would reset the stream instead; the gateway serves HTTP/1.)
type writeDeadline struct {
	rc      http.ResponseController
	timeout time.Duration
	refresh time.Duration
	set     time.Time // when the deadline was last moved; zero: not yet
	last    time.Time // when extend last ran: the start of the last write
	off     bool      // the writer has no deadlines (not a network connection)
}

func newWriteDeadline(w http.ResponseWriter, timeout time.Duration) writeDeadline {
	return writeDeadline{rc: *http.NewResponseController(w), timeout: timeout, refresh: min(time.Second, timeout/2)}
}

// extend moves the deadline to timeout from now, unless it was moved less
// than refresh ago. Call it before each write.
func (d *writeDeadline) extend() {
	now := time.Now()
	d.last = now
	if d.off || now.Sub(d.set) < d.refresh {
		return
	}
	d.set = now
	if d.rc.SetWriteDeadline(now.Add(d.timeout)) != nil {
		d.off = true // http.ErrNotSupported: nothing to bound
	}
}

// end finishes a response whose last write returned err: it flushes what
// is buffered, so that a failed write is seen and logged here, or records
// the failed write.
func (d *writeDeadline) end(w *logWriter, rec *record, err error) {
	if err == nil {
		err = w.FlushError()
	}
	if err != nil {
		rec.status, rec.err = statusClientClosed, d.clientWriteError(err)
	}
}

// clientWriteError is the access log error of a failed write: the
// client left, or it stopped reading and the deadline passed.
func (d *writeDeadline) clientWriteError(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("the client stopped reading: write timeout %s exceeded: %w", d.timeout, err)
	}
	return fmt.Errorf("writing to the client: %w", err)
}
