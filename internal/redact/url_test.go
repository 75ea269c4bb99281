package redact

import (
	"slices"
	"testing"
)

func TestURL(t *testing.T) {
	cases := []struct{ in, want string }{
		{"https://x.openai.azure.com/openai/deployments/d?api-version=2024-10-21",
			"https://x.openai.azure.com/openai/deployments/d?api-version=2024-10-21"},
		{"https://h/v1?api-version=1&api-key=SECRET1&key=SECRET2",
			"https://h/v1?api-version=1&api-key=" + Replacement + "&key=" + Replacement},
		{"https://h/api?code=SECRET&sig=SECRET&Access_Token=SECRET&team=a",
			"https://h/api?code=" + Replacement + "&sig=" + Replacement + "&Access_Token=" + Replacement + "&team=a"},
		{"https://h/api?k%65y=SECRET", "https://h/api?k%65y=" + Replacement}, // an encoded name
		{"https://user:SECRET@h/v1", "https://h/v1"},
		{"https://h/v1", "https://h/v1"},
	}
	for _, c := range cases {
		if got := URL(c.in); got != c.want {
			t.Errorf("URL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestQuerySecrets(t *testing.T) {
	got := QuerySecrets("https://h/v1?api-version=2024-10-21&api-key=abc%2Bdef&x_auth_token=t0k&team=a&key=")
	want := []string{"abc%2Bdef", "abc+def", "t0k"}
	if !slices.Equal(got, want) {
		t.Errorf("QuerySecrets = %q, want %q", got, want)
	}
	if got := QuerySecrets("https://h/v1"); got != nil {
		t.Errorf("QuerySecrets without a query = %q, want none", got)
	}
}

func TestIsCredentialName(t *testing.T) {
	for _, n := range []string{"key", "api-key", "API_KEY", "apikey", "x-api-key", "Authorization", "access_token", "client_secret", "password", "sig", "code", "X-Goog-Api-Key", "Ocp-Apim-Subscription-Key", "X-Auth-Token"} {
		if !IsCredentialName(n) {
			t.Errorf("IsCredentialName(%q) = false, want true", n)
		}
	}
	for _, n := range []string{"api-version", "team", "alt", "model", "deployment", "X-Team", "auth_mode", "X-Token-Count", "keys_version"} {
		if IsCredentialName(n) {
			t.Errorf("IsCredentialName(%q) = true, want false", n)
		}
	}
}
