package router

import (
	"io"
	"log/slog"
	"testing"

	"aigateway/internal/breaker"
	"aigateway/internal/config"
	"aigateway/internal/registry"
)

func newRouter(t *testing.T, cfg string) *Router {
	t.Helper()
	f, err := config.Parse("test.json", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Build(f, registry.Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Breakers: breaker.NewSet(breaker.Settings{})})
	if err != nil {
		t.Fatal(err)
	}
	return New(reg)
}

// labels drains a plan and returns the deployments it hands out.
func labels(t *testing.T, r *Router, id string) []string {
	t.Helper()
	p, err := r.Plan(id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for {
		m, d, ok := p.Next()
		if !ok {
			return out
		}
		out = append(out, m.ID+"/"+d.Label)
	}
}

func TestPlanOrder(t *testing.T) {
	r := newRouter(t, `{"models": [
		{"id": "a", "adapter": "openai_compat", "base_url": "http://h1/v1", "priority": 1, "fallbacks": ["b", "off", "nokey"]},
		{"id": "a", "adapter": "openai_compat", "base_url": "http://h2/v1", "weight": 2},
		{"id": "a", "adapter": "openai_compat", "base_url": "http://h3/v1"},
		{"id": "b", "adapter": "openai_compat", "base_url": "http://h4/v1", "retries": 0},
		{"id": "off", "adapter": "openai_compat", "base_url": "http://h5/v1", "enabled": false},
		{"id": "nokey", "adapter": "openai_compat", "base_url": "http://h6/v1", "api_key": "ENV:AIGW_ROUTER_TEST_UNSET"}]}`)
	r.Rand = func(n int) int { return 0 } // always the first of the weighted tier
	got := labels(t, r, "a")
	// priority 0 tier first (models[1] by weight, then models[2] untried), then
	// the priority 1 tier, then the fallback with its own budget; the
	// disabled and unavailable fallbacks are skipped.
	want := []string{"a/models[1]", "a/models[2]", "a/models[0]", "b/models[3]"}
	if len(got) != len(want) {
		t.Fatalf("plan = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("plan = %v, want %v", got, want)
		}
	}
}

// With one deployment, retries go to the same deployment.
func TestPlanRetriesSameDeployment(t *testing.T) {
	r := newRouter(t, `{"models": [{"id": "a", "adapter": "openai_compat", "base_url": "http://h1/v1", "retries": 3}]}`)
	if got := labels(t, r, "a"); len(got) != 4 {
		t.Errorf("plan = %v, want 4 attempts", got)
	}
}

// An open breaker takes a deployment out; the plan moves to the next tier.
func TestPlanSkipsOpenBreaker(t *testing.T) {
	r := newRouter(t, `{"models": [
		{"id": "a", "adapter": "openai_compat", "base_url": "http://h1/v1", "retries": 0, "breaker_failures": 1},
		{"id": "a", "adapter": "openai_compat", "base_url": "http://h2/v1", "priority": 1}]}`)
	m, _ := r.Registry().Lookup("a")
	m.Deployments[0].Breaker.Failure()
	if got := labels(t, r, "a"); len(got) != 1 || got[0] != "a/models[1]" {
		t.Errorf("plan = %v, want only the priority-1 deployment", got)
	}
}
