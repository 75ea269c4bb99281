package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"aigateway/internal/adapter"
)

// TestJudge pins the classification the README's retry table documents.
func TestJudge(t *testing.T) {
	status := func(code int) error { return &adapter.Error{Status: code} }
	fault := func(code int, f adapter.Fault) error { return &adapter.Error{Status: code, Fault: f} }
	tests := []struct {
		name    string
		err     error
		step    step
		verdict verdict
	}{
		{"429", status(http.StatusTooManyRequests), stepRetry, verdictFailed},
		{"500", status(http.StatusInternalServerError), stepRetry, verdictFailed},
		{"502 (connection error)", status(http.StatusBadGateway), stepRetry, verdictFailed},
		{"503", status(http.StatusServiceUnavailable), stepRetry, verdictFailed},
		{"504 (timeout before the first byte)", status(http.StatusGatewayTimeout), stepRetry, verdictFailed},
		{"529 (Anthropic overloaded)", status(529), stepRetry, verdictFailed},
		{"wrapped 500", fmt.Errorf("attempt: %w", status(http.StatusInternalServerError)), stepRetry, verdictFailed},
		{"401 (revoked key)", status(http.StatusUnauthorized), stepMoveOn, verdictFailed},
		{"403 (key without access)", status(http.StatusForbidden), stepMoveOn, verdictFailed},
		{"400", status(http.StatusBadRequest), stepEnd, verdictHealthy},
		{"404", status(http.StatusNotFound), stepEnd, verdictHealthy},
		{"413", status(http.StatusRequestEntityTooLarge), stepEnd, verdictHealthy},
		{"busy program (429 queue_full)", fault(http.StatusTooManyRequests, adapter.FaultBusy), stepMoveOn, verdictNeutral},
		{"shutting down (503)", fault(http.StatusServiceUnavailable, adapter.FaultBusy), stepMoveOn, verdictNeutral},
		{"broken program (502 process_failed)", fault(http.StatusBadGateway, adapter.FaultBroken), stepMoveOn, verdictFailed},
		{"program timeout (504)", fault(http.StatusGatewayTimeout, adapter.FaultBroken), stepMoveOn, verdictFailed},
		{"answer too large (502)", fault(http.StatusBadGateway, adapter.FaultFinal), stepEnd, verdictHealthy},
		{"not an upstream's error", errors.New("gateway bug"), stepEnd, verdictNeutral},
		{"canceled", fmt.Errorf("reading: %w", context.Canceled), stepEnd, verdictNeutral},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, v := judge(tt.err)
			if s != tt.step || v != tt.verdict {
				t.Errorf("judge = step %d, verdict %d; want step %d, verdict %d", s, v, tt.step, tt.verdict)
			}
		})
	}
}
