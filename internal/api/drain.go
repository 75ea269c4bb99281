package api

import (
	"context"
	"errors"
	"net/http"

	"aigateway/internal/openai"
)

// errGatewayShutdown is the cause with which EndStreams cancels the
// upstream side of the streams still in flight; the access log shows it.
var errGatewayShutdown = errors.New("gateway_shutdown: the gateway is shutting down and the stream outlived --shutdown-timeout")

// errClosedAtShutdown is the access log's error for a request whose
// connection was closed at the end of a shutdown, after EndStreams.
var errClosedAtShutdown = errors.New("gateway_shutdown: the connection was closed at the end of the shutdown")

// shutdownError is what the client of a stream cut by EndStreams sees, as
// the stream's last event or, before the stream started, as a 503.
var shutdownError = openai.Error{Type: openai.TypeUnavailable, Code: "gateway_shutdown",
	Message: "The gateway is shutting down and this request outlived its shutdown timeout; retry it."}

// Drain makes /health and /ready answer 503 "draining", so that a load
// balancer stops sending new requests, while the gateway goes on serving
// every request it still gets. Responses from then on carry
// "Connection: close", so that pooled client connections move to another
// replica one by one, each after a complete response. It is meant for the
// grace period between a stop signal and http.Server.Shutdown.
func (s *Server) Drain() { s.draining.Store(true) }

// EndStreams makes every stream in flight, and every stream that starts
// later, end at once with a gateway_shutdown error event instead of being
// cut off without a word: their upstream requests are canceled (programs
// stopped). It is for when the shutdown timeout ran out; the caller then
// gives the handlers a moment to write that event before it closes the
// connections.
func (s *Server) EndStreams() { s.endStreams(errGatewayShutdown) }

// shutdownCut reports whether ctx, a stream's upstream context, was
// canceled by EndStreams.
func shutdownCut(ctx context.Context) bool {
	return ctx.Err() != nil && context.Cause(ctx) == errGatewayShutdown
}

// connectionGone records a request whose connection ended before it was
// answered: the client left (499), unless EndStreams ran, after which the
// gateway closes the connections left itself (503 gateway_shutdown in the
// log; nothing reaches the client).
func (s *Server) connectionGone(rec *record, err error) {
	if s.ending.Err() != nil {
		rec.status, rec.err = http.StatusServiceUnavailable, errClosedAtShutdown
		return
	}
	rec.status, rec.err = statusClientClosed, err
}

var (
	readyBody    = []byte(`{"status":"ready"}`)
	drainingBody = []byte(`{"status":"draining"}`)
	connClose    = []string{"close"}
)

// ready serves GET /ready, the readiness probe: 200 {"status":"ready"}
// until Drain, then 503 {"status":"draining"}. It says whether this
// process takes new requests, not whether its upstreams are healthy: a
// replica whose upstreams are down answers those requests with errors
// the client can read, which beats every replica being taken out of the
// load balancer at once (see /health for the upstreams).
func (s *Server) ready(w http.ResponseWriter) {
	if s.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, drainingBody)
		return
	}
	writeJSON(w, http.StatusOK, readyBody)
}
