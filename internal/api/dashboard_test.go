package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"aigateway/internal/dashboard"
	"aigateway/internal/ledger"
)

// liveJSON is the part of GET /ui/api/live the tests read.
type liveJSON struct {
	Times  []int64 `json:"times"`
	Models []struct {
		ID          string            `json:"id"`
		Configured  bool              `json:"configured"`
		Series      *dashboard.Series `json:"series"`
		Deployments []struct {
			Name    string                  `json:"name"`
			Status  string                  `json:"status"`
			Reason  string                  `json:"reason"`
			Breaker *struct{ State string } `json:"breaker"`
			Series  *dashboard.Series       `json:"series"`
		} `json:"deployments"`
	} `json:"models"`
	Recent []dashboard.RequestJSON `json:"recent"`
	Total  int64                   `json:"total"`
}

func (g *gateway) live(t *testing.T, header ...string) liveJSON {
	t.Helper()
	status, _, body := g.do(t, http.MethodGet, "/ui/api/live", "", header...)
	if status != http.StatusOK {
		t.Fatalf("GET /ui/api/live: status %d: %s", status, body)
	}
	var l liveJSON
	if err := json.Unmarshal([]byte(body), &l); err != nil {
		t.Fatalf("GET /ui/api/live: %v: %s", err, body)
	}
	return l
}

// liveAfter is live once it counts total requests: a request is recorded
// after its response has been sent, so the client can ask before that.
func (g *gateway) liveAfter(t *testing.T, total int64, header ...string) liveJSON {
	t.Helper()
	var l liveJSON
	waitFor(t, fmt.Sprintf("the dashboard to count %d requests", total), func() bool {
		l = g.live(t, header...)
		return l.Total >= total
	})
	return l
}

// The live view lists every configured model and deployment with its
// state, and counts what the requests did: errors are 5xx only, a 4xx is
// not one; an unserved model counts as "unknown", never by its raw name.
func TestDashboardLiveCountsRequests(t *testing.T) {
	g := startGateway(t, gatewayOptions{activity: true, chatDefaults: `"name": "primary", ` + price1PerToken,
		extraModels: `{"id": "down", "name": "nowhere", "adapter": "openai_compat", "base_url": "http://127.0.0.1:1/v1", "api_key": "x", "model": "m"},
			{"id": "keyless", "name": "no-key", "adapter": "openai_compat", "base_url": "MOCK/v1", "api_key": "ENV:AIGW_UNSET_FOR_TEST", "model": "m"}`})
	l := g.live(t)
	if l.Total != 0 || len(l.Recent) != 0 || len(l.Times) != dashboard.Buckets {
		t.Fatalf("before traffic: total %d, %d recent, %d times", l.Total, len(l.Recent), len(l.Times))
	}
	var ids []string
	for _, m := range l.Models {
		ids = append(ids, m.ID)
	}
	if strings.Join(ids, ",") != "chat,down,keyless" {
		t.Fatalf("models %v, want chat, down, keyless", ids)
	}
	if d := l.Models[2].Deployments[0]; d.Status != "not_configured" || strings.Contains(d.Reason, "AIGW_UNSET_FOR_TEST") {
		t.Errorf("keyless: status %q reason %q: want not_configured, naming no variable", d.Status, d.Reason)
	}
	usage := `"mock": {"prompt_tokens": 10, "completion_tokens": 5}`
	for _, c := range []struct {
		body   string
		status int
	}{
		{`{"model": "chat", "messages": [{"role": "user", "content": "hi"}], ` + usage + `}`, 200},
		{`{"model": "chat", "stream": true, "messages": [{"role": "user", "content": "hi"}], ` + usage + `}`, 200},
		{`{"model": "chat", "messages": [{"role": "user", "content": "hi"}], "mock": {"status": 400}}`, 400},
		{`{"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]}`, 404},
		{`{"model": "down", "messages": [{"role": "user", "content": "hi"}]}`, 502},
		{`{"model": "down", "messages": [{"role": "user", "content": "hi"}]}`, 502},
	} {
		if status, _, body := g.post(t, "/v1/chat/completions", c.body); status != c.status {
			t.Fatalf("%s: status %d, want %d: %s", c.body, status, c.status, body)
		}
	}
	l = g.liveAfter(t, 6)
	if l.Total != 6 || len(l.Recent) != 6 {
		t.Fatalf("after 6 requests: total %d, %d recent", l.Total, len(l.Recent))
	}
	if r := l.Recent[0]; r.Model != "down" || r.Deployment != "nowhere" || r.Status != 502 || !r.Failed {
		t.Errorf("newest recent request: %+v", r)
	}
	chat := l.Models[0]
	if chat.Series == nil {
		t.Fatal("chat: no series after traffic")
	}
	sm := chat.Series.Summary
	if sm.Requests != 3 || sm.ErrorRate != 0 || sm.Tokens != 30 || sm.CostUSD != 30 || sm.AvgTTFTMS <= 0 || sm.AvgLatencyMS <= 0 {
		t.Errorf("chat summary %+v: want 3 requests, no errors (a 400 is not one), 30 tokens, $30, a TTFT and a latency", sm)
	}
	if d := chat.Deployments[0]; d.Name != "primary" || d.Series == nil || d.Series.Summary.Requests != 3 || d.Breaker == nil || d.Breaker.State != "closed" {
		t.Errorf("chat's deployment: %+v", d)
	}
	down := l.Models[1]
	if down.Series == nil || down.Series.Summary.ErrorRate != 1 {
		t.Errorf("down: %+v, want an error rate of 1", down.Series)
	}
	last := len(l.Times) - 1
	if down.Series.Requests[last] != 2 || down.Series.Errors[last] != 2 {
		t.Errorf("down's last span: %d requests, %d errors; want 2 and 2", down.Series.Requests[last], down.Series.Errors[last])
	}
	if m := l.Models[len(l.Models)-1]; m.ID != "unknown" || m.Configured || m.Series.Summary.Requests != 1 {
		t.Errorf("the unserved model: %+v, want unknown, not configured, 1 request", m)
	}
	status, _, body := g.do(t, http.MethodGet, "/ui/api/live", "")
	if strings.Contains(body, "no-such-model") || status != 200 {
		t.Errorf("the live view names a client's raw model (status %d)", status)
	}
}

