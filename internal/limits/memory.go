package limits

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// SpentFunc returns what key has spent since a time, from the usage
// ledger (ledger.Store.Spent), to seed a budget period seen for the first
// time.
type SpentFunc func(ctx context.Context, key string, since time.Time) (float64, error)

// MemoryOptions configure a Memory limiter.
type MemoryOptions struct {
	// Spent seeds a key's budget when its period is first seen; nil: 0.
	Spent SpentFunc
	// Logger receives seeding failures; nil: slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Memory enforces the limits in this process alone.
type Memory struct {
	now   func() time.Time
	spent SpentFunc
	log   *slog.Logger
	ids   ticketIDs
	// keys maps a key name to its *memoryKey. Key names come from the
	// configuration, so the map stays small; sync.Map gives a lock-free
	// lookup on the hot path, and each key has its own mutex.
	keys sync.Map
}

// memoryKey is one key's state.
type memoryKey struct {
	mu       sync.Mutex
	rpmTAT   int64 // unix ns
	tpmTAT   int64 // unix ns
	inFlight int64
	// budget is the current period's; an older period's tickets settle
	// into nothing, since that period no longer limits anyone.
	period   string
	spent    float64
	reserved float64
}

var _ Limiter = (*Memory)(nil)

// NewMemory returns a limiter that keeps its state in memory.
func NewMemory(opts MemoryOptions) *Memory {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Memory{now: opts.Now, spent: opts.Spent, log: opts.Logger, ids: newTicketIDs()}
}

func (m *Memory) key(name string) *memoryKey {
	if k, ok := m.keys.Load(name); ok {
		return k.(*memoryKey)
	}
	k, _ := m.keys.LoadOrStore(name, &memoryKey{})
	return k.(*memoryKey)
}

// Admit implements Limiter. It returns an error only when it cannot decide,
// which Memory never does.
func (m *Memory) Admit(ctx context.Context, a Ask) (Decision, error) {
	now := m.now()
	if a.Limits.None() {
		return Decision{Allowed: true, Ticket: &Ticket{Ask: a, At: now, ID: m.ids.next()}}, nil
	}
	k := m.key(a.Key)
	var p budgetPeriod
	if a.Limits.BudgetUSD > 0 {
		p = periodAt(a.Limits.Period, now)
	}
	ns := now.UnixNano()

	k.mu.Lock()
	if p.id != "" && k.period != p.id {
		// A period seen for the first time: read the ledger without
		// holding the lock. The first seed to come back wins.
		k.mu.Unlock()
		spent := seedSpent(ctx, m.spent, m.log, a.Key, p)
		k.mu.Lock()
		if k.period != p.id {
			k.period, k.spent, k.reserved = p.id, spent, 0
		}
	}
	defer k.mu.Unlock()
	var d Decision
	var refused []Reason
	var rpmNext, tpmNext int64
	if n := a.Limits.RPM; n > 0 {
		next, ok, wait := gcraTake(k.rpmTAT, ns, n, 1)
		if !ok {
			refused = append(refused, ReasonRequests)
			d.Retry = max(d.Retry, wait)
		}
		rpmNext = next
	}
	if n := a.Limits.TPM; n > 0 {
		next, ok, wait := gcraTake(k.tpmTAT, ns, n, max(a.Tokens, 0))
		if !ok {
			refused = append(refused, ReasonTokens)
			d.Retry = max(d.Retry, wait)
		}
		tpmNext = next
	}
	if n := a.Limits.MaxConcurrency; n > 0 && k.inFlight >= n {
		refused = append(refused, ReasonConcurrency)
	}
	if a.Limits.BudgetUSD > 0 && k.spent+k.reserved >= a.Limits.BudgetUSD {
		refused = append(refused, ReasonBudget)
	}
	if len(refused) > 0 {
		d.Reason, d.Retry = refusal(refused, d.Retry, p, now)
		d.Requests = windowOf(k.rpmTAT, ns, a.Limits.RPM)
		d.Tokens = windowOf(k.tpmTAT, ns, a.Limits.TPM)
		return d, nil
	}

	if a.Limits.RPM > 0 {
		k.rpmTAT = rpmNext
	}
	if a.Limits.TPM > 0 {
		k.tpmTAT = tpmNext
	}
	if a.Limits.MaxConcurrency > 0 {
		k.inFlight++
	}
	if a.Limits.BudgetUSD > 0 {
		k.reserved += a.CostUSD
	}
	d.Allowed = true
	d.Requests = windowOf(k.rpmTAT, ns, a.Limits.RPM)
	d.Tokens = windowOf(k.tpmTAT, ns, a.Limits.TPM)
	d.Ticket = &Ticket{Ask: a, At: now, ID: m.ids.next(), period: p.id}
	return d, nil
}

// seedSpent asks the ledger what name spent in p so far; a failure is
// logged and counts as nothing spent, so that a ledger outage does not
// stop the gateway.
func seedSpent(ctx context.Context, spent SpentFunc, log *slog.Logger, name string, p budgetPeriod) float64 {
	if spent == nil {
		return 0
	}
	v, err := spent(ctx, name, p.start)
	if err != nil {
		log.Warn("limits: cannot read the key's spending from the ledger; its budget starts at 0",
			"key", name, "period", p.id, "err", err)
		return 0
	}
	return v
}

// refusal picks the reason to report among the refused limits and the
// Retry that goes with it: a spent budget first (waiting a minute does not
// help), then concurrency, then the rates.
func refusal(refused []Reason, rateWait time.Duration, p budgetPeriod, now time.Time) (Reason, time.Duration) {
	for _, r := range refused {
		if r == ReasonBudget {
			return r, p.untilEnd(now)
		}
	}
	for _, r := range refused {
		if r == ReasonConcurrency {
			// Nobody knows when a request in flight ends; a second is a
			// polite guess, or longer when a rate also refused.
			return r, max(rateWait, time.Second)
		}
	}
	return refused[0], rateWait
}

func windowOf(tat, now, n int64) Window {
	if n <= 0 {
		return Window{}
	}
	return gcraWindow(tat, now, n)
}

// Settle implements Limiter.
func (m *Memory) Settle(_ context.Context, t *Ticket, tokens int64, costUSD float64) {
	if !t.markSettled() {
		return
	}
	m.settle(t, tokens, costUSD)
}

// settle does Settle's work for a ticket already marked settled.
func (m *Memory) settle(t *Ticket, tokens int64, costUSD float64) {
	l := t.Limits
	if l.None() {
		return
	}
	k := m.key(t.Key)
	ns := m.now().UnixNano()
	k.mu.Lock()
	defer k.mu.Unlock()
	if delta := tokens - max(t.Tokens, 0); l.TPM > 0 && delta != 0 {
		k.tpmTAT = gcraCorrect(k.tpmTAT, ns, l.TPM, delta)
	}
	if l.MaxConcurrency > 0 && k.inFlight > 0 {
		k.inFlight--
	}
	if l.BudgetUSD > 0 && t.period == k.period {
		k.reserved = max(k.reserved-t.CostUSD, 0)
		k.spent += costUSD
	}
}

// Status implements Limiter: memory is always healthy, and its limits are
// this process's own ("local").
func (m *Memory) Status() Status {
	return Status{Store: "memory", OK: true, Mode: "local"}
}

// ticketIDs makes ticket ids unique across replicas: a random prefix per
// process and a counter.
type ticketIDs struct {
	prefix string
	n      *atomic.Uint64
}

func newTicketIDs() ticketIDs {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return ticketIDs{prefix: hex.EncodeToString(b) + "-", n: new(atomic.Uint64)}
}

func (ids ticketIDs) next() string {
	return ids.prefix + strconv.FormatUint(ids.n.Add(1), 36)
}
