package limits

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a test clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// noon on a Wednesday.
var start = time.Date(2025, 1, 15, 12, 0, 0, 0, time.UTC)

// newLimiterFunc builds one kind of limiter for a test.
type newLimiterFunc func(t *testing.T, c *clock, spent SpentFunc) Limiter

// eachLimiter runs fn against Memory and, when AIGW_REDIS_URL is set,
// Redis, so that both are held to the same behaviour.
func eachLimiter(t *testing.T, fn func(t *testing.T, newL newLimiterFunc)) {
	t.Run("memory", func(t *testing.T) {
		fn(t, func(t *testing.T, c *clock, spent SpentFunc) Limiter {
			return NewMemory(MemoryOptions{Now: c.Now, Spent: spent, Logger: testLogger(t)})
		})
	})
	t.Run("redis", func(t *testing.T) {
		url := redisURL(t)
		fn(t, func(t *testing.T, c *clock, spent SpentFunc) Limiter {
			return newTestRedis(t, url, RedisOptions{Now: c.Now, Spent: spent, Prefix: testPrefix(t)})
		})
	})
}

func redisURL(t testing.TB) string {
	u := os.Getenv("AIGW_REDIS_URL")
	if u == "" {
		t.Skip("AIGW_REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0): skipping the Redis limiter")
	}
	return u
}

// testPrefix is a Redis key prefix of this test alone, removed after it.
func testPrefix(t testing.TB) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "aigw-test:" + strings.ReplaceAll(t.Name(), "/", ":") + ":" + hex.EncodeToString(b) + ":"
}

func newTestRedis(t testing.TB, url string, opts RedisOptions) *Redis {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	r, err := NewRedis(context.Background(), url, opts)
	if err != nil {
		t.Fatalf("NewRedis: %v", err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		iter := r.client.Scan(ctx, 0, r.prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			r.client.Del(ctx, iter.Val())
		}
		_ = r.Close()
	})
	return r
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, nil))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func admit(t *testing.T, l Limiter, a Ask) Decision {
	t.Helper()
	d, err := l.Admit(context.Background(), a)
	if err != nil {
		t.Fatalf("Admit: %v", err)
	}
	if d.Allowed != (d.Ticket != nil) {
		t.Fatalf("Allowed %v with ticket %v", d.Allowed, d.Ticket)
	}
	return d
}

func mustAllow(t *testing.T, l Limiter, a Ask) *Ticket {
	t.Helper()
	d := admit(t, l, a)
	if !d.Allowed {
		t.Fatalf("refused (%s, retry %v), want allowed", d.Reason, d.Retry)
	}
	return d.Ticket
}

func mustRefuse(t *testing.T, l Limiter, a Ask, reason Reason, retry time.Duration) Decision {
	t.Helper()
	d := admit(t, l, a)
	if d.Allowed {
		t.Fatalf("allowed, want refused for %s", reason)
	}
	if d.Reason != reason || d.Retry != retry {
		t.Fatalf("refused for %s, retry %v; want %s, retry %v", d.Reason, d.Retry, reason, retry)
	}
	return d
}

func TestRPMBurstThenRefusal(t *testing.T) {
	eachLimiter(t, func(t *testing.T, newL newLimiterFunc) {
		c := newClock(start)
		l := newL(t, c, nil)
		a := Ask{Key: "team-a", Limits: Limits{RPM: 600}} // one every 100ms
		for i := range 600 {
			d := admit(t, l, a)
			if !d.Allowed {
				t.Fatalf("request %d of a full minute's burst refused: %s", i+1, d.Reason)
			}
			want := Window{Limit: 600, Remaining: int64(599 - i), Reset: time.Duration(i+1) * 100 * time.Millisecond}
			if d.Requests != want {
				t.Fatalf("request %d: window %+v, want %+v", i+1, d.Requests, want)
			}
		}
		d := mustRefuse(t, l, a, ReasonRequests, 100*time.Millisecond)
		if d.Requests.Remaining != 0 || d.Requests.Reset != time.Minute {
			t.Fatalf("refused window %+v, want 0 remaining, reset 1m", d.Requests)
		}
		c.Advance(99 * time.Millisecond)
		mustRefuse(t, l, a, ReasonRequests, time.Millisecond)
		c.Advance(time.Millisecond)
		mustAllow(t, l, a)
		mustRefuse(t, l, a, ReasonRequests, 100*time.Millisecond)
		// Another key has its own limits.
		mustAllow(t, l, Ask{Key: "team-b", Limits: Limits{RPM: 600}})
	})
}

