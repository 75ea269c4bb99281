package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"aigateway/internal/config"
	"aigateway/internal/ledger"
	"aigateway/internal/limits"
	"aigateway/internal/registry"
)

// The gateway keys of the tests: clients send them, the upstream and the
// logs must never see them.
const (
	teamKey  = "gw-team-a-secret-0123456789"
	otherKey = "gw-team-b-secret-9876543210"
)

// keysTop is a "keys" member with team-a (teamKey, fields added from
// teamFields) and team-b (otherKey, no limits).
func keysTop(teamFields string) string {
	if teamFields != "" {
		teamFields = ", " + teamFields
	}
	return `"keys": [{"name": "team-a", "key": "` + teamKey + `"` + teamFields + `}, {"name": "team-b", "key": "` + otherKey + `"}],`
}

// memLedger is a Ledger that keeps the records in memory.
type memLedger struct {
	mu      sync.Mutex
	records []ledger.Record
	added   chan struct{}
}

func newMemLedger() *memLedger { return &memLedger{added: make(chan struct{}, 1000)} }

func (l *memLedger) Add(r ledger.Record) {
	l.mu.Lock()
	l.records = append(l.records, r)
	l.mu.Unlock()
	l.added <- struct{}{}
}

// next waits for the next record.
func (l *memLedger) next(t *testing.T) ledger.Record {
	t.Helper()
	select {
	case <-l.added:
	case <-time.After(5 * time.Second):
		t.Fatal("no ledger record within 5s")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.records[len(l.records)-1]
}

// keyedChat is a chat request; mock, when given, is the mock upstream's
// directive for it.
func keyedChat(model string, stream bool, mock ...string) string {
	m := ""
	if len(mock) > 0 {
		m = `, "mock": ` + mock[0]
	}
	return `{"model": "` + model + `", "stream": ` + strconv.FormatBool(stream) + `, "messages": [{"role": "user", "content": "hi"}]` + m + `}`
}

func TestGatewayKeyEveryHeaderStyle(t *testing.T) {
	g := startGateway(t, gatewayOptions{top: keysTop("")})
	for _, tc := range []struct {
		name   string
		path   string
		header []string
	}{
		{"bearer", "/v1/chat/completions", []string{"Authorization", "Bearer " + teamKey}},
		{"x-api-key", "/v1/chat/completions", []string{"x-api-key", teamKey}},
		{"x-goog-api-key", "/v1/chat/completions", []string{"x-goog-api-key", teamKey}},
		{"query", "/v1/chat/completions?key=" + teamKey, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := g.post(t, tc.path, keyedChat("chat", false), tc.header...)
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, body)
			}
			up := g.lastUpstream(t)
			if got := up.Header.Get("Authorization"); got != "Bearer "+upstreamKey {
				t.Errorf("upstream Authorization = %q, want the upstream key", got)
			}
			for k, v := range up.Header {
				if strings.Contains(strings.Join(v, " "), teamKey) {
					t.Errorf("the gateway key went upstream in %s", k)
				}
			}
			if strings.Contains(up.Query, teamKey) || strings.Contains(string(up.Body), teamKey) {
				t.Error("the gateway key went upstream in the query or body")
			}
		})
	}
	line := g.waitLine(t, "key=team-a")
	if strings.Contains(g.logs.String(), teamKey) {
		t.Errorf("the gateway key is in the log: %s", line)
	}
}

