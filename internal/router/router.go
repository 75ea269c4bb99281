// Package router maps the model a client asks for to the deployments that
// may serve it, in the order to try them: the model's pool (by priority
// tier, weighted random within a tier, skipping deployments whose breaker
// is open), its retries, then its fallback models; when all of them are out
// of rotation, the one whose cool-down ends first. It holds the current
// Registry behind an atomic pointer, so that a reload can swap in a new one
// while requests in flight keep the old one.
package router

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

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
		return nil, notFound(id)
	}
	if m.Unavailable != "" {
		return nil, unavailable(m)
	}
	return m, nil
}

func notFound(id string) error {
	return &adapter.Error{Status: http.StatusNotFound, Err: openai.Error{
		Type: openai.TypeInvalidRequest, Param: "model", Code: "model_not_found",
		Message: fmt.Sprintf("The model %q does not exist or is not enabled on this gateway", id)}}
}

func unavailable(m *registry.Model) error {
	return &adapter.Error{Status: http.StatusServiceUnavailable, Cause: errors.New(m.Unavailable), Err: openai.Error{
		Type: openai.TypeUnavailable, Param: "model", Code: "model_unavailable",
		// The operator's reason names an environment variable or a program
		// path: it goes to the log (Cause) and /health, not to every client.
		Message: fmt.Sprintf("The model %q is not configured on this gateway (%s); ask the gateway operator", m.ID, m.Missing)}}
}

// Plan returns the attempt plan for a request for model id: the model's
// pool, then its fallbacks. A model none of whose deployments can serve (a
// missing key or program) hands the request to its fallbacks; the error is
// Resolve's when neither the model nor any fallback can serve.
func (r *Router) Plan(id string) (*Plan, error) {
	reg := r.reg.Load()
	m, ok := reg.Lookup(id)
	if !ok {
		return nil, notFound(id)
	}
	p := &Plan{rand: r.Rand}
	p.tried = p.triedBuf[:0]
	if m.Unavailable == "" {
		p.models = append(p.models, m)
	}
	for _, fb := range m.Fallbacks { // not followed transitively: no cycles, a bounded plan
		if fm, err := resolve(reg, fb); err == nil {
			p.models = append(p.models, fm)
		}
	}
	if len(p.models) == 0 {
		return nil, unavailable(m)
	}
	p.budget = p.models[0].Retries + 1
	if p.rand == nil {
		p.rand = rand.IntN
	}
	return p, nil
}

// Plan hands out the deployments to try for one request, one at a time:
// the pool of the requested model by priority tier and weight, skipping
// deployments whose breaker is open, with the model's retries; then each
// fallback the same way. When every deployment of the plan is out of
// rotation before the request made any attempt, the plan does not give up:
// it forces the attempt on the deployment whose cool-down ends first, so
// that the client gets an upstream's real answer rather than a 503 of the
// gateway's own (Envoy's panic threshold; LiteLLM's single-deployment
// groups, pull 5673, and whole groups, issue 3646). It is not safe for
// concurrent use.
type Plan struct {
	models   []*registry.Model // the requested model (when it can serve), then its fallbacks
	cur      int
	budget   int       // attempts left on models[cur]
	tried    []tried   // a few at most: a slice beats a map
	triedBuf [4]tried  // backs tried for the usual few attempts, without an allocation
	next     candidate // Peek's choice, which Next tries first
	rand     func(int) int
}

// candidate is a deployment the plan chose, before its breaker was asked.
type candidate struct {
	m      *registry.Model
	d      *registry.Deployment
	forced bool // every deployment is out of rotation: Force, not Allow
}

// tried is a deployment the plan handed out.
type tried struct {
	d    *registry.Deployment
	err  error // its last failure in this request, from Failed
	done bool  // it cannot serve this request: never handed out again
}

// Peek returns the deployment Next will try first, without asking its
// breaker: the caller waits between attempts after Peek and before Next,
// so that it never holds a breaker's probe slot while it sleeps, and it
// waits only when there is something left to try. lastErr is the
// deployment's last failure in this request when Next would try it again
// (the caller honours its backoff or Retry-After), nil for a deployment not
// tried yet. ok is false when the plan is exhausted.
func (p *Plan) Peek() (d *registry.Deployment, lastErr error, ok bool) {
	if p.next.d == nil {
		p.next = p.choose(nil)
	}
	if p.next.d == nil {
		return nil, nil, false
	}
	if t := p.find(p.next.d); t != nil {
		lastErr = t.err
	}
	return p.next.d, lastErr, true
}

