package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"aigateway/internal/ledger"
	"aigateway/internal/openai"
)

// UsageReader reads the ledger back for /admin (a ledger.Store).
type UsageReader interface {
	Usage(ctx context.Context, q ledger.Query) ([]ledger.Row, error)
	Requests(ctx context.Context, limit int) ([]ledger.Record, error)
}

// flusher is a Ledger that can write what it has queued now, so that
// /admin answers include the requests that just ended.
type flusher interface {
	Flush(ctx context.Context) error
}

// adminFlushTimeout bounds the flush before an /admin read.
const adminFlushTimeout = 2 * time.Second

// adminUsage serves GET /admin/usage?group_by=key,model,day,hour&from=&to=.
func (s *Server) adminUsage(w http.ResponseWriter, r *http.Request) {
	if !s.adminAllowed(w, r) || !s.adminReady(w, r) {
		return
	}
	q := r.URL.Query()
	var query ledger.Query
	var err error
	if query.GroupBy, err = ledger.ParseGroupBy(q.Get("group_by")); err != nil {
		badParam(w, "group_by", err.Error())
		return
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &query.From}, {"to", &query.To}} {
		if v := q.Get(p.name); v != "" {
			t, ok := parseTime(v)
			if !ok {
				badParam(w, p.name, p.name+": "+strconv.Quote(truncateForLog(v, 64))+" is not a date (2026-12-01) or an RFC 3339 time (2026-12-01T10:00:00Z)")
				return
			}
			*p.dst = t
		}
	}
	rows, err := s.usage.Usage(r.Context(), query)
	if err != nil {
		s.adminFailed(w, r, err)
		return
	}
	if rows == nil {
		rows = []ledger.Row{}
	}
	s.writeValue(w, dataBody{rows})
}

// adminRequests serves GET /admin/requests?limit=, newest first.
func (s *Server) adminRequests(w http.ResponseWriter, r *http.Request) {
	if !s.adminAllowed(w, r) || !s.adminReady(w, r) {
		return
	}
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			badParam(w, "limit", "limit: must be an integer from 1 to 10000")
			return
		}
		limit = n
	}
	recs, err := s.usage.Requests(r.Context(), limit)
	if err != nil {
		s.adminFailed(w, r, err)
		return
	}
	out := make([]requestJSON, len(recs))
	for i := range recs {
		out[i] = requestJSON(recs[i])
	}
	s.writeValue(w, dataBody{out})
}

// adminReady answers 404 when there is no ledger to read, and flushes the
// queued records so that the answer includes the requests just finished.
func (s *Server) adminReady(w http.ResponseWriter, r *http.Request) bool {
	if s.usage == nil {
		openai.WriteError(w, http.StatusNotFound, &openai.Error{Type: openai.TypeNotFound, Code: "ledger_disabled",
			Message: "the usage ledger is off"})
		return false
	}
	if f, ok := s.ledger.(flusher); ok {
		ctx, cancel := context.WithTimeout(r.Context(), adminFlushTimeout)
		defer cancel()
		if err := f.Flush(ctx); err != nil {
			s.log.Warn("flushing the ledger before an admin read", "error", err)
		}
	}
	return true
}

func (s *Server) adminFailed(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("reading the ledger", "path", r.URL.Path, "error", err)
	openai.WriteError(w, http.StatusInternalServerError, &openai.Error{Type: openai.TypeServer, Code: "ledger_error",
		Message: "reading the usage ledger failed; see the gateway log"})
}

func badParam(w http.ResponseWriter, param, msg string) {
	openai.WriteError(w, http.StatusBadRequest, &openai.Error{Type: openai.TypeInvalidRequest, Param: param, Code: "invalid_value", Message: msg})
}

// parseTime reads a UTC date or an RFC 3339 time.
func parseTime(v string) (time.Time, bool) {
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, true
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), true
	}
	return time.Time{}, false
}

// dataBody is the {"data": [...]} answer of the admin endpoints.
type dataBody struct {
	Data any `json:"data"`
}

// writeValue answers v as JSON. A value that cannot be encoded (a NaN
// cost, say) is answered in the OpenAI error shape, like every other
// failure.
func (s *Server) writeValue(w http.ResponseWriter, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		s.log.Error("encoding an answer", "err", err)
		openai.WriteError(w, http.StatusInternalServerError, &openai.Error{Type: openai.TypeServer, Code: "internal_error",
			Message: "internal gateway error"})
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// requestJSON is a ledger record as /admin/requests shows it.
type requestJSON struct {
	Time             time.Time `json:"time"`
	RequestID        string    `json:"request_id"`
	Key              string    `json:"key"`
	Model            string    `json:"model"`
	Deployment       string    `json:"deployment"`
	Endpoint         string    `json:"endpoint"`
	Status           int       `json:"status"`
	PromptTokens     int64     `json:"prompt_tokens"`
	CompletionTokens int64     `json:"completion_tokens"`
	CachedTokens     int64     `json:"cached_tokens"`
	ReasoningTokens  int64     `json:"reasoning_tokens"`
	CostUSD          float64   `json:"cost_usd"`
	LatencyMS        float64   `json:"latency_ms"`
	TTFBMS           float64   `json:"ttfb_ms"`
	Stream           bool      `json:"stream"`
	Outcome          string    `json:"outcome"`
	Estimated        bool      `json:"estimated"`
}