func TestGatewayKeyMissingOrUnknown(t *testing.T) {
	led := newMemLedger()
	g := startGateway(t, gatewayOptions{top: keysTop(""), ledger: led})
	for _, tc := range []struct {
		name, code string
		header     []string
	}{
		{"missing", "missing_api_key", nil},
		{"unknown", "invalid_api_key", []string{"Authorization", "Bearer gw-wrong-key-000000000000"}},
		{"prefix of a real key", "invalid_api_key", []string{"Authorization", "Bearer " + teamKey[:10]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := g.post(t, "/v1/chat/completions", keyedChat("chat", false), tc.header...)
			if status != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401: %s", status, body)
			}
			e := decodeOpenAIError(t, body)
			if e.Code != tc.code || e.Type != "invalid_request_error" || e.Message == "" {
				t.Errorf("error = %+v, want code %s", e, tc.code)
			}
			if strings.Contains(body, "gw-") {
				t.Errorf("the error echoes the presented key: %s", body)
			}
		})
	}
	if n := len(g.mock.Requests()); n != 0 {
		t.Errorf("the upstream got %d requests from unauthenticated clients", n)
	}
	// The ledger is of the keys' requests: the refused ones are not in it.
	if status, _, body := g.post(t, "/v1/chat/completions", keyedChat("chat", false), "Authorization", "Bearer "+teamKey); status != http.StatusOK {
		t.Fatalf("with the key: %d %s", status, body)
	}
	if r := led.next(t); r.Key != "team-a" || len(led.added) != 0 {
		t.Errorf("first record %+v (%d more): unauthenticated requests were recorded", r, len(led.added))
	}

	// The official SDK sees a 401 it can report.
	c := openai.NewClient(option.WithBaseURL(g.URL+"/v1/"), option.WithAPIKey("gw-not-a-key-000000000"), option.WithMaxRetries(0))
	_, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "chat",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized || apiErr.Code != "invalid_api_key" {
		t.Errorf("SDK error = %v, want 401 invalid_api_key", err)
	}
}

func TestGatewayKeyErrorsInEachAPIShape(t *testing.T) {
	g := startGateway(t, gatewayOptions{top: keysTop("")})
	status, _, body := g.post(t, "/v1/messages", `{"model": "chat", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}`,
		"x-api-key", "wrong-key-0000000000000", "anthropic-version", "2023-06-01")
	if status != http.StatusUnauthorized || !strings.Contains(body, `"type":"error"`) || !strings.Contains(body, `"type":"authentication_error"`) {
		t.Errorf("Anthropic Messages: %d %s, want 401 authentication_error", status, body)
	}
	status, _, body = g.post(t, "/v1beta/models/chat:generateContent", `{"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}`,
		"x-goog-api-key", "wrong-key-0000000000000")
	if status != http.StatusUnauthorized || !strings.Contains(body, `"status":"UNAUTHENTICATED"`) || !strings.Contains(body, `"code":401`) {
		t.Errorf("Gemini: %d %s, want 401 UNAUTHENTICATED", status, body)
	}
	status, _, body = g.post(t, "/v1/responses", `{"model": "chat", "input": "hi"}`)
	if status != http.StatusUnauthorized || decodeOpenAIError(t, body).Code != "missing_api_key" {
		t.Errorf("Responses: %d %s, want 401 missing_api_key", status, body)
	}
	// The right key works on each.
	status, _, body = g.post(t, "/v1/messages", `{"model": "chat", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}`,
		"x-api-key", teamKey, "anthropic-version", "2023-06-01")
	if status != http.StatusOK {
		t.Errorf("Anthropic Messages with the key: %d %s", status, body)
	}
	status, _, body = g.post(t, "/v1beta/models/chat:generateContent?key="+teamKey, `{"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}`)
	if status != http.StatusOK {
		t.Errorf("Gemini with ?key=: %d %s", status, body)
	}
}

