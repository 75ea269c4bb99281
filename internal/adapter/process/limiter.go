package process

import (
	"container/list"
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
)

// Slots bounds the programs of one local model that run at once, and the
// requests waiting for one of them to end. Waiting requests take their turn
// in arrival order.
//
// A reload replaces a changed model's adapter while the programs the old
// one started still run. Both adapters share one Slots (the registry hands
// it from the old adapter to the new one, see Options.Slots), so that their
// programs together stay within the limit. The limit and the queue size
// are those last applied (see Adapter.ApplyLimits): when a reload lowers
// the limit below the number of programs running, they run to their end,
// and new requests wait until the count is below the new limit. Requests
// already waiting keep their place when the queue shrinks.
//
// Slots is safe for concurrent use. Its zero value is not usable; see
// NewSlots.
type Slots struct {
	mu        sync.Mutex
	limit     int        // programs that may run at once
	queueSize int        // requests that may wait; 0 means none
	running   int        // programs running, plus slots granted to waiters that have not started yet
	queue     *list.List // of *waiter, oldest first
}

// NewSlots returns Slots with no capacity; the adapter that first uses
// them applies its limits.
func NewSlots() *Slots { return &Slots{queue: list.New()} }

// waiter is one request in the queue.
type waiter struct {
	ready   chan struct{} // closed when a slot is granted to it
	granted bool          // under Slots.mu
	elem    *list.Element
}

// setLimits applies a limit and a queue size, and grants the slots a higher
// limit frees.
func (s *Slots) setLimits(limit, queueSize int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit, s.queueSize = limit, max(0, queueSize)
	s.grantLocked()
}

// enter takes a slot at once (nil waiter) or queues the caller. full is
// true when neither is possible; limit and waiting then describe why.
func (s *Slots) enter() (w *waiter, full bool, limit, waiting int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running < s.limit && s.queue.Len() == 0 {
		s.running++
		return nil, false, 0, 0
	}
	if s.queue.Len() >= s.queueSize {
		return nil, true, s.limit, s.queue.Len()
	}
	w = &waiter{ready: make(chan struct{})}
	w.elem = s.queue.PushBack(w)
	return w, false, 0, 0
}

// leave takes w out of the queue. A slot granted to it in the meantime is
// handed on.
func (s *Slots) leave(w *waiter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w.granted {
		s.running--
		s.grantLocked()
		return
	}
	s.queue.Remove(w.elem)
}

// release frees a slot.
func (s *Slots) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running--
	s.grantLocked()
}

// grantLocked hands free slots to the oldest waiters.
func (s *Slots) grantLocked() {
	for s.running < s.limit && s.queue.Len() > 0 {
		w := s.queue.Remove(s.queue.Front()).(*waiter)
		w.granted = true
		s.running++
		close(w.ready)
	}
}

// Limits returns the limits in force: how many programs may run at once and
// how many requests may wait.
func (s *Slots) Limits() (concurrency, queueSize int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limit, s.queueSize
}

// counts returns the programs running (slots taken) and the requests
// waiting.
func (s *Slots) counts() (running, waiting int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running, s.queue.Len()
}

// limiter is one adapter's view of its Slots: its queue timeout, its model
// id for messages, and its own shutdown, which fails the requests that
// wait through it and not those of another adapter sharing the slots.
type limiter struct {
	id      string
	slots   *Slots
	timeout time.Duration
	closed  chan struct{}
	once    sync.Once
}

func newLimiter(id string, slots *Slots, timeout time.Duration) *limiter {
	return &limiter{id: id, slots: slots, timeout: timeout, closed: make(chan struct{})}
}

// acquire takes a slot, waiting in the queue if there is room.
func (l *limiter) acquire(ctx context.Context) error {
	w, full, limit, waiting := l.slots.enter()
	if full {
		return l.busy("queue_full", "all %d slots are busy and %d requests are waiting", limit, waiting)
	}
	if w == nil {
		return nil
	}
	t := time.NewTimer(l.timeout)
	defer t.Stop()
	var err error
	select {
	case <-w.ready:
		return nil
	case <-t.C:
		err = l.busy("queue_timeout", "no slot became free within %s", l.timeout)
	case <-ctx.Done():
		err = fmt.Errorf("model %q: waiting in the queue: %w", l.id, context.Cause(ctx))
	case <-l.closed:
		err = shuttingDown(l.id)
	}
	l.slots.leave(w)
	return err
}

func (l *limiter) release() { l.slots.release() }

// waiting is how many requests are queued, through any adapter sharing
// the slots.
func (l *limiter) waiting() int {
	_, n := l.slots.counts()
	return n
}

// running is how many slots are taken, through any adapter sharing them.
func (l *limiter) running() int {
	n, _ := l.slots.counts()
	return n
}

func (l *limiter) close() { l.once.Do(func() { close(l.closed) }) }

// busy is a 429 with Retry-After: the queue timeout, the longest a request
// in a full queue can hold its place.
func (l *limiter) busy(code, format string, args ...any) *adapter.Error {
	secs := max(1, int(math.Ceil(l.timeout.Seconds())))
	return &adapter.Error{Status: http.StatusTooManyRequests, Fault: adapter.FaultBusy,
		Header: http.Header{"Retry-After": {strconv.Itoa(secs)}},
		Err: openai.Error{Type: "requests", Code: code,
			Message: fmt.Sprintf("model %q: too many requests: ", l.id) + fmt.Sprintf(format, args...) + "; retry later"}}
}
