// Package router maps the model a client asks for to the deployments that
// may serve it, in the order to try them: the model's pool (by priority
// tier, weighted random within a tier, skipping deployments whose breaker
// is open), its retries, then its fallback models. It holds the current
// Registry behind an atomic pointer, so that a reload can swap in a new one
// while requests in flight keep the old one.
package router

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync/atomic"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
	"aigateway/internal/registry"
)

// Router resolves model ids against the current registry.
type Router struct {
	reg atomic.Pointer[registry.Registry]
	// Rand picks among deployments of equal priority; nil means
	// math/rand/v2. Tests make it deterministic.
	Rand func(n int) int
}

// New returns a Router serving reg.
func New(reg *registry.Registry) *Router {
	r := &Router{}
	r.reg.Store(reg)
	return r
}

// Registry returns the registry in use.
func (r *Router) Registry() *registry.Registry { return r.reg.Load() }

// Swap makes reg the registry for new requests and returns the old one.
func (r *Router) Swap(reg *registry.Registry) *registry.Registry { return r.reg.Swap(reg) }

// Resolve returns the model with the given id, or an *adapter.Error: 404
// for an unknown or disabled model, 503 for one no deployment of which can
// serve (and why).
func (r *Router) Resolve(id string) (*registry.Model, error) {
	return resolve(r.reg.Load(), id)
}

func resolve(reg *registry.Registry, id string) (*registry.Model, error) {
	m, ok := reg.Lookup(id)
	if !ok {
		return nil, &adapter.Error{Status: http.StatusNotFound, Err: openai.Error{
			Type: openai.TypeInvalidRequest, Param: "model", Code: "model_not_found",
			Message: fmt.Sprintf("The model %q does not exist or is not enabled on this gateway", id)}}
	}
	if m.Unavailable != "" {
		return nil, &adapter.Error{Status: http.StatusServiceUnavailable, Err: openai.Error{
			Type: openai.TypeUnavailable, Param: "model", Code: "model_unavailable",
			Message: fmt.Sprintf("The model %q is unavailable: %s", id, m.Unavailable)}}
	}
	return m, nil
}

// Plan returns the attempt plan for a request for model id. The error is
// Resolve's.
func (r *Router) Plan(id string) (*Plan, error) {
	reg := r.reg.Load()
	m, err := resolve(reg, id)
	if err != nil {
		return nil, err
	}
	p := &Plan{models: []*registry.Model{m}, budget: m.Retries + 1, rand: r.Rand}
	for _, fb := range m.Fallbacks { // not followed transitively: no cycles, a bounded plan
		if fm, err := resolve(reg, fb); err == nil {
			p.models = append(p.models, fm)
		}
	}
	if p.rand == nil {
		p.rand = rand.IntN
	}
	return p, nil
}

// Plan hands out the deployments to try for one request, one at a time.
// It is not safe for concurrent use.
type Plan struct {
	models []*registry.Model // the requested model, then its fallbacks
	cur    int
	budget int                    // attempts left on models[cur]
	tried  []*registry.Deployment // a few at most: a slice beats a map
	rand   func(int) int
}

// Next returns the next deployment to try and the model it belongs to, or
// ok=false when the plan is exhausted. The deployment's breaker has already
// let the attempt through (Allow); the caller must report the outcome to it.
func (p *Plan) Next() (m *registry.Model, d *registry.Deployment, ok bool) {
	for p.cur < len(p.models) {
		m = p.models[p.cur]
		if p.budget > 0 {
			if d = p.pick(m); d != nil {
				p.budget--
				p.tried = append(p.tried, d)
				return m, d, true
			}
		}
		p.cur++
		if p.cur < len(p.models) {
			p.budget = p.models[p.cur].Retries + 1
		}
	}
	return nil, nil, false
}

// pick chooses among the deployments that can serve: untried ones first (a
// retry prefers another deployment), then the best priority tier, then
// weighted random. A deployment whose breaker refuses is skipped; Allow is
// asked only of the chosen one, because after a cool-down it hands out the
// single probe.
func (p *Plan) pick(m *registry.Model) *registry.Deployment {
	var small [8]*registry.Deployment // no allocation for the usual pool size
	candidates := small[:0]
	for _, untriedOnly := range []bool{true, false} {
		candidates = candidates[:0]
		for _, d := range m.Deployments {
			if d.Adapter != nil && (!untriedOnly || !slices.Contains(p.tried, d)) {
				candidates = append(candidates, d)
			}
		}
		for len(candidates) > 0 {
			i := p.choose(candidates)
			if candidates[i].Breaker.Allow() {
				return candidates[i]
			}
			candidates = append(candidates[:i], candidates[i+1:]...)
		}
	}
	return nil
}

// choose returns the index of a weighted random pick among the candidates
// of the lowest priority value.
func (p *Plan) choose(candidates []*registry.Deployment) int {
	best := candidates[0].Priority
	for _, d := range candidates {
		best = min(best, d.Priority)
	}
	total := 0
	for _, d := range candidates {
		if d.Priority == best {
			total += d.Weight
		}
	}
	n := p.rand(total)
	for i, d := range candidates {
		if d.Priority != best {
			continue
		}
		if n < d.Weight {
			return i
		}
		n -= d.Weight
	}
	return 0 // unreachable: n < total
}
