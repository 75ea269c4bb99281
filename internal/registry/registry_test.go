package registry

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"aigateway/internal/adapter/process"
	"aigateway/internal/breaker"
	"aigateway/internal/config"
)

func build(t *testing.T, cfg string, d Deps) *Registry {
	t.Helper()
	f, err := config.Parse("test.json", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	d.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	r, err := Build(f, d)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A reload keeps the adapter and breaker of every deployment that did not
// change, and builds new ones for those that did.
func TestReloadKeepsUnchangedDeployments(t *testing.T) {
	breakers := breaker.NewSet(breaker.Settings{})
	first := build(t, `{"models": [
		{"id": "a", "adapter": "openai_compat", "base_url": "http://127.0.0.1:1/v1"},
		{"id": "b", "adapter": "openai_compat", "base_url": "http://127.0.0.1:2/v1"}]}`, Deps{Breakers: breakers})
	a1, _ := first.Lookup("a")
	b1, _ := first.Lookup("b")
	for range 5 {
		a1.Deployments[0].Breaker.Failure()
	}
	second := build(t, `{"models": [
		{"id": "new", "adapter": "openai_compat", "base_url": "http://127.0.0.1:3/v1"},
		{"id": "a", "adapter": "openai_compat", "base_url": "http://127.0.0.1:1/v1"},
		{"id": "b", "adapter": "openai_compat", "base_url": "http://127.0.0.1:2/v1", "timeout": 5}]}`, Deps{Breakers: breakers, Previous: first})
	a2, _ := second.Lookup("a")
	b2, _ := second.Lookup("b")
	if a2.Deployments[0].Adapter != a1.Deployments[0].Adapter || a2.Deployments[0].Breaker != a1.Deployments[0].Breaker {
		t.Error("an unchanged deployment (moved in the file) got a new adapter or breaker")
	}
	if s := a2.Deployments[0].Breaker.Snapshot().State; s != breaker.Open {
		t.Errorf("breaker state after reload = %v, want open", s)
	}
	if b2.Deployments[0].Adapter == b1.Deployments[0].Adapter {
		t.Error("a changed deployment kept its old adapter")
	}
}

// Environment values are part of a deployment: a rotated key means a new
// adapter.
func TestReloadPicksUpRotatedKey(t *testing.T) {
	cfg := `{"models": [{"id": "a", "adapter": "openai_compat", "base_url": "http://127.0.0.1:1/v1", "api_key": "ENV:K"}]}`
	key := "one"
	env := func(string) (string, bool) { return key, true }
	first := build(t, cfg, Deps{LookupEnv: env})
	key = "two"
	second := build(t, cfg, Deps{LookupEnv: env, Previous: first})
	a1, _ := first.Lookup("a")
	a2, _ := second.Lookup("a")
	if a1.Deployments[0].Adapter == a2.Deployments[0].Adapter {
		t.Error("the adapter was reused although its key changed")
	}
}

// Pool settings are read from the pool's first entry even when that entry
// is disabled.
func TestPoolSettingsFromDisabledFirstEntry(t *testing.T) {
	r := build(t, `{"models": [
		{"id": "p", "adapter": "openai_compat", "base_url": "http://127.0.0.1:1/v1", "enabled": false, "retries": 0, "fallbacks": ["q"]},
		{"id": "p", "adapter": "openai_compat", "base_url": "http://127.0.0.1:2/v1"},
		{"id": "q", "adapter": "openai_compat", "base_url": "http://127.0.0.1:3/v1"}]}`, Deps{})
	m, _ := r.Lookup("p")
	if m.Retries != 0 || len(m.Fallbacks) != 1 || len(m.Deployments) != 1 {
		t.Errorf("retries %d, fallbacks %v, %d deployments", m.Retries, m.Fallbacks, len(m.Deployments))
	}
}

// A reload checks a process model's program again, even when its entry did
// not change.
func TestReloadChecksProgramAgain(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "model.sh")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := `{"models": [{"id": "p", "adapter": "process", "command": [` + strconv.Quote(prog) + `, "{prompt}"]}]}`
	first := build(t, cfg, Deps{})
	if m, _ := first.Lookup("p"); m.Unavailable != "" {
		t.Fatalf("unavailable at first: %s", m.Unavailable)
	}
	os.Remove(prog)
	second := build(t, cfg, Deps{Previous: first})
	if m, _ := second.Lookup("p"); m.Unavailable == "" {
		t.Error("the removed program is still reported available after a reload")
	}
	first.Close()
	second.Close()
}

// slotsOf returns the slots of the adapter of id's deployment i.
func slotsOf(t *testing.T, r *Registry, id string, i int) *process.Slots {
	t.Helper()
	m, ok := r.Lookup(id)
	if !ok || len(m.Deployments) <= i || m.Deployments[i].Adapter == nil {
		t.Fatalf("no adapter for %s deployment %d", id, i)
	}
	return m.Deployments[i].Adapter.(*process.Adapter).Slots()
}

// A reload hands a changed process entry the slots of the entry it
// replaces, so that max_concurrency bounds the old and the new programs
// together, and applies the new limits to them.
func TestReloadHandsOnProcessSlots(t *testing.T) {
	entry := func(id, extra string) string {
		return `{"id": "` + id + `", "adapter": "process", "command": ["sh", "-c", "echo hi"]` + extra + `}`
	}
	cfg := func(entries ...string) string { return `{"models": [` + strings.Join(entries, ",") + `]}` }
	first := build(t, cfg(
		entry("p", `, "max_concurrency": 2`),
		entry("pool", `, "timeout": 1`), entry("pool", `, "timeout": 2`),
		entry("q", "")), Deps{})
	defer first.Close()
	second := build(t, cfg(
		entry("p", `, "max_concurrency": 1, "queue_size": 0, "timeout": 9`), // changed
		entry("pool", `, "timeout": 1`), entry("pool", `, "timeout": 3`),    // second one changed
		entry("q-renamed", "")), Deps{Previous: first})
	defer second.Close()

	if slotsOf(t, second, "p", 0) != slotsOf(t, first, "p", 0) {
		t.Error("the changed entry got slots of its own; its old programs would not count")
	}
	if c, q := slotsOf(t, first, "p", 0).Limits(); c != 1 || q != 0 {
		t.Errorf("shared slots have limits %d/%d, want the new entry's 1/0", c, q)
	}
	p1, _ := first.Lookup("pool")
	p2, _ := second.Lookup("pool")
	if p2.Deployments[0].Adapter != p1.Deployments[0].Adapter {
		t.Error("the unchanged pool entry was not reused")
	}
	if slotsOf(t, second, "pool", 1) != slotsOf(t, first, "pool", 1) {
		t.Error("the changed pool entry did not get the slots of the entry it replaces")
	}
	if slotsOf(t, second, "q-renamed", 0) == slotsOf(t, first, "q", 0) {
		t.Error("a model with another id shares the slots of the old one")
	}
}

// A reload that fails leaves the limits in force alone, although the
// adapters built before the failure share the old slots.
func TestFailedReloadKeepsTheLimits(t *testing.T) {
	first := build(t, `{"models": [{"id": "p", "adapter": "process", "command": ["sh", "-c", "echo hi"], "max_concurrency": 2}]}`, Deps{})
	defer first.Close()
	f, err := config.Parse("test.json", []byte(`{"models": [
		{"id": "p", "adapter": "process", "command": ["sh", "-c", "echo hi"], "max_concurrency": 1},
		{"id": "bad", "adapter": "process", "command": ["sh", "{promt}"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Build(f, Deps{Previous: first, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}); err == nil {
		t.Fatal("Build accepted an unknown placeholder")
	}
	if c, _ := slotsOf(t, first, "p", 0).Limits(); c != 2 {
		t.Errorf("max_concurrency in force is %d after a failed reload, want 2", c)
	}
}
