// Package logbuf gathers log lines into fewer writes.
//
// The gateway writes one access line per request. Written one at a time,
// each line is a write system call, which a profile of the gateway under
// load put at about 4% of its CPU: more than the gateway keys and the
// usage ledger together. A Writer keeps the lines for at most a short
// delay (or until 32 KiB wait) and writes them in one call, as Envoy's and
// nginx's buffered access logs do. Records at WARN and above are written
// at once (see Handler), so a problem is never held back.
package logbuf

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// maxBuffered is the most a Writer holds before it writes.
const maxBuffered = 32 << 10

// Writer is an io.Writer that passes on what it is given within Delay, in
// order. It is safe for concurrent use. Close writes what is left.
type Writer struct {
	mu      sync.Mutex
	out     io.Writer
	buf     []byte
	delay   time.Duration
	timer   *time.Timer
	pending bool // the timer is set to flush buf
	closed  bool
}

// New returns a Writer on out that holds lines for at most delay.
func New(out io.Writer, delay time.Duration) *Writer {
	w := &Writer{out: out, delay: delay, buf: make([]byte, 0, maxBuffered)}
	w.timer = time.AfterFunc(time.Hour, w.Flush)
	w.timer.Stop()
	return w
}

// Write keeps p to be written within the delay. slog handlers call it once
// per record, so records are never split.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || len(p) >= maxBuffered {
		w.flushLocked()
		return w.out.Write(p)
	}
	if len(w.buf)+len(p) > maxBuffered {
		w.flushLocked()
	}
	w.buf = append(w.buf, p...)
	if !w.pending {
		w.pending = true
		w.timer.Reset(w.delay)
	}
	return len(p), nil
}

// Flush writes what is held now.
func (w *Writer) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushLocked()
}

// flushLocked writes buf. A failed write is not retried: there is nowhere
// else to report that the log cannot be written.
func (w *Writer) flushLocked() {
	if w.pending {
		w.pending = false
		w.timer.Stop()
	}
	if len(w.buf) > 0 {
		w.out.Write(w.buf) //nolint:errcheck // see above
		w.buf = w.buf[:0]
	}
}

// Close writes what is held; later writes go straight through, so lines
// logged while the process ends are not lost.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushLocked()
	w.closed = true
	return nil
}

// Handler returns h, made to flush w after each record at WARN or above,
// so that warnings and errors are written when they happen.
func Handler(h slog.Handler, w *Writer) slog.Handler {
	return urgentHandler{Handler: h, w: w}
}

type urgentHandler struct {
	slog.Handler
	w *Writer
}

func (h urgentHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		h.w.Flush()
	}
	return err
}

func (h urgentHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return urgentHandler{Handler: h.Handler.WithAttrs(attrs), w: h.w}
}

func (h urgentHandler) WithGroup(name string) slog.Handler {
	return urgentHandler{Handler: h.Handler.WithGroup(name), w: h.w}
}
