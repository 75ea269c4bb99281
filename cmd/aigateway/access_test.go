package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"aigateway/internal/mockllm"
)

func TestRefusesOpenGatewayOnNonLoopbackAddress(t *testing.T) {
	up := httptest.NewServer(mockllm.New(mockllm.Options{}))
	defer up.Close()
	cfg := writeConfig(t, up.URL)
	err := run(context.Background(), []string{"--config", cfg, "--host", "0.0.0.0", "--port", "0"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "refusing to listen on 0.0.0.0 without gateway keys") || !strings.Contains(err.Error(), "--allow-unauthenticated") {
		t.Fatalf("run = %v, want a refusal naming --allow-unauthenticated", err)
	}
	logs, stop, wait := startRun(t, "--config", cfg, "--host", "0.0.0.0", "--port", "0", "--allow-unauthenticated", "--drain-delay", "0")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "aigateway listening") {
		if time.Now().After(deadline) {
			t.Fatalf("did not start with --allow-unauthenticated:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "without gateway keys") {
		t.Errorf("no warning at start:\n%s", logs.String())
	}
	stop()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
}

// keyedConfig writes a models.json whose model "chat" costs $1 a token and
// whose key is name with fields added.
func keyedConfig(t *testing.T, upstreamURL, top, name, key, fields string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "models.json")
	cfg := fmt.Sprintf(`{%s "keys": [{"name": %q, "key": %q %s}], "models": [
		{"id": "chat", "adapter": "openai_compat", "base_url": %q, "model": "mock-model", "price": {"input": 1000000, "output": 1000000}}
	]}`, top, name, key, fields, upstreamURL+"/v1")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestUsageCommandPrintsTheLedger(t *testing.T) {
	up := httptest.NewServer(mockllm.New(mockllm.Options{}))
	defer up.Close()
	const key = "gw-usage-test-key-0123456789"
	cfg := keyedConfig(t, up.URL, "", "team-a", key, "")
	ledgerFile := filepath.Join(t.TempDir(), "usage.db")
	logs, stop, wait := startRun(t, "--config", cfg, "--port", "0", "--ledger-file", ledgerFile, "--drain-delay", "0")
	url := waitListening(t, logs)
	for range 2 {
		req, _ := http.NewRequest(http.MethodPost, url+"/v1/chat/completions",
			strings.NewReader(`{"model":"chat","messages":[{"role":"user","content":"hi"}],"mock":{"prompt_tokens":3,"completion_tokens":4}}`))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body) //nolint:errcheck
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	stop() // shutdown flushes the ledger
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), key) {
		t.Errorf("the gateway key is in the log")
	}
	var out bytes.Buffer
	if err := runUsage(context.Background(), []string{"--config", cfg, "--ledger-file", ledgerFile, "--group-by", "key,model"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 2 || !strings.Contains(lines[0], "KEY") || !strings.Contains(lines[0], "MODEL") {
		t.Fatalf("usage table:\n%s", out.String())
	}
	row := strings.Fields(lines[1])
	if strings.Join(row[:5], " ") != "team-a chat 2 6 8" || !strings.Contains(lines[1], "14.0") {
		t.Errorf("usage row %q, want team-a chat, 2 requests, 6 prompt, 8 completion tokens, $14\n%s", lines[1], out.String())
	}
	out.Reset()
	if err := runUsage(context.Background(), []string{"--config", cfg, "--ledger-file", ledgerFile, "--requests", "1"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(strings.TrimSpace(out.String()), "\n"); n != 1 || !strings.Contains(out.String(), "team-a") || !strings.Contains(out.String(), "completed") {
		t.Errorf("--requests 1:\n%s", out.String())
	}
	if err := runUsage(context.Background(), []string{"--ledger-file", filepath.Join(t.TempDir(), "none.db")}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "no usage ledger") {
		t.Errorf("missing ledger file: %v", err)
	}
}

// TestReplicasShareLimitsBudgetAndLedger runs two gateway processes on one
// Redis and one PostgreSQL: under concurrent load they enforce one rate
// limit and one budget together, and each answers /admin/usage for both.
func TestReplicasShareLimitsBudgetAndLedger(t *testing.T) {
	redisURL, pgURL := os.Getenv("AIGW_REDIS_URL"), os.Getenv("AIGW_POSTGRES_URL")
	if redisURL == "" || pgURL == "" {
		t.Skip("set AIGW_REDIS_URL and AIGW_POSTGRES_URL (.ci/run does) to run the replica test")
	}
	up := httptest.NewServer(mockllm.New(mockllm.Options{}))
	defer up.Close()
	// A name of this run: Redis and PostgreSQL keep state between runs.
	run := fmt.Sprintf("%x", rand.Uint64())
	t.Setenv("AIGW_TEST_REDIS", redisURL)
	t.Setenv("AIGW_TEST_DATABASE", pgURL)
	const rpmKey, budgetKey = "gw-replica-rpm-key-0123456789", "gw-replica-budget-key-0123456789"
	path := filepath.Join(t.TempDir(), "models.json")
	cfg := fmt.Sprintf(`{"redis_url": "ENV:AIGW_TEST_REDIS", "database_url": "ENV:AIGW_TEST_DATABASE", "admin_key": "admin-%s-0123456789",
		"keys": [{"name": "rpm-%s", "key": %q, "rpm": 10},
		         {"name": "budget-%s", "key": %q, "budget_usd": 5}],
		"models": [{"id": "chat", "adapter": "openai_compat", "base_url": %q, "model": "mock-model", "price": {"input": 1000000, "output": 1000000}}]}`,
		run, run, rpmKey, run, budgetKey, up.URL+"/v1")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	a, b := startReplica(t, path, 0), startReplica(t, path, 0)
	urls := []string{"http://" + a.addr, "http://" + b.addr}

	// hammer sends n requests at once, alternating replicas, and counts
	// the 200s.
	hammer := func(key, mock string, n int) int {
		var ok atomic.Int64
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				req, _ := http.NewRequest(http.MethodPost, urls[i%2]+"/v1/chat/completions",
					strings.NewReader(`{"model":"chat","max_tokens":1,"messages":[{"role":"user","content":"hi"}],"mock":`+mock+`}`))
				req.Header.Set("Authorization", "Bearer "+key)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body) //nolint:errcheck
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusOK:
					ok.Add(1)
				case http.StatusTooManyRequests:
				default:
					t.Errorf("status %d", resp.StatusCode)
				}
			})
		}
		wg.Wait()
		return int(ok.Load())
	}
	if got := hammer(rpmKey, `{}`, 40); got != 10 {
		t.Errorf("rpm 10 on two replicas: %d of 40 concurrent requests admitted, want exactly 10", got)
	}
	// Each request costs $2 (1 prompt + 1 completion token at $1): a $5
	// budget admits requests while money is left (spent 0, 2, 4). Each
	// in-flight request's worst case ($30 or so) is reserved, so no two
	// run at once and concurrency cannot add more: rounds of concurrent
	// requests admit 3 in all.
	admitted := 0
	for range 6 {
		admitted += hammer(budgetKey, `{"prompt_tokens":1,"completion_tokens":1}`, 5)
	}
	if admitted != 3 {
		t.Errorf("budget $5 at $2 a request on two replicas: %d admitted, want 3", admitted)
	}
	if got := hammer(budgetKey, `{"prompt_tokens":1,"completion_tokens":1}`, 5); got != 0 {
		t.Errorf("after the budget is spent: %d admitted, want 0", got)
	}
	// Both replicas answer for both: 40 + 35 records of this run's keys.
	for _, u := range urls {
		req, _ := http.NewRequest(http.MethodGet, u+"/admin/usage?group_by=key", nil)
		req.Header.Set("Authorization", "Bearer admin-"+run+"-0123456789")
		var body []byte
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			// The other replica writes its records within a second.
			if (strings.Contains(string(body), `"key":"rpm-`+run+`","requests":40`) && strings.Contains(string(body), `"key":"budget-`+run+`","requests":35`)) || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !strings.Contains(string(body), `"key":"budget-`+run+`","requests":35,"prompt_tokens":3,"completion_tokens":3,"cost_usd":6}`) {
			t.Errorf("%s /admin/usage: %s", u, body)
		}
	}
	a.stop(t)
	b.stop(t)
}
