package ledger

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// insertTimeout bounds one Insert, so that a database that hangs instead of
// failing is retried like one that fails.
const insertTimeout = 30 * time.Second

// WriterOptions configure a Writer. Zero values mean the defaults.
type WriterOptions struct {
	QueueSize     int           // records waiting to be written at most; 0 means 65536
	BatchSize     int           // records per Insert at most; 0 means 500
	FlushInterval time.Duration // how long a record may wait for its batch to fill; 0 means 1s
	RetryInterval time.Duration // wait between attempts while Insert fails; 0 means 1s
	Logger        *slog.Logger  // nil means slog.Default()
}

func (o WriterOptions) withDefaults() WriterOptions {
	if o.QueueSize <= 0 {
		o.QueueSize = 65536
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = time.Second
	}
	if o.RetryInterval <= 0 {
		o.RetryInterval = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// WriterStats counts what a Writer did with the records it was given.
type WriterStats struct {
	Queued    int64  // accepted and not written yet
	Written   int64  // inserted into the store
	Dropped   int64  // refused by Add: the queue was full or the Writer closed
	Failed    int64  // given up at Close: the store kept failing until its context ended
	LastError string // the current failure streak's error; "" once a write succeeds
}

// Writer takes records on the request path and writes them to a Store in
// batches from one background goroutine. Add never blocks; while the store
// fails, batches are retried and new records wait, up to QueueSize of them.
type Writer struct {
	store Store
	opts  WriterOptions

	mu       sync.Mutex
	pending  []Record // accepted, not yet taken by the goroutine
	queued   int      // pending plus the records the goroutine holds
	closed   bool     // Close was called: Add refuses
	finished bool     // the goroutine has exited
	accepted int64
	written  int64
	dropped  int64
	failed   int64
	lastErr  string
	progress chan struct{} // closed and replaced when written or finished changes

	wake      chan struct{} // a full batch waits, or Flush asks; capacity 1
	stop      chan struct{} // closed by Close
	done      chan struct{} // closed when the goroutine exits
	runCtx    context.Context
	cancelRun context.CancelFunc // called when Close's context ends
	closeOnce sync.Once
	closeErr  error

	// Owned by the goroutine.
	spare   []Record // the other half of pending's double buffer
	closing bool
	streak  int // consecutive failed Inserts
}

// NewWriter starts a Writer for store. Close it to stop its goroutine; the
// Writer does not close the store.
func NewWriter(store Store, o WriterOptions) *Writer {
	ctx, cancel := context.WithCancel(context.Background())
	w := &Writer{
		store:     store,
		opts:      o.withDefaults(),
		progress:  make(chan struct{}),
		wake:      make(chan struct{}, 1),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		runCtx:    ctx,
		cancelRun: cancel,
	}
	go w.run()
	return w
}

// Add queues r for writing. It never blocks: when the queue is full or the
// Writer is closed, r is dropped, counted in Stats and logged (the first drop
// and then every power of two, so that a flood does not flood the log).
func (w *Writer) Add(r Record) {
	w.mu.Lock()
	if w.closed || w.queued >= w.opts.QueueSize {
		w.dropped++
		n, closed := w.dropped, w.closed
		w.mu.Unlock()
		if n&(n-1) == 0 {
			reason := "queue full"
			if closed {
				reason = "writer closed"
			}
			w.opts.Logger.Warn("ledger: dropping records", "reason", reason, "dropped_total", n, "queue_size", w.opts.QueueSize)
		}
		return
	}
	w.pending = append(w.pending, r)
	w.queued++
	w.accepted++
	full := len(w.pending) >= w.opts.BatchSize
	w.mu.Unlock()
	if full {
		w.poke()
	}
}

func (w *Writer) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Stats returns the counters.
func (w *Writer) Stats() WriterStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return WriterStats{
		Queued:    int64(w.queued),
		Written:   w.written,
		Dropped:   w.dropped,
		Failed:    w.failed,
		LastError: w.lastErr,
	}
}

// Flush writes the records queued now and returns when they are in the
// store, or with an error when ctx ends first or the Writer gave them up.
func (w *Writer) Flush(ctx context.Context) error {
	w.mu.Lock()
	target := w.accepted
	w.mu.Unlock()
	w.poke()
	for {
		w.mu.Lock()
		written, finished, lastErr, progress := w.written, w.finished, w.lastErr, w.progress
		w.mu.Unlock()
		if written >= target {
			return nil
		}
		if finished {
			return fmt.Errorf("ledger: flush: writer closed with %d records not written", target-written)
		}
		select {
		case <-progress:
		case <-ctx.Done():
			if lastErr != "" {
				return fmt.Errorf("ledger: flush: %w (last error: %s)", ctx.Err(), lastErr)
			}
			return fmt.Errorf("ledger: flush: %w", ctx.Err())
		}
	}
}

// Close stops accepting records and writes every queued one, retrying until
// ctx ends. The error counts the records it could not write.
func (w *Writer) Close(ctx context.Context) error {
	w.closeOnce.Do(func() {
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
		stopAfter := context.AfterFunc(ctx, w.cancelRun)
		close(w.stop)
		<-w.done
		stopAfter()
		w.cancelRun()
		w.mu.Lock()
		failed, lastErr := w.failed, w.lastErr
		w.mu.Unlock()
		if failed > 0 {
			w.closeErr = fmt.Errorf("ledger: closing writer: %d records not written: %s", failed, lastErr)
		}
	})
	return w.closeErr
}

func (w *Writer) run() {
	defer close(w.done)
	ticker := time.NewTicker(w.opts.FlushInterval)
	defer ticker.Stop()
	for {
		select {
		case <-w.wake:
		case <-ticker.C:
		case <-w.stop:
			w.closing = true
		}
		if !w.drain() {
			w.giveUp()
			return
		}
		if w.closing {
			w.mu.Lock()
			w.finished = true
			w.advance()
			w.mu.Unlock()
			return
		}
	}
}

// drain writes what is pending, then keeps going while full batches are
// waiting (or, when closing, until nothing is). It reports false when Close's
// context ended before everything was written.
func (w *Writer) drain() bool {
	for {
		w.mu.Lock()
		taken := w.pending
		w.pending = w.spare[:0]
		w.mu.Unlock()
		w.spare = nil
		if len(taken) == 0 {
			w.spare = taken
			return true
		}
		for batch := taken; len(batch) > 0; {
			n := min(len(batch), w.opts.BatchSize)
			if !w.write(batch[:n]) {
				return false
			}
			batch = batch[n:]
		}
		clear(taken) // let the strings go
		w.spare = taken[:0]

		w.mu.Lock()
		more := len(w.pending) >= w.opts.BatchSize || (w.closing && len(w.pending) > 0)
		w.mu.Unlock()
		if !more {
			return true
		}
	}
}

// write inserts batch, retrying every RetryInterval until it succeeds. It
// reports false only when Close's context ended first.
func (w *Writer) write(batch []Record) bool {
	for {
		if w.runCtx.Err() != nil {
			return false
		}
		ctx, cancel := context.WithTimeout(w.runCtx, insertTimeout)
		err := w.store.Insert(ctx, batch)
		cancel()
		if err == nil {
			w.wrote(len(batch))
			return true
		}
		w.failing(err)
		timer := time.NewTimer(w.opts.RetryInterval)
		stop := w.stop
		if w.closing {
			stop = nil
		}
		select {
		case <-timer.C:
		case <-stop:
			// Close: retry now, and from here on within its context.
			timer.Stop()
			w.closing = true
		case <-w.runCtx.Done():
			timer.Stop()
			return false
		}
	}
}

func (w *Writer) wrote(n int) {
	w.mu.Lock()
	w.written += int64(n)
	w.queued -= n
	w.lastErr = ""
	streak := w.streak
	w.streak = 0
	w.advance()
	w.mu.Unlock()
	if streak > 0 {
		w.opts.Logger.Info("ledger: writing records again", "failed_attempts", streak)
	}
}

func (w *Writer) failing(err error) {
	w.mu.Lock()
	w.lastErr = err.Error()
	w.streak++
	streak, queued := w.streak, w.queued
	w.mu.Unlock()
	if streak == 1 {
		w.opts.Logger.Warn("ledger: writing records failed; retrying", "error", err,
			"retry_interval", w.opts.RetryInterval, "queued", queued)
	}
}

// giveUp counts everything still queued as failed when Close's context ended.
func (w *Writer) giveUp() {
	w.mu.Lock()
	n := w.queued
	w.failed += int64(n)
	w.queued = 0
	w.pending = nil
	w.finished = true
	lastErr := w.lastErr
	w.advance()
	w.mu.Unlock()
	w.opts.Logger.Error("ledger: records not written at shutdown", "records", n, "last_error", lastErr)
}

// advance wakes Flush callers. w.mu must be held.
func (w *Writer) advance() {
	close(w.progress)
	w.progress = make(chan struct{})
}
