package adapter

import (
	"context"
	"time"
)

// Watchdog cancels a context when the upstream has been silent for longer
// than its timeout: before the response headers arrive, and between two reads
// of the response body. Kicking it on every read turns one timer into both a
// time-to-first-byte and an idle timeout without a goroutine.
type Watchdog struct {
	timer   *time.Timer
	timeout time.Duration
	cancel  context.CancelCauseFunc
}

// StartWatchdog returns a context derived from parent that is canceled with
// cause ErrTimeout after timeout unless Kick is called first. The caller must
// call Stop to release it.
func StartWatchdog(parent context.Context, timeout time.Duration) (context.Context, *Watchdog) {
	ctx, cancel := context.WithCancelCause(parent)
	w := &Watchdog{timeout: timeout, cancel: cancel}
	w.timer = time.AfterFunc(timeout, func() { cancel(ErrTimeout) })
	return ctx, w
}

// Kick restarts the countdown.
func (w *Watchdog) Kick() { w.timer.Reset(w.timeout) }

// Extend restarts the countdown with a different timeout, for example a short
// one while draining a finished response.
func (w *Watchdog) Extend(d time.Duration) { w.timer.Reset(d) }

// Stop stops the countdown and cancels the context, which aborts whatever
// upstream request still uses it.
func (w *Watchdog) Stop() {
	w.timer.Stop()
	w.cancel(nil)
}