// TestGCRAWindowEdge sends a minute's worth just before a minute boundary
// and again just after it: a fixed window per clock minute admits both
// bursts, twice the rate within a fifth of a second; GCRA admits the first
// only, then one request per second.
func TestGCRAWindowEdge(t *testing.T) {
	eachLimiter(t, func(t *testing.T, newL newLimiterFunc) {
		c := newClock(start.Add(59*time.Second + 900*time.Millisecond))
		l := newL(t, c, nil)
		a := Ask{Key: "k", Limits: Limits{RPM: 60}}
		fixed := map[int64]int{} // what a fixed window per clock minute admits
		admitted := 0
		send := func() {
			if fixed[c.Now().Unix()/60] < 60 {
				fixed[c.Now().Unix()/60]++
			}
			if admit(t, l, a).Allowed {
				admitted++
			}
		}
		for range 60 {
			send()
		}
		c.Advance(200 * time.Millisecond) // over the minute boundary
		for range 60 {
			send()
		}
		fixedTotal := 0
		for _, n := range fixed {
			fixedTotal += n
		}
		if fixedTotal != 120 {
			t.Fatalf("the fixed window admits %d, want 120 (the point of this test)", fixedTotal)
		}
		if admitted != 60 {
			t.Fatalf("GCRA admitted %d within 0.2s, want 60", admitted)
		}
		// Then the steady rate: one per second.
		c.Advance(800 * time.Millisecond)
		mustAllow(t, l, a)
		mustRefuse(t, l, a, ReasonRequests, time.Second)
	})
}

func TestTPMEstimateAndSettle(t *testing.T) {
	eachLimiter(t, func(t *testing.T, newL newLimiterFunc) {
		c := newClock(start)
		l := newL(t, c, nil)
		lim := Limits{TPM: 1000} // one token every 60ms
		t1 := mustAllow(t, l, Ask{Key: "k", Limits: lim, Tokens: 600})
		// 600 more do not fit until 200 tokens' worth of time has passed.
		d := mustRefuse(t, l, Ask{Key: "k", Limits: lim, Tokens: 600}, ReasonTokens, 12*time.Second)
		if d.Tokens != (Window{Limit: 1000, Remaining: 400, Reset: 36 * time.Second}) {
			t.Fatalf("tokens window %+v", d.Tokens)
		}
		// The request used 100 tokens, not 600: the 500 come back.
		l.Settle(context.Background(), t1, 100, 0)
		t2 := mustAllow(t, l, Ask{Key: "k", Limits: lim, Tokens: 600})
		// 100 + 600 charged; this one used 1100: 1200 in all, 200 over.
		l.Settle(context.Background(), t2, 1100, 0)
		d = mustRefuse(t, l, Ask{Key: "k", Limits: lim, Tokens: 1}, ReasonTokens, 12*time.Second+60*time.Millisecond)
		if d.Tokens.Remaining != 0 || d.Tokens.Reset != 72*time.Second {
			t.Fatalf("tokens window %+v, want 0 remaining, reset 72s", d.Tokens)
		}
		// A second Settle changes nothing.
		l.Settle(context.Background(), t2, 0, 0)
		mustRefuse(t, l, Ask{Key: "k", Limits: lim, Tokens: 1}, ReasonTokens, 12*time.Second+60*time.Millisecond)
	})
}