func TestGatewayKeyModelAllowlist(t *testing.T) {
	g := startGateway(t, gatewayOptions{
		top: keysTop(`"models": ["chat", "claude-*"]`),
		extraModels: `{"id": "claude-x", "adapter": "openai_compat", "base_url": "MOCK/v1", "api_key": "` + upstreamKey + `", "model": "mock-model"},
			{"id": "other", "adapter": "openai_compat", "base_url": "MOCK/v1", "api_key": "` + upstreamKey + `", "model": "mock-model"}`,
	})
	auth := []string{"Authorization", "Bearer " + teamKey}
	for model, want := range map[string]int{"chat": 200, "claude-x": 200, "other": 403, "no-such-model": 403} {
		status, _, body := g.post(t, "/v1/chat/completions", keyedChat(model, false), auth...)
		if status != want {
			t.Errorf("%s: status %d, want %d: %s", model, status, want, body)
		}
		if want == 403 && decodeOpenAIError(t, body).Code != "model_not_allowed" {
			t.Errorf("%s: %s, want model_not_allowed", model, body)
		}
	}
	_, _, body := g.do(t, http.MethodGet, "/v1/models", "", auth...)
	if ids := modelIDs(t, body); strings.Join(ids, ",") != "chat,claude-x" {
		t.Errorf("team-a lists %v, want [chat claude-x]", ids)
	}
	_, _, body = g.do(t, http.MethodGet, "/v1/models", "", "Authorization", "Bearer "+otherKey)
	if ids := modelIDs(t, body); strings.Join(ids, ",") != "chat,claude-x,other" {
		t.Errorf("team-b (all models) lists %v", ids)
	}
	if status, _, _ := g.do(t, http.MethodGet, "/v1/models/other", "", auth...); status != http.StatusForbidden {
		t.Errorf("GET /v1/models/other with team-a: %d, want 403", status)
	}
	if status, _, _ := g.do(t, http.MethodGet, "/v1/models", ""); status != http.StatusUnauthorized {
		t.Errorf("GET /v1/models without a key: %d, want 401", status)
	}
}

func modelIDs(t *testing.T, body string) []string {
	t.Helper()
	var list struct {
		Data []struct{ ID string }
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatalf("model list %s: %v", body, err)
	}
	var ids []string
	for _, m := range list.Data {
		ids = append(ids, m.ID)
	}
	return ids
}

func TestHealthHidesModelsWithoutAKey(t *testing.T) {
	g := startGateway(t, gatewayOptions{top: keysTop("")})
	status, _, body := g.do(t, http.MethodGet, "/health", "")
	if status != http.StatusOK || !strings.Contains(body, `"status":"ok"`) || strings.Contains(body, `"models"`) || strings.Contains(body, "mock-model") {
		t.Errorf("/health without a key: %d %s, want the status only", status, body)
	}
	_, _, body = g.do(t, http.MethodGet, "/health", "", "Authorization", "Bearer "+teamKey)
	if !strings.Contains(body, `"models"`) || !strings.Contains(body, `"id":"chat"`) {
		t.Errorf("/health with a key: %s, want the models", body)
	}
}

func TestRequestsPerMinuteLimit(t *testing.T) {
	g := startGateway(t, gatewayOptions{top: keysTop(`"rpm": 2`), limiter: limits.NewMemory(limits.MemoryOptions{})})
	auth := []string{"Authorization", "Bearer " + teamKey}
	for i := range 2 {
		status, h, body := g.post(t, "/v1/chat/completions", keyedChat("chat", false), auth...)
		if status != http.StatusOK {
			t.Fatalf("request %d: %d %s", i+1, status, body)
		}
		if h.Get("X-Ratelimit-Limit-Requests") != "2" || h.Get("X-Ratelimit-Remaining-Requests") != strconv.Itoa(1-i) {
			t.Errorf("request %d: x-ratelimit headers %v", i+1, h)
		}
	}
	status, h, body := g.post(t, "/v1/chat/completions", keyedChat("chat", false), auth...)
	if status != http.StatusTooManyRequests {
		t.Fatalf("third request: %d %s, want 429", status, body)
	}
	if e := decodeOpenAIError(t, body); e.Code != "rate_limit_exceeded" || e.Type != "requests" {
		t.Errorf("error = %+v", e)
	}
	if ra, err := strconv.Atoi(h.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
		t.Errorf("Retry-After = %q, want 1..60 seconds", h.Get("Retry-After"))
	}
	if h.Get("X-Ratelimit-Remaining-Requests") != "0" || h.Get("X-Ratelimit-Reset-Requests") == "" {
		t.Errorf("x-ratelimit headers on the 429: %v", h)
	}
	// Another key has its own limits.
	if status, _, _ := g.post(t, "/v1/chat/completions", keyedChat("chat", false), "Authorization", "Bearer "+otherKey); status != http.StatusOK {
		t.Errorf("team-b: %d, want 200", status)
	}
	// The OpenAI SDK reads the 429 as a rate limit error.
	c := openai.NewClient(option.WithBaseURL(g.URL+"/v1/"), option.WithAPIKey(teamKey), option.WithMaxRetries(0))
	_, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "chat",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusTooManyRequests {
		t.Errorf("SDK error = %v, want 429", err)
	}
}

