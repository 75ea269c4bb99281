package redact

import (
	"net/url"
	"strings"
)

// IsCredentialName reports whether a query parameter or header name looks
// like it carries a credential: key, api-key, api_key, x-api-key,
// Ocp-Apim-Subscription-Key, access_token, X-Auth-Token, client_secret,
// password, Authorization, Azure's SAS "sig", Azure Functions' "code", ...
// Case, "-" and "_" do not matter. The name must end with the telling
// word, so that "auth_mode" or "X-Token-Count" are not taken for one: a
// Redactor searches for every secret in every error text, and a short
// harmless value like "on" would be cut out of unrelated words.
func IsCredentialName(name string) bool {
	n := strings.ToLower(name)
	n = strings.NewReplacer("-", "", "_", "").Replace(n)
	if n == "code" {
		return true
	}
	for _, end := range [...]string{"key", "token", "secret", "password", "passwd", "pwd", "signature", "sig", "auth", "authorization", "credential", "credentials"} {
		if strings.HasSuffix(n, end) {
			return true
		}
	}
	return false
}

// URL returns raw for a log or /health: user info dropped and the value
// of every query parameter with a credential name (IsCredentialName)
// replaced by [Replacement]. Other parameters (api-version) stay as
// written. An unparsable URL gives "".
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.User = nil
	if u.RawQuery != "" {
		pairs := strings.Split(u.RawQuery, "&")
		for i, p := range pairs {
			name, _, hasValue := strings.Cut(p, "=")
			if hasValue && IsCredentialName(queryUnescape(name)) {
				pairs[i] = name + "=" + Replacement
			}
		}
		u.RawQuery = strings.Join(pairs, "&")
	}
	return u.String()
}

// QuerySecrets returns the values of raw's query parameters with a
// credential name, as written and decoded, for a deployment's Redactor:
// a transport error quotes the URL it could not reach.
func QuerySecrets(raw string) []string {
	_, query, found := strings.Cut(raw, "?")
	if !found {
		return nil
	}
	var out []string
	for p := range strings.SplitSeq(query, "&") {
		name, value, _ := strings.Cut(p, "=")
		if value == "" || !IsCredentialName(queryUnescape(name)) {
			continue
		}
		out = append(out, value)
		if v := queryUnescape(value); v != value {
			out = append(out, v)
		}
	}
	return out
}

// queryUnescape decodes a query component, or returns it as it is when it is
// not valid (config validation refuses those).
func queryUnescape(s string) string {
	if v, err := url.QueryUnescape(s); err == nil {
		return v
	}
	return s
}
