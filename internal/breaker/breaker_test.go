package breaker

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// t0 is the fake clock's starting time.
var t0 = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)

// clock is a fake clock; tests move it with advance.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

// op is one step of a scenario run against a Breaker.
type op struct {
	kind string        // "allow", "ready", "force", "success", "failure", "release", "wait"
	d    time.Duration // for "wait"
	want bool          // for "allow" and "ready"
}

func allow(want bool) op      { return op{kind: "allow", want: want} }
func ready(want bool) op      { return op{kind: "ready", want: want} }
func wait(d time.Duration) op { return op{kind: "wait", d: d} }

var (
	success = op{kind: "success"}
	failure = op{kind: "failure"}
	release = op{kind: "release"}
	force   = op{kind: "force"}
)

// failures returns n failures, each after an allowed request.
func failures(n int) []op {
	var ops []op
	for range n {
		ops = append(ops, allow(true), failure)
	}
	return ops
}

// run applies ops to b and fails t on the first Allow result that differs.
func run(t *testing.T, b *Breaker, c *clock, ops []op) {
	t.Helper()
	for i, o := range ops {
		switch o.kind {
		case "allow":
			if got := b.Allow(); got != o.want {
				t.Fatalf("step %d: Allow() = %v, want %v (snapshot %+v)", i, got, o.want, b.Snapshot())
			}
		case "ready":
			if got := b.Ready(); got != o.want {
				t.Fatalf("step %d: Ready() = %v, want %v (snapshot %+v)", i, got, o.want, b.Snapshot())
			}
		case "force":
			b.Force()
		case "success":
			b.Success()
		case "failure":
			b.Failure()
		case "release":
			b.Release()
		case "wait":
			c.t = c.t.Add(o.d)
		default:
			t.Fatalf("step %d: unknown op %q", i, o.kind)
		}
	}
}

func cat(parts ...[]op) []op {
	var all []op
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}

