package adapter

import "strings"

// credentialHeaders are the header names, lower-cased, that carry an
// upstream credential: the schemes of OpenAI (Authorization), Azure OpenAI
// (api-key), Anthropic (x-api-key) and Gemini (x-goog-api-key).
var credentialHeaders = [...]string{"authorization", "api-key", "x-api-key", "x-goog-api-key"}

// SetsCredential reports whether the configured headers carry their own
// credential. An adapter then sends none of its own: Azure OpenAI given
// an "api-key" header must not also receive "Authorization: Bearer", and
// a host that reads either would see two keys.
func SetsCredential(headers map[string]string) bool {
	for name := range headers {
		if IsCredentialHeader(name) {
			return true
		}
	}
	return false
}

// IsCredentialHeader reports whether name (in any case) is one of the
// credential headers SetsCredential looks for.
func IsCredentialHeader(name string) bool {
	for _, c := range credentialHeaders {
		if strings.EqualFold(name, c) {
			return true
		}
	}
	return false
}
