package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"aigateway/internal/mockllm"
)

// The gateway serves /metrics with the runtime and process collectors, the
// breakers of the registry in force and the ledger writer's counters.
func TestServesMetrics(t *testing.T) {
	up := httptest.NewServer(mockllm.New(mockllm.Options{}))
	defer up.Close()
	logs, stop, wait := startRun(t, "--config", writeConfig(t, up.URL), "--port", "0",
		"--ledger-file", filepath.Join(t.TempDir(), "usage.db"), "--drain-delay", "0")
	defer func() {
		stop()
		if err := wait(); err != nil {
			t.Error(err)
		}
	}()
	url := waitListening(t, logs)
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: status %d: %s", resp.StatusCode, body)
	}
	for _, want := range []string{"\n# TYPE go_goroutines gauge\n", "\n# TYPE process_cpu_seconds_total counter\n",
		"\naigateway_breaker_state{deployment=\"models[0]\",model=\"chat\"} 0\n", "\naigateway_ledger_dropped_total 0\n",
		"\naigateway_ledger_queue_depth 0\n", "\naigateway_in_flight_requests 0\n"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("the scrape has no %q", strings.TrimSpace(want))
		}
	}
}
