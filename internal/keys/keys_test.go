package keys

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"aigateway/internal/config"
	"aigateway/internal/limits"
)

func sha(s string) string {
	d := sha256.Sum256([]byte(s))
	return hex.EncodeToString(d[:])
}

func env(m map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) { v, ok := m[name]; return v, ok }
}

// Every way of configuring a key finds it; nothing else does.
func TestLookup(t *testing.T) {
	entries := []config.Key{
		{Index: 0, Name: "literal", Secret: config.Secret{Value: "sk-literal-SECRET-0001"}},
		{Index: 1, Name: "from-env", Secret: config.Secret{Env: "TEAM_KEY"}},
		{Index: 2, Name: "hashed", SHA256: sha("sk-hashed-SECRET-0003")},
	}
	r, warnings := NewRing(entries, env(map[string]string{"TEAM_KEY": "sk-env-SECRET-000002"}))
	if len(warnings) != 0 {
		t.Fatalf("warnings: %q", warnings)
	}
	if r.Open() || r.Len() != 3 {
		t.Fatalf("Open() = %v, Len() = %d", r.Open(), r.Len())
	}
	for presented, want := range map[string]string{
		"sk-literal-SECRET-0001":     "literal",
		"sk-env-SECRET-000002":       "from-env",
		"sk-hashed-SECRET-0003":      "hashed",
		"":                           "",
		"sk-literal-SECRET-000":      "", // a prefix of a key is not the key
		"sk-literal-SECRET-00011":    "",
		"SK-LITERAL-SECRET-0001":     "", // keys are case-sensitive
		"ENV:TEAM_KEY":               "", // nor is the configured form
		"TEAM_KEY":                   "",
		sha("sk-hashed-SECRET-0003"): "", // nor the digest
	} {
		got := r.Lookup(presented)
		switch {
		case want == "" && got != nil:
			t.Errorf("Lookup(%q) = %s, want nil", presented, got.Name)
		case want != "" && (got == nil || got.Name != want):
			t.Errorf("Lookup(%q) = %v, want %s", presented, got, want)
		}
	}
	if k := r.Lookup("sk-hashed-SECRET-0003"); k.Key != &entries[2] {
		t.Error("Lookup does not return the config entry itself")
	}
}

// A key that cannot be used is left out with one warning that names the
// key and the variable but never a secret, and the ring stays closed.
func TestUnusableKeys(t *testing.T) {
	entries := []config.Key{
		{Index: 0, Name: "unset", Secret: config.Secret{Env: "UNSET_KEY"}},
		{Index: 1, Name: "empty", Secret: config.Secret{Env: "EMPTY_KEY"}},
		{Index: 2, Name: "short", Secret: config.Secret{Env: "SHORT_KEY"}},
		{Index: 3, Name: "spaced", Secret: config.Secret{Env: "SPACED_KEY"}},
		{Index: 4, Name: "good", Secret: config.Secret{Value: "sk-good-SECRET-00000"}},
		{Index: 5, Name: "copy", Secret: config.Secret{Env: "COPY_KEY"}},
	}
	lookup := env(map[string]string{
		"EMPTY_KEY": "", "SHORT_KEY": "SECRET", "SPACED_KEY": "sk-SECRET-0000000000\n",
		"COPY_KEY": "sk-good-SECRET-00000",
	})
	r, warnings := NewRing(entries, lookup)
	want := []string{
		`gateway key keys[0] (name "unset") cannot be used: environment variable UNSET_KEY is not set`,
		`gateway key keys[1] (name "empty") cannot be used: environment variable EMPTY_KEY is set but empty`,
		`gateway key keys[2] (name "short") cannot be used: environment variable SHORT_KEY holds a key shorter than 16 characters (too weak)`,
		`gateway key keys[3] (name "spaced") cannot be used: environment variable SPACED_KEY contains whitespace or control characters`,
		`gateway key keys[5] (name "copy") cannot be used: the value of environment variable COPY_KEY is the key of keys[4] (name "good")`,
	}
	if !slices.Equal(warnings, want) {
		t.Errorf("warnings:\n got: %q\nwant: %q", warnings, want)
	}
	for _, w := range warnings {
		if strings.Contains(w, "SECRET") {
			t.Errorf("warning leaks a secret: %s", w)
		}
	}
	var names []string
	for _, u := range r.Unusable() {
		names = append(names, u.Key.Name)
		if !strings.HasSuffix(want[len(names)-1], u.Reason) {
			t.Errorf("Unusable reason %q does not match warning %q", u.Reason, want[len(names)-1])
		}
	}
	if !slices.Equal(names, []string{"unset", "empty", "short", "spaced", "copy"}) {
		t.Errorf("Unusable() names = %v", names)
	}
	if r.Len() != 1 || r.Lookup("sk-good-SECRET-00000").Name != "good" || r.Lookup("SECRET") != nil {
		t.Error("the usable key is not the only one found")
	}

	// Every key unusable: nobody gets in, rather than everybody.
	r, _ = NewRing(entries[:1], lookup)
	if r.Open() || r.Lookup("") != nil {
		t.Error("a ring whose only key lacks its variable is open")
	}
}

func TestOpen(t *testing.T) {
	var nilRing *Ring
	empty, warnings := NewRing(nil, nil)
	if !nilRing.Open() || !empty.Open() || len(warnings) != 0 {
		t.Errorf("nil ring open %v, empty ring open %v, warnings %q", nilRing.Open(), empty.Open(), warnings)
	}
	if nilRing.Lookup("anything") != nil || nilRing.Unusable() != nil || nilRing.Len() != 0 {
		t.Error("a nil ring knows a key")
	}
}

