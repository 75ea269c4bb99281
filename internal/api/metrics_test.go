package api_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"aigateway/internal/ledger"
	"aigateway/internal/limits"
)

// scrape reads /metrics with the header given, failing unless it answers
// 200; it returns the body's lines.
func (g *gateway) scrape(t *testing.T, header ...string) string {
	t.Helper()
	status, _, body := g.do(t, http.MethodGet, "/metrics", "", header...)
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: status %d: %s", status, body)
	}
	return body
}

// wantSeries scrapes until every series line of want is there, with
// exactly its value, and returns the last scrape. It scrapes again because
// a request is recorded just after its response's last byte.
func (g *gateway) wantSeries(t *testing.T, header []string, want ...string) string {
	t.Helper()
	var scrape string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		scrape = g.scrape(t, header...)
		if missing(scrape, want) == nil || time.Now().After(deadline) {
			break
		}
	}
	for _, w := range missing(scrape, want) {
		name, _, _ := strings.Cut(w, "{")
		var similar []string
		for _, line := range strings.Split(scrape, "\n") {
			if strings.HasPrefix(line, name) {
				similar = append(similar, line)
			}
		}
		t.Errorf("missing series line\n  %s\nthe scrape has:\n  %s", w, strings.Join(similar, "\n  "))
	}
	return scrape
}

// missing returns the lines of want that scrape does not have.
func missing(scrape string, want []string) []string {
	have := map[string]bool{}
	for _, line := range strings.Split(scrape, "\n") {
		have[line] = true
	}
	var out []string
	for _, w := range want {
		if !have[w] {
			out = append(out, w)
		}
	}
	return out
}

func TestMetricsRecordRequestsAttemptsAndGenAISeries(t *testing.T) {
	g := startGateway(t, gatewayOptions{metrics: true, chatDefaults: `"name": "primary", ` + price1PerToken,
		extraModels: `{"id": "down", "name": "nowhere", "adapter": "openai_compat", "base_url": "http://127.0.0.1:1/v1", "api_key": "x", "model": "m", "fallbacks": ["chat"]}`})
	usage := `"mock": {"prompt_tokens": 10, "completion_tokens": 5}`
	for _, c := range []struct {
		body   string
		status int
	}{
		{`{"model": "chat", "messages": [{"role": "user", "content": "hi"}], ` + usage + `}`, 200},
		{`{"model": "chat", "stream": true, "messages": [{"role": "user", "content": "hi"}], ` + usage + `}`, 200},
		{`{"model": "chat", "messages": [{"role": "user", "content": "hi"}], "mock": {"status": 400}}`, 400},
		{`{"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]}`, 404},
		{`{"model": "down", "messages": [{"role": "user", "content": "hi"}], ` + usage + `}`, 200},
	} {
		if status, _, body := g.post(t, "/v1/chat/completions", c.body); status != c.status {
			t.Fatalf("%s: status %d, want %d: %s", c.body, status, c.status, body)
		}
	}
	const chat = `gen_ai_operation_name="chat",gen_ai_provider_name="openai",gen_ai_request_model="chat"`
	s := g.wantSeries(t, nil,
		`aigateway_requests_total{deployment="primary",endpoint="/v1/chat/completions",key="",model="chat",status_class="2xx"} 2`,
		`aigateway_requests_total{deployment="primary",endpoint="/v1/chat/completions",key="",model="chat",status_class="4xx"} 1`,
		`aigateway_requests_total{deployment="",endpoint="/v1/chat/completions",key="",model="unknown",status_class="4xx"} 1`,
		`aigateway_requests_total{deployment="primary",endpoint="/v1/chat/completions",key="",model="down",status_class="2xx"} 1`,
		`aigateway_upstream_attempts_total{deployment="primary",model="chat",outcome="success"} 3`,
		`aigateway_upstream_attempts_total{deployment="primary",model="chat",outcome="error"} 1`,
		`aigateway_upstream_attempts_total{deployment="nowhere",model="down",outcome="retry"} 3`,
		`aigateway_retries_total{model="down"} 2`,
		`aigateway_fallbacks_total{model="down"} 1`,
		`aigateway_cost_usd_total{key="",model="chat"} 30`,
		`aigateway_cost_usd_total{key="",model="down"} 15`,
		`aigateway_in_flight_requests 0`,
		`aigateway_in_flight_streams 0`,
		`aigateway_breaker_state{deployment="primary",model="chat"} 0`,
		`gen_ai_server_request_duration_seconds_count{`+chat+`} 3`,
		`gen_ai_server_time_to_first_token_seconds_count{`+chat+`} 1`,
		`gen_ai_server_time_per_output_token_seconds_count{`+chat+`} 1`,
		`gen_ai_client_token_usage_sum{`+chat+`,gen_ai_token_type="input"} 20`,
		`gen_ai_client_token_usage_sum{`+chat+`,gen_ai_token_type="output"} 10`,
		`gen_ai_client_token_usage_count{`+chat+`,gen_ai_token_type="output"} 2`,
		`gen_ai_client_token_usage_bucket{`+chat+`,gen_ai_token_type="input",le="16"} 2`,
		`gen_ai_client_token_usage_bucket{`+chat+`,gen_ai_token_type="input",le="4"} 0`,
	)
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "aigateway_retries_total"} {
		if !strings.Contains(s, "# TYPE "+name) {
			t.Errorf("the scrape has no %s", name)
		}
	}
	if strings.Contains(s, "no-such-model") {
		t.Error("an unknown model's raw name is a label value")
	}
}

