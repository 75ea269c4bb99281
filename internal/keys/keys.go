// Package keys authenticates clients by the gateway keys of models.json and
// says which models each key may use.
package keys

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"aigateway/internal/config"
	"aigateway/internal/limits"
)

// minKeyLen matches the config's rule for literal keys, applied here to
// keys that come from the environment.
const minKeyLen = 16

// Key is one usable gateway key.
type Key struct {
	*config.Key // name, model patterns, limits
}

// Allows reports whether the key may use model: absent patterns allow
// every model, a pattern ending in "*" matches any suffix.
func (k *Key) Allows(model string) bool {
	if k.Models == nil {
		return true
	}
	for _, p := range k.Models {
		if prefix, wild := strings.CutSuffix(p, "*"); wild {
			if strings.HasPrefix(model, prefix) {
				return true
			}
		} else if p == model {
			return true
		}
	}
	return false
}

// Limits returns the key's limits for the limiter; a budget without a
// period is monthly.
func (k *Key) Limits() limits.Limits {
	l := limits.Limits{RPM: k.RPM, TPM: k.TPM, MaxConcurrency: k.MaxConcurrency, BudgetUSD: k.BudgetUSD, Period: k.BudgetPeriod}
	if l.BudgetUSD > 0 && l.Period == "" {
		l.Period = config.PeriodMonthly
	}
	return l
}

// Ring holds the keys of one config. It is immutable: a reload builds a
// new one, so a revoked key stops working at the reload while requests in
// flight carry on with the Key they got.
type Ring struct {
	// configured is whether the config has keys at all, usable or not: a
	// ring whose keys all lack their variables stays closed.
	configured bool
	keys       []*Key
	digests    [][sha256.Size]byte // digests[i] is the SHA-256 of keys[i]
	unusable   []Unusable
}

// Unusable is a configured key that cannot be used, and why.
type Unusable struct {
	Key *config.Key
	// Reason names the variable or the other key, never a value:
	// "environment variable TEAM_KEY is not set".
	Reason string
}

// NewRing builds the ring of entries. A key whose "ENV:NAME" variable is
// unset or empty cannot be used; each such key gives one warning (naming
// the key and the variable, never a value). A nil lookupEnv means
// os.LookupEnv.
//
// A key from the environment is also unusable when its value is shorter
// than 16 characters, contains whitespace or control characters (no client
// could send it in a header), or equals an earlier key.
func NewRing(entries []config.Key, lookupEnv func(string) (string, bool)) (r *Ring, warnings []string) {
	r = &Ring{configured: len(entries) > 0}
	owner := make(map[[sha256.Size]byte]*config.Key, len(entries))
	for i := range entries {
		e := &entries[i]
		digest, why := digestOf(e, lookupEnv)
		if why == "" {
			if first, dup := owner[digest]; dup {
				why = fmt.Sprintf("the value of environment variable %s is the key of %s", e.Secret.Env, first.Label())
			}
		}
		if why != "" {
			r.unusable = append(r.unusable, Unusable{Key: e, Reason: why})
			warnings = append(warnings, fmt.Sprintf("gateway key %s cannot be used: %s", e.Label(), why))
			continue
		}
		owner[digest] = e
		r.keys = append(r.keys, &Key{Key: e})
		r.digests = append(r.digests, digest)
	}
	return r, warnings
}

// digestOf returns the SHA-256 of e's key, or why it has none.
func digestOf(e *config.Key, lookupEnv func(string) (string, bool)) (d [sha256.Size]byte, why string) {
	if e.SHA256 != "" {
		if n, err := hex.Decode(d[:], []byte(e.SHA256)); err != nil || n != sha256.Size {
			return d, "key_sha256 is not 64 hexadecimal digits" // config.Parse refuses it; a Key built by hand may not
		}
		return d, ""
	}
	v, why, ok := e.Secret.Resolve(lookupEnv)
	switch {
	case !ok && why == "":
		return d, "no key configured"
	case !ok:
		return d, why
	case strings.ContainsFunc(v, func(r rune) bool { return r == ' ' || !unicode.IsPrint(r) }):
		return d, fmt.Sprintf("environment variable %s contains whitespace or control characters", e.Secret.Env)
	case utf8.RuneCountInString(v) < minKeyLen:
		return d, fmt.Sprintf("environment variable %s holds a key shorter than %d characters (too weak)", e.Secret.Env, minKeyLen)
	}
	return sha256.Sum256([]byte(v)), ""
}

// Open reports whether no keys are configured: the gateway then serves
// every client. A nil Ring is open. A ring whose keys are all unusable is
// not open: a missing variable must not let everyone in.
func (r *Ring) Open() bool { return r == nil || !r.configured }

// Unusable lists the configured keys that cannot be used, in config
// order, for the log and /health. The caller must not modify it.
func (r *Ring) Unusable() []Unusable {
	if r == nil {
		return nil
	}
	return r.unusable
}

// Len is the number of usable keys.
func (r *Ring) Len() int {
	if r == nil {
		return 0
	}
	return len(r.keys)
}

// Lookup returns the key whose secret is presented, or nil. It compares
// in constant time against every key, so the time taken says nothing about
// which key, or how much of one, matched.
func (r *Ring) Lookup(presented string) *Key {
	if r == nil || presented == "" {
		return nil
	}
	// Comparing digests rather than the keys themselves also hides the
	// length of the keys.
	d := sha256.Sum256([]byte(presented))
	match := -1
	for i := range r.digests {
		eq := subtle.ConstantTimeCompare(d[:], r.digests[i][:])
		match = subtle.ConstantTimeSelect(eq, i, match)
	}
	if match < 0 {
		return nil
	}
	return r.keys[match]
}

// Presented returns the key a client sent the way its SDK does:
// "Authorization: Bearer <key>" (OpenAI), "x-api-key" (Anthropic),
// "x-goog-api-key" or the "key" query parameter (Google). ok is false when
// none of them is present.
func Presented(r *http.Request) (key string, ok bool) {
	if auth := r.Header.Get("Authorization"); auth != "" {
		// The scheme is case-insensitive (RFC 9110, section 11.1).
		if scheme, cred, found := strings.Cut(strings.TrimSpace(auth), " "); found && strings.EqualFold(scheme, "Bearer") {
			if cred = strings.TrimSpace(cred); cred != "" {
				return cred, true
			}
		}
	}
	for _, h := range [...]string{"X-Api-Key", "X-Goog-Api-Key"} {
		if v := strings.TrimSpace(r.Header.Get(h)); v != "" {
			return v, true
		}
	}
	// Parsing the query costs an allocation or more; most clients send a
	// header, so only parse when a "key" parameter may be there.
	if r.URL != nil && strings.Contains(r.URL.RawQuery, "key=") {
		if v := strings.TrimSpace(r.URL.Query().Get("key")); v != "" {
			return v, true
		}
	}
	return "", false
}
