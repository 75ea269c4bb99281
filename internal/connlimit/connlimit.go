// Package connlimit caps the number of client connections a server holds
// open, so that a flood of idle, silent or trickling connections cannot
// exhaust the process's file descriptors (accept4: too many open files) and
// starve real requests. Health checks keep working at the cap: a small
// reserve of extra connections is admitted for them, and everything else on
// those gets a fast 503.
package connlimit

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"aigateway/internal/openai"
)

// Options configure a Listener. Zero values mean the documented defaults.
type Options struct {
	// Max is the number of connections served normally. Required (> 0).
	Max int
	// Reserve is how many connections past Max are still accepted so that
	// health and readiness probes get an answer; requests for anything else
	// on them get 503. Zero means DefaultReserve.
	Reserve int
	// ReserveTimeout bounds the whole life of a reserve connection. Zero
	// means DefaultReserveTimeout.
	ReserveTimeout time.Duration
	// EvictAfter is how long a connection must have been open without
	// sending a request before it may be closed to make room at the cap;
	// one idle between two requests (keep-alive) must have been idle five
	// times as long, since its client may reuse it at any moment and a
	// client does not resend a POST that met a closed connection. Zero
	// means DefaultEvictAfter. Reserve connections may be closed for a newer
	// one after a tenth of it: a probe sends its request at once.
	EvictAfter time.Duration
	// OnReject is called when a connection is closed at once because Max and
	// the reserve are both taken by connections that may not be evicted;
	// nil means nothing.
	OnReject func()
}

// Defaults for Options.
const (
	DefaultReserve        = 32
	DefaultReserveTimeout = 5 * time.Second
	DefaultEvictAfter     = time.Second
)

// Listener wraps a net.Listener and keeps at most Max connections open,
// plus Reserve for probes.
//
// At the cap, a new connection takes the place of the one that has waited
// longest for a request: first one opened and still silent after
// EvictAfter, else one idle between two requests for five times that. A
// client that holds connections without using them cannot lock others
// out, while a client whose request is on its way is left alone. Connections busy with a
// request are never closed; their request and body deadlines bound them.
// Only when nothing can be evicted does a new connection go to the reserve,
// whose oldest silent connection likewise makes room for a newer one, so
// that a flood of silent connections cannot keep probes out either.
//
// Call ConnState from the http.Server's ConnState hook so that the listener
// knows which connections are waiting for a request.
type Listener struct {
	net.Listener
	opts Options

	mu       sync.Mutex
	open     int      // normal connections
	reserved int      // reserve connections
	fresh    waitList // normal connections that sent no request yet, oldest first
	idle     waitList // normal connections between two requests, oldest first
	probes   waitList // reserve connections that sent no request yet, oldest first
}

// NewListener wraps ln.
func NewListener(ln net.Listener, o Options) (*Listener, error) {
	if o.Max <= 0 {
		return nil, errors.New("connlimit: Max must be positive")
	}
	if o.Reserve <= 0 {
		o.Reserve = DefaultReserve
	}
	if o.ReserveTimeout <= 0 {
		o.ReserveTimeout = DefaultReserveTimeout
	}
	if o.EvictAfter <= 0 {
		o.EvictAfter = DefaultEvictAfter
	}
	return &Listener{Listener: ln, opts: o}, nil
}

// Accept waits for the next connection that fits under the cap. A
// connection that fits nowhere is closed at once and Accept goes on
// waiting, so that the backlog does not fill up with connections that will
// time out anyway.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if wrapped := l.admit(c, time.Now()); wrapped != nil {
			return wrapped, nil
		}
		if l.opts.OnReject != nil {
			l.opts.OnReject()
		}
		c.Close()
	}
}

// admit decides the fate of a new connection: normal, reserve, or nil
// (close it). A connection it evicts is closed outside the lock.
func (l *Listener) admit(nc net.Conn, now time.Time) net.Conn {
	c := &conn{Conn: nc, l: l, counted: true}
	l.mu.Lock()
	var evict *conn
	if l.open >= l.opts.Max {
		evict = l.fresh.oldestSince(now.Add(-l.opts.EvictAfter))
		if evict == nil {
			evict = l.idle.oldestSince(now.Add(-5 * l.opts.EvictAfter))
		}
		if evict != nil {
			l.release(evict) // its place goes to the new connection
		}
	}
	switch {
	case l.open < l.opts.Max:
		l.open++
	case l.reserved < l.opts.Reserve:
		c.reserve = true
		l.reserved++
	default:
		evict = l.probes.oldestSince(now.Add(-l.opts.EvictAfter / 10))
		if evict == nil {
			l.mu.Unlock()
			return nil
		}
		l.release(evict)
		c.reserve = true
		l.reserved++
	}
	if c.reserve {
		l.probes.push(c, now)
	} else {
		l.fresh.push(c, now)
	}
	l.mu.Unlock()
	if evict != nil {
		evict.Conn.Close() // the server's own Close of the wrapper then finds nothing to release
	}
	if c.reserve {
		nc.SetDeadline(now.Add(l.opts.ReserveTimeout)) //nolint:errcheck // a broken conn fails its first read anyway
	}
	return c
}