func TestTPMPromptLargerThanTheLimit(t *testing.T) {
	eachLimiter(t, func(t *testing.T, newL newLimiterFunc) {
		c := newClock(start)
		l := newL(t, c, nil)
		lim := Limits{TPM: 1000}
		// With the bucket full, a prompt of 5000 still goes through once...
		mustAllow(t, l, Ask{Key: "k", Limits: lim, Tokens: 5000})
		// ...and its full cost delays what follows: 5000 tokens are 5
		// minutes; one more token fits when the TAT is a minute ahead.
		mustRefuse(t, l, Ask{Key: "k", Limits: lim, Tokens: 1}, ReasonTokens, 4*time.Minute+60*time.Millisecond)
		c.Advance(4*time.Minute + 60*time.Millisecond)
		mustAllow(t, l, Ask{Key: "k", Limits: lim, Tokens: 1})
	})
}

func TestConcurrency(t *testing.T) {
	eachLimiter(t, func(t *testing.T, newL newLimiterFunc) {
		l := newL(t, newClock(start), nil)
		a := Ask{Key: "k", Limits: Limits{MaxConcurrency: 2}}
		t1 := mustAllow(t, l, a)
		mustAllow(t, l, a)
		mustRefuse(t, l, a, ReasonConcurrency, time.Second)
		l.Settle(context.Background(), t1, 0, 0)
		l.Settle(context.Background(), t1, 0, 0) // frees one slot, not two
		mustAllow(t, l, a)
		mustRefuse(t, l, a, ReasonConcurrency, time.Second)
	})
}

func TestBudgetReservationAndSettle(t *testing.T) {
	eachLimiter(t, func(t *testing.T, newL newLimiterFunc) {
		c := newClock(start)
		l := newL(t, c, nil)
		lim := Limits{BudgetUSD: 1, Period: "daily"}
		a := Ask{Key: "k", Limits: lim, CostUSD: 0.25}
		var tickets []*Ticket
		for range 4 {
			tickets = append(tickets, mustAllow(t, l, a))
		}
		// 1.00 reserved: nothing is left until the day ends at midnight.
		mustRefuse(t, l, a, ReasonBudget, 12*time.Hour)
		// A request that failed costs nothing: its reservation comes back.
		l.Settle(context.Background(), tickets[0], 0, 0)
		tickets[0] = mustAllow(t, l, a)
		mustRefuse(t, l, a, ReasonBudget, 12*time.Hour)
		// Spent 0.10 of a 0.25 reservation: 0.15 comes back (0.85 taken).
		l.Settle(context.Background(), tickets[1], 0, 0.10)
		l.Settle(context.Background(), tickets[1], 0, 0.10) // no-op
		mustAllow(t, l, a)                                  // 0.85 < 1: admitted, now 1.10
		mustRefuse(t, l, a, ReasonBudget, 12*time.Hour)
		// The overspend: settling everything at its full reservation.
		for _, tk := range tickets {
			l.Settle(context.Background(), tk, 0, 0.25)
		}
		mustRefuse(t, l, a, ReasonBudget, 12*time.Hour)
	})
}

