package api

import (
	"sync"
	"time"
)

// keepAliveComment is what the gateway writes to a committed stream that
// has been silent on both sides for a keep-alive interval.
var keepAliveComment = []byte(": keep-alive\n\n")

// keepAlive writes keepAliveComment from a timer while the relay waits on a
// silent upstream: a local program loading its weights, an upstream that
// has nothing to send yet. Clients, browsers and the proxies between drop
// a connection that stays silent for a while, often 30 to 100 seconds.
//
// The relay reads the stream on the handler's goroutine, where Next
// blocks, so the comment is written from the timer's goroutine. The two
// never write at once: the relay holds mu from the moment Next returns
// until it has flushed, so that it takes the lock once per flush, not per
// event, and the timer writes only while the relay is waiting in Next.
// stop stops the timer and waits for a running callback, so that no write
// happens after the handler returned (net/http forbids it) and no
// goroutine outlives the request.
//
// A nil *keepAlive (keep-alives turned off) does nothing.
type keepAlive struct {
	mu       sync.Mutex
	held     bool // the relay holds mu; read and written by the relay only
	w        *logWriter
	dl       *writeDeadline // shared with the relay; dl.last is the last write
	interval time.Duration
	timer    *time.Timer
	pending  sync.WaitGroup // one per armed timer: a callback to come or running
	stopped  bool
	// err is a failed keep-alive write: the client left or stopped
	// reading. The relay sees it once Next returns and ends the stream.
	err error
}

// startKeepAlive starts the keep-alive timer of a stream whose relay
// writes through dl; it returns nil when interval is zero.
func startKeepAlive(w *logWriter, dl *writeDeadline, interval time.Duration) *keepAlive {
	if interval <= 0 {
		return nil
	}
	k := &keepAlive{w: w, dl: dl, interval: interval}
	k.pending.Add(1)
	k.timer = time.AfterFunc(interval, k.fire)
	return k
}

// hold takes the writer for the relay, unless it holds it already. It
// returns the error of a failed keep-alive write, if one failed.
func (k *keepAlive) hold() error {
	if k == nil {
		return nil
	}
	if !k.held {
		k.mu.Lock()
		k.held = true
	}
	return k.err
}

// release gives the writer up before the relay waits for the upstream.
func (k *keepAlive) release() {
	if k != nil && k.held {
		k.held = false
		k.mu.Unlock()
	}
}

// fire writes a keep-alive when nothing was written for an interval, and
// re-arms the timer for when the next one may be due.
func (k *keepAlive) fire() {
	defer k.pending.Done()
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stopped {
		return
	}
	if idle := time.Since(k.dl.last); idle < k.interval {
		k.arm(k.interval - idle)
		return
	}
	k.dl.extend() // keep-alives are bounded by the write timeout too
	_, err := k.w.Write(keepAliveComment)
	if err == nil {
		err = k.w.FlushError()
	}
	if err != nil {
		// No more keep-alives. The relay cannot be woken from Next (a
		// Stream is not safe for concurrent use); it ends the stream when
		// the upstream sends something or the client's leaving cancels
		// the request.
		k.err = k.dl.clientWriteError(err)
		return
	}
	k.arm(k.interval)
}

// arm schedules the next callback; mu must be held.
func (k *keepAlive) arm(d time.Duration) {
	k.pending.Add(1)
	k.timer.Reset(d)
}

// stop ends the keep-alives and waits for a callback that is running. The
// relay may hold the writer or not.
func (k *keepAlive) stop() {
	if k == nil {
		return
	}
	if !k.held {
		k.mu.Lock()
	}
	k.held = false
	k.stopped = true
	if k.timer.Stop() {
		k.pending.Done() // the callback it was armed for will not run
	}
	k.mu.Unlock()
	k.pending.Wait()
}
