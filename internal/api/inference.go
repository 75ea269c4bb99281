package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/trace"

	"aigateway/internal/adapter"
	"aigateway/internal/breaker"
	"aigateway/internal/openai"
	"aigateway/internal/registry"
	"aigateway/internal/router"
)

// inference serves chat completions, completions and embeddings: read the
// body once, peek at model and stream, resolve the model, send, relay.
func (s *Server) inference(w *logWriter, r *http.Request, rec *record, op adapter.Op) {
	if !s.authenticate(w, r, rec) {
		return // not recorded: the ledger is of the keys' requests
	}
	rec.endpoint = endpointOf(r)
	s.metrics.RequestStarted() // ended by account, which runs for every request with an endpoint
	body := s.readBody(w, r, rec)
	if body == nil {
		return
	}
	rec.bytesIn = len(body)
	f, perr := openai.Peek(body)
	if perr != nil {
		openai.WriteError(w, http.StatusBadRequest, perr)
		return
	}
	rec.model = f.Model
	if op == adapter.OpEmbedding {
		f.Stream = false // embeddings never stream
	}
	rec.stream = f.Stream
	if op == adapter.OpChat && !f.MessagesOK {
		e := &openai.Error{Type: openai.TypeInvalidRequest, Param: "messages", Code: "missing_required_parameter",
			Message: `"messages" is required and must be a non-empty array`}
		if f.HasMessages {
			e.Code = "invalid_value"
		}
		openai.WriteError(w, http.StatusBadRequest, e)
		return
	}
	if !s.permit(w, rec, f.Model) {
		return
	}
	plan, err := s.router.Plan(f.Model)
	if err != nil {
		s.fail(w, r, rec, err)
		return
	}
	if !s.admit(r.Context(), w, rec, f.Model, body, f.MaxTokens) {
		return
	}
	req := &adapter.Request{Op: op, Body: body, Fields: f, RequestID: rec.id}
	s.attempt(w, r, rec, plan, &exchange{chat: req, stream: f.Stream, model: f.Model, requestID: rec.id})
}

// attempt tries the plan's deployments until one answers. Retries and
// fallbacks happen only before the first byte reaches the client: a stream
// is held back until the upstream produced its first item (a chunk or a
// keep-alive comment), so an upstream that fails at once is still retried.
// After a failure, judge decides whether the request ends, moves on to
// another deployment, or may try the same one again. Only a retry of a
// deployment that failed waits (backoff or its Retry-After): moving on is
// immediate, and the last failure reaches the client at once.
func (s *Server) attempt(w *logWriter, r *http.Request, rec *record, plan *router.Plan, x *exchange) {
	var lastErr error
	// A stream's upstream request (or program) must also stop when a
	// keep-alive write finds that the client stopped reading, which the
	// relay cannot see while it waits on the upstream.
	// It also stops when EndStreams cuts the streams still running at the
	// end of a shutdown.
	ctx, abort := r.Context(), context.CancelCauseFunc(nil)
	if x.stream {
		ctx, abort = context.WithCancelCause(ctx)
		defer abort(nil)
		defer context.AfterFunc(s.ending, func() { abort(context.Cause(s.ending)) })()
		if s.ending.Err() != nil {
			s.failShutdown(w, rec)
			return
		}
	}
	for {
		// Choose, wait, then pass the breaker: Next takes the breaker's
		// slot (the single probe after a cool-down), which must not be
		// held while sleeping.
		_, failed, ok := plan.Peek()
		if !ok {
			break
		}
		if failed != nil {
			waited := time.Now()
			if !s.backoff(ctx, rec.attempts, failed) {
				if shutdownCut(ctx) {
					s.failShutdown(w, rec)
					return
				}
				s.connectionGone(rec, r.Context().Err())
				return
			}
			s.log.Debug("waited before retrying", "request_id", rec.id, "attempt", rec.attempts+1, "wait_ms", millis(time.Since(waited)))
		}
		m, d, ok := plan.Next()
		if !ok {
			break
		}
		rec.attempts++
		rec.answeredBy, rec.deployment, rec.upstream, rec.upstreamModel, rec.price = m.ID, d.Label, d.Upstream, d.Model, d.Price
		rec.provider = providerOf(d)
		switch {
		case m.ID != x.model:
			s.metrics.Fallback(x.model)
		case rec.attempts > 1:
			s.metrics.Retry(x.model)
		}
		sent := time.Now()
		actx, span := ctx, trace.Span(nil)
		if rec.span != nil {
			actx, span = s.startAttempt(ctx, rec, m.ID, d)
		}
		resp, first, err := s.send(actx, d, x)
		outcome := attemptOutcome(r.Context(), err)
		s.metrics.Attempt(m.ID, d.Label, outcome)
		if span != nil {
			endAttempt(r.Context(), span, resp, first, err, outcome)
		}
		s.logAttempt(r.Context(), rec, m.ID, d, err, time.Since(sent))
		if shutdownCut(ctx) && r.Context().Err() == nil {
			if err == nil && resp.Stream != nil {
				resp.Stream.Close()
			}
			s.routeHeaders(w, rec)
			s.failShutdown(w, rec)
			return
		}
		if r.Context().Err() != nil { // the client left: not the upstream's fault
			s.connectionGone(rec, r.Context().Err())
			if err == nil && resp.Stream != nil {
				resp.Stream.Close()
			}
			return
		}
		if err != nil {
			if next, _ := judge(err); next != stepEnd {
				lastErr = err
				plan.Failed(d, err, next == stepRetry)
				s.log.Warn("upstream attempt failed", "request_id", rec.id, "model", m.ID, "deployment", d.Label, "attempt", rec.attempts, "error", err)
				continue
			}
		}
		s.routeHeaders(w, rec)
		if err != nil {
			s.fail(w, r, rec, err)
			return
		}
		if resp.Stream != nil {
			s.relay(ctx, w, r, rec, x, resp.Stream, first, abort)
			return
		}
		rec.usage = resp.Usage
		s.settle(r.Context(), rec)
		s.writeBody(w, rec, resp.Body)
		return
	}
	if lastErr == nil {
		// A plan always offers a first attempt (forced when every
		// deployment is out of rotation): this is a gateway bug.
		lastErr = fmt.Errorf("router: the plan for %q offered no deployment", x.model)
	}
	s.routeHeaders(w, rec)
	s.fail(w, r, rec, lastErr)
}

