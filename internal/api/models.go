package api

import (
	"encoding/json"
	"net/http"
	"strconv"

	"aigateway/internal/breaker"
	"aigateway/internal/keys"
	"aigateway/internal/ledger"
	"aigateway/internal/limits"
	"aigateway/internal/registry"
)

// model serves GET /v1/models/{id}.
func (s *Server) model(w http.ResponseWriter, r *http.Request, rec *record, id string) {
	rec.model = id
	if !s.permit(w, rec, id) {
		return
	}
	m, err := s.router.Resolve(id)
	if err != nil {
		s.fail(w, r, rec, err)
		return
	}
	writeJSON(w, http.StatusOK, m.ObjectJSON)
}

// openAIModels serves GET /v1/models: every model that can serve, or,
// for a key limited to some models, those it may use.
func (s *Server) openAIModels(w http.ResponseWriter, rec *record) {
	reg := s.router.Registry()
	if rec.key == nil || rec.key.Models == nil {
		writeJSON(w, http.StatusOK, reg.ListJSON())
		return
	}
	b := append(make([]byte, 0, 512), `{"object":"list","data":[`...)
	n := 0
	for _, id := range reg.Listed() {
		m, ok := reg.Lookup(id)
		if !ok || !rec.key.Allows(id) {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, m.ObjectJSON...)
		n++
	}
	writeJSON(w, http.StatusOK, append(b, "]}"...))
}

type healthBody struct {
	Status string        `json:"status"`
	Models []healthModel `json:"models,omitempty"`
	// Limits is where the gateway keys' limits are kept and whether that
	// store is reachable.
	Limits *limits.Status `json:"limits,omitempty"`
	// Ledger is the usage ledger's write queue.
	Ledger *ledgerHealth `json:"ledger,omitempty"`
}

// ledgerHealth is the ledger writer's state in /health.
type ledgerHealth struct {
	Queued    int64  `json:"queued"`
	Written   int64  `json:"written"`
	Dropped   int64  `json:"dropped"`
	LastError string `json:"last_error,omitempty"`
}

// ledgerStats is a Ledger that reports its state (a ledger.Writer).
type ledgerStats interface {
	Stats() ledger.WriterStats
}

// healthModel is one models.json entry: a deployment of a model.
type healthModel struct {
	ID         string            `json:"id"`
	Deployment string            `json:"deployment"`
	Adapter    string            `json:"adapter"`
	Status     string            `json:"status"` // available, not_configured or disabled
	Reason     string            `json:"reason,omitempty"`
	Breaker    *breaker.Snapshot `json:"breaker,omitempty"`
}

// health serves GET /health: 200 while the gateway runs (503 "draining"
// once it is stopping, see Drain), with each
// deployment's availability and circuit breaker. "degraded" means some
// configured deployment is out of rotation for a cool-down (its breaker is
// open); one without its key or program is "not_configured" and does not
// degrade the status. A deployment whose cool-down has passed is ready for
// a probe (half_open) and no longer degrades the status, whether or not a
// request came since.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	b := healthBody{Status: "ok", Models: []healthModel{}}
	// With gateway keys, model details are for key holders only: the
	// status alone is what a load balancer needs.
	details := s.router.Registry().Keys().Open()
	if !details {
		if p, ok := keys.Presented(r); ok && s.router.Registry().Keys().Lookup(p) != nil {
			details = true
		}
	}
	if s.limiter != nil {
		st := s.limiter.Status()
		b.Limits = &st
		if !st.OK {
			b.Status = "degraded"
		}
	}
	if l, ok := s.ledger.(ledgerStats); ok {
		st := l.Stats()
		b.Ledger = &ledgerHealth{Queued: st.Queued, Written: st.Written, Dropped: st.Dropped, LastError: st.LastError}
	}
	s.router.Registry().Entries(func(id string, d *registry.Deployment) {
		hm := healthModel{ID: id, Deployment: d.Label, Adapter: d.AdapterType}
		hm.Status, hm.Breaker = deploymentState(d)
		if hm.Status == statusNotConfigured {
			// A key or program this host does not have is configuration,
			// not a failure: a first run without keys reads "ok".
			hm.Reason = d.Unavailable
		}
		if hm.Breaker != nil && hm.Breaker.State == breaker.Open {
			b.Status = "degraded"
		}
		if details {
			b.Models = append(b.Models, hm)
		}
	})
	if !details {
		b.Models = nil
	}
	status := http.StatusOK
	if s.draining.Load() {
		b.Status, status = "draining", http.StatusServiceUnavailable
	}
	body, err := json.Marshal(b)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, status, body)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

const statusNotConfigured = "not_configured"

// deploymentState is a deployment's status as /health and the dashboard
// show it: "disabled", "not_configured" (an enabled entry whose key or
// program this host lacks) or "available", with its breaker's state.
func deploymentState(d *registry.Deployment) (status string, b *breaker.Snapshot) {
	switch {
	case !d.Enabled:
		return "disabled", nil
	case d.Unavailable != "":
		return statusNotConfigured, nil
	}
	snap := d.Breaker.Snapshot()
	return "available", &snap
}
