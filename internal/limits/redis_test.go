package limits

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestTwoReplicasShareOneLimit: two limiters on one Redis ("replicas"),
// hammered from many goroutines at once, admit one rpm, one concurrency
// and one budget in total, not one each.
func TestTwoReplicasShareOneLimit(t *testing.T) {
	url := redisURL(t)
	c := newClock(start)
	prefix := testPrefix(t)
	a := newTestRedis(t, url, RedisOptions{Now: c.Now, Prefix: prefix})
	b := newTestRedis(t, url, RedisOptions{Now: c.Now, Prefix: prefix})
	replicas := []Limiter{a, b}

	if got := hammer(t, replicas, 400, Ask{Key: "rpm", Limits: Limits{RPM: 100}}); got != 100 {
		t.Errorf("rpm 100: %d admitted across two replicas", got)
	}
	if got := hammer(t, replicas, 400, Ask{Key: "tpm", Limits: Limits{TPM: 1000}, Tokens: 10}); got != 100 {
		t.Errorf("tpm 1000 at 10 tokens each: %d admitted", got)
	}
	if got := hammer(t, replicas, 400, Ask{Key: "conc", Limits: Limits{MaxConcurrency: 7}}); got != 7 {
		t.Errorf("max_concurrency 7: %d admitted", got)
	}
	// 0.25 is exact in binary: the budget holds exactly four reservations.
	if got := hammer(t, replicas, 400, Ask{Key: "budget", Limits: Limits{BudgetUSD: 1}, CostUSD: 0.25}); got != 4 {
		t.Errorf("budget 1 at 0.25 each: %d admitted", got)
	}
	// Under concurrent admits and settles the budget is spent exactly: each
	// reservation holds its cost until settled, so no interleaving lets a
	// fifth 0.5 in, and a worker refused only for concurrency tries again,
	// so the test does not depend on who runs first.
	var wg sync.WaitGroup
	var mu sync.Mutex
	spent := 0.0
	ask := Ask{Key: "flow", Limits: Limits{BudgetUSD: 2, MaxConcurrency: 3}, CostUSD: 0.5}
	for i := range 64 {
		wg.Go(func() {
			l := replicas[i%2]
			for {
				d, err := l.Admit(context.Background(), ask)
				if err != nil {
					t.Errorf("Admit: %v", err)
					return
				}
				if !d.Allowed {
					if d.Reason == ReasonConcurrency {
						time.Sleep(time.Millisecond)
						continue
					}
					if d.Reason != ReasonBudget {
						t.Errorf("refused for %q, want budget or concurrency", d.Reason)
					}
					return
				}
				l.Settle(context.Background(), d.Ticket, 0, 0.5)
				mu.Lock()
				spent += 0.5
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if spent != 2 {
		t.Errorf("budget 2 at 0.5 per request, settled concurrently: %v spent, want exactly 2", spent)
	}
}

// TestRedisUnreachableFailsOpen: with no Redis the limiter keeps serving
// with per-process limits, says so in Status, and logs it once.
func TestRedisUnreachableFailsOpen(t *testing.T) {
	var logs bytes.Buffer
	c := newClock(start)
	r, err := NewRedis(context.Background(), "redis://:s3cret-pw@127.0.0.1:1/0", RedisOptions{
		Now: c.Now, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatalf("NewRedis with an unreachable server: %v", err)
	}
	defer r.Close()
	r.probeEvery = 0 // ask Redis every time: each failure must not log again
	st := r.Status()
	if st.Store != "redis" || st.OK || st.Mode != "fail_open" || st.Error == "" {
		t.Fatalf("Status %+v, want redis, not OK, fail_open, with an error", st)
	}
	a := Ask{Key: "k", Limits: Limits{RPM: 2, MaxConcurrency: 5}}
	t1 := mustAllow(t, r, a)
	mustAllow(t, r, a)
	mustRefuse(t, r, a, ReasonRequests, 30*time.Second)
	if !t1.local {
		t.Fatal("a ticket of the fallback is not marked as such")
	}
	r.Settle(context.Background(), t1, 0, 0)
	if n := strings.Count(logs.String(), "redis failed"); n != 1 {
		t.Errorf("%d logs of the outage, want 1:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String()+st.Error, "s3cret-pw") {
		t.Errorf("the password leaked: %s / %s", logs.String(), st.Error)
	}
}

func TestRedisUnreachableFailsClosed(t *testing.T) {
	r, err := NewRedis(context.Background(), "redis://user:s3cret-pw@127.0.0.1:1/0", RedisOptions{FailClosed: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("NewRedis: %v", err)
	}
	defer r.Close()
	mustRefuse(t, r, Ask{Key: "k", Limits: Limits{RPM: 100}}, ReasonUnavailable, time.Second)
	// A key with no limits needs no Redis.
	mustAllow(t, r, Ask{Key: "free"})
	st := r.Status()
	if st.OK || st.Mode != "fail_closed" || strings.Contains(st.Error, "s3cret-pw") {
		t.Fatalf("Status %+v", st)
	}
}

func TestNewRedisMalformedURL(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:6379", "redis://user:s3cret-pw@[::1/0", "redis://:s3cret-pw@127.0.0.1:6379/notadb"} {
		_, err := NewRedis(context.Background(), u, RedisOptions{})
		if err == nil {
			t.Errorf("NewRedis(%q) succeeded", u)
			continue
		}
		if strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("error quotes the password: %v", err)
		}
	}
}

// TestRedisRecovers cuts the connection to Redis with a proxy, then
// restores it: the limiter fails open meanwhile, goes back to the shared
// limits by itself, and settles then what could not be settled during the
// outage.
func TestRedisRecovers(t *testing.T) {
	target := redisURL(t)
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := newCutProxy(t, u.Host)
	u.Host = p.addr()

	var logs syncBuffer
	c := newClock(start)
	r := newTestRedis(t, u.String(), RedisOptions{Now: c.Now, Prefix: testPrefix(t), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	r.probeEvery = 0
	a := Ask{Key: "k", Limits: Limits{MaxConcurrency: 1}}
	held := mustAllow(t, r, a)
	if st := r.Status(); !st.OK || st.Mode != "shared" {
		t.Fatalf("Status %+v, want shared", st)
	}

	p.cut(true)
	// The shared slot is held; the fallback has its own.
	local := mustAllow(t, r, a)
	if !local.local || r.Status().OK {
		t.Fatalf("during the outage: local ticket %v, Status %+v", local.local, r.Status())
	}
	r.Settle(context.Background(), held, 0, 0) // cannot reach Redis: kept
	r.Settle(context.Background(), local, 0, 0)

	p.cut(false)
	tk := admit(t, r, a) // Redis answers: the kept settle runs after this
	r.draining.Wait()
	if st := r.Status(); !st.OK || st.Mode != "shared" {
		t.Fatalf("Status %+v after Redis came back", st)
	}
	if tk.Allowed {
		r.Settle(context.Background(), tk.Ticket, 0, 0)
	}
	// The slot held before the outage was freed by the kept settle.
	r.Settle(context.Background(), mustAllow(t, r, a), 0, 0)
	if !strings.Contains(logs.String(), "redis reachable again") {
		t.Errorf("recovery not logged:\n%s", logs.String())
	}
}

// cutProxy forwards TCP to a target until cut: then it closes every
// connection, and those that come, at once.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.cut(true) })
	go p.serve()
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) cut(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}

func (p *cutProxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			in.Close()
			continue
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			in.Close()
			continue
		}
		p.conns[in], p.conns[out] = true, true
		p.mu.Unlock()
		go func() { _, _ = io.Copy(out, in); out.Close() }()
		go func() { _, _ = io.Copy(in, out); in.Close() }()
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRedisLeaseFreesACrashedReplicasSlots: a ticket never settled (its
// replica died) holds its concurrency slot for the lease only.
func TestRedisLeaseFreesACrashedReplicasSlots(t *testing.T) {
	url := redisURL(t)
	c := newClock(start)
	prefix := testPrefix(t)
	crashed := newTestRedis(t, url, RedisOptions{Now: c.Now, Prefix: prefix})
	alive := newTestRedis(t, url, RedisOptions{Now: c.Now, Prefix: prefix})
	a := Ask{Key: "k", Limits: Limits{MaxConcurrency: 1}}
	mustAllow(t, crashed, a) // never settled
	mustRefuse(t, alive, a, ReasonConcurrency, time.Second)
	c.Advance(leaseTTL - time.Microsecond)
	mustRefuse(t, alive, a, ReasonConcurrency, time.Second)
	c.Advance(time.Microsecond)
	mustAllow(t, alive, a)
}
