package limits

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
)

// benchLimits are limits every request checks but none refuses.
var benchLimits = Limits{RPM: 1 << 40, TPM: 1 << 50, MaxConcurrency: 1 << 20, BudgetUSD: 1e12, Period: "monthly"}

func benchAdmitSettle(b *testing.B, l Limiter) {
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		// Sixteen keys, as a gateway with a few teams has.
		key := "team-" + strconv.FormatInt(n.Add(1)%16, 10)
		a := Ask{Key: key, Limits: benchLimits, Tokens: 500, CostUSD: 0.01}
		for pb.Next() {
			d, err := l.Admit(context.Background(), a)
			if err != nil || !d.Allowed {
				b.Fatalf("refused: %v %+v", err, d)
			}
			l.Settle(context.Background(), d.Ticket, 480, 0.009)
		}
	})
}

func BenchmarkMemoryAdmitSettle(b *testing.B) {
	benchAdmitSettle(b, NewMemory(MemoryOptions{}))
}

func BenchmarkRedisAdmitSettle(b *testing.B) {
	r := newTestRedis(b, redisURL(b), RedisOptions{Prefix: testPrefix(b)})
	benchAdmitSettle(b, r)
	if st := r.Status(); !st.OK {
		b.Fatalf("Redis failed during the benchmark: %+v", st)
	}
}
