package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"aigateway/internal/breaker"
	"aigateway/internal/dashboard"
	"aigateway/internal/ledger"
	"aigateway/internal/metrics"
	"aigateway/internal/registry"
)

// dashboardFiles serves the page; it is made once, since it only wraps the
// embedded files.
var dashboardFiles = http.StripPrefix("/ui/", dashboard.Files())

// dashboardUI serves /ui: the page's files to anyone (they hold no data)
// and its JSON, /ui/api/live and /ui/api/usage, behind the admin key like
// /admin. It answers 404 when the server keeps no Activity.
func (s *Server) dashboardUI(w *logWriter, r *http.Request, rec *record) {
	if s.activity == nil {
		s.notFound(w, r, rec)
		return
	}
	path := r.URL.Path
	switch {
	case path == "/ui":
		http.Redirect(w, r, "/ui/", http.StatusMovedPermanently)
	case path == "/ui/api/live":
		if allow(w, r, http.MethodGet) && s.adminAllowed(w, r) {
			s.dashboardLive(w)
		}
	case path == "/ui/api/usage":
		if allow(w, r, http.MethodGet) && s.adminAllowed(w, r) && s.adminReady(w, r) {
			s.dashboardUsage(w, r)
		}
	case strings.HasPrefix(path, "/ui/api/"):
		s.notFound(w, r, rec)
	default:
		if allow(w, r, http.MethodGet) {
			dashboardFiles.ServeHTTP(w, r)
		}
	}
}

// recordActivity feeds the dashboard a finished model request, from the
// same inputs as observe.
func (s *Server) recordActivity(w *logWriter, rec *record, status int, costUSD float64) {
	if s.activity == nil {
		return
	}
	model := metrics.UnknownModel
	if _, ok := s.router.Registry().Lookup(rec.model); ok {
		model = rec.model
	}
	a := dashboard.Request{Time: time.Now(), RequestID: rec.id, Model: model, Deployment: rec.deployment, Endpoint: rec.endpoint,
		Status: status, Latency: time.Since(rec.start), PromptTokens: rec.usage.PromptTokens, CompletionTokens: rec.usage.CompletionTokens,
		CostUSD: costUSD, Stream: rec.stream, Failed: status >= 500 || (status < 300 && rec.err != nil)}
	if rec.key != nil {
		a.Key = rec.key.Name
	}
	if w.bytes > 0 {
		a.TTFB = w.firstByte
		if rec.stream {
			a.TTFT = w.firstByte
		}
	}
	s.activity.Record(a)
}

// liveBody is GET /ui/api/live: every configured model with its
// deployments, their state and traffic, and the latest requests.
type liveBody struct {
	Now           time.Time `json:"now"`
	BucketSeconds int       `json:"bucket_seconds"`
	// Times are the start of each span of the series, in unix seconds.
	Times  []int64       `json:"times"`
	Models []liveModel   `json:"models"`
	Recent []dashboardRq `json:"recent"`
	// Total counts the model requests since the gateway started.
	Total int64 `json:"total"`
}

type dashboardRq = dashboard.RequestJSON

type liveModel struct {
	ID string `json:"id"`
	// Configured is false for traffic to a model the config no longer
	// serves (or never did: "unknown").
	Configured  bool              `json:"configured"`
	Series      *dashboard.Series `json:"series"`
	Deployments []liveDeployment  `json:"deployments"`
}

type liveDeployment struct {
	Name    string `json:"name"`
	Adapter string `json:"adapter"`
	// Status is available, disabled or not_configured (with Reason, in
	// words that name no variable or path).
	Status  string            `json:"status"`
	Reason  string            `json:"reason,omitempty"`
	Breaker *breaker.Snapshot `json:"breaker,omitempty"`
	Series  *dashboard.Series `json:"series"`
}

func (s *Server) dashboardLive(w http.ResponseWriter) {
	now := time.Now()
	snap := s.activity.Snapshot(now)
	b := liveBody{Now: now.UTC(), BucketSeconds: dashboard.BucketSeconds, Times: snap.Times, Models: []liveModel{},
		Recent: snap.Recent, Total: snap.Total}
	index := map[string]int{}
	s.router.Registry().Entries(func(id string, d *registry.Deployment) {
		i, ok := index[id]
		if !ok {
			i = len(b.Models)
			index[id] = i
			b.Models = append(b.Models, liveModel{ID: id, Configured: true, Series: seriesOf(snap.Models, id)})
		}
		ld := liveDeployment{Name: d.Label, Adapter: d.AdapterType, Series: seriesOf(snap.Deployments, d.Label)}
		ld.Status, ld.Breaker = deploymentState(d)
		if ld.Status == statusNotConfigured {
			ld.Reason = d.Missing
		}
		b.Models[i].Deployments = append(b.Models[i].Deployments, ld)
	})
	for id := range snap.Models {
		if _, ok := index[id]; !ok {
			b.Models = append(b.Models, liveModel{ID: id, Series: seriesOf(snap.Models, id), Deployments: []liveDeployment{}})
		}
	}
	s.dashboardAnswer(w, b)
}

func seriesOf(m map[string]dashboard.Series, name string) *dashboard.Series {
	if s, ok := m[name]; ok {
		return &s
	}
	return nil
}

// maxUsageHours bounds ?hours= of /ui/api/usage: 30 days.
const maxUsageHours = 720

// usageBody is GET /ui/api/usage: the ledger over the last hours, by hour
// and model and by hour and key.
type usageBody struct {
	// Hours are the hours charted, oldest first, in the ledger's
	// YYYY-MM-DDTHH:00:00Z form.
	Hours   []string     `json:"hours"`
	ByModel []ledger.Row `json:"by_model"`
	ByKey   []ledger.Row `json:"by_key"`
}

func (s *Server) dashboardUsage(w http.ResponseWriter, r *http.Request) {
	hours := 24
	if v := r.URL.Query().Get("hours"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxUsageHours {
			badParam(w, "hours", "hours: must be an integer from 1 to "+strconv.Itoa(maxUsageHours))
			return
		}
		hours = n
	}
	from := time.Now().UTC().Truncate(time.Hour).Add(-time.Duration(hours-1) * time.Hour)
	b := usageBody{Hours: make([]string, hours)}
	for i := range hours {
		b.Hours[i] = from.Add(time.Duration(i) * time.Hour).Format("2006-01-02T15:00:00Z")
	}
	var err error
	if b.ByModel, err = s.usage.Usage(r.Context(), ledger.Query{GroupBy: []string{ledger.GroupModel, ledger.GroupHour}, From: from}); err != nil {
		s.adminFailed(w, r, err)
		return
	}
	if b.ByKey, err = s.usage.Usage(r.Context(), ledger.Query{GroupBy: []string{ledger.GroupKey, ledger.GroupHour}, From: from}); err != nil {
		s.adminFailed(w, r, err)
		return
	}
	if b.ByModel == nil {
		b.ByModel = []ledger.Row{}
	}
	if b.ByKey == nil {
		b.ByKey = []ledger.Row{}
	}
	s.dashboardAnswer(w, b)
}

// dashboardAnswer writes a dashboard answer, which the page reads anew
// each time.
func (s *Server) dashboardAnswer(w http.ResponseWriter, v any) {
	w.Header().Set("Cache-Control", "no-store")
	s.writeValue(w, v)
}
