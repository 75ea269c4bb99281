package registry

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Compare names the models and deployments a reload added, removed or
// changed, by id and deployment name.
func TestCompare(t *testing.T) {
	env := map[string]string{"KEY": "one"}
	d := Deps{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	old := build(t, `{"models": [
		{"id": "a", "name": "a-east", "adapter": "openai_compat", "base_url": "http://127.0.0.1:1/v1"},
		{"id": "a", "name": "a-west", "adapter": "openai_compat", "base_url": "http://127.0.0.1:2/v1"},
		{"id": "b", "name": "b-1", "adapter": "openai_compat", "base_url": "http://127.0.0.1:3/v1", "api_key": "ENV:KEY"},
		{"id": "gone", "name": "gone-1", "adapter": "openai_compat", "base_url": "http://127.0.0.1:4/v1"},
		{"id": "same", "name": "same-1", "adapter": "openai_compat", "base_url": "http://127.0.0.1:5/v1"}]}`, d)
	env["KEY"] = "two" // a rotated key changes b-1
	d.Previous = old
	next := build(t, `{"models": [
		{"id": "same", "name": "same-1", "adapter": "openai_compat", "base_url": "http://127.0.0.1:5/v1"},
		{"id": "a", "name": "a-east", "adapter": "openai_compat", "base_url": "http://127.0.0.1:1/v1"},
		{"id": "a", "name": "a-west", "adapter": "openai_compat", "base_url": "http://127.0.0.1:2/v1", "timeout": 5},
		{"id": "b", "name": "b-1", "adapter": "openai_compat", "base_url": "http://127.0.0.1:3/v1", "api_key": "ENV:KEY"},
		{"id": "new", "name": "new-1", "adapter": "openai_compat", "base_url": "http://127.0.0.1:6/v1"}]}`, d)
	want := Changes{
		ModelsAdded: []string{"new"}, ModelsRemoved: []string{"gone"}, ModelsChanged: []string{"a", "b"},
		DeploymentsAdded: []string{"new-1"}, DeploymentsRemoved: []string{"gone-1"}, DeploymentsChanged: []string{"a-west", "b-1"},
	}
	got := Compare(old, next)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Compare (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{"models_added", "new", "models_removed", "gone", "models_changed", "a,b",
		"deployments_added", "new-1", "deployments_removed", "gone-1", "deployments_changed", "a-west,b-1"}, got.Attrs()); diff != "" {
		t.Errorf("Attrs (-want +got):\n%s", diff)
	}
	if c := Compare(next, next); len(c.Attrs()) != 0 {
		t.Errorf("no change reported as %v", c.Attrs())
	}
}
