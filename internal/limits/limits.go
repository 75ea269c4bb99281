// Package limits enforces the per-key limits of the gateway keys: requests
// and tokens per minute, requests in flight, and a spend budget per period.
// Memory keeps them in one process; Redis shares them between replicas.
package limits

import (
	"context"
	"time"
)

// Limits are one key's limits; zero fields mean no limit.
type Limits struct {
	RPM            int64
	TPM            int64
	MaxConcurrency int64
	BudgetUSD      float64
	Period         string // config.PeriodDaily, ...; "" with a budget: monthly
}

// None reports whether l limits nothing, so that a request needs no Admit.
func (l Limits) None() bool {
	return l.RPM == 0 && l.TPM == 0 && l.MaxConcurrency == 0 && l.BudgetUSD == 0
}

// Ask is one request asking to be admitted.
type Ask struct {
	Key    string // the key's name
	Limits Limits
	// Tokens is the up-front estimate of the request's tokens, charged to
	// TPM now and corrected by Settle.
	Tokens int64
	// CostUSD is the request's worst-case cost, reserved from the budget
	// now and settled to the real cost by Settle.
	CostUSD float64
}

// Reason says which limit refused a request.
type Reason string

const (
	ReasonRequests    Reason = "requests"    // rpm
	ReasonTokens      Reason = "tokens"      // tpm
	ReasonConcurrency Reason = "concurrency" // max_concurrency
	ReasonBudget      Reason = "budget"      // budget_usd
	// ReasonUnavailable: the shared store cannot be reached and the
	// limiter fails closed.
	ReasonUnavailable Reason = "unavailable"
)

// Window is the state of a per-minute limit, for the x-ratelimit-* headers.
type Window struct {
	Limit     int64         // 0: no such limit
	Remaining int64         // what is left now
	Reset     time.Duration // until the window is back to its full limit
}

// Decision is Admit's answer.
type Decision struct {
	Allowed bool
	Reason  Reason        // why not, when !Allowed
	Retry   time.Duration // when !Allowed: when trying again may succeed; 0: unknown (budget)
	// Requests and Tokens describe the rpm and tpm windows after this
	// request (whether allowed or not).
	Requests Window
	Tokens   Window
	// Ticket is set when Allowed: pass it to Settle exactly once, on every
	// path (answered, failed, client gone, shutdown).
	Ticket *Ticket
}

// Ticket is an admitted request's hold on its key's limits: a concurrency
// slot, a token charge and a budget reservation.
type Ticket struct {
	Ask
	At      time.Time
	ID      string // unique: the concurrency slot in a shared store
	settled bool
}

// Limiter admits requests and settles them.
type Limiter interface {
	// Admit checks every limit of a.Limits and, when all allow, takes the
	// request's share of each at once (atomically across replicas).
	Admit(ctx context.Context, a Ask) (Decision, error)
	// Settle ends t: frees its concurrency slot, corrects its token charge
	// to tokens and its budget reservation to costUSD. A second Settle of
	// the same ticket does nothing.
	Settle(ctx context.Context, t *Ticket, tokens int64, costUSD float64)
	// Status says which store enforces the limits and whether it is
	// healthy, for /health.
	Status() Status
}

// Status is a limiter's state for /health.
type Status struct {
	Store string // "memory" or "redis"
	OK    bool   // false: Redis unreachable (failing open or closed)
	Mode  string // "shared", "fail_open" (per-process limits while Redis is down), "fail_closed"
	Error string // the last error, without credentials
}