func TestMetricsNeedTheAdminKeyAndShowNoSecret(t *testing.T) {
	store, err := ledger.OpenSQLite(filepath.Join(t.TempDir(), "usage.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	w := ledger.NewWriter(store, ledger.WriterOptions{})
	t.Cleanup(func() { w.Close(context.Background()) }) //nolint:errcheck // a test's ledger
	const adminKey = "admin-secret-0123456789"
	g := startGateway(t, gatewayOptions{metrics: true, top: keysTop(`"rpm": 1`) + `"admin_key": "` + adminKey + `",`,
		limiter: limits.NewMemory(limits.MemoryOptions{}), ledger: w})
	chat := `{"model": "chat", "messages": [{"role": "user", "content": "hi"}]}`
	for _, want := range []int{200, 429} {
		if status, _, body := g.post(t, "/v1/chat/completions", chat, "Authorization", "Bearer "+teamKey); status != want {
			t.Fatalf("status %d, want %d: %s", status, want, body)
		}
	}
	for _, header := range [][]string{nil, {"Authorization", "Bearer " + teamKey}, {"Authorization", "Bearer wrong"}} {
		if status, _, body := g.do(t, http.MethodGet, "/metrics", "", header...); status != http.StatusUnauthorized {
			t.Errorf("GET /metrics with %q: status %d, want 401: %s", header, status, body)
		}
	}
	s := g.wantSeries(t, []string{"Authorization", "Bearer " + adminKey},
		`aigateway_rate_limit_rejections_total{key="team-a",reason="requests"} 1`,
		`aigateway_requests_total{deployment="models[0]",endpoint="/v1/chat/completions",key="team-a",model="chat",status_class="2xx"} 1`,
		`aigateway_requests_total{deployment="",endpoint="/v1/chat/completions",key="team-a",model="chat",status_class="4xx"} 1`,
		`aigateway_ledger_dropped_total 0`,
	)
	if !strings.Contains(s, "\naigateway_ledger_queue_depth ") {
		t.Error("the scrape has no aigateway_ledger_queue_depth")
	}
	for _, secret := range []string{teamKey, otherKey, adminKey, upstreamKey} {
		if strings.Contains(s, secret) {
			t.Errorf("the scrape contains the secret %q", secret)
		}
	}
}

func TestMetricsOffIsNotFound(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	if status, _, body := g.do(t, http.MethodGet, "/metrics", ""); status != http.StatusNotFound {
		t.Errorf("GET /metrics without metrics: status %d, want 404: %s", status, body)
	}
}

// aigateway_breaker_state is read from the breakers at scrape time: a
// deployment whose attempts keep failing shows as open (2) beside a
// healthy one (0).
func TestMetricsBreakerStateAtScrape(t *testing.T) {
	g := startGateway(t, gatewayOptions{metrics: true,
		extraModels: `{"id": "down", "name": "nowhere", "adapter": "openai_compat", "base_url": "http://127.0.0.1:1/v1", "api_key": "x", "model": "m"}`})
	g.wantSeries(t, nil, `aigateway_breaker_state{deployment="nowhere",model="down"} 0`)
	for range 2 { // three attempts each; the breaker opens at the fifth failure in a row
		if status, _, body := g.post(t, "/v1/chat/completions", `{"model": "down", "messages": [{"role": "user", "content": "hi"}]}`); status < 500 {
			t.Fatalf("status %d, want a 5xx: %s", status, body)
		}
	}
	g.wantSeries(t, nil,
		`aigateway_breaker_state{deployment="nowhere",model="down"} 2`,
		`aigateway_breaker_state{deployment="models[0]",model="chat"} 0`,
		`aigateway_requests_total{deployment="nowhere",endpoint="/v1/chat/completions",key="",model="down",status_class="5xx"} 2`)
}

// aigateway_process_queue_length shows the requests waiting for a local
// program's only slot.
func TestMetricsProcessQueueLength(t *testing.T) {
	g := startGateway(t, gatewayOptions{metrics: true, extraModels: processEntry(t, "local", "words", `"max_concurrency": 1, "queue_size": 4`)})
	g.wantSeries(t, nil, `aigateway_process_queue_length{deployment="models[1]",model="local"} 0`)
	long := strings.Repeat("word ", 100) // 5ms a word: the program runs for about half a second
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if status, _, body := g.post(t, "/v1/chat/completions", `{"model": "local", "messages": [{"role": "user", "content": "`+long+`"}]}`); status != 200 {
				t.Errorf("status %d: %s", status, body)
			}
		})
	}
	g.wantSeries(t, nil, `aigateway_process_queue_length{deployment="models[1]",model="local"} 2`)
	wg.Wait()
	g.wantSeries(t, nil, `aigateway_process_queue_length{deployment="models[1]",model="local"} 0`,
		`aigateway_requests_total{deployment="models[1]",endpoint="/v1/chat/completions",key="",model="local",status_class="2xx"} 3`,
		`gen_ai_server_request_duration_seconds_count{gen_ai_operation_name="chat",gen_ai_provider_name="process",gen_ai_request_model="local"} 3`)
}

