package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"aigateway/internal/mockllm"
)

const browserDirEnv = "AIGW_BROWSER_DIR"

// browserDir returns the npm prefix holding playwright-core, or skips the
// test when the browser or the library is missing.
func browserDir(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("drives a browser")
	}
	dir := os.Getenv(browserDirEnv)
	if dir == "" {
		t.Skipf("%s is not set (.ci/run installs Debian's chromium and playwright-core with npm and sets it)", browserDirEnv)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core")); err != nil {
		t.Skipf("playwright-core is not installed under %s: %v", browserDirEnv, err)
	}
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		t.Skipf("Debian's chromium is not installed: %v", err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	return dir
}

// TestDashboardInBrowser opens /ui in headless Chromium against a gateway
// with keys: the page asks for the admin key, shows every configured
// model, and its numbers, recent requests and charts change after
// traffic. It writes a screenshot to a temporary file, or to
// AIGW_DASHBOARD_SCREENSHOT (the README's docs/dashboard.png is made so).
func TestDashboardInBrowser(t *testing.T) {
	dir := browserDir(t)
	up := httptest.NewServer(mockllm.New(mockllm.Options{Chunks: 4, ChunkDelay: 15 * time.Millisecond}))
	defer up.Close()
	const adminKey, teamKey, ciKey = "dashboard-admin-key-0123456789", "dashboard-team-a-0123456789", "dashboard-ci-key-0123456789"
	base := up.URL + "/v1"
	price := `"price": {"input": 2.5, "output": 10}`
	cfg := fmt.Sprintf(`{
	"admin_key": %q,
	"keys": [{"name": "team-a", "key": %q}, {"name": "ci", "key": %q}],
	"models": [
		{"id": "gpt-4o", "name": "openai-eu", "adapter": "openai_compat", "base_url": %q, "model": "mock-a", %s},
		{"id": "gpt-4o", "name": "openai-us", "adapter": "openai_compat", "base_url": %q, "model": "mock-b", %s},
		{"id": "gpt-4o-mini", "name": "mini", "adapter": "openai_compat", "base_url": %q, "model": "mock-mini", "price": {"input": 0.15, "output": 0.6}},
		{"id": "flaky", "name": "flaky-upstream", "adapter": "openai_compat", "base_url": %q, "model": "mock-flaky"},
		{"id": "claude-sonnet", "name": "anthropic", "adapter": "openai_compat", "base_url": "https://api.anthropic.invalid/v1", "api_key": "ENV:AIGW_TEST_UNSET_KEY"}
	]}`, adminKey, teamKey, ciKey, base, price, base, price, base, base)
	cfgPath := filepath.Join(t.TempDir(), "models.json")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logs, stop, wait := startRun(t, "--config", cfgPath, "--port", "0",
		"--ledger-file", filepath.Join(t.TempDir(), "usage.db"), "--drain-delay", "0")
	defer func() {
		stop()
		if err := wait(); err != nil {
			t.Error(err)
		}
	}()
	url := waitListening(t, logs)

	shot := os.Getenv("AIGW_DASHBOARD_SCREENSHOT")
	if shot == "" {
		shot = filepath.Join(t.TempDir(), "dashboard.png")
	} else if shot, _ = filepath.Abs(shot); shot == "" {
		t.Fatal("AIGW_DASHBOARD_SCREENSHOT: no absolute path")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join("..", "..", "internal", "dashboard", "e2e", "dashboard.mjs"))
	cmd.Env = append(os.Environ(), "DASHBOARD_URL="+url, "DASHBOARD_ADMIN_KEY="+adminKey,
		"DASHBOARD_MODELS=gpt-4o,gpt-4o-mini,flaky,claude-sonnet", "DASHBOARD_BUSY_MODELS=gpt-4o,gpt-4o-mini,flaky",
		"DASHBOARD_SCREENSHOT="+shot,
		"DASHBOARD_PROFILE="+t.TempDir(), browserDirEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	var got []string
	readLine := func(prefix string) string {
		for lines.Scan() {
			line := lines.Text()
			got = append(got, line)
			if rest, ok := strings.CutPrefix(line, prefix); ok {
				return rest
			}
			if strings.HasPrefix(line, "FAIL ") {
				break
			}
		}
		cmd.Wait() //nolint:errcheck // the output says why
		t.Fatalf("the browser script did not print %s; output:\n%s\nstderr:\n%s", strings.TrimSpace(prefix), strings.Join(got, "\n"), stderr.String())
		return ""
	}
	before := readLine("READY ")
	t.Logf("before traffic: %s", before)

	sendTraffic(t, url, teamKey, ciKey)
	if _, err := fmt.Fprintln(stdin, "go"); err != nil {
		t.Fatal(err)
	}
	after := readLine("DONE ")
	t.Logf("after traffic: %s", after)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the browser script: %v\nstderr:\n%s", err, stderr.String())
	}
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 10000 {
		t.Errorf("the screenshot %s: %v", shot, err)
	}
	for _, secret := range []string{adminKey, teamKey, ciKey} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the gateway log contains the secret %q", secret)
		}
	}
}

// sendTraffic makes a few minutes' worth of requests of two keys: plain
// and streamed chats over two models, and a flaky upstream's 500s.
func sendTraffic(t *testing.T, url, teamKey, ciKey string) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	post := func(key, body string) {
		req, err := http.NewRequest(http.MethodPost, url+"/v1/chat/completions", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		bufio.NewReader(resp.Body).WriteTo(&b) //nolint:errcheck // drained for the connection's reuse
		resp.Body.Close()
	}
	for i := range 12 {
		key := teamKey
		if i%3 == 0 {
			key = ciKey
		}
		usage := fmt.Sprintf(`"mock": {"prompt_tokens": %d, "completion_tokens": %d, "delay_ms": %d}`, 200+40*i, 80+25*i, 20+10*i)
		post(key, `{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], `+usage+`}`)
		post(key, `{"model": "gpt-4o", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "hi"}], `+usage+`}`)
		post(teamKey, `{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], `+usage+`}`)
		if i%4 == 0 {
			post(ciKey, `{"model": "flaky", "messages": [{"role": "user", "content": "hi"}], "mock": {"status": 500}}`)
		}
	}
}
