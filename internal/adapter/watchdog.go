package adapter

import (
	"context"
	"time"
)

// Watchdog cancels a context when the upstream has been silent for longer
// than allowed: until the response headers arrive (the first-byte timeout),
// and between two reads of the response body (the idle timeout, from the
// first Kick on). Kicking it on every read turns one timer into both
// without a goroutine. An optional total timeout bounds the whole attempt.
type Watchdog struct {
	timer  *time.Timer
	idle   time.Duration
	total  *time.Timer // nil without a total timeout
	cancel context.CancelCauseFunc
}

// StartWatchdog returns a context derived from parent that is canceled with
// cause ErrTimeout after firstByte unless Kick is called first, and with
// cause ErrTotalTimeout after total (zero: no total limit). The caller must
// call Stop to release it.
func StartWatchdog(parent context.Context, firstByte, idle, total time.Duration) (context.Context, *Watchdog) {
	ctx, cancel := context.WithCancelCause(parent)
	w := &Watchdog{idle: idle, cancel: cancel}
	w.timer = time.AfterFunc(firstByte, func() { cancel(ErrTimeout) })
	if total > 0 {
		w.total = time.AfterFunc(total, func() { cancel(ErrTotalTimeout) })
	}
	return ctx, w
}

// Kick restarts the countdown with the idle timeout.
func (w *Watchdog) Kick() { w.timer.Reset(w.idle) }

// Pause stops the countdown until the next Kick: the caller is not waiting
// for the upstream (it is writing what it read to a slow client, say), so
// that time is not upstream silence.
func (w *Watchdog) Pause() { w.timer.Stop() }

// Extend restarts the countdown with a different timeout, for example a short
// one while draining a finished response.
func (w *Watchdog) Extend(d time.Duration) { w.timer.Reset(d) }

// Stop stops the countdowns and cancels the context, which aborts whatever
// upstream request still uses it.
func (w *Watchdog) Stop() {
	w.timer.Stop()
	if w.total != nil {
		w.total.Stop()
	}
	w.cancel(nil)
}

type connectTimeoutKey struct{}

// WithConnectTimeout asks the gateway's transport to give up connecting
// after d for requests made with the returned context. A context value
// rather than a transport per deployment keeps one shared connection pool.
func WithConnectTimeout(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, connectTimeoutKey{}, d)
}

// ConnectTimeout returns the connect timeout set by WithConnectTimeout, or 0.
func ConnectTimeout(ctx context.Context) time.Duration {
	d, _ := ctx.Value(connectTimeoutKey{}).(time.Duration)
	return d
}