func TestBudgetPeriodRollOver(t *testing.T) {
	eachLimiter(t, func(t *testing.T, newL newLimiterFunc) {
		c := newClock(start) // Wednesday 12:00
		l := newL(t, c, nil)
		for _, tc := range []struct {
			period string
			left   time.Duration // until the period ends
		}{
			{"daily", 12 * time.Hour},
			{"weekly", 4*24*time.Hour + 12*time.Hour}, // next Monday
			{"monthly", 16*24*time.Hour + 12*time.Hour},
			{"", 16*24*time.Hour + 12*time.Hour}, // monthly
			{"total", 0},
		} {
			a := Ask{Key: "k-" + tc.period, Limits: Limits{BudgetUSD: 1, Period: tc.period}, CostUSD: 1}
			tk := mustAllow(t, l, a)
			l.Settle(context.Background(), tk, 0, 1)
			mustRefuse(t, l, a, ReasonBudget, tc.left)
		}
		c.Advance(12*time.Hour - time.Nanosecond)
		mustRefuse(t, l, Ask{Key: "k-daily", Limits: Limits{BudgetUSD: 1, Period: "daily"}}, ReasonBudget, time.Nanosecond)
		c.Advance(time.Nanosecond) // Thursday 00:00
		mustAllow(t, l, Ask{Key: "k-daily", Limits: Limits{BudgetUSD: 1, Period: "daily"}, CostUSD: 1})
		mustRefuse(t, l, Ask{Key: "k-weekly", Limits: Limits{BudgetUSD: 1, Period: "weekly"}}, ReasonBudget, 4*24*time.Hour)
		c.Advance(4 * 24 * time.Hour) // Monday 00:00
		mustAllow(t, l, Ask{Key: "k-weekly", Limits: Limits{BudgetUSD: 1, Period: "weekly"}})
		mustRefuse(t, l, Ask{Key: "k-monthly", Limits: Limits{BudgetUSD: 1, Period: "monthly"}}, ReasonBudget, 12*24*time.Hour)
		c.Advance(12 * 24 * time.Hour) // February 1st
		mustAllow(t, l, Ask{Key: "k-monthly", Limits: Limits{BudgetUSD: 1, Period: "monthly"}})
		mustRefuse(t, l, Ask{Key: "k-total", Limits: Limits{BudgetUSD: 1, Period: "total"}}, ReasonBudget, 0)
	})
}

func TestBudgetSeededFromTheLedger(t *testing.T) {
	eachLimiter(t, func(t *testing.T, newL newLimiterFunc) {
		c := newClock(start)
		var asked []time.Time
		var mu sync.Mutex
		spent := func(_ context.Context, key string, since time.Time) (float64, error) {
			mu.Lock()
			defer mu.Unlock()
			asked = append(asked, since)
			if key == "broken" {
				return 0, errors.New("ledger down")
			}
			return 0.9, nil
		}
		l := newL(t, c, spent)
		a := Ask{Key: "k", Limits: Limits{BudgetUSD: 1, Period: "daily"}, CostUSD: 0.25}
		mustAllow(t, l, a) // 0.90 spent before the restart; 0.10 left
		mustRefuse(t, l, a, ReasonBudget, 12*time.Hour)
		mustRefuse(t, l, a, ReasonBudget, 12*time.Hour)
		if want := []time.Time{time.Date(2025, 1, 15, 0, 0, 0, 0, time.UTC)}; len(asked) != 1 || !asked[0].Equal(want[0]) {
			t.Fatalf("ledger asked since %v, want once since %v", asked, want)
		}
		// A ledger that fails counts as nothing spent.
		b := Ask{Key: "broken", Limits: Limits{BudgetUSD: 1, Period: "daily"}, CostUSD: 0.5}
		mustAllow(t, l, b)
		mustAllow(t, l, b)
		mustRefuse(t, l, b, ReasonBudget, 12*time.Hour)
	})
}

// TestRefusalTakesNothing: a request one limit refuses must not use up
// the others.
func TestRefusalTakesNothing(t *testing.T) {
	eachLimiter(t, func(t *testing.T, newL newLimiterFunc) {
		c := newClock(start)
		l := newL(t, c, nil)
		lim := Limits{RPM: 10, TPM: 1000, MaxConcurrency: 5, BudgetUSD: 1, Period: "daily"}
		tk := mustAllow(t, l, Ask{Key: "k", Limits: lim, Tokens: 100, CostUSD: 1})
		for range 20 {
			mustRefuse(t, l, Ask{Key: "k", Limits: lim, Tokens: 100, CostUSD: 1}, ReasonBudget, 12*time.Hour)
		}
		l.Settle(context.Background(), tk, 100, 0)
		d := admit(t, l, Ask{Key: "k", Limits: lim, Tokens: 100, CostUSD: 0.5})
		if !d.Allowed || d.Requests.Remaining != 8 || d.Tokens.Remaining != 800 {
			t.Fatalf("after 20 refusals: %+v, want allowed with 8 requests and 800 tokens left", d)
		}
	})
}

