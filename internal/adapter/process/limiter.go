package process

import (
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

// limiter bounds the programs running at once and the requests waiting for
// them. Waiting requests take their turn in arrival order: a freed slot is
// handed to the longest-blocked sender of the slots channel.
type limiter struct {
	id      string
	slots   chan struct{} // one token per running program
	queue   chan struct{} // one token per waiting request; nil when none may wait
	timeout time.Duration
	closed  chan struct{}
	once    sync.Once
}

func newLimiter(id string, concurrency, queueSize int, timeout time.Duration) *limiter {
	l := &limiter{id: id, slots: make(chan struct{}, concurrency), timeout: timeout, closed: make(chan struct{})}
	if queueSize > 0 {
		l.queue = make(chan struct{}, queueSize)
	}
	return l
}

// acquire takes a slot, waiting in the queue if there is room.
func (l *limiter) acquire(ctx context.Context) error {
	select {
	case l.slots <- struct{}{}:
		return nil
	default:
	}
	select {
	case l.queue <- struct{}{}: // a nil queue blocks, so this falls to default
	default:
		return l.busy("queue_full", "all %d slots are busy and %d requests are waiting", cap(l.slots), cap(l.queue))
	}
	defer func() { <-l.queue }()
	t := time.NewTimer(l.timeout)
	defer t.Stop()
	select {
	case l.slots <- struct{}{}:
		return nil
	case <-t.C:
		return l.busy("queue_timeout", "no slot became free within %s", l.timeout)
	case <-ctx.Done():
		return fmt.Errorf("model %q: waiting in the queue: %w", l.id, context.Cause(ctx))
	case <-l.closed:
		return shuttingDown(l.id)
	}
}

func (l *limiter) release() { <-l.slots }

// waiting is how many requests are queued.
func (l *limiter) waiting() int { return len(l.queue) }

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
