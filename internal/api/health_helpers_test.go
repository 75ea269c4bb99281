package api_test

import (
	"encoding/json"
	"testing"
	"time"
)

// healthReport is the body of GET /health.
type healthReport struct {
	Status string `json:"status"`
	Models []struct {
		ID         string        `json:"id"`
		Deployment string        `json:"deployment"`
		Breaker    breakerReport `json:"breaker"`
	} `json:"models"`
}

// breakerReport is one deployment's breaker in /health.
type breakerReport struct {
	State               string    `json:"state"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	OpenUntil           time.Time `json:"open_until"`
}

// health fetches and decodes /health.
func (g *gateway) health(t *testing.T) healthReport {
	t.Helper()
	status, _, body := g.do(t, "GET", "/health", "")
	var h healthReport
	if err := json.Unmarshal([]byte(body), &h); status != 200 || err != nil {
		t.Fatalf("/health: %d %v: %s", status, err, body)
	}
	return h
}

// breaker returns the breaker of model id's deployment label.
func (h healthReport) breaker(id, label string) breakerReport {
	for _, m := range h.Models {
		if m.ID == id && m.Deployment == label {
			return m.Breaker
		}
	}
	return breakerReport{State: "missing from /health"}
}
