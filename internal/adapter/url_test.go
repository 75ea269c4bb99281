package adapter

import "testing"

func TestJoinURL(t *testing.T) {
	cases := []struct{ base, path, want string }{
		{"https://x.openai.azure.com/openai/deployments/gpt4o?api-version=2024-10-21", "/chat/completions",
			"https://x.openai.azure.com/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21"},
		{"https://api.openai.com/v1", "/embeddings", "https://api.openai.com/v1/embeddings"},
		{"https://h/v1beta?t=1", "/models/m:streamGenerateContent?alt=sse", "https://h/v1beta/models/m:streamGenerateContent?t=1&alt=sse"},
		{"https://h/v1beta", "/models/m:streamGenerateContent?alt=sse", "https://h/v1beta/models/m:streamGenerateContent?alt=sse"},
	}
	for _, c := range cases {
		if got := JoinURL(c.base, c.path); got != c.want {
			t.Errorf("JoinURL(%q, %q) = %q, want %q", c.base, c.path, got, c.want)
		}
	}
}

func TestSetsCredential(t *testing.T) {
	for _, h := range []map[string]string{{"api-key": "k"}, {"API-KEY": "k"}, {"X-Api-Key": "k"}, {"authorization": "Token k"}, {"x-goog-api-key": "k"}} {
		if !SetsCredential(h) {
			t.Errorf("SetsCredential(%v) = false, want true", h)
		}
	}
	for _, h := range []map[string]string{nil, {"X-Team": "a"}, {"api-version": "1"}} {
		if SetsCredential(h) {
			t.Errorf("SetsCredential(%v) = true, want false", h)
		}
	}
}
