package breaker

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSet_Get(t *testing.T) {
	base := Settings{FailureThreshold: 2, CoolDown: time.Second, MaxCoolDown: 8 * time.Second}
	tests := []struct {
		name   string
		before []op     // applied with base settings
		next   Settings // settings for the second Get
		after  []op     // applied after the second Get
		want   Snapshot
	}{
		{
			name:   "same settings keep the state",
			before: failures(2),
			next:   base,
			after:  []op{allow(false)},
			want:   Snapshot{State: Open, ConsecutiveFailures: 2, OpenUntil: t0.Add(time.Second), CoolDown: time.Second},
		},
		{
			name:   "new threshold applies to a closed breaker",
			before: failures(1),
			next:   Settings{FailureThreshold: 3, CoolDown: time.Second, MaxCoolDown: 8 * time.Second},
			after:  cat(failures(1), []op{allow(true)}, failures(1), []op{allow(false)}),
			want:   Snapshot{State: Open, ConsecutiveFailures: 3, OpenUntil: t0.Add(time.Second), CoolDown: time.Second},
		},
		{
			name:   "new cool-down applies to the next opening, the running one stays",
			before: failures(2),
			next:   Settings{FailureThreshold: 2, CoolDown: 3 * time.Second, MaxCoolDown: 8 * time.Second},
			after:  []op{wait(time.Second), allow(true), success, allow(true), failure, allow(true), failure},
			want:   Snapshot{State: Open, ConsecutiveFailures: 2, OpenUntil: t0.Add(4 * time.Second), CoolDown: 3 * time.Second},
		},
		{
			name:   "a doubled cool-down is capped by a lower MaxCoolDown",
			before: cat(failures(2), []op{wait(time.Second), allow(true), failure, wait(2 * time.Second), allow(true), failure}), // 4s
			next:   Settings{FailureThreshold: 2, CoolDown: time.Second, MaxCoolDown: 3 * time.Second},
			after:  []op{wait(4 * time.Second), allow(true), failure},
			want:   Snapshot{State: Open, ConsecutiveFailures: 5, OpenUntil: t0.Add(10 * time.Second), CoolDown: 3 * time.Second},
		},
		{
			name:   "zero fields come from the Set's settings",
			before: failures(1),
			next:   Settings{},
			after:  cat(failures(1), []op{allow(false)}),
			want:   Snapshot{State: Open, ConsecutiveFailures: 2, OpenUntil: t0.Add(time.Second), CoolDown: time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{t: t0}
			setDefaults := base
			setDefaults.Now = c.Now
			s := NewSet(setDefaults)
			b := s.Get("a", base)
			run(t, b, c, tt.before)
			if got := s.Get("a", tt.next); got != b {
				t.Fatalf("second Get returned a different breaker")
			}
			run(t, b, c, tt.after)
			if diff := cmp.Diff(tt.want, b.Snapshot()); diff != "" {
				t.Errorf("Snapshot() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSet_Retain(t *testing.T) {
	tests := []struct {
		name string
		keep []string
		want []string
	}{
		{name: "keep some", keep: []string{"a", "c", "unknown"}, want: []string{"a", "c"}},
		{name: "keep all", keep: []string{"c", "b", "a"}, want: []string{"a", "b", "c"}},
		{name: "keep none", keep: nil, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSet(Settings{FailureThreshold: 1})
			old := map[string]*Breaker{}
			for _, k := range []string{"a", "b", "c"} {
				old[k] = s.Get(k, Settings{})
				old[k].Allow()
				old[k].Failure()
			}
			s.Retain(tt.keep)

			var got []string
			for k := range s.breakers {
				got = append(got, k)
			}
			slices.Sort(got)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("keys after Retain mismatch (-want +got):\n%s", diff)
			}
			for _, k := range []string{"a", "b", "c"} {
				b := s.Get(k, Settings{})
				kept := slices.Contains(tt.want, k)
				if (b == old[k]) != kept {
					t.Errorf("Get(%q) returned the old breaker: %v, want %v", k, b == old[k], kept)
				}
				wantState := Closed
				if kept {
					wantState = Open
				}
				if got := b.Snapshot().State; got != wantState {
					t.Errorf("Get(%q).State = %v, want %v", k, got, wantState)
				}
			}
		})
	}
}
