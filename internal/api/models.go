package api

import (
	"encoding/json"
	"net/http"
	"strconv"
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

type healthModel struct {
	ID      string `json:"id"`
	Adapter string `json:"adapter"`
	Status  string `json:"status"` // available, unavailable or disabled
	Reason  string `json:"reason,omitempty"`
}

// health serves GET /health: 200 while the gateway runs, with each model's
// availability. "degraded" means some enabled model cannot serve.
func (s *Server) health(w http.ResponseWriter) {
	all := s.router.Registry().All()
	b := healthBody{Status: "ok", Models: make([]healthModel, 0, len(all))}
	for _, m := range all {
		hm := healthModel{ID: m.ID, Adapter: m.AdapterType, Status: "available"}
		switch {
		case !m.Enabled:
			hm.Status = "disabled"
		case m.Unavailable != "":
			hm.Status, hm.Reason = "unavailable", m.Unavailable
			b.Status = "degraded"
		}
		b.Models = append(b.Models, hm)
	}
	body, err := json.Marshal(b)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
