package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// wireKey mirrors one entry of the top-level "keys" array; see wireModel.
type wireKey struct {
	Name           *string   `json:"name"`
	Key            *string   `json:"key"`
	KeySHA256      *string   `json:"key_sha256"`
	Models         *[]string `json:"models"`
	RPM            *int64    `json:"rpm"`
	TPM            *int64    `json:"tpm"`
	MaxConcurrency *int64    `json:"max_concurrency"`
	BudgetUSD      *float64  `json:"budget_usd"`
	BudgetPeriod   *string   `json:"budget_period"`
}

// wirePrice mirrors a model entry's "price".
type wirePrice struct {
	Input       *float64 `json:"input"`
	Output      *float64 `json:"output"`
	CachedInput *float64 `json:"cached_input"`
}

var (
	keyFields   = fieldsOf(wireKey{})
	priceFields = fieldsOf(wirePrice{})
)

// minKeyLen is the shortest literal gateway key accepted: anything shorter
// could be guessed, and a key in models.json is often a placeholder that
// was never replaced ("changeme").
const minKeyLen = 16

// keyHint says how to make a key that passes minKeyLen.
const keyHint = "generate one with `openssl rand -hex 24`"

// parseAccess reads the top-level members besides "models". Errors are
// relative to the file ("keys[1] (name "x"): rpm: ..."); the caller adds
// the file name.
func parseAccess(w *wireFile) (Access, error) {
	var a Access
	if w.Keys != nil {
		keys, err := parseKeys(*w.Keys)
		if err != nil {
			return a, err
		}
		a.Keys = keys
	}
	if w.AdminKey != nil {
		s, err := parseSecret(*w.AdminKey, "omit it to turn /admin off")
		if err == nil && s.Value != "" {
			err = checkLiteralKey(s.Value)
		}
		if err != nil {
			return a, fmt.Errorf("admin_key: %w", err)
		}
		a.AdminKey = s
	}
	if w.RedisURL != nil {
		s, err := parseSecret(*w.RedisURL, "omit it to keep limits in this process")
		if err == nil && s.Value != "" {
			err = checkScheme(s.Value, "a redis://, rediss:// or unix:// URL", "redis", "rediss", "unix")
		}
		if err != nil {
			return a, fmt.Errorf("redis_url: %w", err)
		}
		a.RedisURL = s
	}
	if v := w.RedisFailure; v != nil {
		switch *v {
		case "open":
		case "closed":
			a.RedisFailClosed = true
		default:
			return a, fmt.Errorf(`redis_failure: must be "open" (per-process limits while Redis is unreachable) or "closed" (refuse requests that have limits), got %s`, strconv.Quote(truncate(*v)))
		}
	}
	if w.DatabaseURL != nil {
		s, err := parseSecret(*w.DatabaseURL, "omit it for the embedded SQLite file")
		if err == nil && s.Value != "" {
			err = checkScheme(s.Value, "a postgres:// or postgresql:// URL", "postgres", "postgresql")
		}
		if err != nil {
			return a, fmt.Errorf("database_url: %w", err)
		}
		a.DatabaseURL = s
	}
	return a, nil
}

