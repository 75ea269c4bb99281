// Package breaker is a circuit breaker per upstream deployment: after
// repeated failures it stops sending requests to the deployment for a
// cool-down, then lets a single probe through to find out whether the
// deployment has recovered. A breaker takes a deployment out of the choice
// among alternatives; it never refuses the last one a request has (see
// Breaker.Force).
package breaker

import (
	"encoding/json"
	"strconv"
	"sync"
	"time"
)

// Defaults for the zero fields of Settings.
const (
	DefaultFailureThreshold = 5
	DefaultCoolDown         = 10 * time.Second
	DefaultMaxCoolDown      = 5 * time.Minute
)

// Settings configure a Breaker. Zero values mean the documented defaults.
type Settings struct {
	// FailureThreshold is the number of consecutive failures that opens
	// the breaker. Zero or less means 5.
	FailureThreshold int
	// CoolDown is the first open period. Zero or less means 10s.
	CoolDown time.Duration
	// MaxCoolDown caps the cool-down, which doubles while probes keep
	// failing. Zero or less means 5m; a value below CoolDown means CoolDown.
	MaxCoolDown time.Duration
	// Now returns the current time. Nil means time.Now; tests inject a
	// fake clock.
	Now func() time.Time
	// OnChange is told of every change of state: opened, half-open (a
	// probe let through), closed; nil means nobody is. It is called
	// without the breaker's lock held, on the goroutine that caused the
	// change, and must not block. A probe released without an answer
	// (Release) is no change: the breaker is as it was before the probe.
	OnChange func(Change)
}

// Change is one change of a Breaker's state, for OnChange.
type Change struct {
	From, To            State
	ConsecutiveFailures int
	// CoolDown is the open period when To is Open.
	CoolDown time.Duration
}

// withDefaults returns a copy of s with every zero field set to its default.
func (s Settings) withDefaults() Settings {
	if s.FailureThreshold <= 0 {
		s.FailureThreshold = DefaultFailureThreshold
	}
	if s.CoolDown <= 0 {
		s.CoolDown = DefaultCoolDown
	}
	if s.MaxCoolDown <= 0 {
		s.MaxCoolDown = DefaultMaxCoolDown
	}
	// A cap below the first period would make the doubling shrink it.
	s.MaxCoolDown = max(s.MaxCoolDown, s.CoolDown)
	if s.Now == nil {
		s.Now = time.Now
	}
	return s
}

// State is the position of a Breaker.
type State int

// The states of a Breaker.
const (
	// Closed lets every request through and counts consecutive failures.
	Closed State = iota
	// Open refuses every request until the cool-down has passed.
	Open
	// HalfOpen has let one probe through and refuses everything else
	// until the probe's outcome is reported. An Open breaker whose
	// cool-down has passed is ready for that probe, and Snapshot shows it
	// as HalfOpen already.
	HalfOpen
)

// String returns "closed", "open" or "half_open".
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half_open"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText encodes s as its String form, so a State reads well in JSON
// and in logs.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Breaker is a circuit breaker for one upstream deployment. It is safe for
// concurrent use. The zero value is not usable; call New.
type Breaker struct {
	// A plain mutex keeps the transitions obviously correct; it is
	// uncontended for the few nanoseconds of each call and allocates nothing.
	mu       sync.Mutex
	cfg      Settings // with defaults applied
	state    State
	failures int           // consecutive failures
	coolDown time.Duration // the current open period; doubles on each failed probe
	// openUntil is when the current cool-down ends (or ended): set in Open
	// and kept in HalfOpen, zero in Closed.
	openUntil time.Time
	// probes counts the probe-like attempts in flight in HalfOpen: the
	// probe Allow handed out and any that Force let through.
	probes int
}

// New returns a closed Breaker configured by s.
func New(s Settings) *Breaker {
	s = s.withDefaults()
	return &Breaker{cfg: s, coolDown: s.CoolDown}
}

// Allow reports whether a request may be sent now. A closed breaker says
// yes. An open one says no until the cool-down has passed; then exactly one
// caller gets true and becomes the probe (the state turns HalfOpen), and
// every other caller gets false until the probe's outcome is reported with
// Success, Failure or Release.
//
// Every call that returns true must be followed by exactly one call to
// Success, Failure or Release.
func (b *Breaker) Allow() bool {
	b.mu.Lock()
	defer b.unlock(b.state)
	if !b.ready() {
		return false
	}
	if b.state != Closed {
		// After the cool-down, or after the previous probe was released
		// without an answer: this caller is the probe.
		b.state = HalfOpen
		b.probes = 1
	}
	return true
}

// Ready reports whether Allow would let a request through now, without
// taking the probe: the router uses it to choose a deployment before it
// waits between attempts, and asks Allow only when it is about to send.
// The answer may change before Allow is called.
func (b *Breaker) Ready() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ready()
}

// ready is Ready with b.mu held.
func (b *Breaker) ready() bool {
	switch b.state {
	case Closed:
		return true
	case Open:
		return !b.cfg.Now().Before(b.openUntil)
	default: // HalfOpen
		return b.probes == 0
	}
}

// Force lets a request through whatever the state. It is for a request
// that has no alternative, every deployment it could go to being out of
// rotation: a breaker chooses among deployments, it must not turn the only
// one left into a 503 of the gateway's own while the upstream may answer.
//
// A forced attempt counts as a probe. An Open breaker turns HalfOpen (its
// cool-down keeps running), and the outcome is reported as for a probe:
// Success closes the breaker, Failure re-opens it from now with the
// cool-down doubled, Release undoes the attempt (back to Open while the
// cool-down has not ended). Force never blocks: several forced attempts may
// be in flight at once, next to the probe Allow handed out; Allow admits no
// further probe until all of them are reported. On a Closed breaker Force
// is an ordinary attempt.
//
// Like Allow's true, every Force must be followed by exactly one call to
// Success, Failure or Release.
func (b *Breaker) Force() {
	b.mu.Lock()
	defer b.unlock(b.state)
	if b.state == Closed {
		return
	}
	b.state = HalfOpen
	b.probes++
}

