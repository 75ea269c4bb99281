package router

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"aigateway/internal/adapter"
	"aigateway/internal/breaker"
	"aigateway/internal/config"
	"aigateway/internal/registry"
)

func newRouter(t *testing.T, cfg string) *Router {
	t.Helper()
	return newRouterAt(t, cfg, nil)
}

// newRouterAt is newRouter with now as the breakers' clock.
func newRouterAt(t *testing.T, cfg string, now func() time.Time) *Router {
	t.Helper()
	f, err := config.Parse("test.json", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Build(f, registry.Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Breakers: breaker.NewSet(breaker.Settings{Now: now})})
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

// deployment returns the deployment of model id with the given label.
func deployment(t *testing.T, r *Router, id, label string) *registry.Deployment {
	t.Helper()
	m, ok := r.Registry().Lookup(id)
	if !ok {
		t.Fatalf("no model %q", id)
	}
	for _, d := range m.Deployments {
		if d.Label == label {
			return d
		}
	}
	t.Fatalf("model %q has no deployment %s", id, label)
	return nil
}

// When every deployment of the pool and of the fallbacks is out of
// rotation, the request is not refused: it goes to the deployment whose
// cool-down ends first, and only that one.
func TestPlanForcesTheSoonestWhenAllAreOpen(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	r := newRouterAt(t, `{"models": [
		{"id": "a", "adapter": "openai_compat", "base_url": "http://h1/v1", "fallbacks": ["b"], "breaker_failures": 1, "breaker_cool_down": 10},
		{"id": "a", "adapter": "openai_compat", "base_url": "http://h2/v1", "breaker_failures": 1, "breaker_cool_down": 10},
		{"id": "b", "adapter": "openai_compat", "base_url": "http://h3/v1", "breaker_failures": 1, "breaker_cool_down": 10}]}`, clock)
	// Opened in this order, one second apart: the fallback's cool-down
	// ends first.
	for _, l := range []string{"models[1]", "models[0]"} {
		deployment(t, r, "a", l).Breaker.Failure()
		now = now.Add(-time.Second)
	}
	deployment(t, r, "b", "models[2]").Breaker.Failure()
	now = now.Add(2 * time.Second)

	p, err := r.Plan("a")
	if err != nil {
		t.Fatal(err)
	}
	d, lastErr, ok := p.Peek()
	if !ok || d.Label != "models[2]" || lastErr != nil {
		t.Fatalf("Peek() = %v, %v, %v; want the fallback's models[2], not tried yet", d, lastErr, ok)
	}
	m, d, ok := p.Next()
	if !ok || m.ID != "b" || d.Label != "models[2]" {
		t.Fatalf("Next() = %v, %v, %v; want b/models[2]", m, d, ok)
	}
	if s := d.Breaker.Snapshot().State.String(); s != "half_open" {
		t.Errorf("the forced deployment's breaker is %s, want half_open (a probe in flight)", s)
	}
	d.Breaker.Failure()
	p.Failed(d, errors.New("503"), true)
	if d, _, ok := p.Peek(); ok {
		t.Errorf("after the forced attempt the plan offers %s; want nothing more (one forced attempt per request)", d.Label)
	}
}

// A request that already made an attempt is not forced onto an open
// breaker: it ends with the upstream's own last answer.
func TestPlanForcesOnlyBeforeTheFirstAttempt(t *testing.T) {
	r := newRouter(t, `{"models": [{"id": "a", "adapter": "openai_compat", "base_url": "http://h1/v1", "breaker_failures": 1}]}`)
	p, _ := r.Plan("a")
	_, d, ok := p.Next()
	if !ok {
		t.Fatal("no first attempt")
	}
	d.Breaker.Failure() // opens
	p.Failed(d, errors.New("500"), true)
	if d, _, ok := p.Peek(); ok {
		t.Errorf("Peek offers %s after the only deployment opened", d.Label)
	}
	if _, d, ok := p.Next(); ok {
		t.Errorf("Next hands out %s after the only deployment opened", d.Label)
	}
}

// Peek chooses without taking the breaker's probe, and Next hands out what
// Peek chose.
func TestPlanPeekLeavesTheProbeFree(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := newRouterAt(t, `{"models": [
		{"id": "a", "adapter": "openai_compat", "base_url": "http://h1/v1", "breaker_failures": 1, "breaker_cool_down": 10},
		{"id": "a", "adapter": "openai_compat", "base_url": "http://h2/v1", "priority": 1}]}`, func() time.Time { return now })
	preferred := deployment(t, r, "a", "models[0]").Breaker
	preferred.Failure()
	now = now.Add(10 * time.Second) // cool-down over: ready for a probe

	p, _ := r.Plan("a")
	if d, _, ok := p.Peek(); !ok || d.Label != "models[0]" {
		t.Fatalf("Peek() = %v, %v; want models[0]", d, ok)
	}
	if !preferred.Allow() { // another request takes the probe meanwhile
		t.Fatal("Peek took the probe")
	}
	if _, d, ok := p.Next(); !ok || d.Label != "models[1]" {
		t.Fatalf("Next() = %v, %v; want models[1], the probe being taken", d, ok)
	}

}

// Next hands out what Peek chose, also where the choice is random.
func TestPlanNextFollowsPeek(t *testing.T) {
	r := newRouter(t, `{"models": [
		{"id": "a", "adapter": "openai_compat", "base_url": "http://h1/v1"},
		{"id": "a", "adapter": "openai_compat", "base_url": "http://h2/v1"}]}`)
	seen := map[string]bool{}
	for range 64 {
		p, _ := r.Plan("a")
		pd, _, _ := p.Peek()
		_, nd, ok := p.Next()
		if !ok || nd != pd {
			t.Fatalf("Peek chose %v, Next handed out %v", pd, nd)
		}
		nd.Breaker.Success()
		seen[nd.Label] = true
	}
	if len(seen) != 2 {
		t.Errorf("64 plans all chose %v", seen)
	}
}

// A deployment that cannot serve this request is left for the pool's
// others, without using the model's retries; one that may recover is
// offered again with its error, for the caller's wait.
func TestPlanFailed(t *testing.T) {
	r := newRouter(t, `{"models": [
		{"id": "a", "adapter": "openai_compat", "base_url": "http://h1/v1", "retries": 0, "fallbacks": ["b"]},
		{"id": "a", "adapter": "openai_compat", "base_url": "http://h2/v1", "priority": 1},
		{"id": "b", "adapter": "openai_compat", "base_url": "http://h3/v1", "retries": 1}]}`)
	p, _ := r.Plan("a")
	var got []string
	busy := errors.New("queue full")
	for {
		m, d, ok := p.Next()
		if !ok {
			break
		}
		got = append(got, m.ID+"/"+d.Label)
		d.Breaker.Release()
		if m.ID == "a" {
			p.Failed(d, busy, false)
			continue
		}
		p.Failed(d, errors.New("500"), true)
		if _, lastErr, ok := p.Peek(); ok && lastErr == nil {
			t.Errorf("retrying %s: Peek gave no error to wait on", d.Label)
		}
	}
	want := "a/models[0] a/models[1] b/models[2] b/models[2]"
	if strings.Join(got, " ") != want {
		t.Errorf("plan = %v, want %s", got, want)
	}
}

// A model that cannot serve at all hands the request to its fallbacks.
func TestPlanUnavailableModelFallsBack(t *testing.T) {
	r := newRouter(t, `{"models": [
		{"id": "nokey", "adapter": "openai_compat", "base_url": "http://h1/v1", "api_key": "ENV:AIGW_ROUTER_TEST_UNSET", "fallbacks": ["b"]},
		{"id": "alone", "adapter": "openai_compat", "base_url": "http://h1/v1", "api_key": "ENV:AIGW_ROUTER_TEST_UNSET", "fallbacks": ["nokey"]},
		{"id": "b", "adapter": "openai_compat", "base_url": "http://h2/v1", "retries": 0}]}`)
	if got := labels(t, r, "nokey"); strings.Join(got, " ") != "b/models[2]" {
		t.Errorf("plan = %v, want the fallback b/models[2]", got)
	}
	_, err := r.Plan("alone")
	var ae *adapter.Error
	if !errors.As(err, &ae) || !strings.Contains(ae.Err.Message, `The model "alone" is not configured on this gateway (no API key)`) {
		t.Fatalf("Plan(alone) error = %v, want model_unavailable", err)
	}
	if strings.Contains(ae.Err.Message, "AIGW_ROUTER_TEST_UNSET") {
		t.Errorf("the client's message names the variable: %q", ae.Err.Message)
	}
	if !strings.Contains(err.Error(), "environment variable AIGW_ROUTER_TEST_UNSET is not set") {
		t.Errorf("the error for the log does not name the variable: %v", err)
	}
}
