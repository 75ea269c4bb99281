package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"aigateway/internal/mockllm"
)

var jsonListenRE = regexp.MustCompile(`"addr":"(http://127\.0\.0\.1:\d+)"`)

// With --log-format json, the access line an operator's pipeline reads has
// durations in milliseconds as numbers, and --trusted-proxies lets a
// proxy's X-Forwarded-For name the client.
func TestJSONAccessLine(t *testing.T) {
	upstream := httptest.NewServer(mockllm.New(mockllm.Options{}))
	defer upstream.Close()
	logs, stop, wait := startRun(t, "--config", writeConfig(t, upstream.URL), "--port", "0", "--log-format", "json",
		"--trusted-proxies", "10.0.0.0/8,127.0.0.1", "--drain-delay", "0")
	stopped := false
	shutdown := func() {
		if !stopped {
			stopped = true
			stop()
			if err := wait(); err != nil {
				t.Errorf("run: %v", err)
			}
		}
	}
	defer shutdown()
	var url string
	for deadline := time.Now().Add(10 * time.Second); url == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := jsonListenRE.FindStringSubmatch(logs.String()); m != nil {
			url = m[1]
		}
	}
	if url == "" {
		t.Fatalf("the gateway did not start; log:\n%s", logs)
	}
	req, _ := http.NewRequest("POST", url+"/v1/chat/completions", strings.NewReader(`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("X-Forwarded-For", "198.51.100.9, 10.1.2.3")
	req.Header.Set("User-Agent", "ops-check/1")
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	waitLog(t, logs, `"msg":"request"`, 1)

	var line map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"msg":"request"`) {
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				t.Fatalf("access line is not JSON: %v: %s", err, sc.Text())
			}
		}
	}
	for _, key := range []string{"latency_ms", "ttfb_ms"} {
		if v, ok := line[key].(float64); !ok || v < 0 || v > 60_000 {
			t.Errorf("%s = %#v, want milliseconds as a number", key, line[key])
		}
	}
	if _, ok := line["latency"]; ok {
		t.Errorf("a duration without its unit in the key: %v", line)
	}
	shutdown()
	if !strings.Contains(logs.String(), `"timeout_ms":30000`) {
		t.Errorf("the shutdown line does not give its timeout in milliseconds:\n%s", logs)
	}
	want := map[string]string{"client": "198.51.100.9", "user_agent": "ops-check/1", "upstream_model": "mock-model", "deployment": "models[0]"}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("%s = %#v, want %q", k, line[k], v)
		}
	}
}

func TestTrustedProxiesFlagErrors(t *testing.T) {
	err := run(context.Background(), []string{"--trusted-proxies", "10.0.0.0/8,proxy.local"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `--trusted-proxies: "proxy.local" is not an IP address or CIDR prefix`) {
		t.Errorf("run error = %v", err)
	}
	t.Setenv("AIGATEWAY_TRUSTED_PROXIES", "300.1.1.1")
	if err := run(context.Background(), nil, io.Discard); err == nil || !strings.Contains(err.Error(), `"300.1.1.1"`) {
		t.Errorf("run error with the environment variable = %v", err)
	}
}

// A reload logs which models and deployments it added, removed or changed,
// and how long it took in milliseconds.
func TestReloadLogsChanges(t *testing.T) {
	upstream := httptest.NewServer(mockllm.New(mockllm.Options{}))
	defer upstream.Close()
	path := writeConfig(t, upstream.URL)
	logs, stop, wait := startRun(t, "--config", path, "--port", "0", "--drain-delay", "0")
	defer func() {
		stop()
		if err := wait(); err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	waitListening(t, logs)
	writeFileAtomically(t, path, `{"models": [
		{"id": "chat", "adapter": "openai_compat", "base_url": "`+upstream.URL+`/v1", "model": "mock-model"},
		{"id": "chat", "name": "chat-b", "adapter": "openai_compat", "base_url": "`+upstream.URL+`/v1", "model": "other"}
	]}`)
	waitLog(t, logs, "serving the reloaded config", 1)
	var line string
	for l := range strings.Lines(logs.String()) {
		if strings.Contains(l, "serving the reloaded config") {
			line = l
		}
	}
	for _, want := range []string{"models_removed=gpt-4o ", "models_changed=chat ", "deployments_added=chat-b ", "deployments_removed=models[1]"} {
		if !strings.Contains(line, want) {
			t.Errorf("reload line lacks %s:\n%s", want, line)
		}
	}
	waitLog(t, logs, "config reloaded", 1)
	if !regexp.MustCompile(`msg="config reloaded" .*duration_ms=\d`).MatchString(logs.String()) {
		t.Errorf("the reload's duration is not in milliseconds:\n%s", logs)
	}
}

// While Redis is down, the Redis client's own complaints go to the gateway's
// log as DEBUG records in its format (here JSON), not as plain text on
// stderr; the password of the Redis URL appears in none of them.
func TestRedisClientMessagesInTheLog(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close() // nothing listens there now
	cfg := filepath.Join(t.TempDir(), "models.json")
	if err := os.WriteFile(cfg, []byte(`{
		"redis_url": "redis://:redis-secret-pw@`+down+`/0",
		"keys": [{"name": "team-a", "key": "team-a-key-0123456789", "rpm": 10}],
		"models": [{"id": "chat", "adapter": "openai_compat", "base_url": "http://127.0.0.1:1/v1"}]
	}`), 0o600); err != nil {
		t.Fatal(err)
	}
	logs, stop, wait := startRun(t, "--config", cfg, "--port", "0", "--log-format", "json", "--log-level", "debug",
		"--ledger-file", "off", "--drain-delay", "0")
	waitLog(t, logs, `"msg":"redis client"`, 1)
	stop()
	if err := wait(); err != nil {
		t.Errorf("run: %v", err)
	}
	for line := range strings.Lines(logs.String()) {
		if !json.Valid([]byte(line)) {
			t.Errorf("a log line is not JSON: %s", line)
		}
	}
	if strings.Contains(logs.String(), "redis-secret-pw") {
		t.Errorf("the Redis password is in the log:\n%s", logs)
	}
}