// The inbound APIs are chats, recorded under the ledger's endpoint.
func TestMetricsInboundAPIsAreChats(t *testing.T) {
	g := startGateway(t, gatewayOptions{metrics: true})
	if status, _, body := g.post(t, "/v1/messages", `{"model": "chat", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}`,
		"anthropic-version", "2023-06-01"); status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	if status, _, body := g.post(t, "/v1beta/models/chat:generateContent", `{"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}`); status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	g.wantSeries(t, nil,
		`aigateway_requests_total{deployment="models[0]",endpoint="/v1/messages",key="",model="chat",status_class="2xx"} 1`,
		`aigateway_requests_total{deployment="models[0]",endpoint="/v1beta/models/{model}:generateContent",key="",model="chat",status_class="2xx"} 1`,
		`gen_ai_server_request_duration_seconds_count{gen_ai_operation_name="chat",gen_ai_provider_name="openai",gen_ai_request_model="chat"} 2`)
}

// gen_ai_provider_name takes the conventions' well-known values where one
// applies: anthropic, and gcp.gemini for the Gemini API.
func TestMetricsProviderNames(t *testing.T) {
	g := startGateway(t, gatewayOptions{metrics: true, extraModels: providerModels(map[string]any{}, map[string]any{}, "")})
	for _, model := range []string{"claude", "gemini"} {
		if status, _, body := g.post(t, "/v1/chat/completions", `{"model": "`+model+`", "messages": [{"role": "user", "content": "hi"}]}`); status != 200 {
			t.Fatalf("%s: status %d: %s", model, status, body)
		}
	}
	g.wantSeries(t, nil,
		`gen_ai_server_request_duration_seconds_count{gen_ai_operation_name="chat",gen_ai_provider_name="anthropic",gen_ai_request_model="claude"} 1`,
		`gen_ai_server_request_duration_seconds_count{gen_ai_operation_name="chat",gen_ai_provider_name="gcp.gemini",gen_ai_request_model="gemini"} 1`)
}