// The page is served without the admin key (it holds no data) with a
// strict CSP; its data needs the admin key once the gateway has keys.
func TestDashboardNeedsTheAdminKeyForData(t *testing.T) {
	const adminKey = "admin-secret-0123456789"
	store, err := ledger.OpenSQLite(filepath.Join(t.TempDir(), "usage.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	w := ledger.NewWriter(store, ledger.WriterOptions{})
	t.Cleanup(func() { w.Close(context.Background()) }) //nolint:errcheck // a test's ledger
	g := startGateway(t, gatewayOptions{activity: true, top: keysTop("") + `"admin_key": "` + adminKey + `",`, ledger: w, usage: store})

	status, h, body := g.do(t, http.MethodGet, "/ui", "")
	if status != http.StatusOK || !strings.Contains(body, `<script src="app.js"`) {
		t.Fatalf("GET /ui (redirected): status %d: %.200s", status, body)
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q", csp)
	}
	for _, path := range []string{"/ui/app.js", "/ui/style.css", "/ui/vendor/uPlot.iife.min.js", "/ui/vendor/uPlot.min.css"} {
		if status, _, body := g.do(t, http.MethodGet, path, ""); status != http.StatusOK || len(body) < 100 {
			t.Errorf("GET %s: status %d, %d bytes", path, status, len(body))
		}
	}
	for _, path := range []string{"/ui/api/live", "/ui/api/usage"} {
		for _, header := range [][]string{nil, {"Authorization", "Bearer " + teamKey}, {"Authorization", "Bearer wrong"}} {
			if status, _, body := g.do(t, http.MethodGet, path, "", header...); status != http.StatusUnauthorized {
				t.Errorf("GET %s with %q: status %d, want 401: %s", path, header, status, body)
			}
		}
	}
	for range 2 {
		if status, _, body := g.post(t, "/v1/chat/completions", `{"model": "chat", "messages": [{"role": "user", "content": "hi"}], "mock": {"prompt_tokens": 7, "completion_tokens": 3}}`,
			"Authorization", "Bearer "+teamKey); status != 200 {
			t.Fatalf("chat: status %d: %s", status, body)
		}
	}
	admin := []string{"Authorization", "Bearer " + adminKey}
	l := g.liveAfter(t, 2, admin...)
	if l.Total != 2 || l.Recent[0].Key != "team-a" {
		t.Errorf("live: total %d, recent %+v", l.Total, l.Recent)
	}
	var u struct {
		Hours   []string     `json:"hours"`
		ByModel []ledger.Row `json:"by_model"`
		ByKey   []ledger.Row `json:"by_key"`
	}
	// The ledger writes its records in batches, after the responses.
	waitFor(t, "the ledger to hold both requests", func() bool {
		status, _, body = g.do(t, http.MethodGet, "/ui/api/usage?hours=3", "", admin...)
		if status != http.StatusOK {
			t.Fatalf("GET /ui/api/usage: status %d: %s", status, body)
		}
		if err := json.Unmarshal([]byte(body), &u); err != nil {
			t.Fatal(err)
		}
		return len(u.ByModel) == 1 && u.ByModel[0].Requests >= 2
	})
	if len(u.Hours) != 3 || len(u.ByModel) != 1 || len(u.ByKey) != 1 {
		t.Fatalf("usage: %s", body)
	}
	if m, k := u.ByModel[0], u.ByKey[0]; *m.Model != "chat" || *m.Hour != u.Hours[2] || m.Requests != 2 || m.PromptTokens != 14 ||
		*k.Key != "team-a" || *k.Hour != u.Hours[2] || k.CompletionTokens != 6 {
		t.Errorf("usage: %s, want 2 requests of chat by team-a in the last hour", body)
	}
	for _, q := range []string{"0", "721", "x"} {
		if status, _, body := g.do(t, http.MethodGet, "/ui/api/usage?hours="+q, "", admin...); status != http.StatusBadRequest {
			t.Errorf("hours=%s: status %d, want 400: %s", q, status, body)
		}
	}
	for _, secret := range []string{teamKey, otherKey, adminKey} {
		if strings.Contains(g.logs.String(), secret) {
			t.Errorf("the log contains the secret %q", secret)
		}
	}
}

func TestDashboardOffIsNotFound(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	for _, path := range []string{"/ui", "/ui/", "/ui/api/live"} {
		if status, _, body := g.do(t, http.MethodGet, path, ""); status != http.StatusNotFound {
			t.Errorf("GET %s without an Activity: status %d, want 404: %s", path, status, body)
		}
	}
}