// logAttempt writes, at DEBUG, where an attempt went and how it ended:
// the upstream (without credentials), the status it answered (0: no
// answer; for a stream, 200 once it started) and the time to it.
func (s *Server) logAttempt(ctx context.Context, rec *record, model string, d *registry.Deployment, err error, took time.Duration) {
	if !s.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	status := http.StatusOK
	var ae *adapter.Error
	switch {
	case ctx.Err() != nil:
		status = statusClientClosed
	case errors.As(err, &ae):
		status = ae.Status
	case err != nil:
		status = 0
	}
	attrs := []slog.Attr{slog.String("request_id", rec.id), slog.String("model", model), slog.String("deployment", d.Label),
		slog.String("upstream", d.Upstream), slog.Int("attempt", rec.attempts), slog.Int("status", status), slog.Float64("latency_ms", millis(took))}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	s.log.LogAttrs(ctx, slog.LevelDebug, "upstream attempt", attrs...)
}

// send makes one attempt on d and, for a stream, reads its first item: a
// chunk, or a comment that shows the upstream is alive. It reports the
// attempt's outcome to d's breaker exactly once, whatever happens (a panic
// included): at once for an answer or a failure, and for a stream that
// started, when the stream ends (see outcomeStream).
func (s *Server) send(ctx context.Context, d *registry.Deployment, x *exchange) (resp *adapter.Response, first streamHead, err error) {
	reported := false
	defer func() {
		if !reported {
			d.Breaker.Release()
		}
	}()
	resp, err = x.sendTo(ctx, d)
	if x.local { // answered by the gateway: says nothing about the upstream
		return resp, first, err
	}
	if err == nil && resp.Stream != nil {
		first.keepAlive = d.KeepAlive
		first.chunk, err = resp.Stream.Next()
		switch {
		case err == io.EOF:
			first.ended, err = true, nil
		case err != nil:
			resp.Stream.Close()
		default:
			resp.Stream = &outcomeStream{Stream: resp.Stream, ctx: ctx, breaker: d.Breaker}
			reported = true
			return resp, first, nil
		}
	}
	report(ctx, d.Breaker, err)
	reported = true
	return resp, first, err
}

// streamHead is what send read of a stream before the gateway committed to
// it. The stream is held back (no byte to the client, so that a failure can
// still be retried) only until the upstream shows it is alive: a 200 and
// any item, a comment included. From then on the client gets the headers
// and every keep-alive; a later failure is an error event in the stream.
type streamHead struct {
	chunk     adapter.Chunk // the first item, unless ended
	ended     bool          // the upstream finished the stream without an item
	keepAlive time.Duration // the deployment's keep-alive interval; 0: none
}

// report tells b how an attempt ended (err nil: the upstream answered). A
// client that left says nothing about the upstream; judge decides the rest.
func report(ctx context.Context, b *breaker.Breaker, err error) {
	if ctx.Err() != nil {
		b.Release()
		return
	}
	v := verdictHealthy
	if err != nil {
		_, v = judge(err)
	}
	switch v {
	case verdictFailed:
		b.Failure()
	case verdictNeutral:
		b.Release()
	default:
		b.Success()
	}
}