// parseKeys parses the "keys" entries and checks that names and secrets
// are unique.
func parseKeys(raws []json.RawMessage) ([]Key, error) {
	if len(raws) == 0 {
		return nil, errors.New("keys: must list at least one key (omit it to leave the gateway open to every client)")
	}
	keys := make([]Key, 0, len(raws))
	names := make(map[string]int, len(raws))
	// digests holds the SHA-256 of every literal key and every key_sha256,
	// so that a literal and a digest of the same key are caught too.
	digests := make(map[string]int, len(raws))
	for i, raw := range raws {
		label := keyLabel(i, peekString(raw, "name"))
		k, err := parseKey(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", label, err)
		}
		k.Index = i
		if j, dup := names[k.Name]; dup {
			return nil, fmt.Errorf("%s: name: %q is already the name of keys[%d]", label, k.Name, j)
		}
		names[k.Name] = i
		digest, field := k.SHA256, "key_sha256"
		if k.Secret.Value != "" {
			sum := sha256.Sum256([]byte(k.Secret.Value))
			digest, field = hex.EncodeToString(sum[:]), "key"
		}
		if digest != "" {
			if j, dup := digests[digest]; dup {
				return nil, fmt.Errorf("%s: %s: the same key as %s (each key must be different)", label, field, keys[j].Label())
			}
			digests[digest] = i
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// keyLabel names key entry i; name is left out when it is not known.
func keyLabel(i int, name string) string {
	if name == "" {
		return fmt.Sprintf("keys[%d]", i)
	}
	return fmt.Sprintf("keys[%d] (name %s)", i, strconv.Quote(truncate(name)))
}

// parseKey decodes and validates one key entry. A literal key never
// appears in a message.
func parseKey(raw json.RawMessage) (Key, error) {
	var k Key
	if kind := kindOf(raw); kind != "object" {
		return k, fmt.Errorf("must be a JSON object, got %s", kind)
	}
	var w wireKey
	if err := decodeStrict(raw, keyFields, "key field", &w); err != nil {
		return k, err
	}
	if w.Name == nil {
		return k, errors.New("name: required (it names the key in logs and the usage ledger)")
	}
	if err := checkKeyName(*w.Name); err != nil {
		return k, fmt.Errorf("name: %w", err)
	}
	k.Name = *w.Name

	switch {
	case w.Key == nil && w.KeySHA256 == nil:
		return k, errors.New(`key: required (the key itself or "ENV:NAME"), or key_sha256 instead`)
	case w.Key != nil && w.KeySHA256 != nil:
		return k, errors.New("key_sha256: not together with key (give one of them)")
	case w.Key != nil:
		s, err := parseSecret(*w.Key, "")
		if err == nil && s.Value != "" {
			err = checkLiteralKey(s.Value)
		}
		if err != nil {
			return k, fmt.Errorf("key: %w", err)
		}
		k.Secret = s
	default:
		h := *w.KeySHA256
		if _, err := hex.DecodeString(h); err != nil || len(h) != 2*sha256.Size {
			// Not echoed: a key pasted here by mistake must not reach a log.
			return k, errors.New(`key_sha256: must be 64 hexadecimal digits, the SHA-256 of the key (printf %s "$KEY" | sha256sum)`)
		}
		k.SHA256 = strings.ToLower(h)
	}

	if w.Models != nil {
		if len(*w.Models) == 0 {
			return k, errors.New("models: must list at least one model pattern; leave it out for all models")
		}
		for i, p := range *w.Models {
			switch star := strings.IndexByte(p, '*'); {
			case p == "":
				return k, fmt.Errorf("models[%d]: must not be empty", i)
			case star >= 0 && star != len(p)-1:
				return k, fmt.Errorf(`models[%d]: %s: "*" is allowed only as the last character (a prefix match)`, i, strconv.Quote(truncate(p)))
			}
		}
		k.Models = *w.Models
	}
	for _, f := range []struct {
		name string
		v    *int64
		dst  *int64
	}{
		{"rpm", w.RPM, &k.RPM},
		{"tpm", w.TPM, &k.TPM},
		{"max_concurrency", w.MaxConcurrency, &k.MaxConcurrency},
	} {
		if f.v == nil {
			continue
		}
		if *f.v < 0 {
			return k, fmt.Errorf("%s: must be a non-negative integer, got %d", f.name, *f.v)
		}
		*f.dst = *f.v
	}
	if b := w.BudgetUSD; b != nil {
		if *b < 0 {
			return k, fmt.Errorf("budget_usd: must be a non-negative number, got %s", formatFloat(*b))
		}
		k.BudgetUSD = *b
		if *b > 0 {
			k.BudgetPeriod = PeriodMonthly
		}
	}
	if p := w.BudgetPeriod; p != nil {
		if w.BudgetUSD == nil {
			return k, errors.New("budget_period: only with budget_usd")
		}
		switch *p {
		case PeriodDaily, PeriodWeekly, PeriodMonthly, PeriodTotal:
			k.BudgetPeriod = *p
		default:
			return k, fmt.Errorf(`budget_period: must be "daily", "weekly", "monthly" or "total", got %s`, strconv.Quote(truncate(*p)))
		}
	}
	return k, nil
}

// checkKeyName accepts a key name: it goes into log lines, the ledger and
// /admin answers, so it is short printable ASCII without spaces.
func checkKeyName(name string) error {
	switch {
	case name == "":
		return errors.New("must not be empty")
	case len(name) > maxNameLen:
		return fmt.Errorf("must be at most %d bytes, got %d", maxNameLen, len(name))
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c > '~' {
			r, _ := utf8.DecodeRuneInString(name[i:])
			return fmt.Errorf("must be printable ASCII without spaces (found %U)", r)
		}
	}
	return nil
}

// checkLiteralKey accepts a key written in the file: clients send it in a
// header, and it must be long enough not to be guessed. The key is never
// echoed, nor its length.
func checkLiteralKey(s string) error {
	switch {
	case !isHeaderSafe(s):
		return errors.New("literal key must not contain whitespace or control characters (clients send it in an HTTP header)")
	case utf8.RuneCountInString(s) < minKeyLen:
		return fmt.Errorf("literal key is too weak: it must be at least %d characters long; %s", minKeyLen, keyHint)
	}
	return nil
}

// parseSecret reads a value that is either literal or "ENV:NAME". empty
// says what to do instead of an empty value ("" when the member is
// required). Messages never contain the value.
func parseSecret(s, empty string) (Secret, error) {
	name, fromEnv := strings.CutPrefix(s, envPrefix)
	switch {
	case fromEnv && name == "":
		return Secret{}, errors.New(`"ENV:" must be followed by an environment variable name`)
	case fromEnv && !isEnvName(name):
		return Secret{}, errors.New(`"ENV:" must be followed by a valid environment variable name (matching [A-Za-z_][A-Za-z0-9_]*)`)
	case fromEnv:
		return Secret{Env: name}, nil
	case s == "" && empty != "":
		return Secret{}, fmt.Errorf("must not be empty (%s)", empty)
	case s == "":
		return Secret{}, errors.New("must not be empty")
	}
	return Secret{Value: s}, nil
}

// checkScheme checks that the URL s has one of schemes. The URL is not
// echoed: it may carry a password.
func checkScheme(s, want string, schemes ...string) error {
	scheme, _, found := strings.Cut(s, "://")
	if found {
		for _, sc := range schemes {
			if strings.EqualFold(scheme, sc) {
				return nil
			}
		}
	}
	return fmt.Errorf("must be %s", want)
}

// parsePrice decodes a model entry's "price"; cached_input defaults to
// input.
func parsePrice(raw json.RawMessage) (*Price, error) {
	if kind := kindOf(raw); kind != "object" {
		return nil, fmt.Errorf(`must be an object like {"input": 2.5, "output": 10} (USD per million tokens), got %s`, kind)
	}
	var w wirePrice
	if err := decodeStrict(raw, priceFields, "price field", &w); err != nil {
		return nil, err
	}
	p := &Price{}
	for _, f := range []struct {
		name     string
		v        *float64
		dst      *float64
		required bool
	}{
		{"input", w.Input, &p.Input, true},
		{"output", w.Output, &p.Output, true},
		{"cached_input", w.CachedInput, &p.CachedInput, false},
	} {
		switch {
		case f.v == nil && f.required:
			return nil, fmt.Errorf("%s: required (USD per million tokens)", f.name)
		case f.v == nil:
			continue
		case *f.v < 0:
			return nil, fmt.Errorf("%s: must be a non-negative number (USD per million tokens), got %s", f.name, formatFloat(*f.v))
		}
		*f.dst = *f.v
	}
	if w.CachedInput == nil {
		p.CachedInput = p.Input
	}
	return p, nil
}