// CoolDownEnd returns when the breaker's current cool-down ends, or ended
// (for a HalfOpen breaker); the zero time for a closed one. A request whose
// deployments are all out of rotation is forced to the one whose cool-down
// ends first.
func (b *Breaker) CoolDownEnd() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.openUntil
}

// Success reports that a request Allow (or Force) let through succeeded. It closes the
// breaker from any state and resets the failure count and the cool-down: a
// good answer is evidence that the upstream works, even when it comes from a
// request sent before the breaker opened.
func (b *Breaker) Success() {
	b.mu.Lock()
	defer b.unlock(b.state)
	b.state = Closed
	b.failures = 0
	b.coolDown = b.cfg.CoolDown
	b.openUntil = time.Time{}
	b.probes = 0
}

// Failure reports that a request Allow (or Force) let through failed. In Closed,
// FailureThreshold consecutive failures open the breaker for the current
// cool-down. In HalfOpen the probe failed: the breaker re-opens with the
// cool-down doubled, up to MaxCoolDown (so does a forced attempt, see
// Force). In Open the failure is only counted: it comes from a request sent
// before the breaker opened (or a probe that another one's failure already
// reported) and says nothing new, so it must not extend the open period.
func (b *Breaker) Failure() {
	b.mu.Lock()
	defer b.unlock(b.state)
	b.failures++
	switch b.state {
	case Closed:
		if b.failures >= b.cfg.FailureThreshold {
			b.open()
		}
	case HalfOpen:
		b.coolDown = doubled(b.coolDown, b.cfg.MaxCoolDown)
		b.open()
	}
}

// unlock releases b.mu and tells OnChange when the state is no longer
// from, the state when the lock was taken.
func (b *Breaker) unlock(from State) {
	if b.state == from || b.cfg.OnChange == nil {
		b.mu.Unlock()
		return
	}
	c := Change{From: from, To: b.state, ConsecutiveFailures: b.failures, CoolDown: b.coolDown}
	notify := b.cfg.OnChange
	b.mu.Unlock()
	notify(c)
}

// open moves the breaker to Open for the current cool-down. b.mu is held.
func (b *Breaker) open() {
	b.state = Open
	b.openUntil = b.cfg.Now().Add(b.coolDown)
	b.probes = 0
}

// doubled returns 2*d capped at limit, without overflowing.
func doubled(d, limit time.Duration) time.Duration {
	if d > limit/2 {
		return limit
	}
	return 2 * d
}

// Release reports that a request Allow (or Force) let through ended
// without telling anything about the upstream, for example because the
// client went away. A HalfOpen probe slot is freed so that the next Allow
// may probe; when it was a forced attempt made during the cool-down, the
// breaker is Open again until the cool-down ends. The counts and the
// cool-down are unchanged.
func (b *Breaker) Release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state != HalfOpen {
		return
	}
	b.probes = max(0, b.probes-1)
	if b.probes == 0 && b.cfg.Now().Before(b.openUntil) {
		b.state = Open
	}
}

// apply switches b to the settings s (defaults applied) and keeps its state.
// It is idempotent, so a Set may call it on every Get.
func (b *Breaker) apply(s Settings) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.coolDown == b.cfg.CoolDown {
		// Not doubled yet: follow the new first period.
		b.coolDown = s.CoolDown
	} else {
		b.coolDown = min(max(b.coolDown, s.CoolDown), s.MaxCoolDown)
	}
	// A lower threshold takes effect at the next failure; openUntil stays,
	// so a reload never shortens or extends a running open period.
	b.cfg = s
}

// Snapshot returns the current state, for /health. The state is computed
// from the clock: an Open breaker whose cool-down has passed shows as
// HalfOpen (ready for a probe), even when no request has come since to
// move it there.
func (b *Breaker) Snapshot() Snapshot {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := Snapshot{State: b.state, ConsecutiveFailures: b.failures, CoolDown: b.coolDown}
	switch {
	case b.state == Open && b.cfg.Now().Before(b.openUntil):
		s.OpenUntil = b.openUntil
	case b.state == Open:
		s.State = HalfOpen
	}
	return s
}

// Snapshot is the state of a Breaker at one moment.
type Snapshot struct {
	State               State
	ConsecutiveFailures int
	// OpenUntil is when an open breaker lets the next probe through; zero
	// unless State is Open, and then in the future.
	OpenUntil time.Time
	// CoolDown is the open period now in effect (when Open) or that the
	// next opening will use.
	CoolDown time.Duration
}

// MarshalJSON encodes s as
// {"state":"open","consecutive_failures":5,"open_until":"2026-01-02T15:04:05Z","cool_down_ms":10000},
// with open_until in UTC and omitted when zero.
func (s Snapshot) MarshalJSON() ([]byte, error) {
	var openUntil string
	if !s.OpenUntil.IsZero() {
		openUntil = s.OpenUntil.UTC().Format(time.RFC3339Nano)
	}
	return json.Marshal(struct {
		State               State  `json:"state"`
		ConsecutiveFailures int    `json:"consecutive_failures"`
		OpenUntil           string `json:"open_until,omitempty"`
		CoolDownMS          int64  `json:"cool_down_ms"`
	}{s.State, s.ConsecutiveFailures, openUntil, s.CoolDown.Milliseconds()})
}
