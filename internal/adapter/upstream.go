package adapter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"aigateway/internal/bodyio"
	"aigateway/internal/openai"
	"aigateway/internal/redact"
)

// Upstream is what every HTTP adapter needs to talk to one deployment:
// transport, timeout, limits and the secrets to keep out of errors.
// Adapters fill it once at construction; it is safe for concurrent use.
type Upstream struct {
	// ID is the model id clients use; it prefixes error messages.
	ID string
	// Transport sends requests; nil means http.DefaultTransport.
	Transport http.RoundTripper
	// Timeout bounds the wait for response headers and every silence between
	// two reads of the response, unless Timeouts says otherwise. Zero means 60s.
	Timeout time.Duration
	// Timeouts refine Timeout per phase; zero fields fall back to it.
	Timeouts Timeouts
	// MaxResponseBytes bounds a buffered response and each stream event.
	// Zero means DefaultMaxResponseBytes.
	MaxResponseBytes int
	// Redactor removes the deployment's secrets (its API key, ENV: header
	// values) from upstream error text in every form they may take. Nil
	// removes nothing.
	Redactor *redact.Redactor
}

// DefaultMaxResponseBytes bounds a buffered upstream response, so that a
// broken upstream cannot exhaust the gateway's memory.
const DefaultMaxResponseBytes = 64 << 20

// maxErrorBody bounds how much of an upstream error response is read.
const maxErrorBody = 1 << 20

// drainTimeout bounds reading the rest of a finished stream so that the
// connection can be reused.
const drainTimeout = 2 * time.Second

// Timeouts bound the phases of one upstream attempt. Zero values mean: the
// Upstream's Timeout for FirstByte and Idle, the transport's default for
// Connect, no limit for Total.
type Timeouts struct {
	Connect   time.Duration // TCP (and TLS) connect
	FirstByte time.Duration // until the response headers
	Idle      time.Duration // between two reads of the response body
	Total     time.Duration // the whole attempt, a stream included
}

func (u *Upstream) timeout() time.Duration {
	if u.Timeout <= 0 {
		return 60 * time.Second
	}
	return u.Timeout
}

func (u *Upstream) firstByte() time.Duration {
	if u.Timeouts.FirstByte > 0 {
		return u.Timeouts.FirstByte
	}
	return u.timeout()
}

func (u *Upstream) idle() time.Duration {
	if u.Timeouts.Idle > 0 {
		return u.Timeouts.Idle
	}
	return u.timeout()
}

// MaxResponse returns the response size limit in effect.
func (u *Upstream) MaxResponse() int {
	if u.MaxResponseBytes <= 0 {
		return DefaultMaxResponseBytes
	}
	return u.MaxResponseBytes
}

// Call is one upstream exchange whose response headers have arrived. Its
// context is canceled by the watchdog when the upstream falls silent, and by
// Close. The caller must call Close (a stream built on it does so).
type Call struct {
	u    *Upstream
	Ctx  context.Context
	Resp *http.Response
	wd   *Watchdog
	done bool // the body was read to its proper end; drain it for reuse
	body kickReader
}

// Send sends a request with the given body and headers. A transport failure
// comes back as an *Error (502 or 504) or, when ctx was canceled, as an error
// wrapping ctx's cause. Any HTTP status is a successful Send: the caller
// decides how to read the response.
func (u *Upstream) Send(ctx context.Context, method, url string, header http.Header, body []byte) (*Call, error) {
	if u.Timeouts.Connect > 0 {
		ctx = WithConnectTimeout(ctx, u.Timeouts.Connect)
	}
	ctx, wd := StartWatchdog(ctx, u.firstByte(), u.idle(), u.Timeouts.Total)
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		wd.Stop()
		return nil, fmt.Errorf("building upstream request: %w", err)
	}
	req.Header = header
	transport := u.Transport
	if transport == nil {
		transport = http.DefaultTransport
	}
	resp, err := transport.RoundTrip(req)
	if err != nil {
		err = u.TransportError(ctx, err, "sending the request") // classify before Stop cancels ctx
		wd.Stop()
		return nil, err
	}
	wd.Kick()
	return &Call{u: u, Ctx: ctx, Resp: resp, wd: wd, body: kickReader{r: resp.Body, wd: wd}}, nil
}

