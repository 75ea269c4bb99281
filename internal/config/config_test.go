package config

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// badFiles maps each testdata/*.bad.json file to the exact error it must
// produce (without the "testdata/<file>" prefix).
var badFiles = map[string]string{
	// Whole-file problems.
	"syntax.bad.json":           ":2:42: invalid JSON: invalid character '}' looking for beginning of object key string",
	"syntax-eof.bad.json":       ":2:13: invalid JSON: unexpected end of JSON input",
	"trailing.bad.json":         ":4:1: invalid JSON: invalid character 'g' after top-level value",
	"empty.bad.json":            `: file is empty (expected a JSON object with a "models" array)`,
	"whitespace-only.bad.json":  `: file is empty (expected a JSON object with a "models" array)`,
	"top-not-object.bad.json":   `: must be a JSON object with a "models" array, got array`,
	"top-unknown.bad.json":      `: unknown top-level field "modles" (did you mean "models"?)`,
	"top-unknown-far.bad.json":  `: unknown top-level field "settings"`,
	"models-missing.bad.json":   ": models: required",
	"models-empty.bad.json":     ": models: must list at least one model",
	"models-null.bad.json":      ": models: must be an array, got null",
	"models-object.bad.json":    ": models: must be an array, got object",
	"entry-not-object.bad.json": ": models[0]: must be a JSON object, got string",

	// Field names and JSON types.
	"field-typo.bad.json":          `: models[0] (id "x"): unknown field "temprature" (did you mean "temperature"?)`,
	"field-case.bad.json":          `: models[0] (id "x"): unknown field "Timeout" (did you mean "timeout"?)`,
	"field-unknown.bad.json":       `: models[0] (id "x"): unknown field "foo"`,
	"field-twice.bad.json":         `: models[0] (id "x"): timeout: given more than once`,
	"field-null.bad.json":          `: models[0] (id "x"): temperature: must be a number, got null`,
	"temperature-string.bad.json":  `: models[0] (id "x"): temperature: must be a number, got string`,
	"temperature-huge.bad.json":    `: models[0] (id "x"): temperature: number 1e400 is out of range`,
	"max-tokens-fraction.bad.json": `: models[0] (id "x"): max_tokens: must be an integer, got number 1.5`,
	"max-tokens-overflow.bad.json": `: models[0] (id "x"): max_tokens: number 99999999999999999999 is out of range`,
	"timeout-string.bad.json":      `: models[0] (id "x"): timeout: must be a number, got string`,
	"enabled-string.bad.json":      `: models[0] (id "x"): enabled: must be true or false, got string`,
	"api-key-number.bad.json":      `: models[0] (id "x"): api_key: must be a string, got number`,
	"id-number.bad.json":           ": models[0]: id: must be a string, got number",

	// id
	"id-missing.bad.json": ": models[1]: id: required",
	"id-empty.bad.json":   ": models[0]: id: must not be empty",
	"id-space.bad.json":   `: models[0] (id "gpt 4o"): id: must not contain whitespace or control characters (found U+0020)`,
	"id-tab.bad.json":     `: models[0] (id "gpt\t4o"): id: must not contain whitespace or control characters (found U+0009)`,
	"id-long.bad.json":    `: models[0] (id "` + strings.Repeat("a", 64) + `..."): id: must be at most 256 bytes, got 257`,

	"name-empty.bad.json":      `: models[0] (id "x"): name: must not be empty (omit it to use models[N])`,
	"name-space.bad.json":      `: models[0] (id "x"): name: must be printable ASCII without spaces (found U+0020)`,
	"name-control.bad.json":    `: models[0] (id "x"): name: must be printable ASCII without spaces (found U+0000)`,
	"name-long.bad.json":       `: models[0] (id "x"): name: must be at most 64 bytes, got 65`,
	"name-number.bad.json":     `: models[0] (id "x"): name: must be a string, got number`,
	"name-positional.bad.json": `: models[0] (id "x"): name: must not start with "models[", which names entries by position`,
	"name-duplicate.bad.json":  `: models[1] (id "y"): name: "primary" is already the name of models[0]`,

	// adapter
	"adapter-missing.bad.json": `: models[0] (id "x"): adapter: required`,
	"adapter-unknown.bad.json": `: models[0] (id "x"): adapter: unknown adapter type "foo" (supported: anthropic, custom_http, gemini, openai_compat, process)`,

	// pools, fallbacks, retries, timeouts
	"pool-fallbacks-differ.bad.json": `: models[2] (id "x"): fallbacks: differs from models[0], the first entry of the pool "x" (pool settings are shared; set them once)`,
	"pool-retries-differ.bad.json":   `: models[1] (id "x"): retries: differs from models[0], the first entry of the pool "x" (pool settings are shared; set them once)`,
	"fallback-unknown.bad.json":      `: models[0] (id "x"): fallbacks[0]: no model has the id "nope"`,
	"fallback-self.bad.json":         `: models[0] (id "x"): fallbacks[0]: "x" is the model itself`,
	"weight-zero.bad.json":           `: models[0] (id "x"): weight: must be between 1 and 1000000, got 0`,
	"priority-negative.bad.json":     `: models[0] (id "x"): priority: must be 0 or more (lower is preferred), got -1`,
	"retries-range.bad.json":         `: models[0] (id "x"): retries: must be between 0 and 10, got 11`,
	"idle-timeout-zero.bad.json":     `: models[0] (id "x"): idle_timeout: must be greater than 0 and at most 86400 seconds, got 0`,

	// process
	"process-command-missing.bad.json": `: models[0] (id "x"): command: required, the program and its arguments, e.g. ["llama-cli", "-p", "{prompt}"]`,
	"process-command-empty.bad.json":   `: models[0] (id "x"): command[0]: the program must not be empty`,
	"process-base-url.bad.json":        `: models[0] (id "x"): base_url: not used by the process adapter`,
	"process-api-key.bad.json":         `: models[0] (id "x"): api_key: not used by the process adapter (pass secrets in "env")`,
	"process-field-on-openai.bad.json": `: models[0] (id "x"): workdir: only for the process adapter`,
	"process-concurrency.bad.json":     `: models[0] (id "x"): max_concurrency: must be at least 1, got 0`,
	"process-queue-timeout.bad.json":   `: models[0] (id "x"): queue_timeout: must be greater than 0 and at most 86400 seconds, got 0`,
	"process-env-name.bad.json":        `: models[0] (id "x"): env: "1BAD" is not a valid variable name`,

	// custom_http: protocol, headers, fetch_images, template
	"protocol-missing.bad.json":            `: models[0] (id "x"): protocol: required for custom_http (one of anthropic, gemini, template)`,
	"protocol-unknown.bad.json":            `: models[0] (id "x"): protocol: unknown protocol "cohere" (one of anthropic, gemini, template)`,
	"protocol-on-openai.bad.json":          `: models[0] (id "x"): protocol: only for the custom_http adapter`,
	"protocol-contradicts.bad.json":        `: models[0] (id "x"): protocol: "anthropic" contradicts adapter "gemini"`,
	"fetch-images-anthropic.bad.json":      `: models[0] (id "x"): fetch_images: only for the gemini protocol (other upstreams take image URLs themselves)`,
	"fetch-private-anthropic.bad.json":     `: models[0] (id "x"): fetch_private_addresses: only for the gemini protocol, with "fetch_images": true`,
	"fetch-private-without-fetch.bad.json": `: models[0] (id "x"): fetch_private_addresses: only with "fetch_images": true (it allows image downloads to reach private addresses)`,
	"fetch-private-fetch-off.bad.json":     `: models[0] (id "x"): fetch_private_addresses: only with "fetch_images": true (it allows image downloads to reach private addresses)`,
	"fetch-private-string.bad.json":        `: models[0] (id "x"): fetch_private_addresses: must be true or false, got string`,
	"template-missing.bad.json":            `: models[0] (id "x"): template: required for "protocol": "template"`,
	"template-on-gemini.bad.json":          `: models[0] (id "x"): template: only for "protocol": "template"`,
	"template-unknown-field.bad.json":      `: models[0] (id "x"): template: unknown template field "bdy" (did you mean "body"?)`,
	"template-no-text.bad.json":            `: models[0] (id "x"): template: response: unknown response field "tokens"`,
	"template-stream-format.bad.json":      `: models[0] (id "x"): template: stream: format: must be "sse" or "jsonl"`,
	"template-base-url-missing.bad.json":   `: models[0] (id "x"): base_url: required`,
	"headers-bad-name.bad.json":            `: models[0] (id "x"): headers: "X Bad": not a valid header name`,
	"headers-reserved.bad.json":            `: models[0] (id "x"): headers: content-length: set by the gateway; cannot be configured`,
	"headers-crlf.bad.json":                `: models[0] (id "x"): headers: X-Team: value contains characters not allowed in a header`,
	"headers-env.bad.json":                 `: models[0] (id "x"): headers: X-Team: ENV: must be followed by a valid environment variable name`,
	"headers-not-object.bad.json":          `: models[0] (id "x"): headers: must be an object, got array`,

	// base_url
	"base-url-missing.bad.json":         `: models[0] (id "x"): base_url: required`,
	"base-url-empty.bad.json":           `: models[0] (id "x"): base_url: must not be empty`,
	"base-url-ftp.bad.json":             `: models[0] (id "x"): base_url: must be an http or https URL, got scheme "ftp"`,
	"base-url-no-host.bad.json":         `: models[0] (id "x"): base_url: must include a host`,
	"base-url-relative.bad.json":        `: models[0] (id "x"): base_url: must be an absolute http or https URL, e.g. https://api.openai.com/v1`,
	"base-url-query-space.bad.json":     `: models[0] (id "x"): base_url: query: must be percent-encoded (found a space)`,
	"base-url-query-semicolon.bad.json": `: models[0] (id "x"): base_url: query: must be name=value pairs separated by "&", percent-encoded`,
	"base-url-query-escape.bad.json":    `: models[0] (id "x"): base_url: query: must be name=value pairs separated by "&", percent-encoded`,
	"base-url-fragment.bad.json":        `: models[0] (id "x"): base_url: must not have a fragment`,
	"base-url-userinfo.bad.json":        `: models[0] (id "x"): base_url: must not contain user info (put credentials in api_key)`,
	"base-url-bad-port.bad.json":        `: models[0] (id "x"): base_url: not a valid URL: invalid port ":x" after host`,

	// api_key (the files' secrets contain "SECRET", checked below)
	"api-key-env-empty.bad.json": `: models[0] (id "x"): api_key: "ENV:" must be followed by an environment variable name`,
	"api-key-env-bad.bad.json":   `: models[0] (id "x"): api_key: "ENV:" must be followed by a valid environment variable name (matching [A-Za-z_][A-Za-z0-9_]*)`,
	"api-key-newline.bad.json":   `: models[0] (id "x"): api_key: literal key must not contain whitespace or control characters (it is sent in an HTTP header)`,
	"api-key-space.bad.json":     `: models[0] (id "x"): api_key: literal key must not contain whitespace or control characters (it is sent in an HTTP header)`,
	"api-key-empty.bad.json":     `: models[0] (id "x"): api_key: must not be empty (omit it when the upstream needs no key)`,

	// Values.
	"model-empty.bad.json":                  `: models[0] (id "x"): model: must not be empty (omit it to use the id)`,
	"temperature-range.bad.json":            `: models[2] (id "gpt-4o"): temperature: must be between 0 and 2, got 3`,
	"temperature-negative.bad.json":         `: models[0] (id "x"): temperature: must be between 0 and 2, got -0.1`,
	"max-tokens-zero.bad.json":              `: models[0] (id "x"): max_tokens: must be between 1 and 2147483647, got 0`,
	"max-tokens-huge.bad.json":              `: models[0] (id "x"): max_tokens: must be between 1 and 2147483647, got 2147483648`,
	"timeout-zero.bad.json":                 `: models[0] (id "x"): timeout: must be greater than 0 and at most 86400 seconds, got 0`,
	"timeout-negative.bad.json":             `: models[0] (id "x"): timeout: must be greater than 0 and at most 86400 seconds, got -5`,
	"timeout-too-large.bad.json":            `: models[0] (id "x"): timeout: must be greater than 0 and at most 86400 seconds, got 86401`,
	"keepalive-interval-negative.bad.json":  `: models[0] (id "x"): keepalive_interval: must be 0 (off) or between 0.01 and 86400 seconds, got -1`,
	"keepalive-interval-tiny.bad.json":      `: models[0] (id "x"): keepalive_interval: must be 0 (off) or between 0.01 and 86400 seconds, got 1e-12`,
	"keepalive-interval-too-large.bad.json": `: models[0] (id "x"): keepalive_interval: must be 0 (off) or between 0.01 and 86400 seconds, got 86401`,
	"keepalive-interval-string.bad.json":    `: models[0] (id "x"): keepalive_interval: must be a number, got string`,
	"drop-params-openai.bad.json":           `: models[0] (id "x"): drop_params: only for adapters that convert requests (custom_http, anthropic, gemini, process); an openai_compat upstream receives every parameter as sent`,
	"drop-params-string.bad.json":           `: models[0] (id "x"): drop_params: must be true or false, got string`,
	"drop-params-null.bad.json":             `: models[0] (id "x"): drop_params: must be true or false, got null`,
	"tool-call-ids-anthropic.bad.json":      `: models[0] (id "x"): tool_call_ids: only for openai_compat entries; the other adapters write ids their upstreams take`,
	"stream-usage-anthropic.bad.json":       `: models[0] (id "x"): stream_usage: only for openai_compat entries; the other adapters always know a stream's usage`,
	"tool-call-ids-unknown.bad.json":        `: models[0] (id "x"): tool_call_ids: must be "as_sent" or "alnum9" (exactly 9 letters and digits, as Mistral requires), got "short"`,
	"responses-anthropic.bad.json":          `: models[0] (id "x"): responses: only for openai_compat entries; other adapters always convert /v1/responses requests`,
	"responses-unknown.bad.json":            `: models[0] (id "x"): responses: must be "native" (the upstream serves /responses) or "convert", got "yes"`,
	"max-output-tokens-zero.bad.json":       `: models[0] (id "x"): max_output_tokens: must be between 1 and 2147483647, got 0`,

	// Gateway keys (literal keys contain "SECRET", checked by TestLoadBad).
	"keys-empty.bad.json":                `: keys: must list at least one key (omit it to leave the gateway open to every client)`,
	"keys-object.bad.json":               `: keys: must be an array, got object`,
	"key-not-object.bad.json":            `: keys[0]: must be a JSON object, got string`,
	"key-unknown-field.bad.json":         `: keys[0] (name "a"): unknown key field "rmp" (did you mean "rpm"?)`,
	"key-name-missing.bad.json":          `: keys[0]: name: required (it names the key in logs and the usage ledger)`,
	"key-name-space.bad.json":            `: keys[0] (name "team a"): name: must be printable ASCII without spaces (found U+0020)`,
	"key-name-long.bad.json":             `: keys[0] (name "` + strings.Repeat("n", 64) + `..."): name: must be at most 64 bytes, got 65`,
	"key-name-duplicate.bad.json":        `: keys[1] (name "a"): name: "a" is already the name of keys[0]`,
	"key-missing.bad.json":               `: keys[0] (name "a"): key: required (the key itself or "ENV:NAME"), or key_sha256 instead`,
	"key-and-sha.bad.json":               `: keys[0] (name "a"): key_sha256: not together with key (give one of them)`,
	"key-weak.bad.json":                  `: keys[0] (name "a"): key: literal key is too weak: it must be at least 16 characters long; generate one with ` + "`openssl rand -hex 24`",
	"key-space.bad.json":                 `: keys[0] (name "a"): key: literal key must not contain whitespace or control characters (clients send it in an HTTP header)`,
	"key-empty.bad.json":                 `: keys[0] (name "a"): key: must not be empty`,
	"key-env-bad.bad.json":               `: keys[0] (name "a"): key: "ENV:" must be followed by a valid environment variable name (matching [A-Za-z_][A-Za-z0-9_]*)`,
	"key-number.bad.json":                `: keys[0] (name "a"): key: must be a string, got number`,
	"key-sha-not-hex.bad.json":           `: keys[0] (name "a"): key_sha256: must be 64 hexadecimal digits, the SHA-256 of the key (printf %s "$KEY" | sha256sum)`,
	"key-sha-short.bad.json":             `: keys[0] (name "a"): key_sha256: must be 64 hexadecimal digits, the SHA-256 of the key (printf %s "$KEY" | sha256sum)`,
	"key-duplicate-literal.bad.json":     `: keys[1] (name "b"): key: the same key as keys[0] (name "a") (each key must be different)`,
	"key-duplicate-sha.bad.json":         `: keys[1] (name "b"): key_sha256: the same key as keys[0] (name "a") (each key must be different)`,
	"key-duplicate-literal-sha.bad.json": `: keys[1] (name "b"): key: the same key as keys[0] (name "a") (each key must be different)`,
	"key-models-empty.bad.json":          `: keys[0] (name "a"): models: must list at least one model pattern; leave it out for all models`,
	"key-models-star.bad.json":           `: keys[0] (name "a"): models[0]: "gpt-*-mini": "*" is allowed only as the last character (a prefix match)`,
	"key-models-empty-pattern.bad.json":  `: keys[0] (name "a"): models[1]: must not be empty`,
	"key-rpm-negative.bad.json":          `: keys[1] (name "team-b"): rpm: must be a non-negative integer, got -5`,
	"key-tpm-fraction.bad.json":          `: keys[0] (name "a"): tpm: must be an integer, got number 1.5`,
	"key-concurrency-negative.bad.json":  `: keys[0] (name "a"): max_concurrency: must be a non-negative integer, got -1`,
	"key-budget-negative.bad.json":       `: keys[0] (name "a"): budget_usd: must be a non-negative number, got -0.5`,
	"key-budget-string.bad.json":         `: keys[0] (name "a"): budget_usd: must be a number, got string`,
	"key-period-unknown.bad.json":        `: keys[0] (name "a"): budget_period: must be "daily", "weekly", "monthly" or "total", got "yearly"`,
	"key-period-without-budget.bad.json": `: keys[0] (name "a"): budget_period: only with budget_usd`,
	"admin-key-weak.bad.json":            `: admin_key: literal key is too weak: it must be at least 16 characters long; generate one with ` + "`openssl rand -hex 24`",
	"admin-key-empty.bad.json":           `: admin_key: must not be empty (omit it to turn /admin off)`,
	"redis-url-scheme.bad.json":          `: redis_url: must be a redis://, rediss:// or unix:// URL`,
	"redis-url-empty.bad.json":           `: redis_url: must not be empty (omit it to keep limits in this process)`,
	"redis-failure-unknown.bad.json":     `: redis_failure: must be "open" (per-process limits while Redis is unreachable) or "closed" (refuse requests that have limits), got "retry"`,
	"database-url-scheme.bad.json":       `: database_url: must be a postgres:// or postgresql:// URL`,
	"database-url-env-bad.bad.json":      `: database_url: "ENV:" must be followed by an environment variable name`,

	// price
	"price-output-missing.bad.json": `: models[0] (id "x"): price: output: required (USD per million tokens)`,
	"price-negative.bad.json":       `: models[0] (id "x"): price: cached_input: must be a non-negative number (USD per million tokens), got -1`,
	"price-unknown-field.bad.json":  `: models[0] (id "x"): price: unknown price field "ouput" (did you mean "output"?)`,
	"price-not-object.bad.json":     `: models[0] (id "x"): price: must be an object like {"input": 2.5, "output": 10} (USD per million tokens), got array`,
	"price-string.bad.json":         `: models[0] (id "x"): price: input: must be a number, got string`,
}

