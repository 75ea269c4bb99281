package adapter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"aigateway/internal/openai"
)

// Error is a failure that the client sees with an HTTP status and an OpenAI
// error body. Cause holds the detail for the log; it is never sent to the
// client because it may name internal hosts.
type Error struct {
	Status int
	// Body, when set, is an error body to send as is (an upstream's own
	// error, already checked to have the shape of BodyProtocol and scrubbed
	// of secrets): an OpenAI body unless BodyProtocol says otherwise. A
	// client of another protocol gets Err in its own shape instead.
	Body         []byte
	BodyProtocol Protocol
	// Err is the error sent to the client when Body is empty.
	Err openai.Error
	// Header holds response headers to pass on, such as Retry-After.
	Header http.Header
	// Cause is the underlying error, for logs.
	Cause error
	// Fault says what the failure means for the deployment and for the
	// rest of the request where Status alone would mislead. The zero value
	// lets the gateway judge by Status.
	Fault Fault
}

// Fault classifies a failure for retries, fallbacks and circuit breakers.
type Fault uint8

const (
	// FaultByStatus leaves the judgement to the HTTP status: 429 and 5xx
	// (and Anthropic's 529) are worth another attempt, 401 and 403 (a
	// revoked or wrong key) make the request move on to another
	// deployment, other 4xx are the client's own mistake.
	FaultByStatus Fault = iota
	// FaultBusy: the deployment works but cannot take this request now
	// (a local program's full queue, a gateway shutting down). The request
	// moves on to other deployments and fallbacks, without waiting; the
	// deployment's breaker does not count it.
	FaultBusy
	// FaultBroken: the deployment failed in a way that another attempt on
	// it would repeat, after as long again (a program that cannot start,
	// exits with an error or runs past its timeout). The request moves on
	// to other deployments and fallbacks; the breaker counts a failure.
	FaultBroken
	// FaultFinal: no other attempt can do better (the answer itself is too
	// large). The request ends with this error.
	FaultFinal
)

// Error is the message for the client followed by the cause, each fact
// once: a cause the message already quotes is left out, and when the
// message ends with the gist of a network cause ("cannot connect:
// connection refused"), the cause's full text (which adds the address)
// replaces that gist instead of repeating it.
func (e *Error) Error() string {
	status := strconv.Itoa(e.Status)
	msg := e.Err.Message
	if e.Cause == nil {
		return status + " " + msg
	}
	cause := e.Cause.Error()
	if strings.Contains(msg, cause) {
		return status + " " + msg
	}
	if gist := reason(e.Cause); gist != "" {
		msg = strings.TrimSuffix(msg, ": "+gist)
	}
	return status + " " + msg + ": " + cause
}

func (e *Error) Unwrap() error { return e.Cause }

// Errorf returns an *Error with the given status, OpenAI error type and code
// and a formatted message for the client.
func Errorf(status int, typ, code, format string, args ...any) *Error {
	return &Error{Status: status, Err: openai.Error{Message: fmt.Sprintf(format, args...), Type: typ, Code: code}}
}

// ErrTimeout is the cancel cause a Watchdog sets when the upstream stayed
// silent for too long.
var ErrTimeout = errors.New("upstream timed out")

// ErrTotalTimeout is the cancel cause when an attempt exceeded its total
// timeout.
var ErrTotalTimeout = errors.New("upstream attempt exceeded its total timeout")

// TimedOut reports whether ctx was canceled by a Watchdog.
func TimedOut(ctx context.Context) bool {
	c := context.Cause(ctx)
	return errors.Is(c, ErrTimeout) || errors.Is(c, ErrTotalTimeout)
}