// release gives up c's place. The caller holds l.mu.
func (l *Listener) release(c *conn) {
	if !c.counted {
		return
	}
	c.counted = false
	if c.reserve {
		l.reserved--
	} else {
		l.open--
	}
	c.unlist()
}

// Open returns the number of normal and reserve connections open now.
func (l *Listener) Open() (normal, reserve int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open, l.reserved
}

// ConnState is the http.Server ConnState hook: it tracks which connections
// wait for a request (new or idle) and may be evicted at the cap.
func (l *Listener) ConnState(nc net.Conn, state http.ConnState) {
	c, ok := nc.(*conn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !c.counted {
		return
	}
	switch state {
	case http.StateNew:
		// admit listed it already, as waiting since it was accepted.
	case http.StateIdle:
		c.unlist()
		if !c.reserve { // a reserve connection is closed after its one request
			l.idle.push(c, time.Now())
		}
	default:
		c.unlist()
	}
}

// conn releases its place under the cap once, when it is closed.
type conn struct {
	net.Conn
	l         *Listener
	reserve   bool
	closeOnce sync.Once
	// Guarded by l.mu:
	counted    bool      // still holds a place
	since      time.Time // when it started waiting for a request
	prev, next *conn     // in its wait list
	list       *waitList // the list it is in, or nil
}

// unlist takes c out of the wait list it is in, if any; l.mu must be held.
func (c *conn) unlist() {
	if c.list != nil {
		c.list.remove(c)
	}
}

func (c *conn) Close() error {
	c.closeOnce.Do(func() {
		c.l.mu.Lock()
		c.l.release(c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// CloseWrite shuts down the writing side when the connection supports it.
// net/http does so before closing a connection whose request body it did
// not read (a 413, a 408), then waits briefly, so that the client reads the
// answer instead of a reset; hiding it behind the wrapper would lose that.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// waitList is an intrusive list of connections ordered by the time they
// started waiting, so that the oldest is found without a scan: at the cap,
// under attack, every accept looks for it.
type waitList struct{ head, tail *conn }

func (w *waitList) push(c *conn, since time.Time) {
	c.since, c.list = since, w
	c.prev, c.next = w.tail, nil
	if w.tail != nil {
		w.tail.next = c
	} else {
		w.head = c
	}
	w.tail = c
}

// pushFront lists c as the first to go, whatever its age.
func (w *waitList) pushFront(c *conn) {
	c.since, c.list = time.Time{}, w
	c.prev, c.next = nil, w.head
	if w.head != nil {
		w.head.prev = c
	} else {
		w.tail = c
	}
	w.head = c
}

func (w *waitList) remove(c *conn) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		w.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		w.tail = c.prev
	}
	c.prev, c.next, c.list = nil, nil, nil
}

// oldestSince returns the connection that has waited longest, if it has
// been waiting since before cutoff.
func (w *waitList) oldestSince(cutoff time.Time) *conn {
	if w.head != nil && !w.head.since.After(cutoff) {
		return w.head
	}
	return nil
}

type reserveKey struct{}

// ConnContext is the http.Server ConnContext hook: it marks the context of
// requests that arrive on a reserve connection.
func ConnContext(ctx context.Context, nc net.Conn) context.Context {
	if c, ok := nc.(*conn); ok && c.reserve {
		return context.WithValue(ctx, reserveKey{}, c)
	}
	return ctx
}

// OnReserve reports whether a request arrived on a reserve connection, one
// accepted past the cap only so that probes get an answer.
func OnReserve(ctx context.Context) bool {
	_, ok := ctx.Value(reserveKey{}).(*conn)
	return ok
}

// answered marks the reserve connection of ctx as done: it got its one
// answer and only waits to be closed (net/http lingers up to half a second
// before closing a connection whose request body it did not read), so a
// newer connection may take its place at once.
func answered(ctx context.Context) {
	c, ok := ctx.Value(reserveKey{}).(*conn)
	if !ok {
		return
	}
	l := c.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.counted {
		c.unlist()
		l.probes.pushFront(c)
	}
}

// Handler answers requests on reserve connections itself, with 503 and
// Connection: close, except those for which probe reports true (health and
// readiness checks), which go to next.
func Handler(next http.Handler, probe func(path string) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !OnReserve(r.Context()) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Connection", "close") // give the reserve place back at once
		if probe(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Retry-After", "1")
		openai.WriteError(w, http.StatusServiceUnavailable, &openai.Error{
			Type: openai.TypeUnavailable, Code: "too_many_connections",
			Message: "The gateway is at its connection limit; retry shortly"})
		// The answer is on its way; the place may go to a probe now,
		// rather than after net/http's linger over an unread body.
		http.NewResponseController(w).Flush() //nolint:errcheck // best effort
		answered(r.Context())
	})
}