// Next returns the next deployment to try and the model it belongs to, or
// ok=false when the plan is exhausted. The deployment's breaker has already
// let the attempt through (Allow, or Force for the attempt forced when all
// are out of rotation); the caller must report the outcome to it.
func (p *Plan) Next() (m *registry.Model, d *registry.Deployment, ok bool) {
	var small [4]*registry.Deployment
	refused := small[:0] // breakers that turned us down in this call
	for {
		c := p.next
		p.next = candidate{}
		if c.d == nil {
			c = p.choose(refused)
		}
		switch {
		case c.d == nil:
			return nil, nil, false
		case c.forced:
			c.d.Breaker.Force()
		case !c.d.Breaker.Allow():
			// Another request took the probe since the choice: choose again.
			refused = append(refused, c.d)
			continue
		default:
			p.budget--
		}
		if p.find(c.d) == nil {
			p.tried = append(p.tried, tried{d: c.d})
		}
		return c.m, c.d, true
	}
}

// Failed records that the attempt Next handed out on d failed with err.
// With again false, d would fail this request the same way (a busy or
// broken deployment): it is not handed out again, and the attempt does not
// count against the model's retries, so that the request moves on to the
// pool's other deployments, then to the fallbacks. With again true, d may
// be tried again, and Peek returns err with it.
func (p *Plan) Failed(d *registry.Deployment, err error, again bool) {
	t := p.find(d)
	if t == nil {
		return
	}
	t.err = err
	if !again {
		t.done = true
		if p.cur < len(p.models) && slices.Contains(p.models[p.cur].Deployments, d) {
			p.budget++
		}
	}
}

func (p *Plan) find(d *registry.Deployment) *tried {
	for i := range p.tried {
		if p.tried[i].d == d {
			return &p.tried[i]
		}
	}
	return nil
}

// choose finds the next candidate without touching any breaker's state: a
// ready deployment of the current model while its budget lasts, then of
// each fallback in turn. When none is ready and the request has made no
// attempt yet, it is the forced attempt on the deployment of the whole plan
// whose cool-down ends first. Deployments in refused are skipped.
func (p *Plan) choose(refused []*registry.Deployment) candidate {
	for p.cur < len(p.models) {
		m := p.models[p.cur]
		if p.budget > 0 {
			if d := p.pick(m, refused); d != nil {
				return candidate{m: m, d: d}
			}
		}
		p.cur++
		if p.cur < len(p.models) {
			p.budget = p.models[p.cur].Retries + 1
		}
	}
	if len(p.tried) == 0 {
		return p.soonest()
	}
	return candidate{}
}

// pick chooses among the deployments of m that can serve and whose breaker
// is ready: untried ones first (a retry prefers another deployment), then
// the best priority tier, then weighted random. A deployment that cannot
// serve this request (Failed with again false) is never picked again.
func (p *Plan) pick(m *registry.Model, refused []*registry.Deployment) *registry.Deployment {
	var small [8]*registry.Deployment // no allocation for the usual pool size
	candidates := small[:0]
	for _, untriedOnly := range [...]bool{true, false} {
		candidates = candidates[:0]
		for _, d := range m.Deployments {
			if d.Adapter == nil || slices.Contains(refused, d) {
				continue
			}
			if t := p.find(d); t != nil && (untriedOnly || t.done) {
				continue
			}
			if d.Breaker.Ready() {
				candidates = append(candidates, d)
			}
		}
		if len(candidates) > 0 {
			return candidates[p.weighted(candidates)]
		}
	}
	return nil
}

// soonest returns the forced candidate: among the deployments of every
// model of the plan that can serve, the one whose breaker's cool-down ends
// first; on a tie, the requested model before its fallbacks, then the best
// priority, then config order.
func (p *Plan) soonest() candidate {
	var best candidate
	var bestEnd time.Time
	for _, m := range p.models {
		for _, d := range m.Deployments {
			if d.Adapter == nil {
				continue
			}
			end := d.Breaker.CoolDownEnd()
			if best.d == nil || end.Before(bestEnd) || (end.Equal(bestEnd) && m == best.m && d.Priority < best.d.Priority) {
				best, bestEnd = candidate{m: m, d: d, forced: true}, end
			}
		}
	}
	return best
}

// weighted returns the index of a weighted random pick among the
// candidates of the lowest priority value.
func (p *Plan) weighted(candidates []*registry.Deployment) int {
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
