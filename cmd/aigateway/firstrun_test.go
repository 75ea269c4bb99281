package main

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
)

// shippedConfig is the config the README's quick start runs.
const shippedConfig = "../../config/models.json"

// A first run of the shipped config with no keys set reads as expected: the
// models without keys are INFO lines and "not_configured" in /health, and
// the gateway is "ok", not "degraded".
func TestFirstRunWithoutKeys(t *testing.T) {
	raw, err := os.ReadFile(shippedConfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range regexp.MustCompile(`"ENV:([A-Z0-9_]+)"`).FindAllStringSubmatch(string(raw), -1) {
		t.Setenv(name[1], "") // restores the value after the test
		os.Unsetenv(name[1])
	}
	logs, stop, wait := startRun(t, "--config", shippedConfig, "--port", "0", "--drain-delay", "0")
	defer func() {
		stop()
		if err := wait(); err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	url := waitListening(t, logs)

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	resp, err := client.Get(url + "/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var health struct {
		Status string
		Models []struct{ ID, Status, Reason string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&health); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /health: %d %v", resp.StatusCode, err)
	}
	if health.Status != "ok" {
		t.Errorf("/health status = %q on a first run without keys, want ok", health.Status)
	}
	notConfigured := 0
	for _, m := range health.Models {
		switch m.Status {
		case "not_configured":
			notConfigured++
			if !strings.Contains(m.Reason, "environment variable") {
				t.Errorf("%s: reason %q does not name the variable", m.ID, m.Reason)
			}
		case "available", "disabled":
		default:
			t.Errorf("%s: status %q", m.ID, m.Status)
		}
	}
	log := logs.String()
	if notConfigured == 0 || strings.Count(log, `level=INFO msg="model not configured"`) != notConfigured {
		t.Errorf("%d models not configured, want as many INFO lines:\n%s", notConfigured, log)
	}
	if strings.Contains(log, "level=WARN") || strings.Contains(log, "level=ERROR") {
		t.Errorf("a first run without keys logs warnings:\n%s", log)
	}
}

// Every entry of the shipped config is described in the README's table of
// it, so that a new user knows what each one needs.
func TestShippedConfigIsDescribed(t *testing.T) {
	raw, err := os.ReadFile(shippedConfig)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct{ Models []struct{ ID string } }
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(readme), "### The shipped `config/models.json`")
	table, _, _ = strings.Cut(table, "\n### ")
	if !ok {
		t.Fatal("the README has no section on the shipped config")
	}
	for _, m := range cfg.Models {
		if !regexp.MustCompile("\n\\| [^|]*`" + regexp.QuoteMeta(m.ID) + "`").MatchString(table) {
			t.Errorf("the README's table of the shipped config does not describe %q", m.ID)
		}
	}
}