func TestBreaker(t *testing.T) {
	small := Settings{FailureThreshold: 3, CoolDown: time.Second, MaxCoolDown: 5 * time.Second}
	tests := []struct {
		name     string
		settings Settings
		ops      []op
		want     Snapshot
	}{
		{
			name: "new breaker is closed with defaults",
			want: Snapshot{State: Closed, CoolDown: 10 * time.Second},
		},
		{
			name: "closed stays closed below the default threshold",
			ops:  cat(failures(4), []op{allow(true)}),
			want: Snapshot{State: Closed, ConsecutiveFailures: 4, CoolDown: 10 * time.Second},
		},
		{
			name: "opens at the default threshold",
			ops:  cat(failures(5), []op{allow(false)}),
			want: Snapshot{State: Open, ConsecutiveFailures: 5, OpenUntil: t0.Add(10 * time.Second), CoolDown: 10 * time.Second},
		},
		{
			name:     "opens at a custom threshold",
			settings: small,
			ops:      cat(failures(3), []op{allow(false)}),
			want:     Snapshot{State: Open, ConsecutiveFailures: 3, OpenUntil: t0.Add(time.Second), CoolDown: time.Second},
		},
		{
			name:     "a success in between resets the count",
			settings: small,
			ops:      cat(failures(2), []op{allow(true), success}, failures(2), []op{allow(true)}),
			want:     Snapshot{State: Closed, ConsecutiveFailures: 2, CoolDown: time.Second},
		},
		{
			name:     "open refuses until the cool-down has passed",
			settings: small,
			ops:      cat(failures(3), []op{allow(false), wait(999 * time.Millisecond), allow(false)}),
			want:     Snapshot{State: Open, ConsecutiveFailures: 3, OpenUntil: t0.Add(time.Second), CoolDown: time.Second},
		},
		{
			name:     "exactly one probe after the cool-down",
			settings: small,
			ops:      cat(failures(3), []op{wait(time.Second), allow(true), allow(false), allow(false), wait(time.Hour), allow(false)}),
			want:     Snapshot{State: HalfOpen, ConsecutiveFailures: 3, CoolDown: time.Second},
		},
		{
			name:     "probe success closes and resets",
			settings: small,
			ops:      cat(failures(3), []op{wait(time.Second), allow(true), success, allow(true), allow(true)}),
			want:     Snapshot{State: Closed, CoolDown: time.Second},
		},
		{
			name:     "probe failure re-opens with the cool-down doubled",
			settings: small,
			ops:      cat(failures(3), []op{wait(time.Second), allow(true), failure, allow(false)}),
			want:     Snapshot{State: Open, ConsecutiveFailures: 4, OpenUntil: t0.Add(3 * time.Second), CoolDown: 2 * time.Second},
		},
		{
			name:     "doubled cool-down is enforced",
			settings: small,
			ops: cat(failures(3), []op{
				wait(time.Second), allow(true), failure,
				wait(2*time.Second - 1), allow(false),
				wait(1), allow(true),
			}),
			want: Snapshot{State: HalfOpen, ConsecutiveFailures: 4, CoolDown: 2 * time.Second},
		},
		{
			name:     "cool-down doubling is capped at MaxCoolDown",
			settings: small,
			ops: cat(failures(3), []op{
				wait(1 * time.Second), allow(true), failure, // 2s
				wait(2 * time.Second), allow(true), failure, // 4s
				wait(4 * time.Second), allow(true), failure, // 8s capped to 5s
				wait(5 * time.Second), allow(true), failure, // stays 5s
			}),
			want: Snapshot{State: Open, ConsecutiveFailures: 7, OpenUntil: t0.Add(17 * time.Second), CoolDown: 5 * time.Second},
		},
		{
			name:     "success after doubling resets the cool-down",
			settings: small,
			ops: cat(failures(3), []op{
				wait(time.Second), allow(true), failure,
				wait(2 * time.Second), allow(true), success,
			}, failures(3)),
			want: Snapshot{State: Open, ConsecutiveFailures: 3, OpenUntil: t0.Add(4 * time.Second), CoolDown: time.Second},
		},
		{
			name:     "release frees the probe slot and keeps the counts",
			settings: small,
			ops:      cat(failures(3), []op{wait(time.Second), allow(true), allow(false), release, allow(true), allow(false)}),
			want:     Snapshot{State: HalfOpen, ConsecutiveFailures: 3, CoolDown: time.Second},
		},
		{
			name:     "release in closed changes nothing",
			settings: small,
			ops:      cat(failures(2), []op{allow(true), release, allow(true), release}),
			want:     Snapshot{State: Closed, ConsecutiveFailures: 2, CoolDown: time.Second},
		},
		{
			name:     "release in open does not let a request through early",
			settings: small,
			ops:      cat(failures(3), []op{release, allow(false)}),
			want:     Snapshot{State: Open, ConsecutiveFailures: 3, OpenUntil: t0.Add(time.Second), CoolDown: time.Second},
		},
		{
			name:     "late failure while open is counted but does not extend the open period",
			settings: small,
			ops:      cat([]op{allow(true)}, failures(3), []op{wait(500 * time.Millisecond), failure}),
			want:     Snapshot{State: Open, ConsecutiveFailures: 4, OpenUntil: t0.Add(time.Second), CoolDown: time.Second},
		},
		{
			name:     "late success while open closes",
			settings: small,
			ops:      cat([]op{allow(true)}, failures(3), []op{success, allow(true)}),
			want:     Snapshot{State: Closed, CoolDown: time.Second},
		},
		{
			name:     "an open breaker past its cool-down shows as half-open before any request",
			settings: small,
			ops:      cat(failures(3), []op{wait(time.Second)}),
			want:     Snapshot{State: HalfOpen, ConsecutiveFailures: 3, CoolDown: time.Second},
		},
		{
			name:     "ready does not take the probe",
			settings: small,
			ops: cat(failures(3), []op{
				ready(false), wait(time.Second), ready(true), ready(true),
				allow(true), ready(false), release, ready(true),
			}),
			want: Snapshot{State: HalfOpen, ConsecutiveFailures: 3, CoolDown: time.Second},
		},
		{
			name:     "a forced attempt during the cool-down that succeeds closes",
			settings: small,
			ops:      cat(failures(3), []op{allow(false), force, success, allow(true)}),
			want:     Snapshot{State: Closed, CoolDown: time.Second},
		},
		{
			name:     "a forced attempt that fails re-opens from now with the cool-down doubled",
			settings: small,
			ops:      cat(failures(3), []op{wait(500 * time.Millisecond), force, failure, allow(false)}),
			want:     Snapshot{State: Open, ConsecutiveFailures: 4, OpenUntil: t0.Add(2500 * time.Millisecond), CoolDown: 2 * time.Second},
		},
		{
			name:     "a forced attempt released during the cool-down leaves it running",
			settings: small,
			ops:      cat(failures(3), []op{force, allow(false), release, allow(false), wait(time.Second), allow(true)}),
			want:     Snapshot{State: HalfOpen, ConsecutiveFailures: 3, CoolDown: time.Second},
		},
		{
			name:     "concurrent forced failures double the cool-down once",
			settings: small,
			ops:      cat(failures(3), []op{force, force, failure, failure}),
			want:     Snapshot{State: Open, ConsecutiveFailures: 5, OpenUntil: t0.Add(2 * time.Second), CoolDown: 2 * time.Second},
		},
		{
			name:     "no new probe while a forced attempt is in flight next to the probe",
			settings: small,
			ops: cat(failures(3), []op{
				wait(time.Second), allow(true), force, release, allow(false), ready(false),
				release, allow(true),
			}),
			want: Snapshot{State: HalfOpen, ConsecutiveFailures: 3, CoolDown: time.Second},
		},
		{
			name:     "force on a closed breaker is an ordinary attempt",
			settings: small,
			ops:      []op{force, failure, force, release, allow(true)},
			want:     Snapshot{State: Closed, ConsecutiveFailures: 1, CoolDown: time.Second},
		},
		{
			name:     "MaxCoolDown below CoolDown means CoolDown",
			settings: Settings{FailureThreshold: 1, CoolDown: 3 * time.Second, MaxCoolDown: time.Second},
			ops:      cat(failures(1), []op{wait(3 * time.Second), allow(true), failure}),
			want:     Snapshot{State: Open, ConsecutiveFailures: 2, OpenUntil: t0.Add(6 * time.Second), CoolDown: 3 * time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{t: t0}
			s := tt.settings
			s.Now = c.Now
			b := New(s)
			run(t, b, c, tt.ops)
			if diff := cmp.Diff(tt.want, b.Snapshot()); diff != "" {
				t.Errorf("Snapshot() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBreaker_CoolDownEnd(t *testing.T) {
	c := &clock{t: t0}
	b := New(Settings{FailureThreshold: 1, CoolDown: time.Second, Now: c.Now})
	if got := b.CoolDownEnd(); !got.IsZero() {
		t.Errorf("closed: CoolDownEnd() = %v, want zero", got)
	}
	b.Failure()
	if got, want := b.CoolDownEnd(), t0.Add(time.Second); !got.Equal(want) {
		t.Errorf("open: CoolDownEnd() = %v, want %v", got, want)
	}
	c.t = c.t.Add(time.Second)
	b.Allow() // the probe: the cool-down has ended, and stays the time it ended
	if got, want := b.CoolDownEnd(), t0.Add(time.Second); !got.Equal(want) {
		t.Errorf("half-open: CoolDownEnd() = %v, want %v", got, want)
	}
}

// Forced attempts never block and never wait for one another or for the
// probe, however many run at once.
func TestBreaker_ForceNeverRefuses(t *testing.T) {
	c := &clock{t: t0}
	b := New(Settings{FailureThreshold: 1, CoolDown: time.Hour, Now: c.Now})
	b.Failure()
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			b.Force()
			if i%2 == 0 {
				b.Release()
			} else {
				b.Failure()
			}
		})
	}
	wg.Wait()
	if s := b.Snapshot(); s.State != Open || s.ConsecutiveFailures != 33 {
		t.Errorf("after 64 forced attempts, half of them failed: %+v, want open with 33 failures", s)
	}
}

func TestState_String(t *testing.T) {
	got := []string{Closed.String(), Open.String(), HalfOpen.String(), State(7).String()}
	want := []string{"closed", "open", "half_open", "State(7)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("String() mismatch (-want +got):\n%s", diff)
	}
}

func TestSnapshot_MarshalJSON(t *testing.T) {
	tests := []struct {
		name string
		in   Snapshot
		want string
	}{
		{
			name: "closed omits open_until",
			in:   Snapshot{State: Closed, CoolDown: 10 * time.Second},
			want: `{"state":"closed","consecutive_failures":0,"cool_down_ms":10000}`,
		},
		{
			name: "open in UTC",
			in:   Snapshot{State: Open, ConsecutiveFailures: 5, OpenUntil: t0.Add(10 * time.Second).In(time.FixedZone("X", 3600)), CoolDown: 10 * time.Second},
			want: `{"state":"open","consecutive_failures":5,"open_until":"2026-01-02T15:04:15Z","cool_down_ms":10000}`,
		},
		{
			name: "half open with sub-second time",
			in:   Snapshot{State: HalfOpen, ConsecutiveFailures: 6, OpenUntil: t0.Add(1500 * time.Millisecond), CoolDown: 20 * time.Second},
			want: `{"state":"half_open","consecutive_failures":6,"open_until":"2026-01-02T15:04:06.5Z","cool_down_ms":20000}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("MarshalJSON mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBreaker_OneProbe checks that after the cool-down exactly one of many
// concurrent callers becomes the probe, round after round.
func TestBreaker_OneProbe(t *testing.T) {
	const goroutines = 64
	c := &clock{t: t0}
	b := New(Settings{FailureThreshold: 1, CoolDown: time.Second, MaxCoolDown: time.Second, Now: c.Now})
	b.Allow()
	b.Failure()
	for round := range 20 {
		c.t = c.t.Add(time.Second) // only this goroutine writes the clock, between rounds
		var allowed atomic.Int32
		var start, wg sync.WaitGroup
		start.Add(1)
		for range goroutines {
			wg.Go(func() {
				start.Wait()
				for range 10 {
					if b.Allow() {
						allowed.Add(1)
					}
				}
			})
		}
		start.Done()
		wg.Wait()
		if got := allowed.Load(); got != 1 {
			t.Fatalf("round %d: %d callers allowed, want 1", round, got)
		}
		b.Failure() // the probe failed: open again for another second
	}
}

func TestBreaker_AllowClosedDoesNotAllocate(t *testing.T) {
	b := New(Settings{})
	if n := testing.AllocsPerRun(1000, func() { b.Allow() }); n != 0 {
		t.Errorf("Allow on a closed breaker: %v allocs, want 0", n)
	}
}

func BenchmarkAllowClosed(b *testing.B) {
	br := New(Settings{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if br.Allow() {
				br.Success()
			}
		}
	})
}

func ExampleBreaker() {
	b := New(Settings{FailureThreshold: 2})
	for range 2 {
		if b.Allow() {
			b.Failure() // the upstream answered 503
		}
	}
	fmt.Println(b.Allow(), b.Snapshot().State)
	// Output: false open
}

// OnChange hears each change of state once: opened, half-open when a probe
// goes through, re-opened with the cool-down doubled, closed; a probe
// released without an answer, and calls that change nothing, are silent.
func TestBreaker_OnChange(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	var got []Change
	b := New(Settings{FailureThreshold: 2, CoolDown: time.Second, Now: c.Now, OnChange: func(ch Change) { got = append(got, ch) }})
	b.Failure()
	b.Failure() // opens
	b.Failure() // counted, no change
	c.t = c.t.Add(time.Second)
	b.Allow()   // probe
	b.Release() // frees the probe slot: no change reported
	b.Allow()   // probe again, still half-open
	b.Failure() // re-opens, cool-down doubled
	c.t = c.t.Add(2 * time.Second)
	b.Force()
	b.Success() // closes
	b.Success()
	want := []Change{
		{From: Closed, To: Open, ConsecutiveFailures: 2, CoolDown: time.Second},
		{From: Open, To: HalfOpen, ConsecutiveFailures: 3, CoolDown: time.Second},
		{From: HalfOpen, To: Open, ConsecutiveFailures: 4, CoolDown: 2 * time.Second},
		{From: Open, To: HalfOpen, ConsecutiveFailures: 4, CoolDown: 2 * time.Second},
		{From: HalfOpen, To: Closed, ConsecutiveFailures: 0, CoolDown: time.Second},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
}
