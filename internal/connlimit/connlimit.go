// Package connlimit caps the number of client connections a server holds
// open, so that a flood of idle or trickling connections cannot exhaust the
// process's file descriptors (accept4: too many open files) and starve real
// requests. Health checks keep working at the cap: a small reserve of extra
// connections is admitted for them, and everything else on those gets a
// fast 503.
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
	// ReserveTimeout bounds the whole life of a reserve connection, so that
	// the reserve itself cannot be held. Zero means DefaultReserveTimeout.
	ReserveTimeout time.Duration
	// OnReject is called (outside any lock) when a connection is closed at
	// once because Max and the reserve are both taken; nil means nothing.
	OnReject func()
}

// Defaults for Options.
const (
	DefaultReserve        = 32
	DefaultReserveTimeout = 5 * time.Second
)

// Listener wraps a net.Listener and keeps at most Max connections open,
// plus Reserve for probes. When Max is reached it first closes a connection
// that sits idle between two requests (keep-alive), oldest first, so that an
// attacker holding idle connections cannot lock clients out; only then does
// a new connection go to the reserve. Call ConnState from the http.Server's
// ConnState hook so that the listener knows which connections are idle.
type Listener struct {
	net.Listener
	opts Options

	mu       sync.Mutex
	open     int                // normal connections
	reserved int                // reserve connections
	idle     map[*conn]struct{} // normal connections between requests
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
	return &Listener{Listener: ln, opts: o, idle: map[*conn]struct{}{}}, nil
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
		if wrapped := l.admit(c); wrapped != nil {
			return wrapped, nil
		}
		c.Close()
		if l.opts.OnReject != nil {
			l.opts.OnReject()
		}
	}
}

// admit decides the fate of a new connection: normal, reserve, or nil
// (close it).
func (l *Listener) admit(c net.Conn) net.Conn {
	l.mu.Lock()
	var evict *conn
	if l.open >= l.opts.Max {
		evict = l.oldestIdleLocked()
		if evict != nil {
			// The evicted connection's count is given to the new one now;
			// its Close will not decrement again.
			delete(l.idle, evict)
			evict.counted = false
			l.open--
		}
	}
	switch {
	case l.open < l.opts.Max:
		l.open++
		l.mu.Unlock()
		if evict != nil {
			evict.Conn.Close()
		}
		return &conn{Conn: c, l: l, counted: true}
	case l.reserved < l.opts.Reserve:
		l.reserved++
		l.mu.Unlock()
		c.SetDeadline(time.Now().Add(l.opts.ReserveTimeout)) //nolint:errcheck // best effort: a closed conn fails later anyway
		return &conn{Conn: c, l: l, reserve: true, counted: true}
	}
	l.mu.Unlock()
	return nil
}

func (l *Listener) oldestIdleLocked() *conn {
	var oldest *conn
	for c := range l.idle {
		if oldest == nil || c.idleSince.Before(oldest.idleSince) {
			oldest = c
		}
	}
	return oldest
}

// Open returns the number of normal and reserve connections open now.
func (l *Listener) Open() (normal, reserve int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open, l.reserved
}

// ConnState is the http.Server ConnState hook: it tracks which normal
// connections are idle between requests and may be evicted at the cap.
func (l *Listener) ConnState(nc net.Conn, state http.ConnState) {
	c, ok := nc.(*conn)
	if !ok || c.reserve {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !c.counted {
		return
	}
	if state == http.StateIdle {
		c.idleSince = time.Now()
		l.idle[c] = struct{}{}
	} else {
		delete(l.idle, c)
	}
}

// conn releases its place under the cap once, when it is closed.
type conn struct {
	net.Conn
	l         *Listener
	reserve   bool
	counted   bool      // guarded by l.mu: still holds a place
	idleSince time.Time // guarded by l.mu
	closeOnce sync.Once
}

func (c *conn) Close() error {
	c.closeOnce.Do(func() {
		l := c.l
		l.mu.Lock()
		if c.counted {
			c.counted = false
			if c.reserve {
				l.reserved--
			} else {
				l.open--
				delete(l.idle, c)
			}
		}
		l.mu.Unlock()
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

type reserveKey struct{}

// ConnContext is the http.Server ConnContext hook: it marks the context of
// requests that arrive on a reserve connection.
func ConnContext(ctx context.Context, nc net.Conn) context.Context {
	if c, ok := nc.(*conn); ok && c.reserve {
		return context.WithValue(ctx, reserveKey{}, true)
	}
	return ctx
}

// OnReserve reports whether a request arrived on a reserve connection, one
// accepted past the cap only so that probes get an answer.
func OnReserve(ctx context.Context) bool {
	v, _ := ctx.Value(reserveKey{}).(bool)
	return v
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
	})
}
