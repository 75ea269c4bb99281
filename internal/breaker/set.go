package breaker

import "sync"

// Set holds one Breaker per deployment key, so that breaker state survives
// a config reload for deployments that did not change. It is safe for
// concurrent use.
type Set struct {
	defaults Settings // as given to NewSet, without defaults applied

	mu       sync.Mutex
	breakers map[string]*Breaker
}

// NewSet returns an empty Set. The zero fields of the Settings passed to
// Get are taken from s (typically Now, or gateway-wide thresholds), and
// fields zero in both get the documented defaults.
func NewSet(s Settings) *Set {
	return &Set{defaults: s, breakers: make(map[string]*Breaker)}
}

// Get returns the Breaker for key, creating it if there is none. An existing
// breaker keeps its state (state, failure count, open period) and takes the
// new settings: a cool-down that has not doubled yet becomes the new
// CoolDown, a doubled one is kept within the new CoolDown and MaxCoolDown.
func (s *Set) Get(key string, settings Settings) *Breaker {
	settings = s.merge(settings).withDefaults()
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.breakers[key]; ok {
		b.apply(settings)
		return b
	}
	b := New(settings)
	s.breakers[key] = b
	return b
}

// merge fills the zero fields of c from the Set's settings.
func (s *Set) merge(c Settings) Settings {
	d := s.defaults
	if c.FailureThreshold <= 0 {
		c.FailureThreshold = d.FailureThreshold
	}
	if c.CoolDown <= 0 {
		c.CoolDown = d.CoolDown
	}
	if c.MaxCoolDown <= 0 {
		c.MaxCoolDown = d.MaxCoolDown
	}
	if c.Now == nil {
		c.Now = d.Now
	}
	if c.OnChange == nil {
		c.OnChange = d.OnChange
	}
	return c
}

// Retain drops the breakers whose key is not in keys: the deployments a
// reload removed. A deployment that comes back later starts closed.
func (s *Set) Retain(keys []string) {
	keep := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		keep[k] = struct{}{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.breakers {
		if _, ok := keep[k]; !ok {
			delete(s.breakers, k)
		}
	}
}