func TestLoadBad(t *testing.T) {
	for name, want := range badFiles {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", name)
			f, err := Load(path)
			if err == nil {
				t.Fatalf("Load(%q) = %+v, want error", path, f)
			}
			if got := err.Error(); got != path+want {
				t.Errorf("Load(%q) error:\n got: %s\nwant: %s", path, got, path+want)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error leaks a secret: %s", err)
			}
		})
	}
}

// TestBadFilesListed keeps the table and testdata in step, so a new bad file
// cannot go untested.
func TestBadFilesListed(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.bad.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range files {
		if _, ok := badFiles[filepath.Base(path)]; !ok {
			t.Errorf("%s has no entry in badFiles", path)
		}
	}
	if len(files) != len(badFiles) {
		t.Errorf("%d bad files in testdata, %d in badFiles", len(files), len(badFiles))
	}
}

func TestSyntaxErrorUnwraps(t *testing.T) {
	_, err := Parse("x.json", []byte(`{"models": [}`))
	var se *json.SyntaxError
	if !errors.As(err, &se) || !strings.HasPrefix(err.Error(), "x.json:1:13: invalid JSON: ") {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.json")
	_, err := Load(path)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load(%q) error = %v, want fs.ErrNotExist", path, err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the path", err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestLoadGood(t *testing.T) {
	path := filepath.Join("testdata", "full.good.json")
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := &File{Path: path, Models: []Model{
		{
			// Only required fields: every default applies.
			Index: 0, ID: "minimal", Adapter: AdapterOpenAICompat,
			BaseURL: "https://api.example.com/v1", Enabled: true, Weight: 1, Model: "minimal",
			Timeout: DefaultTimeout, KeepAlive: DefaultKeepAliveInterval,
		},
		{
			Index: 1, ID: "meta-llama/Llama-3.1-8B", Adapter: AdapterOpenAICompat,
			BaseURL: "http://127.0.0.1:8000/v1", APIKeyEnv: "VLLM_API_KEY", Enabled: false, Weight: 1,
			Model: "meta-llama/Llama-3.1-8B-Instruct", Temperature: ptr(0.0), MaxTokens: ptr(1),
			Timeout: 250 * time.Millisecond, KeepAlive: 0,
		},
		{
			Index: 2, ID: "literal:key@v1.0", Adapter: AdapterOpenAICompat,
			BaseURL: "HTTPS://API.Example.com:8443/openai/v1", APIKey: "sk-literal-123", Enabled: true, Weight: 1,
			Model: "literal:key@v1.0", Temperature: ptr(2.0), MaxTokens: ptr(4096),
			Timeout: 24 * time.Hour, KeepAlive: 2500 * time.Millisecond,
		},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load(%q) mismatch (-want +got):\n%s", path, diff)
	}
	if l := got.Models[1].Label(); l != `models[1] (id "meta-llama/Llama-3.1-8B")` {
		t.Errorf("Label() = %s", l)
	}
}

func TestLoadCustomHTTP(t *testing.T) {
	path := filepath.Join("testdata", "custom.good.json")
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []Model{
		{Index: 0, ID: "claude", Adapter: AdapterCustomHTTP, Protocol: ProtocolAnthropic, BaseURL: "https://api.anthropic.com",
			APIKeyEnv: "ANTHROPIC_API_KEY", Enabled: true, Weight: 1, Model: "claude-sonnet-4-5", Timeout: DefaultTimeout, KeepAlive: DefaultKeepAliveInterval,
			Headers: map[string]string{"anthropic-beta": "x-1", "X-Team": "ENV:TEAM"}},
		{Index: 1, ID: "claude-short", Adapter: AdapterCustomHTTP, Protocol: ProtocolAnthropic, BaseURL: "https://api.anthropic.com",
			APIKey: "k", Enabled: true, Weight: 1, Model: "claude-short", Timeout: DefaultTimeout, KeepAlive: DefaultKeepAliveInterval, DropParams: true},
		{Index: 2, ID: "gemini", Adapter: AdapterCustomHTTP, Protocol: ProtocolGemini, BaseURL: "https://generativelanguage.googleapis.com",
			APIKeyEnv: "GEMINI_API_KEY", Enabled: true, Weight: 1, Model: "gemini-2.5-flash", Timeout: DefaultTimeout, KeepAlive: DefaultKeepAliveInterval, FetchImages: true, FetchPrivateAddresses: true},
		{Index: 3, ID: "tpl", Adapter: AdapterCustomHTTP, Protocol: ProtocolTemplate, BaseURL: "https://llm.example.com/api",
			APIKey: "k2", Enabled: true, Weight: 1, Model: "tpl", Timeout: DefaultTimeout, KeepAlive: DefaultKeepAliveInterval,
			Headers: map[string]string{"Authorization": "Token {api_key}"},
			Template: &Template{Path: "/v2/generate", Body: json.RawMessage(`{"input": "{{prompt}}"}`),
				Response: TemplateResponse{Text: "output.text", PromptTokens: "usage.in"},
				Stream:   &TemplateStream{Format: "jsonl", Body: json.RawMessage(`{"stream": true}`), Text: "token", Done: "done"}}},
	}
	if diff := cmp.Diff(want, got.Models); diff != "" {
		t.Errorf("Load(%q) mismatch (-want +got):\n%s", path, diff)
	}

	env := map[string]string{"TEAM": "blue"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	h, reason, ok := got.Models[0].ResolveHeaders(lookup, "key")
	if !ok || h["X-Team"] != "blue" || h["anthropic-beta"] != "x-1" {
		t.Errorf("ResolveHeaders = %v, %q, %v", h, reason, ok)
	}
	h, _, _ = got.Models[3].ResolveHeaders(lookup, "k2")
	if h["Authorization"] != "Token k2" {
		t.Errorf("{api_key} not substituted: %v", h)
	}
	delete(env, "TEAM")
	if _, reason, ok = got.Models[0].ResolveHeaders(lookup, "key"); ok || reason != "environment variable TEAM (header X-Team) is not set" {
		t.Errorf("unset header variable: %q, %v", reason, ok)
	}
}

func TestLoadProcess(t *testing.T) {
	path := filepath.Join("testdata", "process.good.json")
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []Model{{Index: 0, ID: "local-llama", Adapter: AdapterProcess, Enabled: true, Weight: 1, Model: "local-llama", Timeout: 120 * time.Second, KeepAlive: DefaultKeepAliveInterval,
		DropParams: true,
		Process: &Process{Command: []string{"llama-cli", "-m", "/models/m.gguf", "-p", "{prompt}", "-n", "{max_tokens}"},
			Workdir: "/srv", Env: map[string]string{"OMP_NUM_THREADS": "4", "HF_TOKEN": "ENV:HF_TOKEN"}, PromptFormat: "chatml",
			MaxConcurrency: 2, QueueSize: -1, QueueTimeout: 2500 * time.Millisecond, MaxOutputBytes: 4096}}}
	if diff := cmp.Diff(want, got.Models); diff != "" {
		t.Errorf("Load(%q) mismatch (-want +got):\n%s", path, diff)
	}
	env, secrets, reason, ok := got.Models[0].Process.ResolveEnv(func(k string) (string, bool) { return "hf-secret", k == "HF_TOKEN" })
	slices.Sort(env)
	if !ok || !slices.Equal(env, []string{"HF_TOKEN=hf-secret", "OMP_NUM_THREADS=4"}) || !slices.Equal(secrets, []string{"hf-secret"}) {
		t.Errorf("ResolveEnv = %v, %v, %q, %v", env, secrets, reason, ok)
	}
	if _, _, reason, ok = got.Models[0].Process.ResolveEnv(func(string) (string, bool) { return "", false }); ok || reason != "environment variable HF_TOKEN (env HF_TOKEN) is not set" {
		t.Errorf("unset variable: %q, %v", reason, ok)
	}
}

func TestLoadPool(t *testing.T) {
	got, err := Load(filepath.Join("testdata", "pool.good.json"))
	if err != nil {
		t.Fatal(err)
	}
	a, b := got.Models[0], got.Models[1]
	if a.Weight != 3 || a.Priority != 0 || b.Weight != 1 || b.Priority != 1 {
		t.Errorf("weights/priorities: %d/%d, %d/%d", a.Weight, a.Priority, b.Weight, b.Priority)
	}
	if !slices.Equal(a.Fallbacks, []string{"claude"}) || a.Retries == nil || *a.Retries != 1 || b.Fallbacks != nil || b.Retries != nil {
		t.Errorf("pool settings: %v %v, %v %v", a.Fallbacks, a.Retries, b.Fallbacks, b.Retries)
	}
	want := Timeouts{Connect: 2 * time.Second, FirstByte: 20 * time.Second, Idle: 30 * time.Second, Total: 10 * time.Minute}
	if a.Timeouts != want || a.Breaker != (BreakerSettings{Failures: 3, CoolDown: 5 * time.Second}) {
		t.Errorf("timeouts %+v, breaker %+v", a.Timeouts, a.Breaker)
	}
	if a.PoolKey() == b.PoolKey() {
		t.Error("two different deployments share a PoolKey")
	}
	if a.DeploymentName() != "gpt-east" || b.DeploymentName() != "models[1]" {
		t.Errorf("deployment names: %q, %q", a.DeploymentName(), b.DeploymentName())
	}
	renamed := a
	renamed.Name = "gpt-west"
	if renamed.PoolKey() != a.PoolKey() {
		t.Error("renaming a deployment changed its PoolKey (its breaker state would reset)")
	}
	again, _ := Load(filepath.Join("testdata", "pool.good.json"))
	if again.Models[1].PoolKey() != b.PoolKey() {
		t.Error("PoolKey changes between loads of the same file")
	}
}

func TestParseEscapedNames(t *testing.T) {
	// Member names are compared after JSON unescaping, like encoding/json does.
	f, err := Parse("x.json", []byte(`{"mod\u0065ls": [{"id": "a", "adapter": "openai_compat", "base_url": "http://h/v1", "time\u006fut": 1.5}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Models[0].Timeout; got != 1500*time.Millisecond {
		t.Errorf("Timeout = %v, want 1.5s", got)
	}
}

func TestResolveAPIKey(t *testing.T) {
	env := map[string]string{"SET_KEY": "sk-from-env", "EMPTY_KEY": "", "BAD_KEY": "sk-x\n"}
	lookup := func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
	tests := []struct {
		name   string
		model  Model
		key    string
		reason string
		ok     bool
	}{
		{"literal", Model{APIKey: "sk-literal"}, "sk-literal", "", true},
		{"env set", Model{APIKeyEnv: "SET_KEY"}, "sk-from-env", "", true},
		{"env unset", Model{APIKeyEnv: "UNSET_KEY"}, "", "environment variable UNSET_KEY is not set", false},
		{"env empty", Model{APIKeyEnv: "EMPTY_KEY"}, "", "environment variable EMPTY_KEY is set but empty", false},
		{"env bad", Model{APIKeyEnv: "BAD_KEY"}, "", "environment variable BAD_KEY contains whitespace or control characters", false},
		{"no key", Model{}, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, reason, ok := tt.model.ResolveAPIKey(lookup)
			if key != tt.key || reason != tt.reason || ok != tt.ok {
				t.Errorf("ResolveAPIKey() = %q, %q, %v; want %q, %q, %v", key, reason, ok, tt.key, tt.reason, tt.ok)
			}
		})
	}
}

// TestShippedConfig checks config/models.json, and that a machine without any
// API keys still has something to serve.
func TestShippedConfig(t *testing.T) {
	f, err := Load(filepath.Join("..", "..", "config", "models.json"))
	if err != nil {
		t.Fatal(err)
	}
	noEnv := func(string) (string, bool) { return "", false }
	var usable []string
	for i := range f.Models {
		m := &f.Models[i]
		if _, _, ok := m.ResolveAPIKey(noEnv); ok && m.Enabled {
			usable = append(usable, m.ID)
		}
	}
	if !slices.Contains(usable, "mock") {
		t.Errorf("models usable without keys = %v, want to include mock", usable)
	}
}

func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.json", data)
		if err != nil {
			return
		}
		if len(file.Models) == 0 {
			t.Fatal("no models and no error")
		}
		for i, m := range file.Models {
			if m.ID == "" || m.Model == "" || m.Index != i || m.Timeout <= 0 {
				t.Fatalf("invalid model accepted: %+v", m)
			}
		}
		for i, k := range file.Keys {
			if k.Name == "" || k.Index != i || k.Secret.IsSet() == (k.SHA256 != "") || k.RPM < 0 || k.BudgetUSD < 0 {
				t.Fatalf("invalid key accepted: %s", k.Label()) // not %+v: no secret in the output
			}
		}
	})
}

// Mistral's API takes only 9-character tool call ids: entries for it get
// tool_call_ids alnum9 unless they say otherwise.
func TestToolCallIDsDefaultForMistral(t *testing.T) {
	for _, c := range []struct{ entry, want string }{
		{`"base_url": "https://api.mistral.ai/v1"`, ToolCallIDsAlnum9},
		{`"base_url": "https://api.mistral.ai/v1", "tool_call_ids": "as_sent"`, ToolCallIDsAsSent},
		{`"base_url": "https://api.openai.com/v1"`, ""},
		{`"base_url": "http://127.0.0.1:8000/v1", "tool_call_ids": "alnum9"`, ToolCallIDsAlnum9},
	} {
		f, err := Parse("m.json", []byte(`{"models": [{"id": "x", "adapter": "openai_compat", `+c.entry+`}]}`))
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Models[0].ToolCallIDs; got != c.want {
			t.Errorf("%s: tool_call_ids %q, want %q", c.entry, got, c.want)
		}
	}
}

func TestLoadAccess(t *testing.T) {
	path := filepath.Join("testdata", "access.good.json")
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Access{
		Keys: []Key{
			{Index: 0, Name: "team-a", Secret: Secret{Value: "sk-gw-0123456789abcdef"}, Models: []string{"gpt-4o", "claude-*"},
				RPM: 60, TPM: 100000, MaxConcurrency: 4, BudgetUSD: 25.5, BudgetPeriod: PeriodMonthly},
			{Index: 1, Name: "team-b", Secret: Secret{Env: "TEAM_B_KEY"}, BudgetUSD: 100, BudgetPeriod: PeriodDaily},
			{Index: 2, Name: "ci", SHA256: "3dd5ab4abee1619e41b5cc8b1ae3ac3b553086c999220b7b6459d78a108b696d", Models: []string{"*"},
				BudgetPeriod: PeriodTotal},
		},
		AdminKey:        Secret{Env: "AIGW_ADMIN_KEY"},
		RedisURL:        Secret{Env: "REDIS_URL"},
		RedisFailClosed: true,
		DatabaseURL:     Secret{Value: "postgres://gw@db.example.com:5432/usage"},
	}
	if diff := cmp.Diff(want, got.Access); diff != "" {
		t.Errorf("Load(%q) access mismatch (-want +got):\n%s", path, diff)
	}
	// Price is per deployment: entries of one pool may differ.
	prices := []*Price{{Input: 2.5, Output: 10, CachedInput: 1.25}, {Input: 2.75, Output: 11, CachedInput: 2.75}, {}}
	for i, p := range prices {
		if diff := cmp.Diff(p, got.Models[i].Price); diff != "" {
			t.Errorf("models[%d].Price mismatch (-want +got):\n%s", i, diff)
		}
	}
	repriced := got.Models[0]
	repriced.Price = &Price{Input: 5, Output: 20, CachedInput: 5}
	if repriced.PoolKey() != got.Models[0].PoolKey() {
		t.Error("a new price changed the PoolKey (the deployment's breaker state would reset)")
	}
	if l := got.Keys[1].Label(); l != `keys[1] (name "team-b")` {
		t.Errorf("Label() = %s", l)
	}
}

// Without the access members the gateway is open, limits stay in memory
// and usage goes to SQLite: everything zero.
func TestAccessDefaults(t *testing.T) {
	f, err := Load(filepath.Join("testdata", "full.good.json"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Access{}, f.Access); diff != "" {
		t.Errorf("access of a file without keys (-want +got):\n%s", diff)
	}
	for _, m := range f.Models {
		if m.Price != nil {
			t.Errorf("%s: Price = %+v, want nil", m.Label(), m.Price)
		}
	}
}

// A budget with no period is monthly; "open" is the default Redis failure
// mode.
func TestKeyDefaults(t *testing.T) {
	f, err := Parse("m.json", []byte(`{"models": [{"id": "x", "adapter": "openai_compat", "base_url": "http://h/v1"}],
		"redis_failure": "open",
		"keys": [{"name": "a", "key": "0123456789abcdef", "budget_usd": 1}, {"name": "b", "key": "0123456789abcdeg"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if k := f.Keys[0]; k.BudgetPeriod != PeriodMonthly || k.Models != nil {
		t.Errorf("keys[0]: period %q, models %v", k.BudgetPeriod, k.Models)
	}
	if k := f.Keys[1]; k.BudgetPeriod != "" || k.RPM != 0 {
		t.Errorf("keys[1] without limits: %+v", k)
	}
	if f.RedisFailClosed {
		t.Error(`"redis_failure": "open" gave fail closed`)
	}
}

// "stream_usage": false is the escape hatch for servers that refuse
// stream_options; by default the gateway asks every stream for its usage.
func TestStreamUsage(t *testing.T) {
	for _, c := range []struct {
		entry string
		want  bool // NoStreamUsage
	}{
		{``, false},
		{`, "stream_usage": true`, false},
		{`, "stream_usage": false`, true},
	} {
		f, err := Parse("m.json", []byte(`{"models": [{"id": "x", "adapter": "openai_compat", "base_url": "http://127.0.0.1:8000/v1"`+c.entry+`}]}`))
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Models[0].NoStreamUsage; got != c.want {
			t.Errorf("%q: NoStreamUsage %v, want %v", c.entry, got, c.want)
		}
	}
}