// outcomeStream reports a started stream's outcome to its deployment's
// breaker when the outcome is known: a success at the upstream's proper
// end, report's verdict on a failure, a release when the stream is closed
// before either (the client left or stopped reading). So a stream that
// breaks off after its first chunk counts against its deployment, and a
// stream that is a breaker's probe holds the probe slot until it ends.
type outcomeStream struct {
	adapter.Stream
	ctx      context.Context
	breaker  *breaker.Breaker
	reported bool
}

func (o *outcomeStream) Next() (adapter.Chunk, error) {
	data, err := o.Stream.Next()
	if err != nil && !o.reported {
		o.reported = true
		if err == io.EOF {
			report(o.ctx, o.breaker, nil)
		} else {
			report(o.ctx, o.breaker, err)
		}
	}
	return data, err
}

func (o *outcomeStream) Close() error {
	if !o.reported {
		o.reported = true
		o.breaker.Release()
	}
	return o.Stream.Close()
}

// step is what a request does after an attempt failed.
type step uint8

const (
	// stepEnd answers the client with the failure: its own mistake (a
	// 4xx), or one that no other attempt can improve.
	stepEnd step = iota
	// stepMoveOn tries the pool's other deployments and the fallbacks, at
	// once and never this deployment again: it cannot serve this request.
	stepMoveOn
	// stepRetry tries again, this deployment included, after the backoff
	// or Retry-After wait when it is this deployment.
	stepRetry
)

// verdict is what a failed attempt tells its deployment's breaker.
type verdict uint8

const (
	verdictHealthy verdict = iota // the upstream answered; a client error is the client's
	verdictFailed                 // counts towards taking the deployment out of rotation
	verdictNeutral                // says nothing about the upstream
)

// judge classifies a failed attempt; the adapter's own Fault comes first,
// then the HTTP status:
//   - busy (a local program's full queue or queue timeout, shutdown): move
//     on, not a breaker failure;
//   - broken (a program that cannot start, fails or times out), 401 and 403
//     (a revoked or wrong key breaks the deployment for every request):
//     move on, a breaker failure;
//   - 429, 500, 502, 503, 504 and Anthropic's 529, which includes a
//     connection error and a timeout before the first byte: retry, a
//     breaker failure;
//   - final (an answer too large) and every other 4xx: end, healthy;
//   - an error that is not an upstream's (a gateway bug): end, neutral.
func judge(err error) (step, verdict) {
	var ae *adapter.Error
	if !errors.As(err, &ae) {
		return stepEnd, verdictNeutral
	}
	switch ae.Fault {
	case adapter.FaultBusy:
		return stepMoveOn, verdictNeutral
	case adapter.FaultBroken:
		return stepMoveOn, verdictFailed
	case adapter.FaultFinal:
		return stepEnd, verdictHealthy
	}
	switch ae.Status {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout, 529:
		return stepRetry, verdictFailed
	case http.StatusUnauthorized, http.StatusForbidden:
		return stepMoveOn, verdictFailed
	}
	return stepEnd, verdictHealthy
}

