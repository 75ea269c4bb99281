package registry

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"aigateway/internal/config"
)

// The registry carries its config's gateway keys, resolved with the
// registry's environment, and warns once per key it cannot use.
func TestRegistryKeys(t *testing.T) {
	cfg := `{"models": [{"id": "a", "adapter": "openai_compat", "base_url": "http://127.0.0.1:1/v1"}],
		"keys": [
			{"name": "literal", "key": "sk-literal-SECRET-0001", "models": ["a"]},
			{"name": "from-env", "key": "ENV:AIGW_REG_KEY"},
			{"name": "missing", "key": "ENV:AIGW_REG_KEY_UNSET"}]}`
	f, err := config.Parse("test.json", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	env := map[string]string{"AIGW_REG_KEY": "sk-env-SECRET-000002"}
	r, err := Build(f, Deps{
		LookupEnv: func(name string) (string, bool) { v, ok := env[name]; return v, ok },
		Logger:    slog.New(slog.NewTextHandler(&log, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	ring := r.Keys()
	if ring.Open() {
		t.Fatal("a registry with keys is open")
	}
	if k := ring.Lookup("sk-literal-SECRET-0001"); k == nil || k.Name != "literal" || !k.Allows("a") || k.Allows("b") {
		t.Errorf("literal key: %v", k)
	}
	if k := ring.Lookup("sk-env-SECRET-000002"); k == nil || k.Name != "from-env" {
		t.Errorf("key from the registry's environment: %v", k)
	}
	want := `level=WARN msg="gateway key unusable" key=missing reason="environment variable AIGW_REG_KEY_UNSET is not set"`
	if got := log.String(); !strings.Contains(got, want) || strings.Count(got, "gateway key unusable") != 1 {
		t.Errorf("log:\n%s\nwant one line containing: %s", got, want)
	}
	if strings.Contains(log.String(), "SECRET") {
		t.Errorf("log leaks a key:\n%s", log.String())
	}

	// A reload is a new ring: a key removed from the file stops working,
	// the others carry on.
	r2 := build(t, `{"models": [{"id": "a", "adapter": "openai_compat", "base_url": "http://127.0.0.1:1/v1"}],
		"keys": [{"name": "from-env", "key": "ENV:AIGW_REG_KEY"}]}`,
		Deps{LookupEnv: func(name string) (string, bool) { v, ok := env[name]; return v, ok }, Previous: r})
	if r2.Keys().Lookup("sk-literal-SECRET-0001") != nil || r2.Keys().Lookup("sk-env-SECRET-000002") == nil {
		t.Error("the reloaded registry's keys are not those of the new file")
	}
	if ring.Lookup("sk-literal-SECRET-0001") == nil {
		t.Error("the old ring changed: requests in flight would lose their key")
	}
}

// Without keys the gateway is open.
func TestRegistryWithoutKeysIsOpen(t *testing.T) {
	r := build(t, `{"models": [{"id": "a", "adapter": "openai_compat", "base_url": "http://127.0.0.1:1/v1"}]}`, Deps{})
	if !r.Keys().Open() {
		t.Error("a registry without keys is not open")
	}
}

// Each deployment carries its own entry's price; a pool's entries may
// charge differently.
func TestDeploymentPrice(t *testing.T) {
	r := build(t, `{"models": [
		{"id": "a", "adapter": "openai_compat", "base_url": "http://127.0.0.1:1/v1", "price": {"input": 2.5, "output": 10}},
		{"id": "a", "adapter": "openai_compat", "base_url": "http://127.0.0.1:2/v1", "price": {"input": 3, "output": 12, "cached_input": 0.3}},
		{"id": "b", "adapter": "openai_compat", "base_url": "http://127.0.0.1:3/v1"}]}`, Deps{})
	a, _ := r.Lookup("a")
	b, _ := r.Lookup("b")
	want := []config.Price{{Input: 2.5, Output: 10, CachedInput: 2.5}, {Input: 3, Output: 12, CachedInput: 0.3}}
	for i, dep := range a.Deployments {
		if dep.Price == nil || *dep.Price != want[i] {
			t.Errorf("a deployment %d: Price = %+v, want %+v", i, dep.Price, want[i])
		}
	}
	if b.Deployments[0].Price != nil {
		t.Errorf("b: Price = %+v, want nil (unknown)", b.Deployments[0].Price)
	}
}

// A reload that only changes a price keeps the deployment's adapter and
// breaker, and serves the new price.
func TestReloadNewPrice(t *testing.T) {
	cfg := `{"models": [{"id": "a", "adapter": "openai_compat", "base_url": "http://127.0.0.1:1/v1", "price": {"input": %s, "output": 10}}]}`
	first := build(t, strings.Replace(cfg, "%s", "1", 1), Deps{})
	second := build(t, strings.Replace(cfg, "%s", "2", 1), Deps{Previous: first})
	a1, _ := first.Lookup("a")
	a2, _ := second.Lookup("a")
	if a1.Deployments[0].Adapter != a2.Deployments[0].Adapter {
		t.Error("a new price built a new adapter")
	}
	if p := a2.Deployments[0].Price; p == nil || p.Input != 2 {
		t.Errorf("Price after reload = %+v, want input 2", p)
	}
}
