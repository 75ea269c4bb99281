package limits

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"aigateway/internal/redact"
	"aigateway/internal/redisurl"
)

// RedisOptions configure a Redis limiter.
type RedisOptions struct {
	// FailClosed refuses requests with limits while Redis is unreachable
	// (ReasonUnavailable); false keeps serving with per-process limits.
	FailClosed bool
	// Logger receives the changes of Redis's health; nil: slog.Default().
	Logger *slog.Logger
	// Prefix starts every Redis key; "": "aigw:limits:".
	Prefix string
	// Spent seeds a key's budget when this process first sees its period.
	Spent SpentFunc
	// Now is the clock; nil: time.Now. Replicas must agree on it (NTP): a
	// skew of d lets about d/T more requests through.
	Now func() time.Time
}

// Timeouts that keep a Redis outage from stalling requests: a dial that
// does not connect in a second and a reply that does not come in half a
// second count as Redis being down.
const (
	redisDialTimeout = time.Second
	redisIOTimeout   = 500 * time.Millisecond
	// leaseTTL bounds how long a crashed replica's concurrency slots stay
	// taken.
	leaseTTL = 10 * time.Minute
	// probeEvery is how often, while Redis is down, one request tries it
	// again; the others go straight to the fallback.
	probeEvery = time.Second
	// maxPending bounds the settles kept while Redis is down.
	maxPending = 100_000
)

// Redis enforces the limits in Redis, shared by every replica that uses the
// same server and prefix.
type Redis struct {
	client     *redis.Client
	now        func() time.Time
	spent      SpentFunc
	log        *slog.Logger
	failClosed bool
	prefix     string
	redactor   *redact.Redactor
	fallback   *Memory
	ids        ticketIDs
	leaseTTL   time.Duration
	probeEvery time.Duration // tests set 0 to probe on every request

	bases sync.Map // key name -> its Redis key base
	seeds sync.Map // key name + "\x00" + period id -> float64 spent so far

	down atomic.Bool // read on the hot path; changed under mu
	mu   sync.Mutex
	// Guarded by mu:
	lastErr  string
	probeAt  time.Time // real time: when the next probe may run
	probing  bool
	pending  []pendingSettle // Redis tickets to settle once Redis is back
	dropped  int
	draining sync.WaitGroup
}

// pendingSettle is a Settle that could not reach Redis.
type pendingSettle struct {
	t       *Ticket
	tokens  int64
	costUSD float64
	at      time.Time
}

var _ Limiter = (*Redis)(nil)

// NewRedis returns a limiter that shares its state through the Redis at
// rawURL (redis:// or rediss://). The error is only for a malformed URL:
// a server that cannot be reached is a state the limiter lives with
// (failing open or closed) and leaves when the server answers. ctx bounds
// the first ping.
func NewRedis(ctx context.Context, rawURL string, opts RedisOptions) (*Redis, error) {
	ro, redactor, err := redisurl.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("limits: redis_url: %w", err)
	}
	ro.DialTimeout = redisDialTimeout
	ro.ReadTimeout = redisIOTimeout
	ro.WriteTimeout = redisIOTimeout
	ro.MaxRetries = -1 // a script must not run twice: no retries

	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Prefix == "" {
		opts.Prefix = "aigw:limits:"
	}
	r := &Redis{
		client:     redis.NewClient(ro),
		now:        opts.Now,
		spent:      opts.Spent,
		log:        opts.Logger,
		failClosed: opts.FailClosed,
		prefix:     opts.Prefix,
		redactor:   redactor,
		fallback:   NewMemory(MemoryOptions{Spent: opts.Spent, Logger: opts.Logger, Now: opts.Now}),
		ids:        newTicketIDs(),
		leaseTTL:   leaseTTL,
		probeEvery: probeEvery,
	}
	pctx, cancel := context.WithTimeout(ctx, redisDialTimeout+redisIOTimeout)
	defer cancel()
	if err := r.client.Ping(pctx).Err(); err != nil {
		r.failed(err)
	}
	return r, nil
}

// Close closes the connections to Redis after the settles kept during an
// outage have been tried.
func (r *Redis) Close() error {
	r.draining.Wait()
	return r.client.Close()
}