// OK reports whether the response status is 2xx.
func (c *Call) OK() bool { return c.Resp.StatusCode >= 200 && c.Resp.StatusCode <= 299 }

// ReadBody reads the whole response body (bounded) and closes the call.
func (c *Call) ReadBody() ([]byte, error) {
	defer c.Close()
	body, err := bodyio.ReadAll(c.Body(), c.Resp.ContentLength, int64(c.u.MaxResponse()))
	if err != nil {
		var tooBig *bodyio.TooLargeError
		if errors.As(err, &tooBig) {
			return nil, &Error{Status: http.StatusBadGateway, Cause: err, Fault: FaultFinal, Err: openai.Error{
				Type: openai.TypeUpstream, Code: "upstream_response_too_large",
				Message: fmt.Sprintf("model %q: the upstream response exceeds %d bytes", c.u.ID, tooBig.Limit)}}
		}
		return nil, c.u.TransportError(c.Ctx, err, "reading the response")
	}
	c.done = true
	return body, nil
}

// ReadErrorBody reads up to 1 MiB of an error response with the secrets
// redacted in every form, and closes the call. A body that cannot be read
// is returned as far as it was read. Redacting the whole body first means
// that whatever is derived from it holds no secret either: a message a
// JSON decoder unescaped, or a quote cut short (which could otherwise end
// with part of a key that redaction would no longer recognise).
func (c *Call) ReadErrorBody() []byte {
	defer c.Close()
	body, _ := io.ReadAll(io.LimitReader(c.Resp.Body, maxErrorBody))
	return c.u.Redactor.Bytes(body)
}

// Redact returns b with the deployment's secrets removed in every form (b
// itself when it holds none), for upstream text relayed as it came, such as
// an in-band error event of a passthrough stream.
func (c *Call) Redact(b []byte) []byte { return c.u.Redactor.Bytes(b) }

// RedactError removes the secrets from err; see the function RedactError.
func (u *Upstream) RedactError(err error) error { return RedactError(u.Redactor, err) }

// RetryHeaders returns the rate-limit hints of an error response worth
// passing on to the client, or nil.
func (c *Call) RetryHeaders() http.Header {
	var h http.Header
	for _, k := range [...]string{"Retry-After", "Retry-After-Ms"} {
		if v := c.Resp.Header.Get(k); v != "" {
			if h == nil {
				h = http.Header{}
			}
			h.Set(k, v)
		}
	}
	return h
}

// Close releases the response. After a properly finished body it first
// reads what is left (normally just the end of the chunked encoding) so that
// the connection goes back to the pool instead of being torn down.
func (c *Call) Close() error {
	if c.done {
		c.wd.Extend(drainTimeout)
		io.Copy(io.Discard, io.LimitReader(c.Resp.Body, 64<<10)) //nolint:errcheck // best effort
	}
	c.wd.Stop()
	return c.Resp.Body.Close()
}

// TransportError classifies a failed round trip or body read. The client
// gets the kind of failure; the log gets the full error.
func (u *Upstream) TransportError(ctx context.Context, err error, doing string) error {
	switch {
	case errors.Is(context.Cause(ctx), ErrTotalTimeout):
		return &Error{Status: http.StatusGatewayTimeout, Cause: err, Err: openai.Error{
			Type: openai.TypeTimeout, Code: "upstream_timeout",
			Message: fmt.Sprintf("model %q: the upstream attempt took longer than its total timeout of %s", u.ID, u.Timeouts.Total)}}
	case TimedOut(ctx):
		return &Error{Status: http.StatusGatewayTimeout, Cause: err, Err: openai.Error{
			Type: openai.TypeTimeout, Code: "upstream_timeout",
			Message: fmt.Sprintf("model %q: the upstream did not answer within %s", u.ID, u.firstByte())}}
	case ctx.Err() != nil:
		return fmt.Errorf("%s: %w", doing, context.Cause(ctx))
	}
	return &Error{Status: http.StatusBadGateway, Cause: err, Err: openai.Error{
		Type: openai.TypeUpstream, Code: "upstream_unreachable",
		Message: fmt.Sprintf("model %q: the upstream request failed while %s: %s", u.ID, doing, reason(err))}}
}

