package registry

import (
	"strings"
	"testing"
)

// A deployment that is not configured on this host keeps two reasons: the
// operator's, naming the variable, header or program (for the log and
// /health), and the client's, naming none of them.
func TestNotConfiguredReasons(t *testing.T) {
	cfg := `{"models": [
		{"id": "key", "adapter": "openai_compat", "base_url": "http://h/v1", "api_key": "ENV:AIGW_REG_TEST_UNSET"},
		{"id": "header", "adapter": "openai_compat", "base_url": "http://h/v1", "headers": {"x-api-key": "ENV:AIGW_REG_TEST_UNSET"}},
		{"id": "env", "adapter": "process", "command": ["/bin/sh"], "env": {"TOKEN": "ENV:AIGW_REG_TEST_UNSET"}},
		{"id": "program", "adapter": "process", "command": ["/nonexistent/aigw-reg-test"]},
		{"id": "two", "adapter": "openai_compat", "base_url": "http://h/v1", "api_key": "ENV:AIGW_REG_TEST_UNSET"},
		{"id": "two", "adapter": "process", "command": ["/nonexistent/aigw-reg-test"]}]}`
	r := build(t, cfg, Deps{LookupEnv: func(string) (string, bool) { return "", false }})
	defer r.Close()
	tests := []struct{ id, operator, client string }{
		{"key", "environment variable AIGW_REG_TEST_UNSET is not set", "no API key"},
		{"header", "environment variable AIGW_REG_TEST_UNSET (header x-api-key) is not set", "a credential header is not set"},
		{"env", "environment variable AIGW_REG_TEST_UNSET (env TOKEN) is not set", "a setting of its program is not set"},
		{"program", `program "/nonexistent/aigw-reg-test"`, "its program cannot run on this host"},
		{"two", "environment variable AIGW_REG_TEST_UNSET is not set; program", "no API key; its program cannot run on this host"},
	}
	for _, tt := range tests {
		m, ok := r.Lookup(tt.id)
		if !ok {
			t.Fatalf("no model %s", tt.id)
		}
		if !strings.HasPrefix(m.Unavailable, tt.operator) {
			t.Errorf("%s: Unavailable = %q, want it to start with %q", tt.id, m.Unavailable, tt.operator)
		}
		if m.Missing != tt.client {
			t.Errorf("%s: Missing = %q, want %q", tt.id, m.Missing, tt.client)
		}
		if strings.Contains(m.Missing, "AIGW_REG_TEST") || strings.Contains(m.Missing, "nonexistent") {
			t.Errorf("%s: the client's reason names a variable or path: %q", tt.id, m.Missing)
		}
	}
}
