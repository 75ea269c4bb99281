package adapter

import (
	"errors"

	"aigateway/internal/redact"
)

// RedactError removes r's secrets, in every form (see package redact),
// from everything err carries to a client or a log: the Body, error
// fields, headers and Cause of the *Error it holds, and its own text. The
// *Error is changed in place. Adapters call it on every error built from
// upstream text, so that the api package, which does not know the
// secrets, can send and log errors as they are. A nil r changes nothing.
func RedactError(r *redact.Redactor, err error) error {
	if r == nil || err == nil {
		return err
	}
	var ae *Error
	if errors.As(err, &ae) {
		ae.Body = r.Bytes(ae.Body)
		ae.Err.Message = r.String(ae.Err.Message)
		ae.Err.Type = r.String(ae.Err.Type)
		ae.Err.Param = r.String(ae.Err.Param)
		ae.Err.Code = r.String(ae.Err.Code)
		for _, vs := range ae.Header {
			for i, v := range vs {
				vs[i] = r.String(v)
			}
		}
		ae.Cause = redactText(r, ae.Cause)
		if error(ae) == err {
			return ae
		}
	}
	return redactText(r, err)
}

// redactText returns err, or when its text holds a secret, an error with
// the redacted text that still unwraps to err for errors.Is and errors.As.
func redactText(r *redact.Redactor, err error) error {
	if err == nil {
		return nil
	}
	text := err.Error()
	if red := r.String(text); red != text {
		return &redactedError{text: red, err: err}
	}
	return err
}

// redactedError is an error whose text had secrets in it.
type redactedError struct {
	text string
	err  error
}

func (e *redactedError) Error() string { return e.text }
func (e *redactedError) Unwrap() error { return e.err }