// StreamError explains why a stream stopped before its proper end: the
// upstream closed it (io.EOF), fell silent, sent an oversized event, or the
// connection broke. A canceled request yields an error wrapping the cause.
func (c *Call) StreamError(err error) error {
	if c.Ctx.Err() != nil && !TimedOut(c.Ctx) {
		return fmt.Errorf("reading the stream: %w", context.Cause(c.Ctx))
	}
	e := &Error{Status: http.StatusBadGateway, Cause: err,
		Err: openai.Error{Type: openai.TypeUpstream, Code: "stream_incomplete"}}
	switch {
	case errors.Is(context.Cause(c.Ctx), ErrTotalTimeout):
		e.Status, e.Err.Type, e.Err.Code = http.StatusGatewayTimeout, openai.TypeTimeout, "upstream_timeout"
		e.Err.Message = fmt.Sprintf("model %q: the upstream stream took longer than its total timeout of %s", c.u.ID, c.u.Timeouts.Total)
	case TimedOut(c.Ctx):
		e.Status, e.Err.Type, e.Err.Code = http.StatusGatewayTimeout, openai.TypeTimeout, "upstream_timeout"
		e.Err.Message = fmt.Sprintf("model %q: the upstream stream was silent for %s", c.u.ID, c.u.idle())
	case errors.Is(err, errEventTooLarge):
		e.Err.Code, e.Fault = "upstream_response_too_large", FaultFinal
		e.Err.Message = fmt.Sprintf("model %q: an upstream stream event exceeds %d bytes", c.u.ID, c.u.MaxResponse())
	case err == io.EOF:
		e.Err.Message = fmt.Sprintf("model %q: the upstream ended the stream before it was complete", c.u.ID)
	default:
		e.Err.Message = fmt.Sprintf("model %q: the upstream stream broke off before it was complete: %s", c.u.ID, reason(err))
	}
	return e
}

// Finished marks the body as properly ended, so that Close drains it for
// connection reuse.
func (c *Call) Finished() { c.done = true }

// Body returns the response body for reading: each read restarts the idle
// countdown, so that the idle timeout measures silence on the wire. An
// upstream that sends a keep-alive comment every second, or trickles an
// event a few bytes at a time, is alive however long its events take.
func (c *Call) Body() io.Reader { return &c.body }

// reason names a network failure without the URL, which may name internal
// hosts: "cannot connect: connection refused", "EOF", "tls: ...".
func reason(err error) string {
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		if opErr.Op == "dial" {
			return "cannot connect: " + opErr.Err.Error()
		}
		return opErr.Err.Error()
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "DNS lookup failed: " + dnsErr.Err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "the connection was closed early"
	}
	for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(err) {
		err = u
	}
	return err.Error()
}

// kickReader runs the watchdog's idle countdown only while a read waits on
// the upstream: it restarts it before every read and pauses it when the
// read returns. It so measures one wait for the upstream's next bytes:
// neither the time the caller spends between two reads (writing to a slow
// client, whose own write deadline bounds that) nor the time since the last
// whole event.
type kickReader struct {
	r  io.Reader
	wd *Watchdog
}

func (k *kickReader) Read(p []byte) (int, error) {
	k.wd.Kick()
	n, err := k.r.Read(p)
	k.wd.Pause()
	return n, err
}