func TestAllows(t *testing.T) {
	tests := []struct {
		patterns []string
		model    string
		want     bool
	}{
		{nil, "anything", true},
		{[]string{"*"}, "anything", true},
		{[]string{"*"}, "", true},
		{[]string{"gpt-4o"}, "gpt-4o", true},
		{[]string{"gpt-4o"}, "gpt-4o-mini", false},
		{[]string{"gpt-4o"}, "gpt-4", false},
		{[]string{"gpt-4o"}, "GPT-4o", false},
		{[]string{"claude-*"}, "claude-sonnet-4-5", true},
		{[]string{"claude-*"}, "claude-", true},
		{[]string{"claude-*"}, "claude", false},
		{[]string{"claude-*"}, "my-claude-x", false},
		{[]string{"gpt-4o", "claude-*"}, "claude-haiku", true},
		{[]string{"gpt-4o", "claude-*"}, "gemini-2.5-flash", false},
	}
	for _, tt := range tests {
		k := &Key{Key: &config.Key{Name: "k", Models: tt.patterns}}
		if got := k.Allows(tt.model); got != tt.want {
			t.Errorf("patterns %q: Allows(%q) = %v, want %v", tt.patterns, tt.model, got, tt.want)
		}
	}
}

func TestLimits(t *testing.T) {
	k := &Key{Key: &config.Key{RPM: 60, TPM: 1000, MaxConcurrency: 2, BudgetUSD: 5}}
	want := limits.Limits{RPM: 60, TPM: 1000, MaxConcurrency: 2, BudgetUSD: 5, Period: config.PeriodMonthly}
	if got := k.Limits(); got != want {
		t.Errorf("Limits() = %+v, want %+v", got, want)
	}
	k.BudgetPeriod = config.PeriodDaily
	if got := k.Limits().Period; got != config.PeriodDaily {
		t.Errorf("Period = %q, want daily", got)
	}
	none := &Key{Key: &config.Key{Name: "free"}}
	if l := none.Limits(); !l.None() || l.Period != "" {
		t.Errorf("a key without limits: %+v", l)
	}
}

// Presented is read off real requests, as clients send them.
func TestPresented(t *testing.T) {
	type result struct {
		key string
		ok  bool
	}
	got := make(chan result, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, ok := Presented(r)
		got <- result{k, ok}
	}))
	defer srv.Close()

	tests := []struct {
		name    string
		query   string
		headers map[string]string
		want    result
	}{
		{"bearer", "", map[string]string{"Authorization": "Bearer sk-1"}, result{"sk-1", true}},
		{"bearer lowercase scheme", "", map[string]string{"Authorization": "bearer sk-1"}, result{"sk-1", true}},
		{"bearer spaces", "", map[string]string{"Authorization": "  BEARER    sk-1  "}, result{"sk-1", true}},
		{"x-api-key", "", map[string]string{"x-api-key": " sk-2 "}, result{"sk-2", true}},
		{"x-goog-api-key", "", map[string]string{"x-goog-api-key": "sk-3"}, result{"sk-3", true}},
		{"query", "?alt=sse&key=sk-4", nil, result{"sk-4", true}},
		{"bearer before x-api-key", "?key=sk-4", map[string]string{"Authorization": "Bearer sk-1", "x-api-key": "sk-2", "x-goog-api-key": "sk-3"}, result{"sk-1", true}},
		{"x-api-key before x-goog-api-key", "?key=sk-4", map[string]string{"x-api-key": "sk-2", "x-goog-api-key": "sk-3"}, result{"sk-2", true}},
		{"header before query", "?key=sk-4", map[string]string{"x-goog-api-key": "sk-3"}, result{"sk-3", true}},
		{"basic is not a key", "", map[string]string{"Authorization": "Basic dXNlcjpwYXNz"}, result{"", false}},
		{"basic then x-api-key", "", map[string]string{"Authorization": "Basic dXNlcjpwYXNz", "x-api-key": "sk-2"}, result{"sk-2", true}},
		{"empty bearer", "", map[string]string{"Authorization": "Bearer   "}, result{"", false}},
		{"empty headers", "?key=", map[string]string{"x-api-key": " ", "x-goog-api-key": ""}, result{"", false}},
		{"other query parameter", "?apikey=sk-5&monkey=x", nil, result{"", false}},
		{"nothing", "", nil, result{"", false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/chat/completions"+tt.query, strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body) //nolint:errcheck // draining only
			resp.Body.Close()
			if g := <-got; g != tt.want {
				t.Errorf("Presented() = %q, %v; want %q, %v", g.key, g.ok, tt.want.key, tt.want.ok)
			}
		})
	}
}

// BenchmarkLookup is the per-request cost of authenticating against 100
// keys: one SHA-256 and 100 constant-time comparisons.
func BenchmarkLookup(b *testing.B) {
	entries := make([]config.Key, 100)
	for i := range entries {
		entries[i] = config.Key{Index: i, Name: fmt.Sprintf("k%d", i), Secret: config.Secret{Value: fmt.Sprintf("sk-gateway-key-%08d", i)}}
	}
	r, _ := NewRing(entries, nil)
	for _, c := range []struct{ name, key string }{
		{"hit-first", "sk-gateway-key-00000000"},
		{"hit-last", "sk-gateway-key-00000099"},
		{"miss", "sk-gateway-key-nope0000"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if (r.Lookup(c.key) == nil) != (c.name == "miss") {
					b.Fatal("wrong answer")
				}
			}
		})
	}
}
