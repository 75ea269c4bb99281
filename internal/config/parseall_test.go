package config

import (
	"strings"
	"testing"
)

func TestParseAllReportsEveryEntry(t *testing.T) {
	data := []byte(`{"models": [
		{"id": "a", "adapter": "openai_compat"},
		{"id": "ok", "adapter": "openai_compat", "base_url": "http://h/v1", "fallbacks": ["a", "ghost"]},
		{"id": "b", "adapter": "openai_compat", "base_url": "http://h/v1", "timeout": -1}
	]}`)
	f, errs := ParseAll("models.json", data)
	if f != nil {
		t.Fatal("ParseAll returned a File along with errors")
	}
	var got []string
	for _, err := range errs {
		got = append(got, err.Error())
	}
	want := []string{
		`models.json: models[0] (id "a"): base_url: required`,
		`models.json: models[2] (id "b"): timeout`,
		// "a" failed to parse: a fallback to it is not a second problem.
		`models.json: models[1] (id "ok"): fallbacks[1]: no model has the id "ghost"`,
	}
	if len(got) != len(want) {
		t.Fatalf("errors = %q, want %d", got, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("error %d = %q, want prefix %q", i, got[i], want[i])
		}
	}
	// Parse, which the server uses, still stops at the first.
	if _, err := Parse("models.json", data); err == nil || err.Error() != got[0] {
		t.Errorf("Parse = %v, want %q", err, got[0])
	}
}