func TestNoLimitsTouchNothing(t *testing.T) {
	eachLimiter(t, func(t *testing.T, newL newLimiterFunc) {
		l := newL(t, newClock(start), nil)
		for range 1000 {
			tk := mustAllow(t, l, Ask{Key: "k", Tokens: 1 << 20, CostUSD: 100})
			l.Settle(context.Background(), tk, 1<<20, 100)
		}
	})
}

// TestConcurrentAdmitsEnforceOneLimit: many goroutines on one key with a
// frozen clock get exactly the burst, no more.
func TestConcurrentAdmitsEnforceOneLimit(t *testing.T) {
	eachLimiter(t, func(t *testing.T, newL newLimiterFunc) {
		l := newL(t, newClock(start), nil)
		got := hammer(t, []Limiter{l}, 200, Ask{Key: "k", Limits: Limits{RPM: 50}})
		if got != 50 {
			t.Fatalf("%d admitted, want 50", got)
		}
	})
}

// hammer sends n asks at once, spread over the limiters, and counts the
// admitted.
func hammer(t *testing.T, ls []Limiter, n int, a Ask) int {
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			d, err := ls[i%len(ls)].Admit(context.Background(), a)
			if err != nil {
				t.Errorf("Admit: %v", err)
			}
			if d.Allowed {
				admitted.Add(1)
			}
		})
	}
	wg.Wait()
	return int(admitted.Load())
}

func TestPeriodAt(t *testing.T) {
	for _, tc := range []struct {
		kind      string
		now       time.Time
		id        string
		startDate string
	}{
		{"weekly", time.Date(2025, 1, 19, 23, 59, 0, 0, time.UTC), "w2025-01-13", "2025-01-13"}, // Sunday
		{"weekly", time.Date(2025, 1, 20, 0, 0, 0, 0, time.UTC), "w2025-01-20", "2025-01-20"},   // Monday
		{"daily", time.Date(2025, 3, 1, 1, 0, 0, 0, time.FixedZone("X", 2*3600)), "d2025-02-28", "2025-02-28"},
		{"monthly", time.Date(2024, 12, 31, 23, 0, 0, 0, time.UTC), "m2024-12", "2024-12-01"},
	} {
		p := periodAt(tc.kind, tc.now)
		if p.id != tc.id || p.start.Format(time.DateOnly) != tc.startDate {
			t.Errorf("periodAt(%q, %v) = %s from %v, want %s from %s", tc.kind, tc.now, p.id, p.start, tc.id, tc.startDate)
		}
	}
}

// TestHugeLimits: limits so high that a unit takes less than a
// microsecond still work (a Redis TTL of 0 would be an error).
func TestHugeLimits(t *testing.T) {
	eachLimiter(t, func(t *testing.T, newL newLimiterFunc) {
		l := newL(t, newClock(start), nil)
		a := Ask{Key: "k", Limits: benchLimits, Tokens: 500, CostUSD: 0.01}
		for range 10 {
			l.Settle(context.Background(), mustAllow(t, l, a), 480, 0.009)
		}
		if st := l.Status(); !st.OK {
			t.Fatalf("Status %+v", st)
		}
	})
}

// TestSettleAfterTheClientLeft: Settle runs with the request's context,
// which is cancelled when the client has gone; the slot and the
// reservation must come back all the same.
func TestSettleAfterTheClientLeft(t *testing.T) {
	eachLimiter(t, func(t *testing.T, newL newLimiterFunc) {
		l := newL(t, newClock(start), nil)
		a := Ask{Key: "k", Limits: Limits{MaxConcurrency: 1, BudgetUSD: 1}, CostUSD: 1}
		ctx, cancel := context.WithCancel(context.Background())
		d, err := l.Admit(ctx, a)
		if err != nil || !d.Allowed {
			t.Fatalf("Admit: %v %+v", err, d)
		}
		cancel()
		l.Settle(ctx, d.Ticket, 0, 0)
		mustAllow(t, l, a)
	})
}
