// Package limits enforces the per-key limits of the gateway keys: requests
// and tokens per minute, requests in flight, and a spend budget per period.
// Memory keeps them in one process; Redis shares them between replicas.
//
// Requests and tokens per minute use GCRA, the generic cell rate algorithm,
// not fixed windows: a limit of n per minute emits one unit every
// T = 60s/n, and a key may run up to a full minute ahead of that schedule
// (a burst of n at once), after which units come at the steady rate. A
// fixed window would let 2n through around a window edge; GCRA never lets
// more than n + (elapsed/T) through in any span of time. Each key keeps one
// "theoretical arrival time" (TAT) per limit: a request costing c (1 for
// rpm, Ask.Tokens for tpm) is admitted when max(TAT, now) + min(c, n)·T
// is at most one minute ahead of now, and then moves the TAT forward by
// c·T. The min lets a prompt larger than the whole tpm through once the
// bucket is full, instead of refusing it forever; its full cost still
// delays the requests after it. Settle corrects the token charge by
// (actual - estimate)·T, forward or back, but never to before now.
// Window reports, for the x-ratelimit-* headers: Limit n, Remaining the
// units that could be admitted at once now, Reset the time until the
// bucket is full again. Decision.Retry is when the refused request would
// be admitted.
//
// max_concurrency counts a key's unsettled tickets. In Redis the slots are
// a sorted set of ticket ids scored by a lease expiry (10 minutes): a
// replica that crashes with requests in flight cannot settle them, and its
// slots free themselves when their lease ends.
//
// A budget holds, per key and period (daily, weekly from Monday, monthly,
// or total; periods start at 00:00 UTC), what was spent and what is
// reserved by requests in flight. Admit lets a request in only while
// spent + reserved < budget, and then reserves its worst-case cost
// (Ask.CostUSD); Settle releases the reservation and adds the real cost.
// So a key overspends its budget by at most the worst-case costs of the
// requests admitted while money was left and still in flight, and by one
// such request when requests come one at a time (plus any upstream bill
// beyond its reservation). A ticket settles into the period it was
// admitted in. When a key's period is first seen (in Memory, or by this
// process in Redis) its spending so far is read from the ledger
// (MemoryOptions.Spent, RedisOptions.Spent), so that a restart does not reset a budget.
//
// Every check and take of one Admit is atomic: Memory holds one mutex per
// key, Redis runs one Lua script (one round trip); Settle is one more.
// Redis replicas use their own clocks (RedisOptions.Now): keep them in sync.
//
// When Redis cannot be reached, Redis fails open (each replica enforces the
// limits in memory on its own, so the total may reach replicas × limit) or
// closed (requests with limits are refused with ReasonUnavailable), logs
// the change once, reports it in Status, and goes back to Redis when it
// answers again.
package limits

import (
	"context"
	"sync/atomic"
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
	At time.Time
	ID string // unique: the concurrency slot in a shared store
	// settled is 1 once Settle has run; set with a compare-and-swap so that
	// two Settles racing on one ticket (a deferred one and a shutdown) still
	// settle it once.
	settled uint32
	// period names the budget period the reservation was taken in ("" with
	// no budget), so that Settle releases it there.
	period string
	// local marks a ticket that Redis's in-memory fallback issued: it
	// settles there, not in Redis.
	local bool
}

// markSettled reports whether this call is the ticket's first Settle.
func (t *Ticket) markSettled() bool {
	return t != nil && atomic.CompareAndSwapUint32(&t.settled, 0, 1)
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
	Store string `json:"store"`           // "memory" or "redis"
	OK    bool   `json:"ok"`              // false: Redis unreachable (failing open or closed)
	Mode  string `json:"mode"`            // "local" (Memory), "shared", "fail_open" (per-process limits while Redis is down), "fail_closed"
	Error string `json:"error,omitempty"` // the last error, without credentials
}