func TestTokensPerMinuteLimitCountsReportedUsage(t *testing.T) {
	g := startGateway(t, gatewayOptions{top: keysTop(`"tpm": 100`), limiter: limits.NewMemory(limits.MemoryOptions{})})
	auth := []string{"Authorization", "Bearer " + teamKey}
	mock := `{"prompt_tokens": 90, "completion_tokens": 60}`
	// The estimate (a short body) fits; the reported 150 tokens use up
	// the minute.
	if status, _, body := g.post(t, "/v1/chat/completions", keyedChat("chat", false, mock), auth...); status != http.StatusOK {
		t.Fatalf("first: %d %s", status, body)
	}
	status, h, body := g.post(t, "/v1/chat/completions", keyedChat("chat", false, mock), auth...)
	if status != http.StatusTooManyRequests || decodeOpenAIError(t, body).Type != "tokens" {
		t.Fatalf("second: %d %s, want 429 tokens", status, body)
	}
	if h.Get("X-Ratelimit-Limit-Tokens") != "100" || h.Get("Retry-After") == "" {
		t.Errorf("headers %v", h)
	}
}

func TestConcurrencyLimitAndSlotFreedWhenClientLeaves(t *testing.T) {
	g := startGateway(t, gatewayOptions{top: keysTop(`"max_concurrency": 1`), limiter: limits.NewMemory(limits.MemoryOptions{})})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, g.URL+"/v1/chat/completions", strings.NewReader(keyedChat("chat", true, `{"hang_after_chunks": 1}`)))
	req.Header.Set("Authorization", "Bearer "+teamKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 64)
	if _, err := resp.Body.Read(buf); err != nil { // the stream started
		t.Fatal(err)
	}
	status, _, body := g.post(t, "/v1/chat/completions", keyedChat("chat", false), "Authorization", "Bearer "+teamKey)
	if status != http.StatusTooManyRequests || !strings.Contains(body, "in flight") {
		t.Fatalf("second request while one is in flight: %d %s, want 429", status, body)
	}
	cancel() // the client leaves: its slot must come back
	deadline := time.Now().Add(5 * time.Second)
	for {
		status, _, body = g.post(t, "/v1/chat/completions", keyedChat("chat", false), "Authorization", "Bearer "+teamKey)
		if status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the client left: %d %s; the concurrency slot leaked", status, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// price1PerToken makes every token cost $1, so that costs are counts.
const price1PerToken = `"price": {"input": 1000000, "output": 1000000},`

func TestBudgetRefusesOnceSpent(t *testing.T) {
	led := newMemLedger()
	g := startGateway(t, gatewayOptions{top: keysTop(`"budget_usd": 10, "budget_period": "daily"`), chatDefaults: price1PerToken,
		limiter: limits.NewMemory(limits.MemoryOptions{}), ledger: led})
	auth := []string{"Authorization", "Bearer " + teamKey}
	mock := `{"prompt_tokens": 6, "completion_tokens": 6}`
	if status, _, body := g.post(t, "/v1/chat/completions", keyedChat("chat", false, mock), auth...); status != http.StatusOK {
		t.Fatalf("first: %d %s", status, body)
	}
	if r := led.next(t); r.CostUSD != 12 || r.Key != "team-a" || r.Outcome != ledger.OutcomeCompleted {
		t.Errorf("record %+v, want cost 12 for team-a, completed", r)
	}
	status, _, body := g.post(t, "/v1/chat/completions", keyedChat("chat", false, mock), auth...)
	if status != http.StatusTooManyRequests {
		t.Fatalf("over budget: %d %s, want 429", status, body)
	}
	if e := decodeOpenAIError(t, body); e.Code != "insufficient_quota" || e.Type != "insufficient_quota" {
		t.Errorf("error %+v, want insufficient_quota", e)
	}
	if r := led.next(t); r.Outcome != ledger.OutcomeLimited || r.Status != http.StatusTooManyRequests {
		t.Errorf("record of the refused request %+v", r)
	}
	if n := len(g.mock.Requests()); n != 1 {
		t.Errorf("the upstream got %d requests, want 1: the refused one must not go upstream", n)
	}
}

func TestReservationsSettledOnEveryPath(t *testing.T) {
	led := newMemLedger()
	// One request at a time and a budget that one settled request barely
	// dents: a leaked slot or reservation refuses the next request.
	g := startGateway(t, gatewayOptions{top: keysTop(`"max_concurrency": 1, "budget_usd": 1000000`), chatDefaults: price1PerToken + `"retries": 0,`,
		limiter: limits.NewMemory(limits.MemoryOptions{}), ledger: led})
	auth := []string{"Authorization", "Bearer " + teamKey}
	ok := func(step string) {
		t.Helper()
		if status, _, body := g.post(t, "/v1/chat/completions", keyedChat("chat", false), auth...); status != http.StatusOK {
			t.Fatalf("after %s: %d %s", step, status, body)
		}
		led.next(t)
	}
	ok("start")
	// The upstream fails.
	if status, _, _ := g.post(t, "/v1/chat/completions", keyedChat("chat", false, `{"status": 500}`), auth...); status != http.StatusInternalServerError {
		t.Fatalf("upstream 500: got %d", status)
	}
	if r := led.next(t); r.Outcome != ledger.OutcomeUpstreamError {
		t.Errorf("record %+v, want upstream_error", r)
	}
	ok("an upstream error")
	// A stream breaks off.
	status, _, body := g.post(t, "/v1/chat/completions", keyedChat("chat", true, `{"cut_after": 1}`), auth...)
	if status != http.StatusOK || strings.Contains(body, "[DONE]") {
		t.Fatalf("cut stream: %d %s", status, body)
	}
	if r := led.next(t); r.Outcome != ledger.OutcomeUpstreamError || !r.Stream || !r.Estimated || r.CompletionTokens == 0 {
		t.Errorf("record of a cut stream %+v, want upstream_error with estimated tokens", r)
	}
	ok("a cut stream")
	// The client leaves mid-stream.
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, g.URL+"/v1/chat/completions", strings.NewReader(keyedChat("chat", true, `{"hang_after_chunks": 1}`)))
	req.Header.Set("Authorization", "Bearer "+teamKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Read(make([]byte, 64)) //nolint:errcheck // the stream started
	cancel()
	resp.Body.Close()
	if r := led.next(t); r.Outcome != ledger.OutcomeClientGone || r.Status != 499 {
		t.Errorf("record of an abandoned stream %+v, want client_gone 499", r)
	}
	ok("a client that left")
}

func TestAdminUsageAndRequests(t *testing.T) {
	store, err := ledger.OpenSQLite(filepath.Join(t.TempDir(), "usage.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	w := ledger.NewWriter(store, ledger.WriterOptions{})
	t.Cleanup(func() { w.Close(context.Background()) })
	g := startGateway(t, gatewayOptions{top: keysTop("") + `"admin_key": "admin-secret-0123456789",`, chatDefaults: price1PerToken,
		limiter: limits.NewMemory(limits.MemoryOptions{}), ledger: w, usage: store})
	for _, k := range []string{teamKey, teamKey, otherKey} {
		if status, _, body := g.post(t, "/v1/chat/completions", keyedChat("chat", false, `{"prompt_tokens": 3, "completion_tokens": 4}`),
			"Authorization", "Bearer "+k); status != http.StatusOK {
			t.Fatalf("%d %s", status, body)
		}
	}
	admin := []string{"Authorization", "Bearer admin-secret-0123456789"}
	// The records are written after each response, so the one of a request
	// may be written after the one of the next: wait for all three.
	var usage struct {
		Data []map[string]any `json:"data"`
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		status, _, body := g.do(t, http.MethodGet, "/admin/usage?group_by=key", "", admin...)
		if status != http.StatusOK {
			t.Fatalf("/admin/usage: %d %s", status, body)
		}
		usage.Data = nil
		if err := json.Unmarshal([]byte(body), &usage); err != nil {
			t.Fatal(err)
		}
		var requests float64
		for _, row := range usage.Data {
			n, _ := row["requests"].(float64)
			requests += n
		}
		if requests >= 3 || time.Now().After(deadline) {
			break
		}
	}
	want := `[map[completion_tokens:8 cost_usd:14 key:team-a prompt_tokens:6 requests:2] map[completion_tokens:4 cost_usd:7 key:team-b prompt_tokens:3 requests:1]]`
	if got := fmt.Sprint(usage.Data); got != want {
		t.Errorf("/admin/usage?group_by=key:\n got %s\nwant %s", got, want)
	}
	_, _, body := g.do(t, http.MethodGet, "/admin/usage?group_by=model,day", "", admin...)
	today := time.Now().UTC().Format(time.DateOnly)
	if !strings.Contains(body, `"model":"chat"`) || !strings.Contains(body, `"day":"`+today+`"`) || strings.Contains(body, `"key"`) || !strings.Contains(body, `"requests":3`) {
		t.Errorf("/admin/usage?group_by=model,day: %s", body)
	}
	status, _, body := g.do(t, http.MethodGet, "/admin/requests?limit=1", "", admin...)
	if status != http.StatusOK || !strings.Contains(body, `"key":"team-b"`) || strings.Count(body, `"request_id"`) != 1 || !strings.Contains(body, `"outcome":"completed"`) {
		t.Errorf("/admin/requests?limit=1: %d %s", status, body)
	}
	for _, h := range [][]string{nil, {"Authorization", "Bearer " + teamKey}} {
		if status, _, _ := g.do(t, http.MethodGet, "/admin/usage", "", h...); status != http.StatusUnauthorized {
			t.Errorf("/admin/usage with %v: %d, want 401", h, status)
		}
	}
	if status, _, body := g.do(t, http.MethodGet, "/admin/usage?group_by=color", "", admin...); status != http.StatusBadRequest {
		t.Errorf("group_by=color: %d %s, want 400", status, body)
	}
}

// apiError is an OpenAI error body's fields.
type apiError struct{ Message, Type, Code string }

// decodeOpenAIError checks that body has the OpenAI error shape and
// returns its fields.
func decodeOpenAIError(t *testing.T, body string) apiError {
	t.Helper()
	e := openAIError(t, body)
	str := func(k string) string { s, _ := e[k].(string); return s }
	return apiError{Message: str("message"), Type: str("type"), Code: str("code")}
}

// A key removed from the config stops working at the reload, while its
// stream in flight finishes.
func TestRevokedKeyStopsAtReloadStreamsFinish(t *testing.T) {
	g := startGateway(t, gatewayOptions{top: keysTop("")})
	req, _ := http.NewRequest(http.MethodPost, g.URL+"/v1/chat/completions",
		strings.NewReader(keyedChat("chat", true, `{"chunks": 5, "chunk_delay_ms": 100}`)))
	req.Header.Set("Authorization", "Bearer "+teamKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	// Reload without team-a.
	cfg := `{"keys": [{"name": "team-b", "key": "` + otherKey + `"}], "models": [
		{"id": "chat", "adapter": "openai_compat", "base_url": "` + g.upstreamURL + `/v1", "api_key": "` + upstreamKey + `", "model": "mock-model"}]}`
	file, err := config.Parse("reloaded.json", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	next, err := registry.Build(file, registry.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	g.router.Swap(next)
	if status, _, body := g.post(t, "/v1/chat/completions", keyedChat("chat", false), "Authorization", "Bearer "+teamKey); status != http.StatusUnauthorized {
		t.Errorf("revoked key after the reload: %d %s, want 401", status, body)
	}
	if status, _, body := g.post(t, "/v1/chat/completions", keyedChat("chat", false), "Authorization", "Bearer "+otherKey); status != http.StatusOK {
		t.Errorf("kept key after the reload: %d %s", status, body)
	}
	all, err := io.ReadAll(resp.Body)
	if err != nil || !strings.HasSuffix(string(all), "data: [DONE]\n\n") {
		t.Errorf("the stream in flight did not finish: %v %q", err, all)
	}
}
