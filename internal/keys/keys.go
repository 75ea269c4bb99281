// Package keys authenticates clients by the gateway keys of models.json and
// says which models each key may use.
package keys

import (
	"net/http"

	"aigateway/internal/config"
)

// Key is one usable gateway key.
type Key struct {
	*config.Key // name, model patterns, limits
}

// Allows reports whether the key may use model: absent patterns allow
// every model, a pattern ending in "*" matches any suffix.
func (k *Key) Allows(model string) bool { panic("unimplemented") }

// Ring holds the keys of one config. It is immutable: a reload builds a
// new one, so a revoked key stops working at the reload while requests in
// flight carry on with the Key they got.
type Ring struct{}

// NewRing builds the ring of entries. A key whose "ENV:NAME" variable is
// unset or empty cannot be used; each such key gives one warning (naming
// the key and the variable, never a value). A nil lookupEnv means
// os.LookupEnv.
func NewRing(entries []config.Key, lookupEnv func(string) (string, bool)) (r *Ring, warnings []string) {
	panic("unimplemented")
}

// Open reports whether no keys are configured: the gateway then serves
// every client. A nil Ring is open.
func (r *Ring) Open() bool { panic("unimplemented") }

// Lookup returns the key whose secret is presented, or nil. It compares
// in constant time against every key, so the time taken says nothing about
// which key, or how much of one, matched.
func (r *Ring) Lookup(presented string) *Key { panic("unimplemented") }

// Presented returns the key a client sent the way its SDK does:
// "Authorization: Bearer <key>" (OpenAI), "x-api-key" (Anthropic),
// "x-goog-api-key" or the "key" query parameter (Google). ok is false when
// none of them is present.
func Presented(r *http.Request) (key string, ok bool) { panic("unimplemented") }
