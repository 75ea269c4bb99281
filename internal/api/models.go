package api

import (
	"encoding/json"
	"net/http"
	"strconv"

	"aigateway/internal/breaker"
	"aigateway/internal/registry"
)

// model serves GET /v1/models/{id}.
func (s *Server) model(w http.ResponseWriter, r *http.Request, rec *record, id string) {
	rec.model = id
	m, err := s.router.Resolve(id)
	if err != nil {
		s.fail(w, r, rec, err)
		return
	}
	writeJSON(w, http.StatusOK, m.ObjectJSON)
}

type healthBody struct {
	Status string        `json:"status"`
	Models []healthModel `json:"models"`
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
func (s *Server) health(w http.ResponseWriter) {
	b := healthBody{Status: "ok", Models: []healthModel{}}
	s.router.Registry().Entries(func(id string, d *registry.Deployment) {
		hm := healthModel{ID: id, Deployment: d.Label, Adapter: d.AdapterType, Status: "available"}
		switch {
		case !d.Enabled:
			hm.Status = "disabled"
		case d.Unavailable != "":
			// A key or program this host does not have is configuration,
			// not a failure: a first run without keys reads "ok".
			hm.Status, hm.Reason = "not_configured", d.Unavailable
		default:
			snap := d.Breaker.Snapshot()
			hm.Breaker = &snap
			if snap.State == breaker.Open {
				b.Status = "degraded"
			}
		}
		b.Models = append(b.Models, hm)
	})
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