// backoff waits before attempt n+1 when it goes to a deployment that
// failed before (lastErr): exponential with full jitter, or that
// deployment's Retry-After when longer, up to MaxRetryAfter. It returns
// false when the client left while waiting.
func (s *Server) backoff(ctx context.Context, n int, lastErr error) bool {
	wait := s.retry.Base << (n - 1)
	if wait > s.retry.Max || wait <= 0 {
		wait = s.retry.Max
	}
	wait = time.Duration(rand.Int64N(int64(wait) + 1))
	var ae *adapter.Error
	if errors.As(lastErr, &ae) {
		if after := retryAfter(ae.Header); after > wait {
			wait = min(after, s.retry.MaxRetryAfter)
		}
	}
	if wait <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// retryAfter reads Retry-After-Ms or Retry-After (seconds or an HTTP date).
func retryAfter(h http.Header) time.Duration {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil && secs > 0 {
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}

// routeHeaders tell the client which model and deployment answered and
// after how many attempts.
func (s *Server) routeHeaders(w http.ResponseWriter, rec *record) {
	if rec.attempts == 0 {
		return
	}
	h := w.Header()
	h["X-Aigateway-Model"] = []string{rec.answeredBy}
	h["X-Aigateway-Deployment"] = []string{rec.deployment}
	h["X-Aigateway-Attempts"] = []string{strconv.Itoa(rec.attempts)}
}

// fail answers a request that failed before any byte of the response was
// written. A client that went away gets nothing and is logged as 499.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, rec *record, err error) {
	rec.err = err
	if r.Context().Err() != nil {
		s.connectionGone(rec, err)
		return
	}
	var ae *adapter.Error
	if !errors.As(err, &ae) {
		s.writeError(w, rec, http.StatusInternalServerError, &openai.Error{
			Type: openai.TypeServer, Code: "internal_error", Message: "internal gateway error; see the gateway log for request " + rec.id})
		return
	}
	s.writeUpstreamError(w, rec, ae)
}

// failShutdown answers a request that EndStreams cut before its stream
// started: 503 gateway_shutdown, which a client may retry elsewhere.
func (s *Server) failShutdown(w http.ResponseWriter, rec *record) {
	rec.err = errGatewayShutdown
	s.writeError(w, rec, http.StatusServiceUnavailable, &shutdownError)
}

var (
	sseContentType = []string{"text/event-stream"}
	noCache        = []string{"no-cache"}
	no             = []string{"no"}
	doneEvent      = []byte("data: [DONE]\n\n")
)

// writeBody writes a non-stream answer under a write deadline, and flushes
// it before the handler returns so that the whole write is bounded.
func (s *Server) writeBody(w *logWriter, rec *record, body []byte) {
	dl := newWriteDeadline(w, s.writeTimeout)
	dl.extend()
	dl.end(w, rec, writeJSON(w, http.StatusOK, body))
}

// relay writes a stream to the client event by event. It flushes whenever
// the next chunk is not already at hand, so every event reaches the client
// as soon as it arrived, and events that arrived together share one write.
// While the upstream is silent it writes a keep-alive comment every
// keep-alive interval (see streamWriter). It ends the stream the client's
// protocol's way (OpenAI's [DONE]) only when the upstream finished;
// otherwise the last event is an error the client can see. Each write is
// bounded by the write timeout: a client that stops reading is dropped
// (499), which closes the stream, canceling the upstream request or
// stopping the program.
func (s *Server) relay(ctx context.Context, w *logWriter, r *http.Request, rec *record, x *exchange, st adapter.Stream, head streamHead, abort context.CancelCauseFunc) {
	s.metrics.StreamStarted()
	defer s.metrics.StreamEnded()
	defer func() {
		st.Close()
		rec.usage = st.Usage()
	}()
	f := framing{dialect: rec.dialect, array: x.jsonArray}
	h := w.Header()
	h["Content-Type"] = f.contentType()
	h["Cache-Control"] = noCache
	h["X-Accel-Buffering"] = no // keep nginx in front of us from buffering
	w.WriteHeader(http.StatusOK)
	sw := s.streamWriter(w, head.keepAlive, abort, f.keepAlive())
	defer s.release(sw) // before st.Close: nothing writes once the handler returns
	c, err := head.chunk, error(nil)
	if head.ended {
		err = io.EOF
	}
	for ; ; c, err = st.Next() {
		if kerr := sw.hold(); kerr != nil {
			rec.status, rec.err = statusClientClosed, kerr
			return
		}
		sw.dl.extend()
		if err == io.EOF {
			if rec.ticket != nil { // before the end reaches the client
				rec.usage = st.Usage()
				s.settle(r.Context(), rec)
			}
			sw.buf = f.end(sw.buf[:0])
			var werr error
			if len(sw.buf) > 0 {
				_, werr = w.Write(sw.buf)
			}
			sw.dl.end(w, rec, werr)
			return
		}
		if err != nil {
			rec.err = err
			if r.Context().Err() != nil {
				s.connectionGone(rec, err)
				return
			}
			status, e := http.StatusInternalServerError, &openai.Error{Type: openai.TypeServer, Code: "stream_error", Message: "the stream failed: internal gateway error"}
			var ae *adapter.Error
			switch {
			case shutdownCut(ctx):
				rec.err, status, e = errGatewayShutdown, http.StatusServiceUnavailable, &shutdownError
			case errors.As(err, &ae):
				status, e = ae.Status, &ae.Err
			}
			sw.buf = f.failure(sw.buf[:0], x.conv, status, e)
			w.Write(sw.buf) //nolint:errcheck // last write either way
			w.FlushError()  //nolint:errcheck // the log keeps the upstream's error
			return
		}
		if c.Comment {
			sw.buf = f.comment(sw.buf[:0], c.Data)
		} else {
			sw.buf = f.event(sw.buf[:0], c)
		}
		_, werr := w.Write(sw.buf)
		if werr == nil && !st.Buffered() {
			werr = w.FlushError()
			sw.wait() // Next may wait on the upstream now
		}
		if werr != nil {
			rec.status, rec.err = statusClientClosed, sw.dl.clientWriteError(werr)
			return
		}
	}
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return itoa(n>>20) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return itoa(n>>10) + " KiB"
	}
	return itoa(n) + " bytes"
}
