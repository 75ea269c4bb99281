package config

import (
	"fmt"
	"testing"
)

// TestBaseURLQuery: a query in base_url is accepted for every HTTP
// adapter and kept as written, with the trailing slashes of the path
// before it trimmed (the adapters insert their paths before the query).
func TestBaseURLQuery(t *testing.T) {
	cases := []struct{ adapter, extra, in, want string }{
		{"openai_compat", "", "https://x.openai.azure.com/openai/deployments/gpt4o?api-version=2024-10-21",
			"https://x.openai.azure.com/openai/deployments/gpt4o?api-version=2024-10-21"},
		{"openai_compat", "", "https://x.openai.azure.com/openai/deployments/gpt4o/?api-version=2024-10-21",
			"https://x.openai.azure.com/openai/deployments/gpt4o?api-version=2024-10-21"},
		{"openai_compat", "", "https://h/v1?a=1&b=x%20y&c=", "https://h/v1?a=1&b=x%20y&c="},
		{"openai_compat", "", "https://h/v1/?", "https://h/v1"}, // a bare "?" is no query
		{"openai_compat", "", "https://h?v=1", "https://h?v=1"},
		{"anthropic", "", "https://proxy.example/anthropic/v1?team=a", "https://proxy.example/anthropic/v1?team=a"},
		{"gemini", "", "https://proxy.example/gemini?tenant=7", "https://proxy.example/gemini?tenant=7"},
		{"custom_http", `"protocol": "template", "template": {"path": "/generate", "body": {"p": "{{prompt}}"}, "response": {"text": "out"}},`,
			"https://llm.example/api/?v=2", "https://llm.example/api?v=2"},
	}
	for _, c := range cases {
		src := fmt.Sprintf(`{"models": [{"id": "x", "adapter": %q, %s "base_url": %q}]}`, c.adapter, c.extra, c.in)
		f, err := Parse("models.json", []byte(src))
		if err != nil {
			t.Errorf("%s %s: %v", c.adapter, c.in, err)
			continue
		}
		if got := f.Models[0].BaseURL; got != c.want {
			t.Errorf("%s %s: BaseURL = %q, want %q", c.adapter, c.in, got, c.want)
		}
	}
}
