package adapter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"aigateway/internal/openai"
	"aigateway/internal/redact"
)

const testKey = "sk-test-0123456789abcdef"

// RedactError cleans every part of an *Error that reaches a client or a
// log, in place, and keeps the error classifiable.
func TestRedactError(t *testing.T) {
	cause := fmt.Errorf("upstream said %q: %w", `bad key \u0073k-test-0123456789abcdef`, context.DeadlineExceeded)
	e := &Error{
		Status: http.StatusUnauthorized,
		Body:   []byte(`{"error":{"message":"bad key ` + testKey + `","type":"auth"}}`),
		Err:    openai.Error{Message: "bad key " + testKey, Type: "t-" + testKey, Param: testKey, Code: testKey},
		Header: http.Header{"Retry-After": {testKey}},
		Cause:  cause,
	}
	got := RedactError(redact.New(testKey), e)
	if got != error(e) {
		t.Fatalf("got %v, want the same *Error", got)
	}
	want := &Error{
		Status: http.StatusUnauthorized,
		Body:   []byte(`{"error":{"message":"bad key [redacted]","type":"auth"}}`),
		Err:    openai.Error{Message: "bad key [redacted]", Type: "t-[redacted]", Param: "[redacted]", Code: "[redacted]"},
		Header: http.Header{"Retry-After": {"[redacted]"}},
	}
	if diff := cmp.Diff(want, e, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Cause" }, cmp.Ignore())); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	if s := e.Error(); strings.Contains(s, "0123456789") || !strings.Contains(s, "[redacted]") {
		t.Errorf("Error() = %q", s)
	}
	if !errors.Is(e, context.DeadlineExceeded) {
		t.Error("the redacted cause no longer unwraps")
	}
}

// An *Error wrapped in another error is cleaned too, and so is the text of
// the wrapper.
func TestRedactWrappedError(t *testing.T) {
	inner := &Error{Status: http.StatusBadGateway, Err: openai.Error{Message: "echo " + testKey}}
	err := RedactError(redact.New(testKey), fmt.Errorf("attempt: %w (%s)", inner, testKey))
	var ae *Error
	if !errors.As(err, &ae) || ae != inner {
		t.Fatalf("errors.As does not find the *Error in %v", err)
	}
	if inner.Err.Message != "echo [redacted]" || strings.Contains(err.Error(), testKey) {
		t.Errorf("message %q, text %q", inner.Err.Message, err.Error())
	}
}

func TestRedactErrorWithoutSecrets(t *testing.T) {
	err := errors.New("plain " + testKey)
	if got := RedactError(nil, err); got != err {
		t.Errorf("a nil redactor changed the error: %v", got)
	}
	if got := RedactError(redact.New(testKey), nil); got != nil {
		t.Errorf("nil error became %v", got)
	}
	clean := errors.New("nothing secret")
	if got := RedactError(redact.New(testKey), clean); got != clean {
		t.Errorf("an error without secrets was wrapped: %v", got)
	}
}
