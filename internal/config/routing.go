package config

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// maxWeight keeps the sum of a pool's weights far from overflowing.
const maxWeight = 1_000_000

// setRouting reads the pool, retry, timeout and breaker fields.
func setRouting(m *Model, w *wireModel) error {
	m.Weight = 1
	if n := w.Weight; n != nil {
		if *n < 1 || *n > maxWeight {
			return fmt.Errorf("weight: must be between 1 and %d, got %d", maxWeight, *n)
		}
		m.Weight = *n
	}
	if n := w.Priority; n != nil {
		if *n < 0 {
			return fmt.Errorf("priority: must be 0 or more (lower is preferred), got %d", *n)
		}
		m.Priority = *n
	}
	if n := w.Retries; n != nil {
		if *n < 0 || *n > 10 {
			return fmt.Errorf("retries: must be between 0 and 10, got %d", *n)
		}
		m.Retries = n
	}
	if fb := w.Fallbacks; fb != nil {
		if len(*fb) == 0 {
			return errors.New("fallbacks: must list at least one model id (omit it for none)")
		}
		m.Fallbacks = *fb
	}
	for _, t := range []struct {
		name string
		v    *float64
		dst  *time.Duration
	}{
		{"connect_timeout", w.ConnectTimeout, &m.Timeouts.Connect},
		{"first_byte_timeout", w.FirstByteTimeout, &m.Timeouts.FirstByte},
		{"idle_timeout", w.IdleTimeout, &m.Timeouts.Idle},
		{"total_timeout", w.TotalTimeout, &m.Timeouts.Total},
		{"breaker_cool_down", w.BreakerCoolDown, &m.Breaker.CoolDown},
	} {
		if t.v == nil {
			continue
		}
		d := time.Duration(math.Round(*t.v * float64(time.Second)))
		if *t.v <= 0 || *t.v > maxTimeout || d <= 0 {
			return fmt.Errorf("%s: must be greater than 0 and at most %d seconds, got %s", t.name, maxTimeout, formatFloat(*t.v))
		}
		*t.dst = d
	}
	if n := w.BreakerFailures; n != nil {
		if *n < 1 {
			return fmt.Errorf("breaker_failures: must be at least 1, got %d", *n)
		}
		m.Breaker.Failures = *n
	}
	return nil
}

// samePoolSettings checks that a later deployment of a pool does not
// contradict the pool settings of the first one.
func samePoolSettings(first, m *Model) error {
	if m.Fallbacks != nil && !slices.Equal(m.Fallbacks, first.Fallbacks) {
		return fmt.Errorf("fallbacks: differs from models[%d], the first entry of the pool %q (pool settings are shared; set them once)", first.Index, m.ID)
	}
	if m.Retries != nil && (first.Retries == nil || *first.Retries != *m.Retries) {
		return fmt.Errorf("retries: differs from models[%d], the first entry of the pool %q (pool settings are shared; set them once)", first.Index, m.ID)
	}
	return nil
}

// checkFallbacks checks that fallbacks name other configured models.
func checkFallbacks(m *Model, ids map[string]int) error {
	for i, id := range m.Fallbacks {
		switch _, ok := ids[id]; {
		case id == m.ID:
			return fmt.Errorf("fallbacks[%d]: %q is the model itself", i, id)
		case !ok:
			return fmt.Errorf("fallbacks[%d]: no model has the id %q", i, truncate(id))
		case slices.Index(m.Fallbacks, id) != i:
			return fmt.Errorf("fallbacks[%d]: %q is listed twice", i, id)
		}
	}
	return nil
}
