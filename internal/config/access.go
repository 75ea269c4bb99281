package config

import (
	"fmt"
	"os"
)

// Key is one entry of the top-level "keys" list: a gateway key that clients
// send, the models it may use and its limits. Zero limits mean none.
type Key struct {
	Index  int    // position in the file's keys array
	Name   string // names the key in logs, the ledger and /admin; unique
	Secret Secret // "key": literal or "ENV:NAME"; empty when SHA256 is set
	// SHA256 is "key_sha256": the lowercase hex SHA-256 of the key, so that
	// the file holds no secret. Exactly one of Secret and SHA256 is set.
	SHA256 string
	// Models are the model ids the key may use; a trailing "*" matches any
	// suffix. nil: every model.
	Models         []string
	RPM            int64   // requests per minute; 0: no limit
	TPM            int64   // tokens (prompt + completion) per minute; 0: no limit
	MaxConcurrency int64   // requests in flight at once; 0: no limit
	BudgetUSD      float64 // spend allowed per BudgetPeriod; 0: no budget
	// BudgetPeriod is "daily", "weekly", "monthly" (the default when a
	// budget is set) or "total"; periods start at 00:00 UTC (weeks on Monday).
	BudgetPeriod string
}

// The values of a key's "budget_period".
const (
	PeriodDaily   = "daily"
	PeriodWeekly  = "weekly"
	PeriodMonthly = "monthly"
	PeriodTotal   = "total"
)

// Label returns `keys[i] (name "x")`, the way messages refer to a key entry.
func (k *Key) Label() string { return fmt.Sprintf("keys[%d] (name %q)", k.Index, k.Name) }

// Secret is a configured value that may come from the environment
// ("ENV:NAME"). Its value never appears in a message.
type Secret struct {
	Value string // the literal value; "" when Env is set or nothing was configured
	Env   string // the variable name when given as "ENV:NAME"
}

// IsSet reports whether the secret was configured at all.
func (s Secret) IsSet() bool { return s.Value != "" || s.Env != "" }

// Resolve returns the secret's value. A variable that is unset or empty
// gives ok=false and a reason naming the variable, never a value. A nil
// lookupEnv means os.LookupEnv.
func (s Secret) Resolve(lookupEnv func(string) (string, bool)) (value, reason string, ok bool) {
	if s.Env == "" {
		return s.Value, "", s.Value != ""
	}
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	v, set := lookupEnv(s.Env)
	switch {
	case !set:
		return "", fmt.Sprintf("environment variable %s is not set", s.Env), false
	case v == "":
		return "", fmt.Sprintf("environment variable %s is set but empty", s.Env), false
	}
	return v, "", true
}

// Price is a model entry's "price": USD per million tokens.
type Price struct {
	Input       float64 // prompt tokens that were not read from a cache
	Output      float64 // completion tokens, reasoning tokens included
	CachedInput float64 // prompt tokens read from a cache; "cached_input", default Input
}

// Access is the top level of models.json besides the models: who may use
// the gateway and where shared state lives.
type Access struct {
	// Keys are the gateway keys; none means the gateway is open.
	Keys []Key
	// AdminKey guards /admin/*; "admin_key".
	AdminKey Secret
	// RedisURL is "redis_url": where replicas share limits and budgets.
	RedisURL Secret
	// RedisFailClosed is "redis_failure": "closed" (refuse requests with
	// limits while Redis is unreachable) rather than "open" (the default:
	// per-process limits).
	RedisFailClosed bool
	// DatabaseURL is "database_url": a PostgreSQL URL for the usage
	// ledger; unset means the embedded SQLite file.
	DatabaseURL Secret
}