// Admit implements Limiter: one round trip to Redis, or the fallback while
// Redis is down. The error is the caller's context ending, nothing else.
func (r *Redis) Admit(ctx context.Context, a Ask) (Decision, error) {
	now := r.now()
	if a.Limits.None() {
		return Decision{Allowed: true, Ticket: &Ticket{Ask: a, At: now, ID: r.ids.next()}}, nil
	}
	if !r.useRedis() {
		return r.degraded(ctx, a)
	}
	l := a.Limits
	var p budgetPeriod
	var seed float64
	var expireIn int64
	if l.BudgetUSD > 0 {
		p = periodAt(l.Period, now)
		seed = r.seed(ctx, a.Key, p)
		if !p.end.IsZero() {
			// Relative to this replica's clock, not Redis's: the same
			// clock that chose the period.
			expireIn = int64(p.end.Add(24*time.Hour).Sub(now) / time.Second)
		}
	}
	id := r.ids.next()
	base := r.base(a.Key)
	res, err := admitScript.Run(ctx, r.client,
		[]string{base + "rpm", base + "tpm", base + "conc", base + "b:" + p.id},
		unixMicro(now), l.RPM, l.TPM, max(a.Tokens, 0), l.MaxConcurrency, id, r.leaseTTL.Microseconds(),
		formatFloat(l.BudgetUSD), formatFloat(a.CostUSD), expireIn, formatFloat(seed),
	).Slice()
	if err != nil {
		if ctx.Err() != nil {
			r.endProbe()
			return Decision{}, fmt.Errorf("limits: admit: %w", ctx.Err())
		}
		r.failed(err)
		return r.degraded(ctx, a)
	}
	r.succeeded()
	d, err := decode(res, l, p, now)
	if err != nil {
		// A reply of the wrong shape is a bug, not an outage: say so, and
		// let the request through rather than fail every request.
		r.log.Error("limits: unexpected reply from the admit script", "err", err)
		return Decision{Allowed: true, Ticket: &Ticket{Ask: a, At: now, ID: id, period: p.id}}, nil
	}
	if d.Allowed {
		d.Ticket = &Ticket{Ask: a, At: now, ID: id, period: p.id}
	}
	return d, nil
}

// decode reads the admit script's reply.
func decode(res []any, l Limits, p budgetPeriod, now time.Time) (Decision, error) {
	if len(res) != 7 {
		return Decision{}, fmt.Errorf("%d values, want 7", len(res))
	}
	var n [7]int64
	for i, v := range res {
		if i == 1 {
			continue
		}
		x, ok := v.(int64)
		if !ok {
			return Decision{}, fmt.Errorf("value %d is %T, want an integer", i, v)
		}
		n[i] = x
	}
	refusedText, _ := res[1].(string)
	d := Decision{Allowed: n[0] == 1}
	if l.RPM > 0 {
		d.Requests = Window{Limit: l.RPM, Remaining: n[3], Reset: time.Duration(max(n[4], 0)) * time.Microsecond}
	}
	if l.TPM > 0 {
		d.Tokens = Window{Limit: l.TPM, Remaining: n[5], Reset: time.Duration(max(n[6], 0)) * time.Microsecond}
	}
	if !d.Allowed {
		var refused []Reason
		for _, s := range strings.Fields(refusedText) {
			refused = append(refused, Reason(s))
		}
		if len(refused) == 0 {
			return Decision{}, errors.New("refused without a reason")
		}
		d.Reason, d.Retry = refusal(refused, time.Duration(n[2])*time.Microsecond, p, now)
	}
	return d, nil
}

// degraded answers while Redis is down: refused when failing closed, or
// the in-memory fallback, whose tickets settle there.
func (r *Redis) degraded(ctx context.Context, a Ask) (Decision, error) {
	if r.failClosed {
		return Decision{Allowed: false, Reason: ReasonUnavailable, Retry: time.Second}, nil
	}
	d, err := r.fallback.Admit(ctx, a)
	if d.Ticket != nil {
		d.Ticket.local = true
	}
	return d, err
}

// Settle implements Limiter: one round trip to Redis. A ticket from the
// fallback settles there; one that cannot reach Redis is kept and settled
// when Redis answers again. The caller's context may have ended (the
// client left): the settle still runs.
func (r *Redis) Settle(ctx context.Context, t *Ticket, tokens int64, costUSD float64) {
	if !t.markSettled() {
		return
	}
	if t.local {
		r.fallback.settle(t, tokens, costUSD)
		return
	}
	if t.Limits.None() {
		return
	}
	ps := pendingSettle{t: t, tokens: tokens, costUSD: costUSD, at: r.now()}
	if r.down.Load() {
		r.keep(ps)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), redisDialTimeout+redisIOTimeout)
	defer cancel()
	if err := r.settle(ctx, ps); err != nil {
		r.failed(err)
		r.keep(ps)
	}
}

