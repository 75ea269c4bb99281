// Package router maps the model a client asks for to the deployment that
// serves it. It holds the current Registry behind an atomic pointer, so that
// a reload can swap in a new one while requests in flight keep the old one.
package router

import (
	"fmt"
	"net/http"
	"sync/atomic"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
	"aigateway/internal/registry"
)

// Router resolves model ids against the current registry.
type Router struct {
	reg atomic.Pointer[registry.Registry]
}

// New returns a Router serving reg.
func New(reg *registry.Registry) *Router {
	r := &Router{}
	r.reg.Store(reg)
	return r
}

// Registry returns the registry in use.
func (r *Router) Registry() *registry.Registry { return r.reg.Load() }

// Swap makes reg the registry for new requests.
func (r *Router) Swap(reg *registry.Registry) { r.reg.Store(reg) }

// Resolve returns the model that serves id, or an *adapter.Error: 404 for an
// unknown or disabled model, 503 for one that cannot serve (and why).
func (r *Router) Resolve(id string) (*registry.Model, error) {
	m, ok := r.reg.Load().Lookup(id)
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
