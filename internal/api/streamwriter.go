package api

import (
	"context"
	"sync"
	"time"
)

// keepAliveComment is what the gateway writes to a started stream that has
// been silent on both sides for a keep-alive interval.
var keepAliveComment = []byte(": keep-alive\n\n")

// streamWriter writes one stream to the client: the relay's events, and
// keep-alive comments from a timer while the relay waits on a silent
// upstream (a local program loading its weights, an upstream with nothing
// to send yet). Clients, browsers and the proxies between drop a
// connection that stays silent for a while, often 30 to 100 seconds.
//
// The relay reads the stream on the handler's goroutine, where Next
// blocks, so keep-alives are written from the timer's goroutine. The two
// never write at once: the relay holds mu from the moment Next returns
// until it has flushed, so that it takes the lock once per flush, not per
// event, and the timer writes only while the relay waits in Next. release
// stops the timer and waits for a running callback, so that nothing is
// written after the handler returned (net/http forbids it) and no
// goroutine outlives the request.
//
// A Server keeps its streamWriters in a pool: a stream then costs no
// allocation for its writer, its buffer or its timer.
type streamWriter struct {
	w   *logWriter
	dl  writeDeadline // dl.last is the start of the last write
	buf []byte        // the event being written

	mu       sync.Mutex
	held     bool          // the relay holds mu; read and written by the relay only
	interval time.Duration // zero: no keep-alives
	timer    *time.Timer   // created on first use, then reused
	pending  sync.WaitGroup
	stopped  bool
	// err is a failed keep-alive write: the client left or stopped
	// reading. The relay sees it once Next returns and ends the stream.
	err error
	// abort cancels the stream's upstream request with err, so that Next
	// returns at once and the upstream (or program) stops; nil means none.
	abort context.CancelCauseFunc
	// ping is the keep-alive: an SSE comment, or whitespace inside a
	// JSON array stream.
	ping []byte
}

// maxPooledBuf bounds the buffer a pooled streamWriter keeps: one huge
// event must not pin its memory for good.
const maxPooledBuf = 64 << 10

// streamWriter returns a writer for a stream to w, with a keep-alive every
// interval of silence (zero: none). The caller must release it.
func (s *Server) streamWriter(w *logWriter, interval time.Duration, abort context.CancelCauseFunc, ping []byte) *streamWriter {
	sw, _ := s.writers.Get().(*streamWriter)
	if sw == nil {
		sw = &streamWriter{buf: make([]byte, 0, 1024)}
	}
	sw.w, sw.dl, sw.interval, sw.stopped, sw.err, sw.abort, sw.ping = w, newWriteDeadline(w, s.writeTimeout), interval, false, nil, abort, ping
	sw.dl.extend()
	if interval > 0 {
		sw.pending.Add(1)
		if sw.timer == nil {
			sw.timer = time.AfterFunc(interval, sw.fire)
		} else {
			sw.timer.Reset(interval)
		}
	}
	return sw
}

// release stops the keep-alives, waits for a callback that is running, and
// returns sw to the pool. The relay may hold the writer or not.
func (s *Server) release(sw *streamWriter) {
	if !sw.held {
		sw.mu.Lock()
	}
	sw.held = false
	sw.stopped = true
	if sw.interval > 0 && sw.timer.Stop() {
		sw.pending.Done() // the callback it was armed for will not run
	}
	sw.mu.Unlock()
	sw.pending.Wait()
	sw.w, sw.dl, sw.err, sw.abort = nil, writeDeadline{}, nil, nil
	if cap(sw.buf) > maxPooledBuf {
		sw.buf = make([]byte, 0, 1024)
	}
	s.writers.Put(sw)
}

// hold takes the writer for the relay, unless it holds it already. It
// returns the error of a failed keep-alive write, if one failed.
func (sw *streamWriter) hold() error {
	if sw.interval == 0 {
		return nil
	}
	if !sw.held {
		sw.mu.Lock()
		sw.held = true
	}
	return sw.err
}

// wait gives the writer up before the relay waits for the upstream.
func (sw *streamWriter) wait() {
	if sw.held {
		sw.held = false
		sw.mu.Unlock()
	}
}

// fire writes a keep-alive when nothing was written for an interval, and
// re-arms the timer for when the next one may be due.
func (sw *streamWriter) fire() {
	defer sw.pending.Done()
	if err := sw.keepAlive(); err != nil && sw.abort != nil {
		// The relay waits in Next and cannot see the failed write: cancel
		// the upstream request (or stop the program) so that Next returns
		// and the relay ends the stream as the client's doing.
		sw.abort(err)
	}
}

// keepAlive writes one keep-alive under mu if one is due, and returns the
// error of a write that failed (no more keep-alives are written then).
func (sw *streamWriter) keepAlive() error {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.stopped {
		return nil
	}
	if idle := time.Since(sw.dl.last); idle < sw.interval {
		sw.arm(sw.interval - idle)
		return nil
	}
	sw.dl.extend() // keep-alives are bounded by the write timeout too
	_, err := sw.w.Write(sw.ping)
	if err == nil {
		err = sw.w.FlushError()
	}
	if err != nil {
		sw.err = sw.dl.clientWriteError(err)
		return sw.err
	}
	sw.arm(sw.interval)
	return nil
}

// arm schedules the next callback; mu must be held.
func (sw *streamWriter) arm(d time.Duration) {
	sw.pending.Add(1)
	sw.timer.Reset(d)
}