func (r *Redis) settle(ctx context.Context, ps pendingSettle) error {
	t, l := ps.t, ps.t.Limits
	id := ""
	if l.MaxConcurrency > 0 {
		id = t.ID
	}
	reserved := 0.0
	if l.BudgetUSD > 0 {
		reserved = t.CostUSD
	}
	base := r.base(t.Key)
	return settleScript.Run(ctx, r.client,
		[]string{base + "tpm", base + "conc", base + "b:" + t.period},
		unixMicro(ps.at), l.TPM, ps.tokens-max(t.Tokens, 0), id, formatFloat(reserved), formatFloat(ps.costUSD),
	).Err()
}

// keep holds a settle until Redis answers again; beyond maxPending it is
// dropped and counted: its slot frees itself with its lease, its
// reservation with its budget period.
func (r *Redis) keep(ps pendingSettle) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.pending) >= maxPending {
		r.dropped++
		if r.dropped == 1 || r.dropped%1000 == 0 {
			r.log.Error("limits: too many settles waiting for redis; dropping them", "dropped", r.dropped)
		}
		return
	}
	r.pending = append(r.pending, ps)
}

// useRedis reports whether this request should ask Redis: always while it
// is up; while it is down, one request per probeEvery.
func (r *Redis) useRedis() bool {
	if !r.down.Load() {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.down.Load() {
		return true
	}
	if r.probing || time.Now().Before(r.probeAt) {
		return false
	}
	r.probing = true
	return true
}

// endProbe lets another request probe Redis when this one's client left
// before Redis could answer.
func (r *Redis) endProbe() {
	r.mu.Lock()
	r.probing = false
	r.mu.Unlock()
}

// failed records that Redis did not answer, logging the change from up.
func (r *Redis) failed(err error) {
	msg := r.redactor.String(err.Error())
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastErr = msg
	r.probing = false
	r.probeAt = time.Now().Add(r.probeEvery)
	if r.down.Swap(true) {
		return
	}
	mode := "failing open: each replica enforces the limits on its own"
	if r.failClosed {
		mode = "failing closed: requests with limits are refused"
	}
	r.log.Error("limits: redis failed, "+mode, "err", msg)
}

// succeeded records that Redis answered, logging the change from down and
// settling what waited for it.
func (r *Redis) succeeded() {
	if !r.down.Load() {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.down.Swap(false) {
		return
	}
	r.probing = false
	r.lastErr = ""
	pending := r.pending
	r.pending = nil
	r.log.Info("limits: redis reachable again; limits are shared", "settles_waiting", len(pending))
	if len(pending) > 0 {
		r.draining.Add(1)
		go r.drain(pending)
	}
}

// drain settles what waited for Redis; what still fails waits again.
func (r *Redis) drain(pending []pendingSettle) {
	defer r.draining.Done()
	for i, ps := range pending {
		ctx, cancel := context.WithTimeout(context.Background(), redisDialTimeout+redisIOTimeout)
		err := r.settle(ctx, ps)
		cancel()
		if err != nil {
			r.failed(err)
			for _, p := range pending[i:] {
				r.keep(p)
			}
			return
		}
	}
}

// Status implements Limiter.
func (r *Redis) Status() Status {
	if !r.down.Load() {
		return Status{Store: "redis", OK: true, Mode: "shared"}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	mode := "fail_open"
	if r.failClosed {
		mode = "fail_closed"
	}
	return Status{Store: "redis", OK: false, Mode: mode, Error: r.lastErr}
}

// base is the start of key's Redis keys. The name is hashed, so that any
// name makes a tidy key, inside {} so that a cluster keeps all of one key's
// state in one slot, as its scripts need.
func (r *Redis) base(key string) string {
	if b, ok := r.bases.Load(key); ok {
		return b.(string)
	}
	sum := sha256.Sum256([]byte(key))
	b := r.prefix + "{" + hex.EncodeToString(sum[:12]) + "}:"
	r.bases.Store(key, b)
	return b
}

// seed returns what key had spent in p when this process first saw p, read
// from the ledger once; the script writes it only when the budget hash does
// not exist yet, so the first replica's seed wins.
func (r *Redis) seed(ctx context.Context, key string, p budgetPeriod) float64 {
	id := key + "\x00" + p.id
	if v, ok := r.seeds.Load(id); ok {
		return v.(float64)
	}
	v := seedSpent(ctx, r.spent, r.log, key, p)
	r.seeds.Store(id, v)
	return v
}

func unixMicro(t time.Time) int64 { return t.UnixMicro() }

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
